#include "spotline/plan/json_format.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace spotline::plan {

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Paths and value descriptions for messages.

std::string childPath(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out = parent;
  out += '.';
  out += key;
  return out;
}

std::string indexPath(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string dumpSafe(const json& v) {
  // Replace rather than throw on invalid UTF-8: a message about bad input must never fail itself.
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A short rendering of an offending value: enough to recognise it, never the whole document.
std::string describe(const json& v) {
  constexpr std::size_t kMax = 60;
  std::string text = dumpSafe(v);
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

// ---------------------------------------------------------------------------------------------
// Structure guard: runs inside nlohmann's parser to enforce the nesting limit and refuse
// duplicate keys (which nlohmann would silently resolve to the last value, hiding an ambiguity
// in a treatment plan). It stops the parse by throwing StructureError, which never leaves this
// file: parsePlanJson turns it into a Failure.

struct StructureError {
  PlanError code;
  std::string path;
  std::string what;
};

class StructureGuard {
 public:
  bool onEvent(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        beginElement();
        frames_.push_back(Frame{event == json::parse_event_t::array_start, {}, 0, false, {}});
        if (frames_.size() > static_cast<std::size_t>(kMaxJsonNesting)) {
          throw StructureError{PlanError::Malformed, containerPath(),
                               "nested deeper than " + std::to_string(kMaxJsonNesting) + " levels"};
        }
        break;
      case json::parse_event_t::value: beginElement(); break;
      case json::parse_event_t::key: {
        Frame& top = frames_.back();
        top.key = parsed.get<std::string>();
        for (const std::string& k : top.keys) {
          if (k == top.key) {
            throw StructureError{PlanError::Invalid, containerPath(), "duplicate key " + describe(json(top.key))};
          }
        }
        top.keys.push_back(top.key);
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end: frames_.pop_back(); break;
    }
    return true;
  }

 private:
  struct Frame {
    bool isArray;
    std::string key;                // current key, objects only
    std::size_t index;              // current element, arrays only
    bool started;                   // an element of this array has begun
    std::vector<std::string> keys;  // keys seen so far; objects are small (<= 12 keys)
  };

  void beginElement() {
    if (frames_.empty() || !frames_.back().isArray) return;
    Frame& top = frames_.back();
    top.index = top.started ? top.index + 1 : 0;
    top.started = true;
  }

  // The JSON path of the innermost open container.
  std::string containerPath() const {
    std::string path;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      path = f.isArray ? indexPath(path, f.index) : childPath(path, f.key);
    }
    return path;
  }

  std::vector<Frame> frames_;
};

// ---------------------------------------------------------------------------------------------
// Schema reader: collects every error, each with its path.

enum class Bound { Any, NonNegative, Positive, Angle };

std::string_view expectation(Bound bound) {
  switch (bound) {
    case Bound::Any: return "a finite number";
    case Bound::NonNegative: return "a finite number >= 0";
    case Bound::Positive: return "a finite number > 0";
    case Bound::Angle: return "a finite number in [0, 360)";
  }
  return "a number";
}

std::optional<double> boundedNumber(const json& v, Bound bound) {
  if (!v.is_number()) return std::nullopt;
  const double d = v.get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  switch (bound) {
    case Bound::Any: return d;
    case Bound::NonNegative: return d >= 0.0 ? std::optional<double>(d) : std::nullopt;
    case Bound::Positive: return d > 0.0 ? std::optional<double>(d) : std::nullopt;
    case Bound::Angle: return d >= 0.0 && d < 360.0 ? std::optional<double>(d) : std::nullopt;
  }
  return std::nullopt;
}

using Keys = std::initializer_list<std::string_view>;

class SchemaReader {
 public:
  explicit SchemaReader(std::string_view source) : source_(source) {}

  void error(const std::string& path, const std::string& what) {
    ++errorCount_;
    if (lines_.size() >= kMaxReportedErrors) return;
    std::string line(source_);
    line += ": ";
    line += path.empty() ? "top level" : path;
    line += ": ";
    line += what;
    lines_.push_back(std::move(line));
  }

  bool failed() const { return errorCount_ > 0; }

  std::string message() const {
    std::string out;
    for (const std::string& line : lines_) {
      if (!out.empty()) out += '\n';
      out += line;
    }
    if (errorCount_ > lines_.size()) {
      out += '\n';
      out += source_;
      out += ": ... and " + std::to_string(errorCount_ - lines_.size()) + " more errors";
    }
    return out;
  }

  // Checks that v is an object with every required key and no key outside required+optional.
  // False when v is not an object (its fields are then not read).
  bool object(const json& v, const std::string& path, Keys required, Keys optional) {
    if (!v.is_object()) {
      error(path, "expected an object, got " + describe(v));
      return false;
    }
    for (std::string_view key : required) {
      if (!v.contains(key)) error(path, "missing required key \"" + std::string(key) + "\"");
    }
    for (const auto& item : v.items()) {
      const std::string& key = item.key();
      bool known = false;
      for (std::string_view k : required) known = known || k == key;
      for (std::string_view k : optional) known = known || k == key;
      if (!known) {
        std::string allowed;
        for (Keys keys : {required, optional}) {
          for (std::string_view k : keys) {
            if (!allowed.empty()) allowed += ", ";
            allowed += k;
          }
        }
        error(path, "unknown key " + describe(json(key)) + " (allowed: " + allowed + ")");
      }
    }
    return true;
  }

  // The field `key` of object `obj`, or nullptr when absent (a missing required key has already
  // been reported by object()).
  static const json* field(const json& obj, std::string_view key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  std::optional<std::string> string(const json& obj, std::string_view key, const std::string& path, bool nonEmpty) {
    const json* v = field(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string() || (nonEmpty && v->get_ref<const std::string&>().empty())) {
      error(childPath(path, key),
            std::string(nonEmpty ? "expected a non-empty string" : "expected a string") + ", got " + describe(*v));
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  std::optional<double> number(const json& obj, std::string_view key, const std::string& path, Bound bound) {
    const json* v = field(obj, key);
    if (v == nullptr) return std::nullopt;
    std::optional<double> d = boundedNumber(*v, bound);
    if (!d) error(childPath(path, key), "expected " + std::string(expectation(bound)) + ", got " + describe(*v));
    return d;
  }

  std::optional<std::int64_t> integer(const json& obj, std::string_view key, const std::string& path, std::int64_t min,
                                      std::int64_t max) {
    const json* v = field(obj, key);
    if (v == nullptr) return std::nullopt;
    std::optional<std::int64_t> out;
    if (v->is_number_unsigned()) {
      const auto u = v->get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(max)) out = static_cast<std::int64_t>(u);
    } else if (v->is_number_integer()) {
      out = v->get<std::int64_t>();
    }
    if (out && (*out < min || *out > max)) out.reset();
    if (!out) {
      error(childPath(path, key),
            "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + describe(*v));
    }
    return out;
  }

  std::optional<bool> boolean(const json& obj, std::string_view key, const std::string& path) {
    const json* v = field(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) {
      error(childPath(path, key), "expected true or false, got " + describe(*v));
      return std::nullopt;
    }
    return v->get<bool>();
  }

  // One of a fixed set of strings; returns the index of the match.
  std::optional<std::size_t> choice(const json& obj, std::string_view key, const std::string& path, Keys choices) {
    const json* v = field(obj, key);
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) {
      std::size_t i = 0;
      for (std::string_view c : choices) {
        if (v->get_ref<const std::string&>() == c) return i;
        ++i;
      }
    }
    std::string list;
    for (std::string_view c : choices) {
      if (!list.empty()) list += ", ";
      list += "\"" + std::string(c) + "\"";
    }
    error(childPath(path, key), "expected one of " + list + ", got " + describe(*v));
    return std::nullopt;
  }

 private:
  std::string_view source_;
  std::vector<std::string> lines_;
  std::size_t errorCount_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Plan structure.

std::optional<IonSpecies> readIon(SchemaReader& r, const json& v, const std::string& path) {
  if (v.is_string()) {
    if (auto ion = ionFromName(v.get_ref<const std::string&>())) return ion;
    r.error(path,
            "expected an ion name (\"proton\", \"helium\", \"carbon\", \"oxygen\", \"neon\") "
            "or {\"z\", \"a\", \"charge\"}, got " +
                describe(v));
    return std::nullopt;
  }
  if (!v.is_object()) {
    r.error(path, "expected an ion name or {\"z\", \"a\", \"charge\"}, got " + describe(v));
    return std::nullopt;
  }
  r.object(v, path, {"z", "a", "charge"}, {});
  const auto z = r.integer(v, "z", path, 1, 118);
  if (!z) return std::nullopt;
  const auto a = r.integer(v, "a", path, *z, 300);
  const auto charge = r.integer(v, "charge", path, 1, *z);
  if (!a || !charge) return std::nullopt;
  return IonSpecies{static_cast<int>(*z), static_cast<int>(*a), static_cast<int>(*charge)};
}

void readSpots(SchemaReader& r, const json& spots, const std::string& path, Layer& layer) {
  if (!spots.is_array()) {
    r.error(path, "expected an array of [x_mm, y_mm, meterset] triples, got " + describe(spots));
    return;
  }
  layer.spots.reserve(spots.size());
  std::size_t i = 0;
  for (const json& triple : spots) {
    if (!triple.is_array() || triple.size() != 3) {
      r.error(indexPath(path, i), "expected [x_mm, y_mm, meterset], got " + describe(triple));
      ++i;
      continue;
    }
    static constexpr Bound kBounds[3] = {Bound::Any, Bound::Any, Bound::NonNegative};
    double values[3] = {0.0, 0.0, 0.0};
    bool ok = true;
    for (std::size_t k = 0; k < 3; ++k) {
      const std::optional<double> d = boundedNumber(triple[k], kBounds[k]);
      if (d) {
        values[k] = *d;
      } else {
        ok = false;
        r.error(indexPath(indexPath(path, i), k),
                "expected " + std::string(expectation(kBounds[k])) + ", got " + describe(triple[k]));
      }
    }
    if (ok) layer.spots.push_back(Spot{Millimetres(values[0]), Millimetres(values[1]), values[2]});
    ++i;
  }
}

void readLayers(SchemaReader& r, const json& layers, const std::string& path, Beam& beam) {
  if (!layers.is_array()) {
    r.error(path, "expected an array of layers, got " + describe(layers));
    return;
  }
  beam.layers.reserve(layers.size());
  std::size_t i = 0;
  for (const json& lv : layers) {
    const std::string lp = indexPath(path, i++);
    Layer layer;
    if (!r.object(lv, lp, {"energy_mev_u", "spots"}, {"paintings", "tune_id", "spot_size_mm", "range_shifter"})) {
      continue;
    }
    if (auto e = r.number(lv, "energy_mev_u", lp, Bound::Positive)) layer.energy = MeVPerNucleon(*e);
    if (lv.contains("paintings")) {
      if (auto p = r.integer(lv, "paintings", lp, 1, 1000)) layer.paintings = static_cast<int>(*p);
    }
    if (lv.contains("tune_id")) {
      if (auto t = r.string(lv, "tune_id", lp, true)) layer.tuneId = *t;
    }
    if (lv.contains("range_shifter")) {
      if (auto rs = r.string(lv, "range_shifter", lp, true)) layer.rangeShifter = *rs;
    }
    if (const json* size = SchemaReader::field(lv, "spot_size_mm")) {
      const std::string sizePath = childPath(lp, "spot_size_mm");
      if (!size->is_array() || size->size() != 2) {
        r.error(sizePath, "expected [x, y] in mm, got " + describe(*size));
      } else {
        for (std::size_t k = 0; k < 2; ++k) {
          if (auto d = boundedNumber((*size)[k], Bound::NonNegative)) {
            layer.spotSizeMm[k] = *d;
          } else {
            r.error(indexPath(sizePath, k), "expected a finite number >= 0, got " + describe((*size)[k]));
          }
        }
      }
    }
    if (const json* spots = SchemaReader::field(lv, "spots")) {
      readSpots(r, *spots, childPath(lp, "spots"), layer);
    }
    beam.layers.push_back(std::move(layer));
  }
}

void readRangeShifters(SchemaReader& r, const json& shifters, const std::string& path, Beam& beam) {
  if (!shifters.is_array()) {
    r.error(path, "expected an array of {\"number\", \"id\", \"type\"}, got " + describe(shifters));
    return;
  }
  std::size_t i = 0;
  for (const json& sv : shifters) {
    const std::string sp = indexPath(path, i++);
    if (!r.object(sv, sp, {"number", "id", "type"}, {})) continue;
    RangeShifter shifter;
    if (auto n = r.integer(sv, "number", sp, 0, std::numeric_limits<std::int32_t>::max())) {
      shifter.number = static_cast<int>(*n);
    }
    if (auto id = r.string(sv, "id", sp, true)) shifter.id = *id;
    if (auto t = r.choice(sv, "type", sp, {"BINARY", "ANALOG"})) shifter.type = *t == 0 ? "BINARY" : "ANALOG";
    beam.rangeShifters.push_back(std::move(shifter));
  }
}

std::optional<Beam> readBeam(SchemaReader& r, const json& bv, const std::string& path) {
  if (!r.object(bv, path,
                {"number", "machine", "treatment_delivery_type", "radiation", "gantry_angle", "couch_angle",
                 "isocentre_mm", "layers"},
                {"name", "ion", "range_shifters"})) {
    return std::nullopt;
  }
  Beam beam;
  if (auto n = r.integer(bv, "number", path, 1, std::numeric_limits<std::uint32_t>::max())) {
    beam.number = BeamNumber(static_cast<std::uint32_t>(*n));
  }
  if (bv.contains("name")) {
    if (auto name = r.string(bv, "name", path, false)) beam.name = *name;
  }
  if (auto machine = r.string(bv, "machine", path, true)) beam.machine = *machine;
  if (auto t = r.choice(bv, "treatment_delivery_type", path, {"TREATMENT", "SETUP"})) {
    beam.treatment = *t == 0;
  }
  const auto radiation = r.choice(bv, "radiation", path, {"PROTON", "ION"});
  if (radiation) beam.radiation = *radiation == 0 ? Radiation::Proton : Radiation::Ion;
  const std::string ionPath = childPath(path, "ion");
  if (const json* iv = SchemaReader::field(bv, "ion")) {
    if (auto ion = readIon(r, *iv, ionPath)) {
      beam.ion = *ion;
      // Radiation and ion must agree, so that the model never holds a "proton" beam of carbon.
      if (radiation && beam.radiation == Radiation::Proton && *ion != kProton) {
        r.error(ionPath, "radiation is PROTON but the ion is " + ionName(*ion));
      } else if (radiation && beam.radiation == Radiation::Ion && *ion == kProton) {
        r.error(ionPath, "radiation is ION but the ion is a proton (use \"radiation\": \"PROTON\")");
      }
    }
  } else if (radiation && beam.radiation == Radiation::Proton) {
    beam.ion = kProton;
  } else if (radiation) {
    r.error(path, "missing required key \"ion\" (required when radiation is ION)");
  }
  if (auto g = r.number(bv, "gantry_angle", path, Bound::Angle)) beam.gantryAngle = Degrees(*g);
  if (auto c = r.number(bv, "couch_angle", path, Bound::Angle)) beam.couchAngle = Degrees(*c);
  if (const json* iso = SchemaReader::field(bv, "isocentre_mm")) {
    const std::string isoPath = childPath(path, "isocentre_mm");
    if (!iso->is_array() || iso->size() != 3) {
      r.error(isoPath, "expected [x, y, z] in mm, got " + describe(*iso));
    } else {
      for (std::size_t k = 0; k < 3; ++k) {
        if (auto d = boundedNumber((*iso)[k], Bound::Any)) {
          beam.isocentreMm[k] = *d;
        } else {
          r.error(indexPath(isoPath, k), "expected a finite number, got " + describe((*iso)[k]));
        }
      }
    }
  }
  if (const json* shifters = SchemaReader::field(bv, "range_shifters")) {
    readRangeShifters(r, *shifters, childPath(path, "range_shifters"), beam);
  }
  if (const json* layers = SchemaReader::field(bv, "layers")) {
    readLayers(r, *layers, childPath(path, "layers"), beam);
  }
  return beam;
}

Result<Plan, PlanError> readPlan(const json& root, std::string_view source) {
  SchemaReader r(source);
  Plan plan;
  if (!r.object(
          root, "",
          {"format", "version", "plan_uid", "patient_id", "approval", "meterset_unit", "fractions_planned", "beams"},
          {"label", "synthetic"})) {
    return fail(PlanError::Invalid, r.message());
  }
  // A different format or version means the rest cannot be interpreted: stop there.
  if (const json* f = SchemaReader::field(root, "format");
      f != nullptr && !(f->is_string() && f->get_ref<const std::string&>() == kPlanFormatName)) {
    r.error("format", "expected \"" + std::string(kPlanFormatName) + "\", got " + describe(*f));
  }
  if (const json* v = SchemaReader::field(root, "version");
      v != nullptr && !(v->is_number_integer() && v->get<std::int64_t>() == kPlanFormatVersion)) {
    r.error("version", "unsupported version " + describe(*v) + " (this reader reads version " +
                           std::to_string(kPlanFormatVersion) + ")");
  }
  if (r.failed()) return fail(PlanError::Invalid, r.message());

  if (auto uid = r.string(root, "plan_uid", "", true)) plan.uid = PlanUid(*uid);
  if (auto patient = r.string(root, "patient_id", "", true)) plan.patient = PatientId(*patient);
  if (root.contains("label")) {
    if (auto label = r.string(root, "label", "", false)) plan.label = *label;
  }
  if (auto a = r.choice(root, "approval", "", {"APPROVED", "UNAPPROVED", "REJECTED"})) {
    static constexpr Approval kApprovals[] = {Approval::Approved, Approval::Unapproved, Approval::Rejected};
    plan.approval = kApprovals[*a];
  }
  if (auto u = r.choice(root, "meterset_unit", "", {"NP", "MU"})) {
    plan.metersetUnit = *u == 0 ? MetersetUnit::NP : MetersetUnit::MU;
  }
  if (auto n = r.integer(root, "fractions_planned", "", 1, 1000)) {
    plan.fractionsPlanned = static_cast<int>(*n);
  }
  if (root.contains("synthetic")) {
    if (auto s = r.boolean(root, "synthetic", "")) plan.synthetic = *s;
  }
  if (const json* beams = SchemaReader::field(root, "beams")) {
    if (!beams->is_array()) {
      r.error("beams", "expected an array of beams, got " + describe(*beams));
    } else {
      std::map<std::uint32_t, std::size_t> numbers;  // beam number -> first index using it
      std::size_t i = 0;
      for (const json& bv : *beams) {
        const std::string bp = indexPath("beams", i);
        if (auto beam = readBeam(r, bv, bp)) {
          if (bv.contains("number") && beam->number.value() != 0) {
            auto [it, inserted] = numbers.emplace(beam->number.value(), i);
            if (!inserted) {
              r.error(childPath(bp, "number"), "beam number " + std::to_string(beam->number.value()) +
                                                   " is already used by " + indexPath("beams", it->second));
            }
          }
          plan.beams.push_back(std::move(*beam));
        }
        ++i;
      }
    }
  }
  if (r.failed()) return fail(PlanError::Invalid, r.message());
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Writer.

std::string number(double v) {
  return json(v).dump();
}
std::string quoted(const std::string& s) {
  return dumpSafe(json(s));
}

}  // namespace

Result<Plan, PlanError> parsePlanJson(std::string_view text, std::string_view sourceName) {
  json root;
  try {
    StructureGuard guard;
    root = json::parse(
        text.begin(), text.end(),
        [&guard](int /*depth*/, json::parse_event_t event, json& parsed) { return guard.onEvent(event, parsed); },
        /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const StructureError& e) {
    return fail(e.code, std::string(sourceName) + ": " + (e.path.empty() ? "top level" : e.path) + ": " + e.what);
  } catch (const json::parse_error& e) {
    // nlohmann's text already says "parse error at line L, column C: ..."; drop its id prefix.
    std::string what = e.what();
    if (auto close = what.find("] "); what.rfind("[json.exception.", 0) == 0 && close != std::string::npos) {
      what.erase(0, close + 2);
    }
    return fail(PlanError::Malformed,
                std::string(sourceName) + ": not valid JSON (byte " + std::to_string(e.byte) + "): " + what);
  } catch (const json::exception& e) {
    return fail(PlanError::Malformed, std::string(sourceName) + ": not valid JSON: " + std::string(e.what()));
  }
  return readPlan(root, sourceName);
}

Result<Plan, PlanError> readPlanJson(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) return fail(PlanError::Unreadable, name + ": cannot read plan file: " + ec.message());
  if (size > kMaxPlanFileBytes) {
    return fail(PlanError::Unreadable, name + ": plan file is " + std::to_string(size) +
                                           " bytes, more than the limit of " + std::to_string(kMaxPlanFileBytes));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(PlanError::Unreadable, name + ": cannot open plan file");
  // Read exactly the size we checked: a file that grows meanwhile is cut at the limit, and a
  // file that shrank is reported rather than read short.
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) {
    return fail(PlanError::Unreadable, name + ": error while reading plan file (read " + std::to_string(in.gcount()) +
                                           " of " + std::to_string(size) + " bytes)");
  }
  return parsePlanJson(text, name);
}

std::string writePlanJson(const Plan& plan) {
  std::string out;
  // About 30 bytes per spot line; reserving avoids repeated growth for large plans.
  out.reserve(1024 + 32 * totals(plan).spots);
  out += "{\n";
  out += "  \"format\": " + quoted(std::string(kPlanFormatName)) + ",\n";
  out += "  \"version\": " + std::to_string(kPlanFormatVersion) + ",\n";
  out += "  \"plan_uid\": " + quoted(plan.uid.value()) + ",\n";
  out += "  \"patient_id\": " + quoted(plan.patient.value()) + ",\n";
  out += "  \"label\": " + quoted(plan.label) + ",\n";
  out += "  \"approval\": " + quoted(std::string(toString(plan.approval))) + ",\n";
  out += "  \"meterset_unit\": " + quoted(std::string(toString(plan.metersetUnit))) + ",\n";
  out += "  \"fractions_planned\": " + std::to_string(plan.fractionsPlanned) + ",\n";
  out += std::string("  \"synthetic\": ") + (plan.synthetic ? "true" : "false") + ",\n";
  if (plan.beams.empty()) {
    out += "  \"beams\": []\n}\n";
    return out;
  }
  out += "  \"beams\": [\n";
  for (std::size_t b = 0; b < plan.beams.size(); ++b) {
    const Beam& beam = plan.beams[b];
    out += "    {\n";
    out += "      \"number\": " + std::to_string(beam.number.value()) + ",\n";
    out += "      \"name\": " + quoted(beam.name) + ",\n";
    out += "      \"machine\": " + quoted(beam.machine) + ",\n";
    out +=
        std::string("      \"treatment_delivery_type\": ") + (beam.treatment ? "\"TREATMENT\"" : "\"SETUP\"") + ",\n";
    out += "      \"radiation\": " + quoted(std::string(toString(beam.radiation))) + ",\n";
    if (beam.radiation == Radiation::Ion) {
      out += "      \"ion\": {\"z\": " + std::to_string(beam.ion.z) + ", \"a\": " + std::to_string(beam.ion.a) +
             ", \"charge\": " + std::to_string(beam.ion.charge) + "},\n";
    }
    out += "      \"gantry_angle\": " + number(beam.gantryAngle.value()) + ",\n";
    out += "      \"couch_angle\": " + number(beam.couchAngle.value()) + ",\n";
    out += "      \"isocentre_mm\": [" + number(beam.isocentreMm[0]) + ", " + number(beam.isocentreMm[1]) + ", " +
           number(beam.isocentreMm[2]) + "],\n";
    if (!beam.rangeShifters.empty()) {
      out += "      \"range_shifters\": [";
      for (std::size_t k = 0; k < beam.rangeShifters.size(); ++k) {
        const RangeShifter& rs = beam.rangeShifters[k];
        out += (k == 0 ? "" : ", ");
        out += "{\"number\": " + std::to_string(rs.number) + ", \"id\": " + quoted(rs.id) +
               ", \"type\": " + quoted(rs.type) + "}";
      }
      out += "],\n";
    }
    if (beam.layers.empty()) {
      out += "      \"layers\": []\n";
    } else {
      out += "      \"layers\": [\n";
      for (std::size_t l = 0; l < beam.layers.size(); ++l) {
        const Layer& layer = beam.layers[l];
        out += "        {\n";
        out += "          \"energy_mev_u\": " + number(layer.energy.value()) + ",\n";
        out += "          \"paintings\": " + std::to_string(layer.paintings) + ",\n";
        if (!layer.tuneId.empty()) out += "          \"tune_id\": " + quoted(layer.tuneId) + ",\n";
        if (layer.spotSizeMm != std::array<double, 2>{0.0, 0.0}) {
          out += "          \"spot_size_mm\": [" + number(layer.spotSizeMm[0]) + ", " + number(layer.spotSizeMm[1]) +
                 "],\n";
        }
        if (!layer.rangeShifter.empty()) {
          out += "          \"range_shifter\": " + quoted(layer.rangeShifter) + ",\n";
        }
        if (layer.spots.empty()) {
          out += "          \"spots\": []\n";
        } else {
          out += "          \"spots\": [\n";
          for (std::size_t s = 0; s < layer.spots.size(); ++s) {
            const Spot& spot = layer.spots[s];
            out += "            [" + number(spot.x.value()) + ", " + number(spot.y.value()) + ", " +
                   number(spot.meterset) + "]";
            out += s + 1 < layer.spots.size() ? ",\n" : "\n";
          }
          out += "          ]\n";
        }
        out += l + 1 < beam.layers.size() ? "        },\n" : "        }\n";
      }
      out += "      ]\n";
    }
    out += b + 1 < plan.beams.size() ? "    },\n" : "    }\n";
  }
  out += "  ]\n}\n";
  return out;
}

}  // namespace spotline::plan
