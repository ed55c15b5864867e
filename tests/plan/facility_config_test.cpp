#include "spotline/plan/facility_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace spotline::plan {
namespace {

std::filesystem::path configPath() {
  return std::filesystem::path(SPOTLINE_SOURCE_DIR) / "config" / "facility.toml";
}

std::string fileText() {
  std::ifstream in(configPath(), std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The offset of `needle` at or after the first `after` (the whole text when `after` is empty).
// ADD_FAILURE and npos when either is missing.
std::size_t find(const std::string& text, std::string_view after, std::string_view needle) {
  const std::size_t from = after.empty() ? 0 : text.find(after);
  if (from == std::string::npos) {
    ADD_FAILURE() << "no \"" << after << "\" in the text";
    return std::string::npos;
  }
  const std::size_t at = text.find(needle, from);
  if (at == std::string::npos) ADD_FAILURE() << "no \"" << needle << "\" after \"" << after << "\"";
  return at;
}

// `text` with the first `from` at or after `after` replaced by `to`.
std::string replaced(std::string text, std::string_view after, std::string_view from, std::string_view to) {
  const std::size_t at = find(text, after, from);
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// "line:column" (one-based) of the first `needle` at or after `after`, found by counting
// characters, independently of the parser's own bookkeeping.
std::string positionOf(const std::string& text, std::string_view after, std::string_view needle) {
  const std::size_t at = find(text, after, needle);
  if (at == std::string::npos) return "?";
  std::size_t line = 1;
  std::size_t lineStart = 0;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      lineStart = i + 1;
    }
  }
  return std::to_string(line) + ":" + std::to_string(at - lineStart + 1);
}

TEST(FacilityConfig, TheCheckedInFileLoadsWithTheDocumentedNumbers) {
  auto loaded = loadFacilityConfig(configPath());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const Facility& f = loaded.value();

  ASSERT_EQ(f.rooms.size(), 3u);
  const RoomModel& g1 = f.rooms[0];
  const RoomModel& g2 = f.rooms[1];
  const RoomModel& fixed = f.rooms[2];
  EXPECT_EQ(g1.name, "gantry-1");
  EXPECT_EQ(g2.name, "gantry-2");
  EXPECT_EQ(fixed.name, "fixed-1");
  EXPECT_EQ(g1.machineNames, (std::vector<std::string>{"GANTRY1", "gantry-1"}));
  EXPECT_EQ(g2.machineNames, (std::vector<std::string>{"GANTRY2", "gantry-2"}));
  EXPECT_EQ(fixed.machineNames, (std::vector<std::string>{"FIXED1", "fixed-1"}));
  EXPECT_TRUE(g1.rotating);
  EXPECT_TRUE(g2.rotating);
  EXPECT_FALSE(fixed.rotating);
  EXPECT_EQ(fixed.fixedGantryAngle.value(), 90.0);
  EXPECT_EQ(g1.allowedRangeShifters, (std::vector<std::string>{"RS20", "RS30", "RS40", "RS_3CM"}));
  EXPECT_EQ(g2.allowedRangeShifters, g1.allowedRangeShifters);
  EXPECT_EQ(fixed.allowedRangeShifters, (std::vector<std::string>{"RS20", "RS30", "RS40", "RS60", "RS_3CM"}));
  for (const RoomModel& r : f.rooms) {
    EXPECT_EQ(r.ions, (std::vector<IonSpecies>{kCarbon, kHelium, kOxygen, kNeon, kProton})) << r.name;
    EXPECT_EQ(r.scanFieldHalfWidthX.value(), 100.0) << r.name;
    EXPECT_EQ(r.scanFieldHalfWidthY.value(), 100.0) << r.name;
    EXPECT_EQ(r.maxSpotsPerLayer, 20'000u) << r.name;
    EXPECT_EQ(r.positionTolerance.value(), 1.0) << r.name;
    EXPECT_EQ(r.metersetTolerance, 0.03) << r.name;
    EXPECT_EQ(r.metersetToleranceFloor, 0.0) << r.name;
    EXPECT_EQ(r.monitorAgreement, 0.02) << r.name;
  }

  struct Expect {
    IonSpecies ion;
    double eMin, eMax;
    std::uint32_t levels;
    double minParticles, maxParticles;
    std::string_view sourcePart;
  };
  const Expect expected[] = {
      {kCarbon, 85.0, 430.0, 255, 5e3, 5e7, "Haberer et al. 1993"},
      {kHelium, 50.0, 220.0, 126, 1.5e4, 1.5e8, "50.57-220.51 MeV/u"},
      {kOxygen, 103.77, 430.32, 255, 4e3, 4e7, "Tessonnier et al. 2017"},
      {kNeon, 120.0, 430.0, 229, 3e3, 3e7, "Derived"},
      {kProton, 48.12, 221.06, 255, 1e5, 1e9, "48.12-221.06 MeV"},
  };
  ASSERT_EQ(f.ions.size(), std::size(expected));
  for (std::size_t i = 0; i < f.ions.size(); ++i) {
    const IonModel& m = f.ions[i];
    const Expect& e = expected[i];
    EXPECT_EQ(m.ion, e.ion) << i;
    EXPECT_EQ(m.energy.min.value(), e.eMin) << i;
    EXPECT_EQ(m.energy.max.value(), e.eMax) << i;
    EXPECT_EQ(m.energyLevels, e.levels) << i;
    EXPECT_EQ(m.minSpotParticles, e.minParticles) << i;
    EXPECT_EQ(m.maxSpotParticles, e.maxParticles) << i;
    EXPECT_EQ(m.minSpotMu, 0.001) << i;
    EXPECT_EQ(m.maxSpotMu, 1000.0) << i;
    EXPECT_NE(m.source.find(e.sourcePart), std::string::npos) << m.source;
  }
}

TEST(FacilityConfig, BuiltInFacilityIsTheCheckedInFile) {
  // The embedded copy is the file as it is now (the build regenerates it when the file changes)...
  EXPECT_EQ(builtInFacilityToml(), fileText());
  // ...and builtInFacility() is its parse.
  auto loaded = loadFacilityConfig(configPath());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_TRUE(builtInFacility() == loaded.value());
  // Equality is not vacuous.
  Facility changed = loaded.value();
  changed.rooms[2].allowedRangeShifters.pop_back();
  EXPECT_FALSE(builtInFacility() == changed);
}

TEST(FacilityConfig, ASmallFileWithEveryFeature) {
  const std::string text = R"(format = "spotline-facility"
version = 1

[ions.proton]
z = 1
a = 1
charge = 1
energy_mev_u = { min = 70, max = 70 }   # integers are numbers too; one level: min == max
energy_levels = 1
spot_particles = { min = 1e5, max = 1e9 }
spot_mu = { min = 0.01, max = 10 }
source = "test"

[ions.carbon-5]
z = 6
a = 12
charge = 5
energy_mev_u = { min = 100.0, max = 200.0 }
energy_levels = 11
spot_particles = { min = 5000.0, max = 5000.0 }
spot_mu = { min = 0.001, max = 1.0 }
source = "a charge state other than fully stripped"

[rooms.hline]
machine_names = ["H"]
rotating = false
fixed_gantry_angle_deg = 270
ions = ["carbon-5"]
scan_field_half_width_mm = { x = 80.0, y = 120.0 }
max_spots_per_layer = 500
range_shifters = []
tolerances = { position_mm = 0.5, meterset_relative = 0.05, meterset_floor = 100.0, monitor_agreement = 0.01 }

[rooms.arc]
machine_names = ["A", "arc"]
rotating = true
ions = ["proton", "carbon-5"]
scan_field_half_width_mm = { x = 100.0, y = 100.0 }
max_spots_per_layer = 20000
range_shifters = ["X"]
tolerances = { position_mm = 1.0, meterset_relative = 0.03, meterset_floor = 0.0, monitor_agreement = 0.02 }
)";
  auto parsed = parseFacilityConfig(text, "small.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const Facility& f = parsed.value();
  ASSERT_EQ(f.ions.size(), 2u);
  EXPECT_EQ(f.ions[0].ion, kProton);  // file order, not key order
  EXPECT_EQ(energyTable(f.ions[0]), (std::vector<MeVPerNucleon>{MeVPerNucleon(70.0)}));
  EXPECT_EQ(f.ions[1].ion, (IonSpecies{6, 12, 5}));
  EXPECT_EQ(energyTable(f.ions[1])[1].value(), 110.0);
  EXPECT_EQ(f.ions[1].maxSpotParticles, 5000.0);
  ASSERT_EQ(f.rooms.size(), 2u);
  const RoomModel& h = f.rooms[0];
  EXPECT_EQ(h.name, "hline");
  EXPECT_FALSE(h.rotating);
  EXPECT_EQ(h.fixedGantryAngle.value(), 270.0);
  EXPECT_EQ(h.ions, (std::vector<IonSpecies>{IonSpecies{6, 12, 5}}));
  EXPECT_EQ(h.scanFieldHalfWidthX.value(), 80.0);
  EXPECT_EQ(h.scanFieldHalfWidthY.value(), 120.0);
  EXPECT_EQ(h.maxSpotsPerLayer, 500u);
  EXPECT_TRUE(h.allowedRangeShifters.empty());
  EXPECT_EQ(h.positionTolerance.value(), 0.5);
  EXPECT_EQ(h.metersetTolerance, 0.05);
  EXPECT_EQ(h.metersetToleranceFloor, 100.0);
  EXPECT_EQ(h.monitorAgreement, 0.01);
  EXPECT_EQ(f.rooms[1].name, "arc");
  EXPECT_EQ(f.rooms[1].allowedRangeShifters, std::vector<std::string>{"X"});
  EXPECT_EQ(f.roomForMachine("arc"), &f.rooms[1]);
}

struct BadCase {
  const char* name;
  std::function<std::string(const std::string&)> change;
  FacilityError code;
  // Where the problem is: the first `needle` after `after` in the changed text.
  const char* after;
  const char* needle;
  // The rest of the message line after "<source>:<line>:<column>: ".
  const char* rest;
  // When given, "@LINE@" in `rest` stands for the line of the first `lineOf` in the changed text.
  const char* lineOf = nullptr;
};

std::function<std::string(const std::string&)> replacing(std::string after, std::string from, std::string to) {
  return [=](const std::string& text) { return replaced(text, after, from, to); };
}

const BadCase kBadCases[] = {
    {"UnknownKey", replacing("[rooms.fixed-1]", "rotating = false", "rotating = false\nscan_feild_mm = 3"),
     FacilityError::Invalid, "[rooms.fixed-1]", "scan_feild_mm",
     "rooms.fixed-1.scan_feild_mm: unknown key \"scan_feild_mm\" (allowed: machine_names, rotating, ions, "
     "scan_field_half_width_mm, max_spots_per_layer, range_shifters, tolerances, fixed_gantry_angle_deg)"},
    {"UnknownKeyInAnInlineTable", replacing("[rooms.gantry-2]", "{ x = 100.0,", "{ x = 100.0, z = 1.0,"),
     FacilityError::Invalid, "[rooms.gantry-2]", "z = 1.0",
     "rooms.gantry-2.scan_field_half_width_mm.z: unknown key \"z\" (allowed: x, y)"},
    {"MissingKey", replacing("[rooms.fixed-1]", "max_spots_per_layer = 20000\n", ""), FacilityError::Invalid,
     "[rooms.fixed-1]", "[rooms.fixed-1]", "rooms.fixed-1: missing required key \"max_spots_per_layer\""},
    {"MissingKeyInAnInlineTable", replacing("[rooms.fixed-1]", "{ x = 100.0, y = 100.0 }", "{ x = 100.0 }"),
     FacilityError::Invalid, "[rooms.fixed-1]", "{ x = 100.0 }",
     "rooms.fixed-1.scan_field_half_width_mm: missing required key \"y\""},
    {"MissingTopLevelKey", replacing("", "version = 1\n", ""), FacilityError::Invalid, "", "#",
     "top level: missing required key \"version\""},
    {"WrongTypeBoolean", replacing("[rooms.gantry-2]", "rotating = true", "rotating = \"no\""), FacilityError::Invalid,
     "[rooms.gantry-2]", "\"no\"", "rooms.gantry-2.rotating: expected true or false, got \"no\""},
    {"WrongTypeInteger", replacing("[ions.carbon]", "energy_levels = 255", "energy_levels = 255.0"),
     FacilityError::Invalid, "[ions.carbon]", "255.0",
     "ions.carbon.energy_levels: expected an integer in 1..100000, got 255.0"},
    {"WrongTypeTable", replacing("[rooms.fixed-1]", "{ x = 100.0, y = 100.0 }", "100.0"), FacilityError::Invalid,
     "[rooms.fixed-1]", "100.0", "rooms.fixed-1.scan_field_half_width_mm: expected a table, got 100.0"},
    {"WrongTypeNumber", replacing("[ions.oxygen]", "max = 430.32", "max = \"430.32\""), FacilityError::Invalid,
     "[ions.oxygen]", "\"430.32\"",
     "ions.oxygen.energy_mev_u.max: expected a number in (0, 1000] MeV/u, got \"430.32\""},
    {"WrongElementType", replacing("[rooms.gantry-1]", "\"neon\", \"proton\"]", "\"neon\", 10]"),
     FacilityError::Invalid, "[rooms.gantry-1]", "10]", "rooms.gantry-1.ions[4]: expected a non-empty string, got 10"},
    {"ScanFieldNegative", replacing("[rooms.fixed-1]", "{ x = 100.0,", "{ x = -5.0,"), FacilityError::Invalid,
     "[rooms.fixed-1]", "-5.0", "rooms.fixed-1.scan_field_half_width_mm.x: expected a number in (0, 500] mm, got -5.0"},
    {"ToleranceNotFinite", replacing("[rooms.gantry-1.tolerances]", "position_mm = 1.0", "position_mm = nan"),
     FacilityError::Invalid, "[rooms.gantry-1.tolerances]", "nan",
     "rooms.gantry-1.tolerances.position_mm: expected a number in (0, 10] mm, got nan"},
    {"RelativeToleranceAboveOne", replacing("[rooms.gantry-2.tolerances]", "= 0.03", "= 1.5"), FacilityError::Invalid,
     "[rooms.gantry-2.tolerances]", "1.5",
     "rooms.gantry-2.tolerances.meterset_relative: expected a number in (0, 1], got 1.5"},
    {"NegativeFloor", replacing("[rooms.fixed-1.tolerances]", "meterset_floor = 0.0", "meterset_floor = -1"),
     FacilityError::Invalid, "[rooms.fixed-1.tolerances]", "-1\n",
     "rooms.fixed-1.tolerances.meterset_floor: expected a number >= 0, got -1"},
    {"TooManySpotsAllowed", replacing("[rooms.gantry-1]", "= 20000", "= 0"), FacilityError::Invalid, "[rooms.gantry-1]",
     "0\n", "rooms.gantry-1.max_spots_per_layer: expected an integer in 1..1000000, got 0"},
    {"EnergyMinAboveMax", replacing("[ions.carbon]", "{ min = 85.0, max = 430.0 }", "{ min = 430.0, max = 85.0 }"),
     FacilityError::Invalid, "[ions.carbon]", "{ min = 430.0",
     "ions.carbon.energy_mev_u: min 430 is greater than max 85"},
    {"ParticlesMinAboveMax", replacing("[ions.proton]", "min = 100000.0", "min = 2e9"), FacilityError::Invalid,
     "[ions.proton]", "{ min = 2e9", "ions.proton.spot_particles: min 2000000000 is greater than max 1000000000"},
    {"MuMinZero", replacing("[ions.neon]", "min = 0.001", "min = 0"), FacilityError::Invalid, "[ions.neon]",
     "0, max = 1000.0", "ions.neon.spot_mu.min: expected a number in (0, 1000000] MU, got 0"},
    {"EnergyLevelsTooDense", replacing("[ions.carbon]", "energy_levels = 255", "energy_levels = 100000"),
     FacilityError::Invalid, "[ions.carbon]", "100000",
     "ions.carbon.energy_levels: 100000 levels over 85-430 MeV/u are closer than 0.02 MeV/u apart"},
    {"OneLevelNeedsOneEnergy", replacing("[ions.neon]", "energy_levels = 229", "energy_levels = 1"),
     FacilityError::Invalid, "[ions.neon]", "1\n",
     "ions.neon.energy_levels: a single energy level needs energy_mev_u min == max, got 120-430"},
    {"IonNameDisagreesWithItsNumbers", replacing("[ions.carbon]", "z = 6", "z = 8"), FacilityError::Invalid,
     "[ions.carbon]", "[ions.carbon]",
     "ions.carbon: \"carbon\" is z=6, a=12, charge=6, but the table says z=8, a=12, charge=6"},
    {"ChargeAboveZ", replacing("[ions.neon]", "charge = 10", "charge = 11"), FacilityError::Invalid, "[ions.neon]",
     "11", "ions.neon.charge: the charge must be at most z (10), got 11"},
    {"MassBelowZ", replacing("[ions.helium]", "a = 4", "a = 1"), FacilityError::Invalid, "[ions.helium]", "1\n",
     "ions.helium.a: the mass number must be at least z (2), got 1"},
    {"EmptySource", replacing("[ions.neon]", "source = \"", "source = \"\" # \""), FacilityError::Invalid,
     "[ions.neon]", "\"\" #", "ions.neon.source: expected a non-empty string, got \"\""},
    {"SameIonTwice",
     [](const std::string& text) {
       return text +
              "\n[ions.alpha]\nz = 2\na = 4\ncharge = 2\nenergy_mev_u = { min = 50.0, max = 220.0 }\n"
              "energy_levels = 126\nspot_particles = { min = 15000.0, max = 1.5e8 }\n"
              "spot_mu = { min = 0.001, max = 1000.0 }\nsource = \"again\"\n";
     },
     FacilityError::Invalid, "", "[ions.alpha]", "ions.alpha: the same ion (z=2, a=4, charge=2) as ions.helium"},
    {"RoomNamesAnUnknownIon", replacing("[rooms.gantry-1]", "\"helium\"", "\"xenon\""), FacilityError::Invalid,
     "[rooms.gantry-1]", "\"xenon\"",
     "rooms.gantry-1.ions[1]: unknown ion \"xenon\" (the [ions] tables are: carbon, helium, oxygen, neon, proton)"},
    {"RoomNamesAnIonTwice", replacing("[rooms.gantry-1]", "\"neon\", \"proton\"]", "\"neon\", \"carbon\"]"),
     FacilityError::Invalid, "[rooms.gantry-1]", "\"carbon\"]",
     "rooms.gantry-1.ions[4]: \"carbon\" is given twice (also rooms.gantry-1.ions[0])"},
    {"MachineNameInTwoRooms", replacing("[rooms.gantry-2]", "\"gantry-2\"]", "\"GANTRY1\"]"), FacilityError::Invalid,
     "[rooms.gantry-2]", "\"GANTRY1\"",
     "rooms.gantry-2.machine_names[1]: machine name \"GANTRY1\" is already used by rooms.gantry-1.machine_names[0] "
     "(line @LINE@); a machine name must pick one room",
     "\"GANTRY1\""},
    {"MachineNameTwiceInARoom", replacing("[rooms.fixed-1]", "\"fixed-1\"]", "\"FIXED1\"]"), FacilityError::Invalid,
     "[rooms.fixed-1]", "\"FIXED1\"]",
     "rooms.fixed-1.machine_names[1]: \"FIXED1\" is given twice (also rooms.fixed-1.machine_names[0])"},
    {"NoMachineNames", replacing("[rooms.fixed-1]", "[\"FIXED1\", \"fixed-1\"]", "[]"), FacilityError::Invalid,
     "[rooms.fixed-1]", "[]", "rooms.fixed-1.machine_names: expected at least one string, got an empty array"},
    {"RangeShifterTwice", replacing("[rooms.gantry-1]", "\"RS40\", \"RS_3CM\"]", "\"RS20\"]"), FacilityError::Invalid,
     "[rooms.gantry-1]", "\"RS20\"]",
     "rooms.gantry-1.range_shifters[2]: \"RS20\" is given twice (also rooms.gantry-1.range_shifters[0])"},
    {"FixedRoomWithoutItsAngle", replacing("[rooms.fixed-1]", "fixed_gantry_angle_deg = 90.0\n", ""),
     FacilityError::Invalid, "[rooms.fixed-1]", "[rooms.fixed-1]",
     "rooms.fixed-1: missing required key \"fixed_gantry_angle_deg\" (rotating = false)"},
    {"RotatingRoomWithAFixedAngle",
     replacing("[rooms.gantry-1]", "rotating = true", "rotating = true\nfixed_gantry_angle_deg = 90.0"),
     FacilityError::Invalid, "[rooms.gantry-1]", "90.0",
     "rooms.gantry-1.fixed_gantry_angle_deg: only a fixed beam line (rotating = false) has a fixed gantry angle"},
    {"FixedAngleOutOfRange", replacing("[rooms.fixed-1]", "= 90.0", "= 360.0"), FacilityError::Invalid,
     "[rooms.fixed-1]", "360.0", "rooms.fixed-1.fixed_gantry_angle_deg: expected a number in [0, 360) deg, got 360.0"},
    {"WrongFormat", replacing("", "\"spotline-facility\"", "\"spotline-plan\""), FacilityError::Invalid, "",
     "\"spotline-plan\"", "format: expected \"spotline-facility\", got \"spotline-plan\""},
    {"WrongVersion", replacing("", "version = 1", "version = 2"), FacilityError::Invalid, "", "2\n",
     "version: expected 1 (the version this reader knows), got 2"},
    {"DuplicateRoomName", [](const std::string& text) { return text + "\n[rooms.gantry-1]\nrotating = true\n"; },
     FacilityError::Malformed, "", "[rooms.gantry-1]\nrotating",
     "not valid TOML: Error while parsing table header: cannot redefine existing table 'rooms.gantry-1'"},
    {"DuplicateKey", replacing("[rooms.fixed-1]", "rotating = false", "rotating = false\nrotating = true"),
     FacilityError::Malformed, "[rooms.fixed-1]", "true",
     "rooms.fixed-1: not valid TOML: Error while parsing key-value pair: cannot redefine existing boolean "
     "'rotating'"},
    {"MissingValue", replacing("[rooms.gantry-1.tolerances]", "position_mm = 1.0", "position_mm = "),
     FacilityError::Malformed, "[rooms.gantry-1.tolerances]",
     "position_mm = ", "rooms.gantry-1.tolerances: not valid TOML: "},
    {"Syntax", replacing("", "[rooms.fixed-1]", "[rooms.fixed-1"), FacilityError::Malformed, "", "[rooms.fixed-1\n",
     "not valid TOML: "},
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, IsRefusedWithPlaceAndKeyPath) {
  const BadCase& c = GetParam();
  const std::string text = c.change(fileText());
  ASSERT_NE(text, fileText());
  auto parsed = parseFacilityConfig(text, "f.toml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, c.code) << toString(parsed.error().code);
  const std::string& message = parsed.error().message;
  const std::string position = positionOf(text, c.after, c.needle);
  std::string rest = c.rest;
  if (c.lineOf != nullptr) {
    const std::string at = positionOf(text, "", c.lineOf);
    rest.replace(rest.find("@LINE@"), 6, at.substr(0, at.find(':')));
  }
  const std::vector<std::string> got = lines(message);
  ASSERT_EQ(got.size(), 1u) << message;
  if (c.code == FacilityError::Invalid) {
    EXPECT_EQ(got[0], "f.toml:" + position + ": " + rest);
  } else {
    // The text after "not valid TOML: " is the parser's; the line is what matters.
    const std::string line = "f.toml:" + position.substr(0, position.find(':') + 1);
    EXPECT_EQ(got[0].rfind(line, 0), 0u) << got[0] << "\nexpected to start with " << line;
    EXPECT_NE(got[0].find(rest), std::string::npos) << got[0];
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BadConfig, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& p) { return std::string(p.param.name); });

TEST(FacilityConfig, EveryProblemIsReportedSortedByPosition) {
  std::string text = fileText();
  text = replaced(text, "[ions.carbon]", "{ min = 85.0, max = 430.0 }", "{ min = 430.0, max = 85.0 }");
  text = replaced(text, "[rooms.gantry-1]", "\"helium\"", "\"xenon\"");
  text = replaced(text, "[rooms.gantry-2]", "rotating = true", "rotating = \"no\"");
  text = replaced(text, "[rooms.fixed-1]", "max_spots_per_layer = 20000\n", "");
  text = replaced(text, "[rooms.fixed-1]", "{ x = 100.0,", "{ x = -5.0,");
  text =
      replaced(text, "[rooms.fixed-1.tolerances]", "monitor_agreement = 0.02", "monitor_agreement = 0.02\nextra = 1");
  auto parsed = parseFacilityConfig(text, "f.toml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, FacilityError::Invalid);
  const std::vector<std::string> expected = {
      "f.toml:" + positionOf(text, "[ions.carbon]", "{ min = 430.0") + ": ions.carbon.energy_mev_u: min 430",
      "f.toml:" + positionOf(text, "[rooms.gantry-1]", "\"xenon\"") + ": rooms.gantry-1.ions[1]: unknown ion",
      "f.toml:" + positionOf(text, "[rooms.gantry-2]", "\"no\"") + ": rooms.gantry-2.rotating: expected true",
      "f.toml:" + positionOf(text, "", "[rooms.fixed-1]") + ": rooms.fixed-1: missing required key",
      "f.toml:" + positionOf(text, "[rooms.fixed-1]", "-5.0") + ": rooms.fixed-1.scan_field_half_width_mm.x:",
      "f.toml:" + positionOf(text, "[rooms.fixed-1.tolerances]", "extra") + ": rooms.fixed-1.tolerances.extra:",
  };
  const std::vector<std::string> got = lines(parsed.error().message);
  ASSERT_EQ(got.size(), expected.size()) << parsed.error().message;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].rfind(expected[i], 0), 0u) << got[i] << "\nexpected to start with\n" << expected[i];
  }
}

TEST(FacilityConfig, ABrokenIonIsNotAlsoAnUnknownIonInEveryRoom) {
  const std::string text = replaced(fileText(), "[ions.carbon]", "z = 6", "z = \"six\"");
  auto parsed = parseFacilityConfig(text, "f.toml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(lines(parsed.error().message),
            std::vector<std::string>{"f.toml:" + positionOf(text, "[ions.carbon]", "\"six\"") +
                                     ": ions.carbon.z: expected an integer in 1..118, got \"six\""});
}

TEST(FacilityConfig, AtMostFiftyProblemsAreListed) {
  std::string extra;
  for (int i = 0; i < 60; ++i) extra += "unknown" + std::to_string(i) + " = 1\n";
  auto parsed = parseFacilityConfig(extra + fileText(), "f.toml");
  ASSERT_FALSE(parsed.ok());
  const std::vector<std::string> got = lines(parsed.error().message);
  ASSERT_EQ(got.size(), kMaxReportedFacilityErrors + 1);
  EXPECT_EQ(got.front().rfind("f.toml:1:1: unknown0: unknown key \"unknown0\"", 0), 0u) << got.front();
  EXPECT_EQ(got.back(), "f.toml: ... and 10 more errors");
}

TEST(FacilityConfig, EmptyTablesAreRefused) {
  auto parsed = parseFacilityConfig("format = \"spotline-facility\"\nversion = 1\nions = {}\nrooms = {}\n", "f.toml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message,
            "f.toml:3:8: ions: the facility needs at least one ion\n"
            "f.toml:4:9: rooms: the facility needs at least one room");
}

TEST(FacilityConfig, LoadNamesTheFileAndRefusesWhatItCannotRead) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "spotline_facility_config_test";
  std::filesystem::create_directories(dir);
  const std::filesystem::path bad = dir / "bad.toml";
  const std::string text = replaced(fileText(), "[rooms.gantry-2]", "rotating = true", "rotating = 1");
  std::ofstream(bad, std::ios::binary) << text;
  auto loaded = loadFacilityConfig(bad);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, FacilityError::Invalid);
  EXPECT_EQ(loaded.error().message, bad.string() + ":" + positionOf(text, "[rooms.gantry-2]", "1\n") +
                                        ": rooms.gantry-2.rotating: expected true or false, got 1");

  auto missing = loadFacilityConfig(dir / "missing.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, FacilityError::Unreadable);
  EXPECT_EQ(missing.error().message.rfind((dir / "missing.toml").string() + ": cannot read facility file", 0), 0u)
      << missing.error().message;

  const std::filesystem::path huge = dir / "huge.toml";
  std::ofstream(huge, std::ios::binary) << std::string(kMaxFacilityFileBytes + 1, '#');
  auto tooBig = loadFacilityConfig(huge);
  ASSERT_FALSE(tooBig.ok());
  EXPECT_EQ(tooBig.error().code, FacilityError::Unreadable);
  EXPECT_NE(tooBig.error().message.find("more than the limit of 1048576"), std::string::npos) << tooBig.error().message;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace spotline::plan
