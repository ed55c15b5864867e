// The RT Ion Plan writer: Spotline's plans (synthetic carbon, helium, oxygen, neon and proton
// plans above all) as real DICOM, which readPlanDicom reads back unchanged.

#include <dcmtk/config/osconfig.h>  // first, for DCMTK
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "canonical.h"
#include "dicom_common.h"
#include "spotline/plan/dicom.h"
#include "spotline/plan/hash.h"
#include "text.h"

namespace spotline::plan {

namespace {

// Thrown inside the writer for a plan it cannot write exactly; turned into PlanError::Invalid.
struct CannotWrite {
  std::string message;
};

std::string num(double v) {
  return detail::shortNumber(v);
}

// DICOM DS (decimal string, at most 16 characters) that reads back to exactly `v`.
std::string exactDs(double v, const std::string& what) {
  if (!std::isfinite(v)) throw CannotWrite{what + " is " + num(v) + ", not a finite number"};
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, end);
  if (ec != std::errc() || s.size() > 16) {
    throw CannotWrite{what + " " + s + " needs more than the 16 characters of a DICOM decimal string"};
  }
  return s;
}

// DICOM DS for a value that need not be exact (cumulative weights, checked with a tolerance).
std::string approxDs(double v) {
  for (int precision = 17; precision >= 8; --precision) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::string(buf).size() <= 16) return buf;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.8g", v);
  return buf;
}

float exactFloat(double v, const std::string& what) {
  const auto f = static_cast<float>(v);
  if (!std::isfinite(v) || static_cast<double>(f) != v) {
    throw CannotWrite{what + " " + num(v) + " is not exactly representable as a DICOM FL (32-bit float)"};
  }
  return f;
}

void checkLength(const std::string& value, std::size_t max, const std::string& what) {
  if (value.size() > max) {
    throw CannotWrite{what + " \"" + value + "\" has " + std::to_string(value.size()) + " characters; DICOM allows " +
                      std::to_string(max)};
  }
  if (value.find('\\') != std::string::npos) throw CannotWrite{what + " \"" + value + "\" contains a backslash"};
}

void check(OFCondition status, const std::string& what) {
  if (status.bad()) throw CannotWrite{"DCMTK could not set " + what + ": " + status.text()};
}

void put(DcmItem& item, const DcmTagKey& key, const std::string& value) {
  check(item.putAndInsertString(DcmTag(key), value.c_str()), DcmTag(key).getTagName());
}

DcmItem& append(DcmItem& parent, const DcmTagKey& sequence) {
  DcmItem* item = nullptr;
  check(parent.findOrCreateSequenceItem(DcmTag(sequence), item, -2), DcmTag(sequence).getTagName());
  if (item == nullptr) throw CannotWrite{"DCMTK could not append an item"};
  return *item;
}

// A UID below the option's root, derived from the plan's UID and a purpose, so that writing the
// same plan twice gives the same bytes.
std::string derivedUid(const std::string& root, const std::string& planUid, std::string_view purpose) {
  std::string input = planUid + "/" + std::string(purpose);
  const auto digest = detail::sha256(std::as_bytes(std::span<const char>(input.data(), input.size())));
  unsigned long long a = 0;
  for (int i = 0; i < 8; ++i) a = (a << 8) | digest[static_cast<std::size_t>(i)];
  std::string uid = root + "." + std::to_string(a);
  if (uid.size() > 64) uid.resize(64);
  if (uid.back() == '.') uid.pop_back();
  return uid;
}

std::string beamWhere(const Beam& beam) {
  return "beam " + std::to_string(beam.number.value());
}

void writeBeam(DcmItem& beamItem, const Plan& plan, const Beam& beam, const std::string& total) {
  const std::string where = beamWhere(beam);
  put(beamItem, DCM_Manufacturer, "Spotline");
  checkLength(beam.machine, 16, where + " TreatmentMachineName");
  put(beamItem, DCM_TreatmentMachineName, beam.machine);
  put(beamItem, DCM_PrimaryDosimeterUnit, std::string(toString(plan.metersetUnit)));
  put(beamItem, DCM_BeamNumber, std::to_string(beam.number.value()));
  checkLength(beam.name, 64, where + " BeamName");
  put(beamItem, DCM_BeamName, beam.name);
  put(beamItem, DCM_BeamType, "STATIC");
  put(beamItem, DCM_RadiationType, std::string(toString(beam.radiation)));
  if (beam.radiation == Radiation::Ion) {
    put(beamItem, DCM_RadiationMassNumber, std::to_string(beam.ion.a));
    put(beamItem, DCM_RadiationAtomicNumber, std::to_string(beam.ion.z));
    check(beamItem.putAndInsertSint16(DcmTag(DCM_RadiationChargeState), static_cast<Sint16>(beam.ion.charge)),
          "RadiationChargeState");
  }
  put(beamItem, DCM_TreatmentDeliveryType, beam.treatment ? "TREATMENT" : "SETUP");
  put(beamItem, DCM_NumberOfWedges, "0");
  put(beamItem, DCM_NumberOfCompensators, "0");
  put(beamItem, DCM_NumberOfBoli, "0");
  put(beamItem, DCM_NumberOfBlocks, "0");
  put(beamItem, DCM_FinalCumulativeMetersetWeight, total);
  put(beamItem, DCM_NumberOfControlPoints, std::to_string(2 * beam.layers.size()));
  put(beamItem, DCM_ScanMode, "MODULATED");
  put(beamItem, DCM_NumberOfRangeShifters, std::to_string(beam.rangeShifters.size()));
  for (const RangeShifter& rs : beam.rangeShifters) {
    DcmItem& item = append(beamItem, DCM_RangeShifterSequence);
    put(item, DCM_RangeShifterNumber, std::to_string(rs.number));
    checkLength(rs.id, 16, where + " RangeShifterID");
    put(item, DCM_RangeShifterID, rs.id);
    put(item, DCM_RangeShifterType, rs.type);
  }
  put(beamItem, DCM_NumberOfLateralSpreadingDevices, "0");
  put(beamItem, DCM_NumberOfRangeModulators, "0");
  put(beamItem, DCM_PatientSupportType, "TABLE");
  put(beamItem, DCM_ReferencedPatientSetupNumber, "1");

  if (beam.layers.empty()) throw CannotWrite{where + " has no layers; DICOM needs at least one"};
  double cumulative = 0.0;
  for (std::size_t l = 0; l < beam.layers.size(); ++l) {
    const Layer& layer = beam.layers[l];
    const std::string lw = where + ", layer " + std::to_string(l + 1);
    if (layer.spots.empty()) throw CannotWrite{lw + " has no spots; DICOM has no empty layer"};
    const std::size_t n = layer.spots.size();
    std::vector<Float32> positions(2 * n);
    std::vector<Float32> weights(n);
    std::vector<Float32> zeros(n, 0.0F);
    double sum = 0.0;
    for (std::size_t s = 0; s < n; ++s) {
      const Spot& spot = layer.spots[s];
      const std::string sw = lw + ", spot " + std::to_string(s + 1);
      positions[2 * s] = exactFloat(spot.x.value(), sw + " x");
      positions[2 * s + 1] = exactFloat(spot.y.value(), sw + " y");
      if (spot.meterset < 0.0) throw CannotWrite{sw + " meterset " + num(spot.meterset) + " is negative"};
      weights[s] = exactFloat(spot.meterset, sw + " meterset");
      sum += spot.meterset;
    }
    if (!(sum > 0.0)) throw CannotWrite{lw + " has no meterset; DICOM counts only weighted control points as layers"};
    const std::string energy = exactDs(layer.energy.value(), lw + " energy");
    for (int half = 0; half < 2; ++half) {
      const std::size_t c = 2 * l + static_cast<std::size_t>(half);
      DcmItem& cp = append(beamItem, DCM_IonControlPointSequence);
      put(cp, DCM_ControlPointIndex, std::to_string(c));
      put(cp, DCM_NominalBeamEnergy, energy);
      if (c == 0) {
        put(cp, DCM_GantryAngle, exactDs(beam.gantryAngle.value(), where + " gantry angle"));
        put(cp, DCM_GantryRotationDirection, "NONE");
        put(cp, DCM_BeamLimitingDeviceAngle, "0");
        put(cp, DCM_BeamLimitingDeviceRotationDirection, "NONE");
        put(cp, DCM_PatientSupportAngle, exactDs(beam.couchAngle.value(), where + " couch angle"));
        put(cp, DCM_PatientSupportRotationDirection, "NONE");
        put(cp, DCM_IsocenterPosition,
            exactDs(beam.isocentreMm[0], where + " isocentre x") + "\\" +
                exactDs(beam.isocentreMm[1], where + " isocentre y") + "\\" +
                exactDs(beam.isocentreMm[2], where + " isocentre z"));
      }
      // The last control point closes the beam at the final weight exactly.
      put(cp, DCM_CumulativeMetersetWeight, half == 1 && l + 1 == beam.layers.size() ? total : approxDs(cumulative));
      if (!layer.tuneId.empty()) {
        checkLength(layer.tuneId, 16, lw + " ScanSpotTuneID");
        put(cp, DCM_ScanSpotTuneID, layer.tuneId);
      }
      put(cp, DCM_NumberOfScanSpotPositions, std::to_string(n));
      check(cp.putAndInsertFloat32Array(DcmTag(DCM_ScanSpotPositionMap), positions.data(), 2 * n),
            "ScanSpotPositionMap");
      check(cp.putAndInsertFloat32Array(DcmTag(DCM_ScanSpotMetersetWeights), half == 0 ? weights.data() : zeros.data(),
                                        n),
            "ScanSpotMetersetWeights");
      if (layer.spotSizeMm[0] > 0.0 || layer.spotSizeMm[1] > 0.0) {
        const std::array<Float32, 2> size{exactFloat(layer.spotSizeMm[0], lw + " spot size x"),
                                          exactFloat(layer.spotSizeMm[1], lw + " spot size y")};
        check(cp.putAndInsertFloat32Array(DcmTag(DCM_ScanningSpotSize), size.data(), 2), "ScanningSpotSize");
      }
      put(cp, DCM_NumberOfPaintings, std::to_string(layer.paintings));
      if (half == 0 && !beam.rangeShifters.empty()) {
        bool found = layer.rangeShifter.empty();
        for (const RangeShifter& rs : beam.rangeShifters) {
          DcmItem& setting = append(cp, DCM_RangeShifterSettingsSequence);
          const bool in = rs.id == layer.rangeShifter && !found;
          found = found || in;
          put(setting, DCM_RangeShifterSetting, in ? "IN" : "OUT");
          put(setting, DCM_ReferencedRangeShifterNumber, std::to_string(rs.number));
        }
        if (!found)
          throw CannotWrite{lw + " uses range shifter \"" + layer.rangeShifter + "\", not declared in the beam"};
      } else if (half == 0 && !layer.rangeShifter.empty()) {
        throw CannotWrite{lw + " uses range shifter \"" + layer.rangeShifter + "\", not declared in the beam"};
      }
      if (half == 0) cumulative += sum;
    }
  }
}

void writeDataset(DcmDataset& ds, const Plan& plan, const DicomWriteOptions& options) {
  const std::string uid = plan.uid.value();
  if (uid.empty() || uid.size() > 64 || uid.find_first_not_of("0123456789.") != std::string::npos) {
    throw CannotWrite{"plan UID \"" + uid + "\" is not a DICOM UID (digits and dots, at most 64 characters)"};
  }
  checkLength(plan.patient.value(), 64, "PatientID");
  checkLength(plan.label, 16, "label (RTPlanLabel)");
  if (options.uidRoot.empty() || options.uidRoot.size() > 40 ||
      options.uidRoot.find_first_not_of("0123456789.") != std::string::npos) {
    throw CannotWrite{"UID root \"" + options.uidRoot + "\" is not a UID prefix"};
  }
  put(ds, DCM_SpecificCharacterSet, "ISO_IR 192");
  put(ds, DCM_InstanceCreationDate, options.date);
  put(ds, DCM_InstanceCreationTime, options.time);
  put(ds, DCM_SOPClassUID, std::string(kRtIonPlanSopClass));
  put(ds, DCM_SOPInstanceUID, uid);
  put(ds, DCM_StudyDate, options.date);
  put(ds, DCM_StudyTime, options.time);
  put(ds, DCM_AccessionNumber, "");
  put(ds, DCM_Modality, "RTPLAN");
  put(ds, DCM_Manufacturer, "Spotline");
  put(ds, DCM_ReferringPhysicianName, "");
  put(ds, DCM_PatientName, plan.synthetic ? "SYNTHETIC^PLAN" : "");
  put(ds, DCM_PatientID, plan.patient.value());
  put(ds, DCM_PatientBirthDate, "");
  put(ds, DCM_PatientSex, "");
  put(ds, DCM_StudyInstanceUID, derivedUid(options.uidRoot, uid, "study"));
  put(ds, DCM_SeriesInstanceUID, derivedUid(options.uidRoot, uid, "series"));
  put(ds, DCM_StudyID, "");
  put(ds, DCM_SeriesNumber, "1");
  put(ds, DCM_FrameOfReferenceUID, derivedUid(options.uidRoot, uid, "frame-of-reference"));
  put(ds, DCM_PositionReferenceIndicator, "");
  put(ds, DCM_RTPlanLabel, plan.label);
  put(ds, DCM_RTPlanDate, options.date);
  put(ds, DCM_RTPlanTime, options.time);
  if (plan.synthetic) {
    put(ds, DCM_RTPlanDescription, "SYNTHETIC plan made by Spotline for tests and demos; not for clinical use");
  }
  put(ds, DCM_RTPlanGeometry, "TREATMENT_DEVICE");

  std::vector<std::pair<const Beam*, std::string>> totals;
  for (const Beam& beam : plan.beams) totals.emplace_back(&beam, approxDs(beamMeterset(beam)));

  DcmItem& group = append(ds, DCM_FractionGroupSequence);
  put(group, DCM_FractionGroupNumber, "1");
  put(group, DCM_NumberOfFractionsPlanned, std::to_string(plan.fractionsPlanned));
  put(group, DCM_NumberOfBeams, std::to_string(plan.beams.size()));
  put(group, DCM_NumberOfBrachyApplicationSetups, "0");
  for (const auto& [beam, total] : totals) {
    DcmItem& ref = append(group, DCM_ReferencedBeamSequence);
    put(ref, DCM_BeamMeterset, total);
    put(ref, DCM_ReferencedBeamNumber, std::to_string(beam->number.value()));
  }
  DcmItem& setup = append(ds, DCM_PatientSetupSequence);
  put(setup, DCM_PatientPosition, "HFS");
  put(setup, DCM_PatientSetupNumber, "1");
  for (const auto& [beam, total] : totals) {
    writeBeam(append(ds, DCM_IonBeamSequence), plan, *beam, total);
  }
  put(ds, DCM_ApprovalStatus, std::string(toString(plan.approval)));
}

}  // namespace

Result<bool, PlanError> writePlanDicom(const Plan& plan, const std::filesystem::path& file,
                                       const DicomWriteOptions& options) {
  detail::quietDcmtk();
  DcmFileFormat format;
  try {
    writeDataset(*format.getDataset(), plan, options);
  } catch (const CannotWrite& e) {
    return fail(PlanError::Invalid,
                file.string() + ": cannot write plan " + plan.uid.value() + " as DICOM: " + e.message);
  }
  const E_TransferSyntax xfer = options.explicitVr ? EXS_LittleEndianExplicit : EXS_LittleEndianImplicit;
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  const OFCondition status =
      format.saveFile(tmp.c_str(), xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0, EWM_createNewMeta);
  if (status.bad()) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return fail(PlanError::Unreadable, file.string() + ": cannot write: " + status.text());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) return fail(PlanError::Unreadable, file.string() + ": cannot write: " + ec.message());
  return true;
}

}  // namespace spotline::plan
