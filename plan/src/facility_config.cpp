#include "spotline/plan/facility_config.h"

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "text.h"

namespace spotline::plan {

namespace {

using Keys = std::initializer_list<std::string_view>;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string num(double v) {
  return detail::shortNumber(v);
}

std::string childPath(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

std::string indexPath(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 60;
  std::string out = "\"";
  out += s.size() > kMax ? std::string(s.substr(0, kMax)) + "..." : std::string(s);
  out += '"';
  return out;
}

// A short rendering of an offending value: enough to recognise it, never a whole table.
std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return quote(n.as_string()->get());
    case toml::node_type::integer: return std::to_string(n.as_integer()->get());
    case toml::node_type::floating_point: {
      // "255.0" rather than "255", so that a float where an integer belongs is recognisable.
      std::string text = num(n.as_floating_point()->get());
      if (text.find_first_of(".eEni") == std::string::npos) text += ".0";
      return text;
    }
    case toml::node_type::boolean: return n.as_boolean()->get() ? "true" : "false";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// An interval of allowed numbers, and how it reads in a message.
struct Interval {
  double lo = -kInf;
  double hi = kInf;
  bool loOpen = false;  // lo itself excluded
  bool hiOpen = false;  // hi itself excluded
  std::string_view unit;

  bool contains(double v) const {
    // Written so that NaN fails.
    const bool aboveLo = loOpen ? v > lo : v >= lo;
    const bool belowHi = hiOpen ? v < hi : v <= hi;
    return aboveLo && belowHi && std::isfinite(v);
  }
  std::string text() const {
    std::string out;
    if (hi == kInf) {
      out = (loOpen ? "> " : ">= ") + num(lo);
    } else {
      out = std::string("in ") + (loOpen ? "(" : "[") + num(lo) + ", " + num(hi) + (hiOpen ? ")" : "]");
    }
    if (!unit.empty()) out += " " + std::string(unit);
    return out;
  }
};

constexpr Interval positive(std::string_view unit, double hi = kInf) {
  return Interval{0.0, hi, true, false, unit};
}

struct Problem {
  std::uint32_t line = 0;  // 0: no position known
  std::uint32_t column = 0;
  std::string text;
};

// Reads one document against the schema, collecting every problem rather than stopping at the
// first. Getters return nullopt when the key is absent (already reported by `keys`) or wrong.
class SchemaReader {
 public:
  explicit SchemaReader(std::string_view source) : source_(source) {}

  void error(const toml::source_region& where, const std::string& path, const std::string& what) {
    problems_.push_back(
        Problem{where.begin.line, where.begin.column, (path.empty() ? "top level" : path) + ": " + what});
  }

  bool failed() const { return !problems_.empty(); }

  // One line per problem, sorted by position in the file, at most kMaxReportedFacilityErrors.
  std::string message() {
    std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    std::string out;
    const std::size_t shown = std::min(problems_.size(), kMaxReportedFacilityErrors);
    for (std::size_t i = 0; i < shown; ++i) {
      if (!out.empty()) out += '\n';
      out += where(problems_[i].line, problems_[i].column) + ": " + problems_[i].text;
    }
    if (problems_.size() > shown) {
      out += '\n' + std::string(source_) + ": ... and " + std::to_string(problems_.size() - shown) + " more errors";
    }
    return out;
  }

  std::string where(std::uint32_t line, std::uint32_t column) const {
    std::string out(source_);
    if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    return out;
  }

  // The node as a table, or nullptr (reported).
  const toml::table* table(const toml::node& n, const std::string& path) {
    if (const toml::table* t = n.as_table()) return t;
    error(n.source(), path, "expected a table, got " + describe(n));
    return nullptr;
  }

  // Every required key present, no key outside required + optional.
  void keys(const toml::table& t, const std::string& path, Keys required, Keys optional = {}) {
    for (auto&& [key, value] : t) {
      const std::string_view k = key.str();
      const bool known = std::find(required.begin(), required.end(), k) != required.end() ||
                         std::find(optional.begin(), optional.end(), k) != optional.end();
      if (!known) {
        std::string allowed;
        for (Keys list : {required, optional}) {
          for (std::string_view a : list) allowed += (allowed.empty() ? "" : ", ") + std::string(a);
        }
        error(key.source(), childPath(path, k), "unknown key " + quote(k) + " (allowed: " + allowed + ")");
      }
    }
    for (std::string_view k : required) {
      if (!t.contains(k)) error(t.source(), path, "missing required key " + quote(k));
    }
  }

  std::optional<double> number(const toml::table& t, std::string_view key, const std::string& parent,
                               const Interval& allowed) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    std::optional<double> v;
    if (const auto* f = n->as_floating_point()) v = f->get();
    if (const auto* i = n->as_integer()) v = static_cast<double>(i->get());
    if (!v || !allowed.contains(*v)) {
      error(n->source(), childPath(parent, key), "expected a number " + allowed.text() + ", got " + describe(*n));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::int64_t> integer(const toml::table& t, std::string_view key, const std::string& parent,
                                      std::int64_t lo, std::int64_t hi) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const auto* i = n->as_integer();
    if (i == nullptr || i->get() < lo || i->get() > hi) {
      error(n->source(), childPath(parent, key),
            "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + describe(*n));
      return std::nullopt;
    }
    return i->get();
  }

  std::optional<bool> boolean(const toml::table& t, std::string_view key, const std::string& parent) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const auto* b = n->as_boolean();
    if (b == nullptr) {
      error(n->source(), childPath(parent, key), "expected true or false, got " + describe(*n));
      return std::nullopt;
    }
    return b->get();
  }

  std::optional<std::string> text(const toml::table& t, std::string_view key, const std::string& parent) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const auto* s = n->as_string();
    if (s == nullptr || s->get().empty()) {
      error(n->source(), childPath(parent, key), "expected a non-empty string, got " + describe(*n));
      return std::nullopt;
    }
    return s->get();
  }

  struct Item {
    std::string value;
    const toml::node* node;
    std::string path;
  };

  // An array of distinct non-empty strings; with `nonEmpty`, at least one. Bad elements are
  // reported and left out.
  std::optional<std::vector<Item>> textList(const toml::table& t, std::string_view key, const std::string& parent,
                                            bool nonEmpty) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const std::string path = childPath(parent, key);
    const auto* array = n->as_array();
    if (array == nullptr) {
      error(n->source(), path, "expected an array of strings, got " + describe(*n));
      return std::nullopt;
    }
    if (nonEmpty && array->empty()) {
      error(n->source(), path, "expected at least one string, got an empty array");
      return std::nullopt;
    }
    std::vector<Item> items;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& e = *array->get(i);
      const std::string elementPath = indexPath(path, i);
      const auto* s = e.as_string();
      if (s == nullptr || s->get().empty()) {
        error(e.source(), elementPath, "expected a non-empty string, got " + describe(e));
        continue;
      }
      const auto same = std::find_if(items.begin(), items.end(), [&](const Item& it) { return it.value == s->get(); });
      if (same != items.end()) {
        error(e.source(), elementPath, quote(s->get()) + " is given twice (also " + same->path + ")");
        continue;
      }
      items.push_back(Item{s->get(), &e, elementPath});
    }
    return items;
  }

  // A {min, max} table of numbers in `allowed` with min <= max.
  std::optional<std::pair<double, double>> minMax(const toml::table& t, std::string_view key, const std::string& parent,
                                                  const Interval& allowed) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const std::string path = childPath(parent, key);
    const toml::table* mm = table(*n, path);
    if (mm == nullptr) return std::nullopt;
    keys(*mm, path, {"min", "max"});
    const auto lo = number(*mm, "min", path, allowed);
    const auto hi = number(*mm, "max", path, allowed);
    if (!lo || !hi) return std::nullopt;
    if (*lo > *hi) {
      error(mm->source(), path, "min " + num(*lo) + " is greater than max " + num(*hi));
      return std::nullopt;
    }
    return std::pair(*lo, *hi);
  }

 private:
  std::string_view source_;
  std::vector<Problem> problems_;
};

// A table's entries in the order they appear in the file (toml++ keeps tables sorted by key).
std::vector<std::pair<std::string, const toml::node*>> inFileOrder(const toml::table& t) {
  std::vector<std::pair<std::string, const toml::node*>> entries;
  std::vector<toml::source_position> at;
  for (auto&& [key, value] : t) {
    entries.emplace_back(std::string(key.str()), &value);
    at.push_back(key.source().begin);
  }
  std::vector<std::size_t> order(entries.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::pair(at[a].line, at[a].column) < std::pair(at[b].line, at[b].column);
  });
  std::vector<std::pair<std::string, const toml::node*>> sorted;
  sorted.reserve(order.size());
  for (std::size_t i : order) sorted.push_back(entries[i]);
  return sorted;
}

std::string speciesText(const IonSpecies& s) {
  return "z=" + std::to_string(s.z) + ", a=" + std::to_string(s.a) + ", charge=" + std::to_string(s.charge);
}

// Table energies closer than this would round (to 0.01 MeV/u) onto each other or make the
// +-0.005 MeV/u table match of validation ambiguous.
constexpr double kMinTableSpacing = 0.02;

struct IonEntry {
  std::string name;
  std::optional<IonSpecies> species;  // nullopt when z, a or charge were wrong
};

void readIon(SchemaReader& r, const std::string& name, const toml::node& node, std::vector<IonEntry>& entries,
             std::vector<IonModel>& ions) {
  const std::string path = childPath("ions", name);
  entries.push_back(IonEntry{name, std::nullopt});
  const toml::table* t = r.table(node, path);
  if (t == nullptr) return;
  r.keys(*t, path, {"z", "a", "charge", "energy_mev_u", "energy_levels", "spot_particles", "spot_mu", "source"});
  bool ok = true;
  const auto z = r.integer(*t, "z", path, 1, 118);
  const auto a = r.integer(*t, "a", path, 1, 300);
  const auto charge = r.integer(*t, "charge", path, 1, 118);
  if (z && a && *a < *z) {
    r.error(t->get("a")->source(), childPath(path, "a"),
            "the mass number must be at least z (" + std::to_string(*z) + "), got " + std::to_string(*a));
    ok = false;
  }
  if (z && charge && *charge > *z) {
    r.error(t->get("charge")->source(), childPath(path, "charge"),
            "the charge must be at most z (" + std::to_string(*z) + "), got " + std::to_string(*charge));
    ok = false;
  }
  if (ok && z && a && charge) {
    const IonSpecies species{static_cast<int>(*z), static_cast<int>(*a), static_cast<int>(*charge)};
    const std::optional<IonSpecies> named = ionFromName(name);
    if (named && *named != species) {
      r.error(t->source(), path,
              "\"" + name + "\" is " + speciesText(*named) + ", but the table says " + speciesText(species));
      ok = false;
    }
    for (const IonEntry& other : entries) {
      if (ok && other.species == species) {
        r.error(t->source(), path, "the same ion (" + speciesText(species) + ") as ions." + other.name);
        ok = false;
      }
    }
    if (ok) entries.back().species = species;
  } else {
    ok = false;
  }
  const auto energy = r.minMax(*t, "energy_mev_u", path, positive("MeV/u", 1000.0));
  const auto levels = r.integer(*t, "energy_levels", path, 1, 100'000);
  if (energy && levels) {
    const double width = energy->second - energy->first;
    if (*levels == 1 && width != 0.0) {
      r.error(
          t->get("energy_levels")->source(), childPath(path, "energy_levels"),
          "a single energy level needs energy_mev_u min == max, got " + num(energy->first) + "-" + num(energy->second));
      ok = false;
    } else if (*levels > 1 && !(width / static_cast<double>(*levels - 1) >= kMinTableSpacing)) {
      r.error(t->get("energy_levels")->source(), childPath(path, "energy_levels"),
              std::to_string(*levels) + " levels over " + num(energy->first) + "-" + num(energy->second) +
                  " MeV/u are closer than " + num(kMinTableSpacing) + " MeV/u apart");
      ok = false;
    }
  }
  const auto particles = r.minMax(*t, "spot_particles", path, positive("particles", 1e12));
  const auto mu = r.minMax(*t, "spot_mu", path, positive("MU", 1e6));
  const auto source = r.text(*t, "source", path);
  if (!(ok && energy && levels && particles && mu && source)) return;
  IonModel m;
  m.ion = *entries.back().species;
  m.energy = EnergyRange{MeVPerNucleon(energy->first), MeVPerNucleon(energy->second)};
  m.energyLevels = static_cast<std::uint32_t>(*levels);
  m.minSpotParticles = particles->first;
  m.maxSpotParticles = particles->second;
  m.minSpotMu = mu->first;
  m.maxSpotMu = mu->second;
  m.source = *source;
  ions.push_back(std::move(m));
}

// Where a machine name was first seen, to name it when another room uses it again.
struct MachineOwner {
  std::string path;
  std::uint32_t line = 0;
};

void readRoom(SchemaReader& r, const std::string& name, const toml::node& node, const std::vector<IonEntry>& ionNames,
              std::map<std::string, MachineOwner, std::less<>>& machines, std::vector<RoomModel>& rooms) {
  const std::string path = childPath("rooms", name);
  const toml::table* t = r.table(node, path);
  if (t == nullptr) return;
  r.keys(*t, path,
         {"machine_names", "rotating", "ions", "scan_field_half_width_mm", "max_spots_per_layer", "range_shifters",
          "tolerances"},
         {"fixed_gantry_angle_deg"});
  bool ok = true;
  RoomModel room;
  room.name = name;

  if (const auto list = r.textList(*t, "machine_names", path, true)) {
    for (const SchemaReader::Item& item : *list) {
      const auto [owner, inserted] =
          machines.try_emplace(item.value, MachineOwner{item.path, item.node->source().begin.line});
      if (!inserted) {
        r.error(item.node->source(), item.path,
                "machine name " + quote(item.value) + " is already used by " + owner->second.path + " (line " +
                    std::to_string(owner->second.line) + "); a machine name must pick one room");
        ok = false;
        continue;
      }
      room.machineNames.push_back(item.value);
    }
  } else {
    ok = false;
  }

  const auto rotating = r.boolean(*t, "rotating", path);
  const toml::node* angleNode = t->get("fixed_gantry_angle_deg");
  if (rotating && *rotating && angleNode != nullptr) {
    r.error(angleNode->source(), childPath(path, "fixed_gantry_angle_deg"),
            "only a fixed beam line (rotating = false) has a fixed gantry angle");
    ok = false;
  } else if (rotating && !*rotating && angleNode == nullptr) {
    r.error(t->source(), path, "missing required key \"fixed_gantry_angle_deg\" (rotating = false)");
    ok = false;
  }
  if (rotating) {
    room.rotating = *rotating;
  } else {
    ok = false;
  }
  if (angleNode != nullptr) {
    if (const auto angle = r.number(*t, "fixed_gantry_angle_deg", path, Interval{0.0, 360.0, false, true, "deg"})) {
      room.fixedGantryAngle = Degrees(*angle);
    } else {
      ok = false;
    }
  }

  if (const auto list = r.textList(*t, "ions", path, true)) {
    for (const SchemaReader::Item& item : *list) {
      const auto known =
          std::find_if(ionNames.begin(), ionNames.end(), [&](const IonEntry& e) { return e.name == item.value; });
      if (known == ionNames.end()) {
        std::string names;
        for (const IonEntry& e : ionNames) names += (names.empty() ? "" : ", ") + e.name;
        r.error(item.node->source(), item.path,
                "unknown ion " + quote(item.value) + " (the [ions] tables are: " + names + ")");
        ok = false;
      } else if (known->species) {
        room.ions.push_back(*known->species);
      } else {
        ok = false;  // the ion's own table is wrong, and reported there
      }
    }
  } else {
    ok = false;
  }

  if (const toml::node* n = t->get("scan_field_half_width_mm")) {
    const std::string fieldPath = childPath(path, "scan_field_half_width_mm");
    if (const toml::table* field = r.table(*n, fieldPath)) {
      r.keys(*field, fieldPath, {"x", "y"});
      const auto x = r.number(*field, "x", fieldPath, positive("mm", 500.0));
      const auto y = r.number(*field, "y", fieldPath, positive("mm", 500.0));
      if (x && y) {
        room.scanFieldHalfWidthX = Millimetres(*x);
        room.scanFieldHalfWidthY = Millimetres(*y);
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
  }

  if (const auto spots = r.integer(*t, "max_spots_per_layer", path, 1, 1'000'000)) {
    room.maxSpotsPerLayer = static_cast<std::size_t>(*spots);
  } else {
    ok = false;
  }

  if (const auto list = r.textList(*t, "range_shifters", path, false)) {
    for (const SchemaReader::Item& item : *list) room.allowedRangeShifters.push_back(item.value);
  } else {
    ok = false;
  }

  if (const toml::node* n = t->get("tolerances")) {
    const std::string tolPath = childPath(path, "tolerances");
    if (const toml::table* tol = r.table(*n, tolPath)) {
      r.keys(*tol, tolPath, {"position_mm", "meterset_relative", "meterset_floor", "monitor_agreement"});
      const auto position = r.number(*tol, "position_mm", tolPath, positive("mm", 10.0));
      const auto relative = r.number(*tol, "meterset_relative", tolPath, positive("", 1.0));
      const auto floor = r.number(*tol, "meterset_floor", tolPath, Interval{0.0, kInf, false, false, ""});
      const auto agreement = r.number(*tol, "monitor_agreement", tolPath, positive("", 1.0));
      if (position && relative && floor && agreement) {
        room.positionTolerance = Millimetres(*position);
        room.metersetTolerance = *relative;
        room.metersetToleranceFloor = *floor;
        room.monitorAgreement = *agreement;
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  // A missing key leaves its getter silent (reported by keys()); count it here.
  for (std::string_view k : {"machine_names", "rotating", "ions", "scan_field_half_width_mm", "max_spots_per_layer",
                             "range_shifters", "tolerances"}) {
    if (!t->contains(k)) ok = false;
  }
  if (ok) rooms.push_back(std::move(room));
}

Facility readFacility(SchemaReader& r, const toml::table& root) {
  Facility f;
  r.keys(root, "", {"format", "version", "ions", "rooms"});
  if (const toml::node* n = root.get("format")) {
    const auto* s = n->as_string();
    if (s == nullptr || s->get() != kFacilityFormatName) {
      r.error(n->source(), "format", "expected " + quote(kFacilityFormatName) + ", got " + describe(*n));
    }
  }
  if (const toml::node* n = root.get("version")) {
    const auto* i = n->as_integer();
    if (i == nullptr || i->get() != kFacilityFormatVersion) {
      r.error(n->source(), "version",
              "expected " + std::to_string(kFacilityFormatVersion) + " (the version this reader knows), got " +
                  describe(*n));
    }
  }
  std::vector<IonEntry> ionNames;
  if (const toml::node* n = root.get("ions")) {
    if (const toml::table* ions = r.table(*n, "ions")) {
      if (ions->empty()) r.error(ions->source(), "ions", "the facility needs at least one ion");
      for (const auto& [name, node] : inFileOrder(*ions)) readIon(r, name, *node, ionNames, f.ions);
    }
  }
  if (const toml::node* n = root.get("rooms")) {
    if (const toml::table* rooms = r.table(*n, "rooms")) {
      if (rooms->empty()) r.error(rooms->source(), "rooms", "the facility needs at least one room");
      std::map<std::string, MachineOwner, std::less<>> machines;
      for (const auto& [name, node] : inFileOrder(*rooms)) readRoom(r, name, *node, ionNames, machines, f.rooms);
    }
  }
  return f;
}

// For a syntax error on `line`: the key path of the table it is in, from the last [table] header
// above it ("top level" when there is none), since the parser names only the key itself. Empty
// when the line is itself a header (the parser's message names that table).
std::string enclosingTable(std::string_view text, std::uint32_t line) {
  const auto headerName = [](std::string_view l) -> std::optional<std::string> {
    const std::size_t start = l.find_first_not_of(" \t");
    if (start == std::string_view::npos || l[start] != '[') return std::nullopt;
    l.remove_prefix(start);
    l.remove_prefix(l.find_first_not_of('['));
    l = l.substr(0, l.find(']'));
    const std::size_t first = l.find_first_not_of(" \t");
    if (first == std::string_view::npos) return std::string();
    return std::string(l.substr(first, l.find_last_not_of(" \t") - first + 1));
  };
  std::string table = "top level";
  std::uint32_t n = 1;
  for (std::size_t pos = 0; pos <= text.size() && n <= line; ++n) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::optional<std::string> name = headerName(text.substr(pos, end - pos));
    if (name && n == line) return std::string();
    if (name) table = *name;
    pos = end + 1;
  }
  return table;
}

}  // namespace

Result<Facility, FacilityError> parseFacilityConfig(std::string_view text, std::string_view sourceName) {
  toml::table root;
  try {
    root = toml::parse(text, sourceName);
  } catch (const toml::parse_error& e) {
    const toml::source_position at = e.source().begin;
    std::string where(sourceName);
    if (at.line > 0) where += ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
    const std::string table = enclosingTable(text, at.line);
    if (!table.empty()) where += ": " + table;
    return fail(FacilityError::Malformed, where + ": not valid TOML: " + std::string(e.description()));
  }
  SchemaReader reader(sourceName);
  Facility facility = readFacility(reader, root);
  if (reader.failed()) return fail(FacilityError::Invalid, reader.message());
  return facility;
}

Result<Facility, FacilityError> loadFacilityConfig(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) return fail(FacilityError::Unreadable, name + ": cannot read facility file: " + ec.message());
  if (size > kMaxFacilityFileBytes) {
    return fail(FacilityError::Unreadable, name + ": facility file is " + std::to_string(size) +
                                               " bytes, more than the limit of " +
                                               std::to_string(kMaxFacilityFileBytes));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(FacilityError::Unreadable, name + ": cannot open facility file");
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) {
    return fail(FacilityError::Unreadable, name + ": error while reading facility file (read " +
                                               std::to_string(in.gcount()) + " of " + std::to_string(size) + " bytes)");
  }
  return parseFacilityConfig(text, name);
}

}  // namespace spotline::plan
