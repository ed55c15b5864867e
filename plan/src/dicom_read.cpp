// The RT Ion Plan reader. DCMTK parses the bytes (both little-endian transfer syntaxes, defined-
// and undefined-length sequences and items, private tags kept opaque); this file turns the
// dataset into a Plan and says, for everything it cannot use, where and why.

#include <dcmtk/config/osconfig.h>  // first, for DCMTK
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvr.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "dicom_common.h"
#include "spotline/plan/dicom.h"
#include "spotline/plan/json_format.h"
#include "text.h"

namespace spotline::plan {

namespace {

std::string num(double v) {
  return detail::shortNumber(v);
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// Where a problem is, for people: "beam 2 (\"Field 2\"), control point 3, spot 18".
struct Where {
  std::string text;
  Where beam(const std::string& number, const std::string& name) const {
    std::string t = "beam " + number;
    if (!name.empty()) t += " (\"" + name + "\")";
    return Where{t};
  }
  Where controlPoint(std::size_t index) const { return Where{text + ", control point " + std::to_string(index)}; }
  Where spot(std::size_t index) const { return Where{text + ", spot " + std::to_string(index + 1)}; }
  Where with(std::string_view extra) const {
    return Where{text.empty() ? std::string(extra) : text + ", " + std::string(extra)};
  }
};

// Every problem found (the first kMaxReportedErrors of them), both as (where, what) for tools and
// as the message lines "SOURCE: WHERE: WHAT" for people.
class Problems {
 public:
  explicit Problems(std::string_view source) : source_(source) {}

  void add(const Where& where, const std::string& what) {
    ++count_;
    if (items_.size() < kMaxReportedErrors) items_.push_back(DicomProblem{where.text, what});
  }
  bool any() const { return count_ > 0; }

  // The failure to return; hands the problems to `out` when the caller asked for them.
  Failure<PlanError> failure(PlanError code, std::vector<DicomProblem>* out) {
    std::string message;
    for (const DicomProblem& p : items_) {
      if (!message.empty()) message += '\n';
      message += source_ + ": " + (p.where.empty() ? "" : p.where + ": ") + p.what;
    }
    if (count_ > items_.size()) {
      message += "\n" + source_ + ": ... and " + std::to_string(count_ - items_.size()) + " more problems";
    }
    if (out != nullptr) *out = std::move(items_);
    return fail(code, std::move(message));
  }

 private:
  std::string source_;
  std::vector<DicomProblem> items_;
  std::size_t count_ = 0;
};

std::string keyword(const DcmTagKey& key) {
  DcmTag tag(key);
  const char* name = tag.getTagName();
  return name != nullptr ? std::string(name) : key.toString().c_str();
}

// Typed access to one item's attributes, recording every problem with where it was found.
class ItemReader {
 public:
  ItemReader(DcmItem& item, Problems& problems, Where where)
      : item_(item), problems_(problems), where_(std::move(where)) {}

  const Where& where() const { return where_; }
  DcmItem& item() { return item_; }

  bool has(const DcmTagKey& key) { return item_.tagExistsWithValue(key); }
  bool present(const DcmTagKey& key) { return item_.tagExists(key); }

  void problem(const std::string& what) { problems_.add(where_, what); }
  void problemAt(const Where& where, const std::string& what) { problems_.add(where, what); }

  // A string attribute; nullopt (and a problem when required) when absent or empty.
  std::optional<std::string> string(const DcmTagKey& key, bool required) {
    OFString value;
    if (item_.findAndGetOFStringArray(key, value).bad() || trim(value.c_str()).empty()) {
      if (required) problem(keyword(key) + " is missing or empty");
      return std::nullopt;
    }
    return trim(value.c_str());
  }

  // A decimal (DS, or a binary float VR) attribute's value number `pos`; must be finite.
  std::optional<double> decimal(const DcmTagKey& key, bool required, unsigned long pos = 0) {
    DcmElement* element = nullptr;
    if (item_.findAndGetElement(key, element).bad() || element == nullptr || element->getLength() == 0) {
      if (required) problem(keyword(key) + " is missing or empty");
      return std::nullopt;
    }
    double value = std::numeric_limits<double>::quiet_NaN();
    const DcmEVR vr = element->ident();
    if (vr == EVR_FL || vr == EVR_OF) {
      Float32 f = 0;
      if (element->getFloat32(f, pos).bad()) return missingValue(key, pos);
      value = f;
    } else if (vr == EVR_FD || vr == EVR_OD) {
      Float64 d = 0;
      if (element->getFloat64(d, pos).bad()) return missingValue(key, pos);
      value = d;
    } else {
      OFString text;
      if (element->getOFString(text, pos).bad()) return missingValue(key, pos);
      const std::string t = trim(text.c_str());
      const char* begin = t.data();
      const char* end = t.data() + t.size();
      if (!t.empty() && *begin == '+') ++begin;
      const auto [ptr, ec] = std::from_chars(begin, end, value);
      if (t.empty() || ec != std::errc() || ptr != end) {
        problem(keyword(key) + " is not a number: \"" + t + "\"");
        return std::nullopt;
      }
    }
    if (!std::isfinite(value)) {
      problem(keyword(key) + " is " + num(value) + ", not a finite number");
      return std::nullopt;
    }
    return value;
  }

  // An integer (IS, or a binary integer VR) attribute.
  std::optional<long long> integer(const DcmTagKey& key, bool required) {
    OFString text;
    if (item_.findAndGetOFString(key, text).bad() || trim(text.c_str()).empty()) {
      if (required) problem(keyword(key) + " is missing or empty");
      return std::nullopt;
    }
    const std::string t = trim(text.c_str());
    const char* begin = t.data();
    const char* end = t.data() + t.size();
    if (*begin == '+') ++begin;
    long long value = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr != end) {
      problem(keyword(key) + " is not an integer: \"" + t + "\"");
      return std::nullopt;
    }
    return value;
  }

  // An FL array: pointer into DCMTK's buffer and its count; nullopt (with a problem) when absent,
  // of another VR, or unreadable.
  std::optional<std::pair<const Float32*, unsigned long>> floats(const DcmTagKey& key, bool required) {
    DcmElement* element = nullptr;
    if (item_.findAndGetElement(key, element).bad() || element == nullptr) {
      if (required) problem(keyword(key) + " is missing");
      return std::nullopt;
    }
    if (element->getLength() == 0) return std::make_pair(static_cast<const Float32*>(nullptr), 0ul);
    if (element->ident() != EVR_FL && element->ident() != EVR_OF) {
      problem(keyword(key) + " has VR " + DcmVR(element->ident()).getVRName() + ", expected FL");
      return std::nullopt;
    }
    Float32* values = nullptr;
    if (element->getFloat32Array(values).bad() || values == nullptr) {
      problem(keyword(key) + " cannot be read as 32-bit floats (length " + std::to_string(element->getLength()) + ")");
      return std::nullopt;
    }
    return std::make_pair(static_cast<const Float32*>(values), element->getLength() / sizeof(Float32));
  }

  // A sequence; nullptr when absent (a problem when required) or empty and required.
  DcmSequenceOfItems* sequence(const DcmTagKey& key, bool required) {
    DcmSequenceOfItems* seq = nullptr;
    if (item_.findAndGetSequence(key, seq).bad() || seq == nullptr) {
      if (required) problem(keyword(key) + " is missing");
      return nullptr;
    }
    if (required && seq->card() == 0) {
      problem(keyword(key) + " has no items");
      return nullptr;
    }
    return seq;
  }

 private:
  std::optional<double> missingValue(const DcmTagKey& key, unsigned long pos) {
    problem(keyword(key) + " has no value " + std::to_string(pos + 1));
    return std::nullopt;
  }

  DcmItem& item_;
  Problems& problems_;
  Where where_;
};

bool isUid(std::string_view uid) {
  if (uid.empty() || uid.size() > 64) return false;
  bool componentStart = true;
  for (std::size_t i = 0; i < uid.size(); ++i) {
    const char c = uid[i];
    if (c == '.') {
      if (componentStart) return false;
      componentStart = true;
    } else if (c >= '0' && c <= '9') {
      // No leading zero in a multi-digit component.
      if (componentStart && c == '0' && i + 1 < uid.size() && uid[i + 1] != '.') return false;
      componentStart = false;
    } else {
      return false;
    }
  }
  return !componentStart;
}

struct FractionGroup {
  int fractions = 1;
  std::map<long long, double> beamMeterset;  // by ReferencedBeamNumber
};

std::optional<FractionGroup> readFractionGroup(ItemReader& root, Problems& problems) {
  DcmSequenceOfItems* groups = root.sequence(DCM_FractionGroupSequence, true);
  if (groups == nullptr) return std::nullopt;
  if (groups->card() > 1) {
    root.problem("FractionGroupSequence has " + std::to_string(groups->card()) +
                 " fraction groups; Spotline delivers plans with exactly one");
  }
  FractionGroup out;
  ItemReader fg(*groups->getItem(0), problems, Where{"fraction group 1"});
  if (auto n = fg.integer(DCM_NumberOfFractionsPlanned, true)) {
    if (*n < 1 || *n > 1000) {
      fg.problem("NumberOfFractionsPlanned is " + std::to_string(*n) + ", expected 1..1000");
    } else {
      out.fractions = static_cast<int>(*n);
    }
  }
  const auto declaredBeams = fg.integer(DCM_NumberOfBeams, true);
  DcmSequenceOfItems* refs = fg.sequence(DCM_ReferencedBeamSequence, false);
  const unsigned long count = refs == nullptr ? 0 : refs->card();
  if (declaredBeams && *declaredBeams != static_cast<long long>(count)) {
    fg.problem("NumberOfBeams is " + std::to_string(*declaredBeams) + " but ReferencedBeamSequence has " +
               std::to_string(count) + " items");
  }
  for (unsigned long i = 0; i < count; ++i) {
    ItemReader ref(*refs->getItem(i), problems,
                   Where{"fraction group 1, referenced beam item " + std::to_string(i + 1)});
    const auto number = ref.integer(DCM_ReferencedBeamNumber, true);
    if (!number) continue;
    // BeamMeterset is Type 3: a beam without it is checked when the beam is read.
    if (!ref.has(DCM_BeamMeterset)) continue;
    const auto meterset = ref.decimal(DCM_BeamMeterset, true);
    if (!meterset) continue;
    if (*meterset < 0.0) {
      ref.problem("BeamMeterset is " + num(*meterset) + ", negative");
      continue;
    }
    if (!out.beamMeterset.emplace(*number, *meterset).second) {
      ref.problem("beam " + std::to_string(*number) + " is referenced twice");
    }
  }
  return out;
}

// What a beam's control points declare about range shifters: number -> ID.
std::map<long long, std::string> readRangeShifters(ItemReader& b, Problems& problems, Beam& beam) {
  std::map<long long, std::string> byNumber;
  DcmSequenceOfItems* seq = b.sequence(DCM_RangeShifterSequence, false);
  const unsigned long count = seq == nullptr ? 0 : seq->card();
  if (auto declared = b.integer(DCM_NumberOfRangeShifters, false);
      declared && *declared != static_cast<long long>(count)) {
    b.problem("NumberOfRangeShifters is " + std::to_string(*declared) + " but RangeShifterSequence has " +
              std::to_string(count) + " items");
  }
  for (unsigned long i = 0; i < count; ++i) {
    ItemReader rs(*seq->getItem(i), problems, b.where().with("range shifter item " + std::to_string(i + 1)));
    const auto number = rs.integer(DCM_RangeShifterNumber, true);
    const auto id = rs.string(DCM_RangeShifterID, true);
    const auto type = rs.string(DCM_RangeShifterType, true);
    if (!number || !id || !type) continue;
    if (*number < 0 || *number > std::numeric_limits<std::int32_t>::max()) {
      rs.problem("RangeShifterNumber " + std::to_string(*number) + " is out of range");
      continue;
    }
    if (*type != "BINARY" && *type != "ANALOG") {
      rs.problem("RangeShifterType is \"" + *type + "\", expected BINARY or ANALOG");
      continue;
    }
    if (!byNumber.emplace(*number, *id).second) {
      rs.problem("RangeShifterNumber " + std::to_string(*number) + " is declared twice");
      continue;
    }
    beam.rangeShifters.push_back(RangeShifter{static_cast<int>(*number), *id, *type});
  }
  return byNumber;
}

struct BeamRead {
  Beam beam;
  std::optional<MetersetUnit> unit;
};

// Reads one control point's spots into `layer` when it carries weight; returns its weight sum.
double readSpots(ItemReader& cp, double factor, Layer& layer) {
  const auto declared = cp.integer(DCM_NumberOfScanSpotPositions, false);
  const auto positions = cp.floats(DCM_ScanSpotPositionMap, declared.has_value());
  const auto weights = cp.floats(DCM_ScanSpotMetersetWeights, declared.has_value());
  if (!declared && !positions && !weights) return 0.0;
  if (!positions || !weights) return std::numeric_limits<double>::quiet_NaN();
  const unsigned long n = weights->second;
  bool consistent = true;
  if (declared && *declared != static_cast<long long>(n)) {
    cp.problem("NumberOfScanSpotPositions is " + std::to_string(*declared) + " but ScanSpotMetersetWeights has " +
               std::to_string(n) + " values");
    consistent = false;
  }
  if (positions->second != 2 * n) {
    cp.problem("ScanSpotPositionMap has " + std::to_string(positions->second) + " values, expected 2 x " +
               std::to_string(n) + " (one x,y pair per weight)");
    consistent = false;
  }
  if (!consistent) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0.0;
  bool finite = true;
  for (unsigned long k = 0; k < n; ++k) {
    const double w = weights->first[k];
    const double x = positions->first[2 * k];
    const double y = positions->first[2 * k + 1];
    if (!std::isfinite(w)) {
      cp.problemAt(cp.where().spot(k), "ScanSpotMetersetWeights is " + num(w) + ", not a finite number");
      finite = false;
      continue;
    }
    if (w < 0.0) {
      cp.problemAt(cp.where().spot(k), "ScanSpotMetersetWeights is " + num(w) + ", negative");
      finite = false;
      continue;
    }
    if (!std::isfinite(x) || !std::isfinite(y)) {
      cp.problemAt(cp.where().spot(k), "ScanSpotPositionMap (" + num(x) + ", " + num(y) + ") is not finite");
      finite = false;
      continue;
    }
    sum += w;
  }
  if (!finite) return std::numeric_limits<double>::quiet_NaN();
  if (sum > 0.0) {
    layer.spots.reserve(n);
    for (unsigned long k = 0; k < n; ++k) {
      layer.spots.push_back(Spot{Millimetres(positions->first[2 * k]), Millimetres(positions->first[2 * k + 1]),
                                 static_cast<double>(weights->first[k]) * factor});
    }
  }
  return sum;
}

std::optional<BeamRead> readBeam(DcmItem& item, std::size_t index, const FractionGroup* group, Problems& problems) {
  ItemReader probe(item, problems, Where{"IonBeamSequence item " + std::to_string(index + 1)});
  BeamRead out;
  Beam& beam = out.beam;
  const auto number = probe.integer(DCM_BeamNumber, true);
  beam.name = probe.string(DCM_BeamName, false).value_or("");
  if (!number) return std::nullopt;
  if (*number < 1 || *number > std::numeric_limits<std::uint32_t>::max()) {
    probe.problem("BeamNumber " + std::to_string(*number) + " is out of range (1..4294967295)");
    return std::nullopt;
  }
  beam.number = BeamNumber(static_cast<std::uint32_t>(*number));
  ItemReader b(item, problems, Where{}.beam(std::to_string(*number), beam.name));

  const auto deliveryType = b.string(DCM_TreatmentDeliveryType, true);
  if (deliveryType) {
    if (*deliveryType == "TREATMENT" || *deliveryType == "CONTINUATION") {
      beam.treatment = true;
    } else if (*deliveryType == "SETUP") {
      beam.treatment = false;
    } else {
      b.problem("TreatmentDeliveryType is \"" + *deliveryType + "\", expected TREATMENT, CONTINUATION or SETUP");
    }
  }
  beam.machine = b.string(DCM_TreatmentMachineName, beam.treatment).value_or("");

  if (auto unit = b.string(DCM_PrimaryDosimeterUnit, beam.treatment)) {
    if (*unit == "MU") {
      out.unit = MetersetUnit::MU;
    } else if (*unit == "NP") {
      out.unit = MetersetUnit::NP;
    } else {
      b.problem("PrimaryDosimeterUnit is \"" + *unit + "\", expected MU or NP");
    }
  }

  if (auto radiation = b.string(DCM_RadiationType, true)) {
    if (*radiation == "PROTON") {
      beam.radiation = Radiation::Proton;
      beam.ion = kProton;
    } else if (*radiation == "ION") {
      beam.radiation = Radiation::Ion;
      const auto z = b.integer(DCM_RadiationAtomicNumber, true);
      const auto a = b.integer(DCM_RadiationMassNumber, true);
      const auto charge = b.integer(DCM_RadiationChargeState, true);
      if (z && a && charge) {
        if (*z < 1 || *z > 118 || *a < *z || *a > 300 || *charge < 1 || *charge > *z) {
          b.problem("ion (Z " + std::to_string(*z) + ", A " + std::to_string(*a) + ", charge " +
                    std::to_string(*charge) +
                    ") is not a nucleus: expected 1 <= Z <= 118, Z <= A <= 300, 1 <= charge <= Z");
        } else if (*z == 1 && *a == 1) {
          b.problem("RadiationType is ION but the particle is a proton (use PROTON)");
        } else {
          beam.ion = IonSpecies{static_cast<int>(*z), static_cast<int>(*a), static_cast<int>(*charge)};
        }
      }
    } else {
      b.problem("RadiationType is \"" + *radiation + "\"; Spotline delivers PROTON and ION beams");
    }
  }

  if (beam.treatment) {
    if (auto mode = b.string(DCM_ScanMode, true); mode && *mode != "MODULATED" && *mode != "MODULATED_SPEC") {
      b.problem("ScanMode is \"" + *mode + "\"; Spotline delivers pencil-beam scanning (MODULATED) only");
    }
  }

  const std::map<long long, std::string> shifters = readRangeShifters(b, problems, beam);

  // Meterset scale: spot meterset = weight x BeamMeterset / FinalCumulativeMetersetWeight.
  const auto finalWeight = b.decimal(DCM_FinalCumulativeMetersetWeight, beam.treatment);
  if (finalWeight && !(*finalWeight > 0.0)) {
    b.problem("FinalCumulativeMetersetWeight is " + num(*finalWeight) + ", expected > 0");
  }
  double factor = 1.0;
  if (beam.treatment && group != nullptr) {  // without a fraction group that is already reported
    const auto it = group->beamMeterset.find(*number);
    if (it == group->beamMeterset.end()) {
      b.problem("no BeamMeterset for this beam in the fraction group's ReferencedBeamSequence");
    } else if (finalWeight && *finalWeight > 0.0) {
      factor = it->second / *finalWeight;
    }
  }

  DcmSequenceOfItems* cps = b.sequence(DCM_IonControlPointSequence, true);
  const unsigned long cpCount = cps == nullptr ? 0 : cps->card();
  if (auto declared = b.integer(DCM_NumberOfControlPoints, true);
      declared && cps != nullptr && *declared != static_cast<long long>(cpCount)) {
    b.problem("NumberOfControlPoints is " + std::to_string(*declared) + " but IonControlPointSequence has " +
              std::to_string(cpCount) + " items");
  }
  if (cps != nullptr && cpCount < 2) {
    b.problem("IonControlPointSequence has " + std::to_string(cpCount) + " control point(s), expected at least 2");
  }

  std::optional<double> energy;
  std::string tuneId;
  std::array<double, 2> spotSize{0.0, 0.0};
  int paintings = 1;
  std::map<long long, bool> shifterIn;  // ReferencedRangeShifterNumber -> IN
  double previousCumulative = 0.0;
  double weightSinceLast = 0.0;  // the previous control point's weight sum
  double totalWeight = 0.0;
  for (unsigned long c = 0; c < cpCount; ++c) {
    ItemReader cp(*cps->getItem(c), problems, b.where().controlPoint(c));
    if (auto idx = cp.integer(DCM_ControlPointIndex, true); idx && *idx != static_cast<long long>(c)) {
      cp.problem("ControlPointIndex is " + std::to_string(*idx) + ", expected " + std::to_string(c));
    }
    if (c == 0 || cp.has(DCM_NominalBeamEnergy)) {
      if (auto e = cp.decimal(DCM_NominalBeamEnergy, c == 0)) {
        if (*e <= 0.0) {
          cp.problem("NominalBeamEnergy is " + num(*e) + ", expected > 0");
        } else {
          energy = *e;
        }
      }
    }
    if (c == 0) {
      if (auto g = cp.decimal(DCM_GantryAngle, true)) {
        if (*g < 0.0 || *g >= 360.0) {
          cp.problem("GantryAngle is " + num(*g) + ", expected [0, 360)");
        } else {
          beam.gantryAngle = Degrees(*g);
        }
      }
      if (auto s = cp.decimal(DCM_PatientSupportAngle, false)) {
        if (*s < 0.0 || *s >= 360.0) {
          cp.problem("PatientSupportAngle is " + num(*s) + ", expected [0, 360)");
        } else {
          beam.couchAngle = Degrees(*s);
        }
      }
      if (cp.has(DCM_IsocenterPosition)) {
        for (unsigned long k = 0; k < 3; ++k) {
          if (auto v = cp.decimal(DCM_IsocenterPosition, true, k)) beam.isocentreMm[k] = *v;
        }
      } else if (beam.treatment) {
        cp.problem("IsocenterPosition is missing");
      }
    } else if (cp.has(DCM_GantryAngle)) {
      if (auto g = cp.decimal(DCM_GantryAngle, true); g && *g != beam.gantryAngle.value()) {
        cp.problem("GantryAngle changes to " + num(*g) + " within the beam; Spotline delivers fixed-angle beams");
      }
    }
    if (auto t = cp.string(DCM_ScanSpotTuneID, false)) tuneId = *t;
    if (cp.has(DCM_ScanningSpotSize)) {
      for (unsigned long k = 0; k < 2; ++k) {
        if (auto v = cp.decimal(DCM_ScanningSpotSize, true, k)) {
          if (*v < 0.0) {
            cp.problem("ScanningSpotSize is " + num(*v) + ", negative");
          } else {
            spotSize[k] = *v;
          }
        }
      }
    }
    if (cp.has(DCM_NumberOfPaintings)) {
      if (auto p = cp.integer(DCM_NumberOfPaintings, true)) {
        if (*p < 1 || *p > 1000) {
          cp.problem("NumberOfPaintings is " + std::to_string(*p) + ", expected 1..1000");
        } else {
          paintings = static_cast<int>(*p);
        }
      }
    }
    if (DcmSequenceOfItems* settings = cp.sequence(DCM_RangeShifterSettingsSequence, false)) {
      for (unsigned long k = 0; k < settings->card(); ++k) {
        ItemReader s(*settings->getItem(k), problems,
                     cp.where().with("range shifter setting " + std::to_string(k + 1)));
        const auto ref = s.integer(DCM_ReferencedRangeShifterNumber, true);
        const auto setting = s.string(DCM_RangeShifterSetting, true);
        if (!ref || !setting) continue;
        if (shifters.find(*ref) == shifters.end()) {
          s.problem("ReferencedRangeShifterNumber " + std::to_string(*ref) +
                    " is not declared in the beam's RangeShifterSequence");
          continue;
        }
        if (*setting != "IN" && *setting != "OUT") {
          s.problem("RangeShifterSetting is \"" + *setting + "\", expected IN or OUT");
          continue;
        }
        shifterIn[*ref] = *setting == "IN";
      }
    }

    const auto cumulative = cp.decimal(DCM_CumulativeMetersetWeight, beam.treatment);
    if (cumulative) {
      if (c == 0 && *cumulative != 0.0) {
        cp.problem("CumulativeMetersetWeight of the first control point is " + num(*cumulative) + ", expected 0");
      }
      if (*cumulative < previousCumulative) {
        cp.problem("CumulativeMetersetWeight decreases from " + num(previousCumulative) + " to " + num(*cumulative));
      }
      // The weights of the previous control point are delivered between it and this one.
      const double step = *cumulative - previousCumulative;
      const double scale = std::max({1.0, *cumulative, finalWeight.value_or(0.0)});
      if (c > 0 && std::isfinite(weightSinceLast) && std::abs(step - weightSinceLast) > 1e-4 * scale) {
        cp.problem("CumulativeMetersetWeight rises by " + num(step) +
                   " but the previous control point's weights sum to " + num(weightSinceLast));
      }
      previousCumulative = *cumulative;
    }

    Layer layer;
    const double sum = readSpots(cp, factor, layer);
    weightSinceLast = sum;
    if (std::isfinite(sum) && sum > 0.0) {
      if (c + 1 == cpCount) {
        cp.problem("the last control point carries weight " + num(sum) + "; it must close the beam with zero weights");
        continue;
      }
      if (!energy) continue;  // already reported
      layer.energy = MeVPerNucleon(*energy);
      layer.paintings = paintings;
      layer.tuneId = tuneId;
      layer.spotSizeMm = spotSize;
      layer.sourceControlPoint = static_cast<int>(c);
      std::vector<std::string> in;
      for (const auto& [ref, isIn] : shifterIn) {
        if (isIn) in.push_back(shifters.at(ref));
      }
      if (in.size() > 1) {
        cp.problem(std::to_string(in.size()) + " range shifters are IN at once; Spotline models one per layer");
      } else if (in.size() == 1) {
        layer.rangeShifter = in.front();
      }
      totalWeight += sum;
      beam.layers.push_back(std::move(layer));
    }
  }
  if (finalWeight && *finalWeight > 0.0 && cpCount >= 2) {
    const double scale = std::max(1.0, *finalWeight);
    if (std::abs(previousCumulative - *finalWeight) > 1e-4 * scale) {
      b.problem("the last control point's CumulativeMetersetWeight is " + num(previousCumulative) +
                " but FinalCumulativeMetersetWeight is " + num(*finalWeight));
    }
    if (std::abs(totalWeight - *finalWeight) > 1e-4 * scale) {
      b.problem("the spot weights sum to " + num(totalWeight) + " but FinalCumulativeMetersetWeight is " +
                num(*finalWeight));
    }
  }
  return out;
}

Result<Plan, PlanError> readDataset(DcmDataset& ds, std::string_view source, std::vector<DicomProblem>* out) {
  Problems problems(source);
  ItemReader root(ds, problems, Where{});
  const auto sopClass = root.string(DCM_SOPClassUID, true);
  if (sopClass && *sopClass != kRtIonPlanSopClass) {
    // Nothing else in another kind of object is worth reporting.
    const char* name = dcmFindNameOfUID(sopClass->c_str());
    root.problem("not an RT Ion Plan: SOPClassUID is " + *sopClass +
                 (name != nullptr ? " (" + std::string(name) + ")" : "") + ", expected " +
                 std::string(kRtIonPlanSopClass) + " (RT Ion Plan Storage)");
  }
  if (problems.any()) return problems.failure(PlanError::Invalid, out);
  if (auto modality = root.string(DCM_Modality, true); modality && *modality != "RTPLAN") {
    root.problem("Modality is \"" + *modality + "\", expected RTPLAN");
  }
  Plan plan;
  if (auto uid = root.string(DCM_SOPInstanceUID, true)) {
    if (!isUid(*uid)) {
      root.problem("SOPInstanceUID \"" + *uid + "\" is not a valid UID");
    } else {
      plan.uid = PlanUid(*uid);
    }
  }
  if (auto patient = root.string(DCM_PatientID, true)) plan.patient = PatientId(*patient);
  plan.label = root.string(DCM_RTPlanLabel, false).value_or("");
  if (auto approval = root.string(DCM_ApprovalStatus, false)) {
    if (*approval == "APPROVED") {
      plan.approval = Approval::Approved;
    } else if (*approval == "UNAPPROVED") {
      plan.approval = Approval::Unapproved;
    } else if (*approval == "REJECTED") {
      plan.approval = Approval::Rejected;
    } else {
      root.problem("ApprovalStatus is \"" + *approval + "\", expected APPROVED, UNAPPROVED or REJECTED");
    }
  } else {
    plan.approval = Approval::Unapproved;  // the module is optional; without it nobody approved the plan
  }
  if (auto description = root.string(DCM_RTPlanDescription, false)) {
    plan.synthetic = description->find("SYNTHETIC") != std::string::npos;
  }

  const std::optional<FractionGroup> group = readFractionGroup(root, problems);
  std::optional<MetersetUnit> unit;
  if (DcmSequenceOfItems* beams = root.sequence(DCM_IonBeamSequence, true)) {
    std::set<std::uint32_t> numbers;
    for (unsigned long i = 0; i < beams->card(); ++i) {
      auto read = readBeam(*beams->getItem(i), i, group ? &*group : nullptr, problems);
      if (!read) continue;
      if (!numbers.insert(read->beam.number.value()).second) {
        problems.add(Where{"IonBeamSequence item " + std::to_string(i + 1)},
                     "BeamNumber " + std::to_string(read->beam.number.value()) + " is used by another beam");
      }
      if (read->beam.treatment && read->unit) {
        if (unit && *unit != *read->unit) {
          problems.add(Where{}.beam(std::to_string(read->beam.number.value()), read->beam.name),
                       "PrimaryDosimeterUnit " + std::string(toString(*read->unit)) + " differs from another beam's " +
                           std::string(toString(*unit)) + "; a plan has one unit");
        }
        unit = read->unit;
      }
      plan.beams.push_back(std::move(read->beam));
    }
    if (group) {
      for (const auto& [number, meterset] : group->beamMeterset) {
        if (number < 0 || number > std::numeric_limits<std::uint32_t>::max() ||
            numbers.count(static_cast<std::uint32_t>(number)) == 0) {
          problems.add(Where{"fraction group 1"},
                       "ReferencedBeamNumber " + std::to_string(number) + " names no beam of the IonBeamSequence");
        }
      }
    }
  }
  if (group) plan.fractionsPlanned = group->fractions;
  plan.metersetUnit = unit.value_or(MetersetUnit::MU);
  if (problems.any()) return problems.failure(PlanError::Invalid, out);
  return plan;
}

// DCMTK allocates an element's declared length before it reads the value, so a file of a few
// bytes declaring a 2 GiB element would allocate 2 GiB. Before DCMTK sees the bytes, this walk
// over tags and lengths (no values) checks that every declared length fits in what encloses it,
// that the transfer syntax is one the reader supports, and that nesting stays shallow.
class LengthCheck {
 public:
  explicit LengthCheck(std::span<const std::byte> bytes) : b_(bytes) {}

  // nullopt when the structure holds, else what is wrong and where.
  std::optional<std::string> run() {
    // File meta information (PS3.10 7.1): Explicit VR Little Endian, starting with its group
    // length (0002,0000) UL, which bounds it, and naming the dataset's transfer syntax. DCMTK
    // guesses (big endian included) when these are missing or wrong; the reader does not, so
    // that this check and DCMTK always agree on how the dataset is encoded.
    std::size_t pos = 132;
    if (b_.size() - pos < 12) return std::string("the file ends early, before its file meta information (truncated?)");
    if (u16(pos) != 0x0002 || u16(pos + 2) != 0x0000 || text(pos + 4, 2) != "UL" || u16(pos + 6) != 4) {
      return std::string("the file meta information does not begin with its group length (0002,0000) UL at byte 132");
    }
    const std::uint32_t metaLength = u32(pos + 8);
    pos += 12;
    if (metaLength > b_.size() - pos) {
      return "the file meta information group length " + std::to_string(metaLength) + " is more than the " +
             std::to_string(b_.size() - pos) + " bytes left (the file ends early: truncated?)";
    }
    const std::size_t metaEnd = pos + metaLength;
    std::string syntax;
    while (pos < metaEnd) {
      const std::size_t start = pos;
      if (metaEnd - pos < 4 || u16(pos) != 0x0002) {
        return "element at byte " + std::to_string(pos) +
               " lies inside the file meta information's group length but is not in group 0002";
      }
      if (!element(pos, metaEnd, true, 0)) return "in the file meta information: " + error_;
      if (u16(start + 2) == 0x0010) {
        syntax = text(valueStart_, valueLength_);
        while (!syntax.empty() && (syntax.back() == '\0' || syntax.back() == ' ')) syntax.pop_back();  // UI padding
      }
    }
    if (pos + 4 <= b_.size() && u16(pos) == 0x0002) {
      return "element " + tagName(0x0002, u16(pos + 2)) + " at byte " + std::to_string(pos) +
             " belongs to the file meta information but lies beyond its group length " + std::to_string(metaLength);
    }
    if (syntax.empty()) return std::string("the file meta information has no TransferSyntaxUID (0002,0010)");
    bool explicitVr = true;
    if (syntax == "1.2.840.10008.1.2") {
      explicitVr = false;
    } else if (syntax != "1.2.840.10008.1.2.1") {
      return "transfer syntax " + syntax +
             " is not supported: RT Ion Plans are read in Implicit or Explicit VR Little Endian";
    }
    while (pos < b_.size()) {
      if (!element(pos, b_.size(), explicitVr, 0)) return error_;
    }
    return std::nullopt;
  }

 private:
  static constexpr std::uint32_t kUndefined = 0xffffffffu;
  static constexpr int kMaxDepth = 32;

  std::uint16_t u16(std::size_t at) const {
    return static_cast<std::uint16_t>(std::to_integer<unsigned>(b_[at]) | (std::to_integer<unsigned>(b_[at + 1]) << 8));
  }
  std::uint32_t u32(std::size_t at) const { return u16(at) | (static_cast<std::uint32_t>(u16(at + 2)) << 16); }
  std::string text(std::size_t at, std::size_t n) const {
    return std::string(reinterpret_cast<const char*>(b_.data()) + at, n);
  }
  static std::string tagName(std::uint16_t g, std::uint16_t e) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "(%04X,%04X)", g, e);
    return buf;
  }
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  // Reads one element (or delimiter) at pos within [pos, end); advances pos past it.
  bool element(std::size_t& pos, std::size_t end, bool explicitVr, int depth) {
    const std::string early = end == b_.size() ? " (the file ends early: truncated?)" : "";
    if (end - pos < 8) return fail("a truncated element header at byte " + std::to_string(pos) + early);
    const std::uint16_t g = u16(pos);
    const std::uint16_t e = u16(pos + 2);
    std::size_t header = 8;
    std::uint32_t length = 0;
    bool sequence = false;
    bool implicitInside = !explicitVr;
    if (g == 0xfffe) {
      length = u32(pos + 4);
    } else if (explicitVr) {
      const std::string vr = text(pos + 4, 2);
      // DCMTK's own rule for which VRs (unknown ones included) carry a 4-byte length.
      if (DcmVR(vr.c_str()).usesExtendedLengthEncoding()) {
        if (end - pos < 12) return fail("a truncated element header at byte " + std::to_string(pos) + early);
        header = 12;
        length = u32(pos + 8);
        sequence = vr == "SQ";
        // UN of undefined length holds a sequence in Implicit VR (PS3.5 6.2.2).
        if (vr == "UN" && length == kUndefined) sequence = implicitInside = true;
      } else {
        length = u16(pos + 6);
      }
    } else {
      length = u32(pos + 4);
      DcmTag tag(g, e);
      sequence = tag.getEVR() == EVR_SQ || length == kUndefined;
    }
    const std::string where = tagName(g, e) + " at byte " + std::to_string(pos);
    pos += header;
    valueStart_ = pos;
    valueLength_ = 0;
    if (length != kUndefined && length > end - pos) {
      return fail("element " + where + " declares " + std::to_string(length) + " bytes but only " +
                  std::to_string(end - pos) + " remain in what encloses it" + early);
    }
    if (!sequence || g == 0xfffe) {
      if (length == kUndefined) return fail("element " + where + " has an undefined length but is not a sequence");
      valueLength_ = length;
      pos += length;
      return true;
    }
    if (depth >= kMaxDepth) return fail("sequences nested deeper than " + std::to_string(kMaxDepth) + " at " + where);
    const std::size_t seqEnd = length == kUndefined ? end : pos + length;
    while (pos < seqEnd) {
      if (seqEnd - pos < 8) return fail("a truncated item header at byte " + std::to_string(pos) + early);
      const std::uint16_t ig = u16(pos);
      const std::uint16_t ie = u16(pos + 2);
      const std::uint32_t itemLength = u32(pos + 4);
      if (ig == 0xfffe && ie == 0xe0dd) {  // sequence delimitation
        pos += 8;
        if (length != kUndefined) return fail("a sequence delimiter inside defined-length sequence " + where);
        return true;
      }
      if (ig != 0xfffe || ie != 0xe000) {
        return fail("sequence " + where + " holds " + tagName(ig, ie) + " at byte " + std::to_string(pos) +
                    " where an item belongs");
      }
      pos += 8;
      if (itemLength == kUndefined) {
        for (;;) {
          if (seqEnd - pos < 8)
            return fail("item at byte " + std::to_string(pos) + " in " + where + " never ends" + early);
          if (u16(pos) == 0xfffe && u16(pos + 2) == 0xe00d) {  // item delimitation
            pos += 8;
            break;
          }
          if (!element(pos, seqEnd, !implicitInside, depth + 1)) return false;
        }
      } else {
        if (itemLength > seqEnd - pos) {
          return fail("an item in " + where + " declares " + std::to_string(itemLength) + " bytes but only " +
                      std::to_string(seqEnd - pos) + " remain" + early);
        }
        const std::size_t itemEnd = pos + itemLength;
        while (pos < itemEnd) {
          if (!element(pos, itemEnd, !implicitInside, depth + 1)) return false;
        }
      }
    }
    if (length == kUndefined) return fail("sequence " + where + " has no delimiter (the file ends early)");
    return true;
  }

  std::span<const std::byte> b_;
  std::string error_;
  std::size_t valueStart_ = 0;
  std::size_t valueLength_ = 0;
};

}  // namespace

bool looksLikeDicom(std::span<const std::byte> bytes) {
  return bytes.size() >= 132 && static_cast<char>(bytes[128]) == 'D' && static_cast<char>(bytes[129]) == 'I' &&
         static_cast<char>(bytes[130]) == 'C' && static_cast<char>(bytes[131]) == 'M';
}

Result<Plan, PlanError> parsePlanDicom(std::span<const std::byte> bytes, std::string_view sourceName,
                                       std::vector<DicomProblem>* problems) {
  detail::quietDcmtk();
  const std::string source(sourceName);
  // A problem with the file as a whole: no place inside it to name.
  const auto refuse = [&](PlanError code, const std::string& what) {
    Problems one(source);
    one.add(Where{}, what);
    return one.failure(code, problems);
  };
  if (bytes.size() > kMaxDicomFileBytes) {
    return refuse(PlanError::Unreadable, std::to_string(bytes.size()) + " bytes, more than the " +
                                             std::to_string(kMaxDicomFileBytes) + " a plan may have");
  }
  if (!looksLikeDicom(bytes)) {
    return refuse(PlanError::Malformed,
                  "not a DICOM Part 10 file (no \"DICM\" at byte 128; " + std::to_string(bytes.size()) + " bytes)");
  }
  if (auto problem = LengthCheck(bytes).run()) return refuse(PlanError::Malformed, *problem);
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  DcmFileFormat file;
  file.transferInit();
  const OFCondition status = file.read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  file.transferEnd();
  if (status.bad()) {
    // DCMTK says "I/O suspension" when an element or item reaches past the end of the bytes.
    // Any failure with every byte consumed is a file that ends before its dataset does.
    const bool early = status == EC_StreamNotifyClient || static_cast<std::size_t>(stream.tell()) >= bytes.size();
    const std::string why =
        early ? "the file ends early, inside an element, item or sequence (truncated?): " + std::string(status.text())
              : std::string(status.text());
    return refuse(PlanError::Malformed, "DICOM parse error at byte " + std::to_string(stream.tell()) + " of " +
                                            std::to_string(bytes.size()) + ": " + why);
  }
  DcmDataset* dataset = file.getDataset();
  if (dataset == nullptr) return refuse(PlanError::Malformed, "no DICOM dataset");
  return readDataset(*dataset, source, problems);
}

Result<Plan, PlanError> readPlanDicom(const std::filesystem::path& file, std::vector<DicomProblem>* problems) {
  const std::string source = file.string();
  const auto refuse = [&](const std::string& what) {
    Problems one(source);
    one.add(Where{}, what);
    return one.failure(PlanError::Unreadable, problems);
  };
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) return refuse("cannot read: " + ec.message());
  if (size > kMaxDicomFileBytes) {
    return refuse(std::to_string(size) + " bytes, more than the " + std::to_string(kMaxDicomFileBytes) +
                  " a plan may have");
  }
  std::ifstream in(file, std::ios::binary);
  std::vector<std::byte> bytes(size);
  if (!in || !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    return refuse("cannot read the file");
  }
  return parsePlanDicom(bytes, source, problems);
}

bool isDicomFile(const std::filesystem::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // A .dcm name is DICOM whatever it holds, so that a broken one is reported as broken DICOM.
  if (extension == ".dcm") return true;
  std::ifstream in(file, std::ios::binary);
  std::array<char, 132> head{};
  in.read(head.data(), head.size());
  return looksLikeDicom(std::as_bytes(std::span<const char>(head.data(), static_cast<std::size_t>(in.gcount()))));
}

Result<Plan, PlanError> readPlanFile(const std::filesystem::path& file) {
  return isDicomFile(file) ? readPlanDicom(file) : readPlanJson(file);
}

}  // namespace spotline::plan
