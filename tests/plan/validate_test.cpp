#include "spotline/plan/validate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "test_plans.h"

namespace spotline::plan {
namespace {

const Facility& facility() {
  static const Facility f = builtInFacility();
  return f;
}

Spot& spotAt(Plan& p, std::size_t b, std::size_t l, std::size_t s) {
  return p.beams[b].layers[l].spots[s];
}

// testing::validMixedPlan() with its layer energies moved onto the built-in energy tables:
// carbon 250.12 -> 250.71 and 200.5 -> 200.45 MeV/u, protons 120 -> 120.29 MeV (the setup beam's
// 150 MeV/u is never checked). Everything else as there.
Plan deliverablePlan() {
  Plan p = testing::validMixedPlan();
  p.beams[0].layers[0].energy = MeVPerNucleon(250.71);
  p.beams[0].layers[1].energy = MeVPerNucleon(200.45);
  p.beams[2].layers[0].energy = MeVPerNucleon(120.29);
  return p;
}

// The plan has exactly one violation, and it is this one.
void expectOnly(const Plan& plan, std::string_view rule, const std::string& path, double value, double limit,
                const std::string& messagePart, const Facility& f = facility()) {
  const std::vector<Violation> v = validatePlan(plan, f);
  ASSERT_EQ(v.size(), 1u) << (v.empty() ? std::string("none") : violationsJson(v).dump(2));
  EXPECT_EQ(v[0].rule, rule);
  EXPECT_EQ(v[0].path, path);
  if (std::isnan(value)) {
    EXPECT_TRUE(std::isnan(v[0].value)) << v[0].value;
  } else {
    EXPECT_DOUBLE_EQ(v[0].value, value);
  }
  if (std::isnan(limit)) {
    EXPECT_TRUE(std::isnan(v[0].limit)) << v[0].limit;
  } else {
    EXPECT_DOUBLE_EQ(v[0].limit, limit);
  }
  EXPECT_NE(v[0].message.find(messagePart), std::string::npos) << v[0].message;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Validate, ValidPlanHasNoViolations) {
  EXPECT_TRUE(validatePlan(deliverablePlan(), facility()).empty())
      << violationsJson(validatePlan(deliverablePlan(), facility())).dump(2);
}

TEST(Validate, TheSharedTestPlanIsOffTheEnergyTables) {
  // validMixedPlan's energies are within range but not table energies: exactly those three
  // layers are reported (the setup beam's is not checked).
  const std::vector<Violation> v = validatePlan(testing::validMixedPlan(), facility());
  ASSERT_EQ(v.size(), 3u) << violationsJson(v).dump(2);
  EXPECT_EQ(v[0].path, "beams[0].layers[0].energy_mev_u");
  EXPECT_DOUBLE_EQ(v[0].limit, 250.71);
  EXPECT_EQ(v[1].path, "beams[0].layers[1].energy_mev_u");
  EXPECT_DOUBLE_EQ(v[1].limit, 200.45);
  EXPECT_EQ(v[2].path, "beams[2].layers[0].energy_mev_u");
  EXPECT_DOUBLE_EQ(v[2].limit, 120.29);
  for (const Violation& x : v) EXPECT_EQ(x.rule, rules::kEnergyNotInTable);
}

TEST(Validate, EnergyBelowAndAboveTheIonRange) {
  Plan p = deliverablePlan();
  p.beams[0].layers[1].energy = MeVPerNucleon(84.9);
  // Out of range is reported once, as out of range (not also as off the table).
  expectOnly(p, rules::kEnergyRange, "beams[0].layers[1].energy_mev_u", 84.9, 85.0,
             "beam 1 (\"Field 1\"), layer 2 (84.9 MeV/u): energy 84.9 MeV/u is below the carbon "
             "range 85-430 MeV/u");
  p.beams[0].layers[1].energy = MeVPerNucleon(430.5);
  expectOnly(p, rules::kEnergyRange, "beams[0].layers[1].energy_mev_u", 430.5, 430.0, "above");
  // Protons have their own range: 230 MeV is fine for carbon but not for protons.
  p = deliverablePlan();
  p.beams[2].layers[0].energy = MeVPerNucleon(230.0);
  expectOnly(p, rules::kEnergyRange, "beams[2].layers[0].energy_mev_u", 230.0, 221.06,
             "is above the proton range 48.12-221.06 MeV/u");
  // The limits themselves are deliverable (they are the tables' ends); NaN is not.
  p = deliverablePlan();
  p.beams[0].layers[0].energy = MeVPerNucleon(430.0);
  p.beams[0].layers[1].energy = MeVPerNucleon(85.0);
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  p.beams[0].layers[1].energy = MeVPerNucleon(kNaN);
  expectOnly(p, rules::kEnergyRange, "beams[0].layers[1].energy_mev_u", kNaN, 85.0, "energy");
}

TEST(Validate, EnergyNotInTheTable) {
  Plan p = deliverablePlan();
  p.beams[0].layers[1].energy = MeVPerNucleon(200.5);
  expectOnly(p, rules::kEnergyNotInTable, "beams[0].layers[1].energy_mev_u", 200.5, 200.45,
             "beam 1 (\"Field 1\"), layer 2 (200.5 MeV/u): energy 200.5 MeV/u is not in the carbon energy table "
             "(nearest 200.45 MeV/u; a layer must be within 0.005 MeV/u of a table energy)");
  // Within 0.005 MeV/u of a table energy is on the table, on either side.
  p.beams[0].layers[1].energy = MeVPerNucleon(200.454);
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  p.beams[0].layers[1].energy = MeVPerNucleon(200.446);
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  p.beams[0].layers[1].energy = MeVPerNucleon(200.456);
  expectOnly(p, rules::kEnergyNotInTable, "beams[0].layers[1].energy_mev_u", 200.456, 200.45, "nearest 200.45");
  // Between two table energies (200.45, 201.81) the limit is the nearer one.
  p.beams[0].layers[1].energy = MeVPerNucleon(201.0);
  expectOnly(p, rules::kEnergyNotInTable, "beams[0].layers[1].energy_mev_u", 201.0, 200.45, "nearest 200.45");
  // Each ion is checked against its own table: 200.45 is carbon's, not the proton table's.
  p = deliverablePlan();
  p.beams[2].layers[0].energy = MeVPerNucleon(200.45);
  expectOnly(p, rules::kEnergyNotInTable, "beams[2].layers[0].energy_mev_u", 200.45, 200.63,
             "not in the proton energy table (nearest 200.63 MeV");
  // An ion with a continuous range (no table) accepts any energy in range.
  Facility continuous = facility();
  for (IonModel& m : continuous.ions) m.energyLevels = 0;
  p = testing::validMixedPlan();
  EXPECT_TRUE(validatePlan(p, continuous).empty());
}

TEST(Validate, SpotOutsideTheScanField) {
  Plan p = deliverablePlan();
  spotAt(p, 0, 1, 2).x = Millimetres(100.5);
  expectOnly(p, rules::kScanField, "beams[0].layers[1].spots[2][0]", 100.5, 100.0,
             "layer 2 (200.45 MeV/u), spot 3: x = 100.5 mm is outside the scan field of room gantry-1 "
             "(|x| <= 100 mm)");
  p = deliverablePlan();
  spotAt(p, 2, 0, 1).y = Millimetres(-101.0);
  expectOnly(p, rules::kScanField, "beams[2].layers[0].spots[1][1]", -101.0, 100.0, "y = -101");
  p = deliverablePlan();
  spotAt(p, 0, 0, 0).x = Millimetres(-100.0);  // on the edge: deliverable
  spotAt(p, 0, 0, 0).y = Millimetres(100.0);
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  // One violation per axis, NaN included.
  spotAt(p, 0, 0, 0).x = Millimetres(kNaN);
  spotAt(p, 0, 0, 0).y = Millimetres(-200.0);
  const std::vector<Violation> v = validatePlan(p, facility());
  ASSERT_EQ(v.size(), 2u) << violationsJson(v).dump(2);
  EXPECT_EQ(v[0].path, "beams[0].layers[0].spots[0][0]");
  EXPECT_TRUE(std::isnan(v[0].value));
  EXPECT_EQ(v[1].path, "beams[0].layers[0].spots[0][1]");
  EXPECT_DOUBLE_EQ(v[1].value, -200.0);
}

TEST(Validate, ScanFieldIsTheRoomsOwnPerAxis) {
  Facility f = facility();
  for (RoomModel& r : f.rooms) {
    if (r.name == "gantry-1") {
      r.scanFieldHalfWidthX = Millimetres(120.0);
      r.scanFieldHalfWidthY = Millimetres(50.0);
    }
  }
  Plan p = deliverablePlan();
  spotAt(p, 0, 0, 0).x = Millimetres(110.0);  // inside gantry-1's wider x
  spotAt(p, 0, 0, 1).y = Millimetres(60.0);   // outside its narrower y
  expectOnly(p, rules::kScanField, "beams[0].layers[0].spots[1][1]", 60.0, 50.0,
             "y = 60 mm is outside the scan field of room gantry-1 (|y| <= 50 mm)", f);
  // The same spots in gantry-2 (built-in +-100 mm): only x is out.
  for (Beam& b : p.beams) b.machine = "GANTRY2";
  expectOnly(p, rules::kScanField, "beams[0].layers[0].spots[0][0]", 110.0, 100.0, "room gantry-2 (|x| <= 100 mm)", f);
}

TEST(Validate, MetersetBelowTheMinimum) {
  Plan p = deliverablePlan();
  spotAt(p, 0, 1, 3).meterset = 4999.0;
  expectOnly(p, rules::kMetersetMin, "beams[0].layers[1].spots[3][2]", 4999.0, 5000.0,
             "spot 4: meterset 4999 NP is below the minimum 5000 NP for carbon");
  spotAt(p, 0, 1, 3).meterset = 5000.0;  // the minimum itself is deliverable
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  spotAt(p, 0, 1, 3).meterset = 0.0;  // zero is below the minimum, not negative
  expectOnly(p, rules::kMetersetMin, "beams[0].layers[1].spots[3][2]", 0.0, 5000.0, "meterset 0 NP");
  // Protons need more particles per spot than carbon.
  p = deliverablePlan();
  spotAt(p, 2, 0, 0).meterset = 150'000.0;  // two paintings: 75,000 each
  expectOnly(p, rules::kMetersetMin, "beams[2].layers[0].spots[0][2]", 75'000.0, 100'000.0,
             "over 2 paintings is 75000 NP per painting");
}

TEST(Validate, MetersetMinimumAppliesToEachPainting) {
  Plan p = deliverablePlan();
  p.beams[0].layers[1].paintings = 3;
  spotAt(p, 0, 1, 0).meterset = 12'000.0;
  expectOnly(p, rules::kMetersetMin, "beams[0].layers[1].spots[0][2]", 4000.0, 5000.0,
             "meterset 12000 NP over 3 paintings is 4000 NP per painting");
}

TEST(Validate, MetersetAboveTheMaximum) {
  Plan p = deliverablePlan();
  spotAt(p, 0, 0, 1).meterset = 5.0e7 + 1.0;
  expectOnly(p, rules::kMetersetMax, "beams[0].layers[0].spots[1][2]", 5.0e7 + 1.0, 5.0e7,
             "above the maximum 50000000 NP for carbon");
  // Per painting: 6e7 over two paintings is 3e7 each, which is deliverable.
  p.beams[0].layers[0].paintings = 2;
  spotAt(p, 0, 0, 1).meterset = 6.0e7;
  EXPECT_TRUE(validatePlan(p, facility()).empty());
}

TEST(Validate, MetersetLimitsInMonitorUnits) {
  Plan p = deliverablePlan();
  p.metersetUnit = MetersetUnit::MU;
  for (Beam& b : p.beams) {
    for (Layer& l : b.layers) {
      for (Spot& s : l.spots) s.meterset = 0.5;
    }
  }
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  spotAt(p, 0, 0, 2).meterset = 0.0009;
  spotAt(p, 0, 1, 0).meterset = 1000.5;
  const std::vector<Violation> v = validatePlan(p, facility());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].rule, rules::kMetersetMin);
  EXPECT_EQ(v[0].path, "beams[0].layers[0].spots[2][2]");
  EXPECT_DOUBLE_EQ(v[0].value, 0.0009);
  EXPECT_DOUBLE_EQ(v[0].limit, 0.001);
  EXPECT_NE(v[0].message.find("0.0009 MU"), std::string::npos) << v[0].message;
  EXPECT_EQ(v[1].rule, rules::kMetersetMax);
  EXPECT_EQ(v[1].path, "beams[0].layers[1].spots[0][2]");
  EXPECT_DOUBLE_EQ(v[1].value, 1000.5);
  EXPECT_DOUBLE_EQ(v[1].limit, 1000.0);
}

TEST(Validate, MetersetNotFinite) {
  Plan p = deliverablePlan();
  spotAt(p, 0, 1, 1).meterset = kNaN;
  expectOnly(p, rules::kMetersetNotFinite, "beams[0].layers[1].spots[1][2]", kNaN, kNaN, "not a finite number");
  spotAt(p, 0, 1, 1).meterset = std::numeric_limits<double>::infinity();
  expectOnly(p, rules::kMetersetNotFinite, "beams[0].layers[1].spots[1][2]", std::numeric_limits<double>::infinity(),
             kNaN, "inf");
  // Negative infinity is not finite before it is negative.
  spotAt(p, 0, 1, 1).meterset = -std::numeric_limits<double>::infinity();
  expectOnly(p, rules::kMetersetNotFinite, "beams[0].layers[1].spots[1][2]", -std::numeric_limits<double>::infinity(),
             kNaN, "not a finite number");
}

TEST(Validate, MetersetNegative) {
  Plan p = deliverablePlan();
  spotAt(p, 0, 1, 1).meterset = -1.0;
  // Reported as negative only (not also below the minimum).
  expectOnly(p, rules::kMetersetNegative, "beams[0].layers[1].spots[1][2]", -1.0, 0.0,
             "beam 1 (\"Field 1\"), layer 2 (200.45 MeV/u), spot 2: meterset -1 NP is negative");
  p.metersetUnit = MetersetUnit::MU;
  for (Beam& b : p.beams) {
    for (Layer& l : b.layers) {
      for (Spot& s : l.spots) s.meterset = s.meterset < 0 ? -0.25 : 0.5;
    }
  }
  expectOnly(p, rules::kMetersetNegative, "beams[0].layers[1].spots[1][2]", -0.25, 0.0, "meterset -0.25 MU");
}

TEST(Validate, UnknownMachine) {
  Plan p = deliverablePlan();
  p.beams[2].machine = "GANTRY9";
  expectOnly(p, rules::kUnknownMachine, "beams[2].machine", kNaN, kNaN,
             "beam 3 (\"Field 3\"): no treatment room answers to machine \"GANTRY9\"");
  // Names match exactly: "gantry1" is neither "GANTRY1" nor "gantry-1".
  p.beams[2].machine = "gantry1";
  expectOnly(p, rules::kUnknownMachine, "beams[2].machine", kNaN, kNaN, "\"gantry1\"");
  // Without a room, the room's limits (scan field, spots per layer, range shifters) are not
  // guessed; the ion's limits still apply.
  spotAt(p, 2, 0, 0).x = Millimetres(500.0);
  p.beams[2].rangeShifters = {RangeShifter{0, "RS99", "BINARY"}};
  EXPECT_EQ(validatePlan(p, facility()).size(), 1u);
  spotAt(p, 2, 0, 0).meterset = 10.0;
  const std::vector<Violation> v = validatePlan(p, facility());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].rule, rules::kMetersetMin);
}

TEST(Validate, UnknownIon) {
  Plan p = deliverablePlan();
  p.beams[0].ion = IonSpecies{7, 14, 7};
  expectOnly(p, rules::kUnknownIon, "beams[0].ion", 7.0, kNaN,
             "the facility does not accelerate ion(z=7,a=14,charge=7)");
}

TEST(Validate, IonNotInRoom) {
  Facility f = builtInFacility();
  f.rooms[1].ions = {kCarbon};  // gantry-2 without helium
  ASSERT_EQ(f.rooms[1].name, "gantry-2");
  Plan p = deliverablePlan();
  p.beams.resize(1);
  p.beams[0].machine = "GANTRY2";
  p.beams[0].ion = kHelium;
  p.beams[0].layers[0].energy = MeVPerNucleon(150.64);  // helium table energies
  p.beams[0].layers[1].energy = MeVPerNucleon(120.72);
  for (Layer& l : p.beams[0].layers) {
    for (Spot& s : l.spots) s.meterset = 1e6;
  }
  EXPECT_TRUE(validatePlan(p, builtInFacility()).empty());
  expectOnly(p, rules::kIonNotInRoom, "beams[0].ion", 2.0, kNaN, "room gantry-2 cannot receive helium", f);
}

TEST(Validate, GantryAngleInTheFixedRoom) {
  Plan p = deliverablePlan();
  for (Beam& b : p.beams) {
    b.machine = "FIXED1";
    b.gantryAngle = Degrees(90.0);
  }
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  p.beams[2].gantryAngle = Degrees(0.0);
  expectOnly(p, rules::kGantryFixedRoom, "beams[2].gantry_angle", 0.0, 90.0,
             "gantry angle 0 deg, but room fixed-1 is a fixed beam line at 90 deg");
  p.beams[2].gantryAngle = Degrees(90.01);
  expectOnly(p, rules::kGantryFixedRoom, "beams[2].gantry_angle", 90.01, 90.0, "90.01");
  // The angle is the room's: a fixed line configured at 270 deg refuses 90.
  Facility f = facility();
  for (RoomModel& r : f.rooms) {
    if (r.name == "fixed-1") r.fixedGantryAngle = Degrees(270.0);
  }
  p.beams[2].gantryAngle = Degrees(270.0);
  expectOnly(p, rules::kGantryFixedRoom, "beams[0].gantry_angle", 90.0, 270.0, "fixed beam line at 270 deg", f);
}

TEST(Validate, TreatmentBeamsInDifferentRooms) {
  Plan p = deliverablePlan();
  p.beams[2].machine = "GANTRY2";
  expectOnly(p, rules::kMixedRooms, "beams[2].machine", kNaN, kNaN,
             "is room gantry-2, but beam 1 (\"Field 1\") is for room gantry-1");
}

TEST(Validate, TooManySpotsInALayer) {
  Plan p = deliverablePlan();
  std::vector<Spot>& spots = p.beams[0].layers[0].spots;
  spots.assign(20'001, Spot{Millimetres(0.0), Millimetres(0.0), 1e6});
  expectOnly(p, rules::kTooManySpots, "beams[0].layers[0].spots", 20'001.0, 20'000.0,
             "20001 spots, more than the 20000 a layer may have in room gantry-1");
  spots.pop_back();
  EXPECT_TRUE(validatePlan(p, facility()).empty());
}

TEST(Validate, TooManySpotsIsTheRoomsOwnLimit) {
  Facility f = facility();
  f.rooms[0].maxSpotsPerLayer = 3;  // gantry-1
  Plan p = deliverablePlan();       // layers of 3 and 4 spots on gantry-1, 2 spots for protons
  expectOnly(p, rules::kTooManySpots, "beams[0].layers[1].spots", 4.0, 3.0, "more than the 3", f);
  for (Beam& b : p.beams) b.machine = "GANTRY2";  // gantry-2 keeps 20000
  EXPECT_TRUE(validatePlan(p, f).empty());
}

TEST(Validate, RangeShifterUndeclared) {
  Plan p = deliverablePlan();
  p.beams[0].rangeShifters = {RangeShifter{0, "RS20", "BINARY"}};
  p.beams[0].layers[1].rangeShifter = "RS20";
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  p.beams[0].layers[1].rangeShifter = "RS30";  // the room holds it, but the beam does not declare it
  expectOnly(p, rules::kRangeShifterUndeclared, "beams[0].layers[1].range_shifter", kNaN, kNaN,
             "beam 1 (\"Field 1\"), layer 2 (200.45 MeV/u): range shifter \"RS30\" is set IN, but the beam does "
             "not declare it (declared: RS20)");
  p.beams[0].rangeShifters.clear();
  expectOnly(p, rules::kRangeShifterUndeclared, "beams[0].layers[1].range_shifter", kNaN, kNaN, "(it declares none)");
}

TEST(Validate, RangeShifterNotAllowedInTheRoom) {
  Plan p = deliverablePlan();
  // Declared but not held by the room: reported at the declaration, not again per layer.
  p.beams[0].rangeShifters = {RangeShifter{0, "RS20", "BINARY"}, RangeShifter{1, "RS99", "BINARY"}};
  p.beams[0].layers[0].rangeShifter = "RS99";
  p.beams[0].layers[1].rangeShifter = "RS99";
  expectOnly(p, rules::kRangeShifterNotAllowed, "beams[0].range_shifters[1].id", kNaN, kNaN,
             "beam 1 (\"Field 1\"): range shifter \"RS99\" is not one room gantry-1 holds (RS20, RS30, RS40, "
             "RS_3CM)");
  // RS60 is held by the fixed line only.
  p = deliverablePlan();
  p.beams[0].rangeShifters = {RangeShifter{0, "RS60", "BINARY"}};
  expectOnly(p, rules::kRangeShifterNotAllowed, "beams[0].range_shifters[0].id", kNaN, kNaN, "RS60");
  for (Beam& b : p.beams) {
    b.machine = "FIXED1";
    b.gantryAngle = Degrees(90.0);
  }
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  // Used without a declaration and not held by the room: both problems are reported.
  p = deliverablePlan();
  p.beams[2].layers[0].rangeShifter = "40mm";
  const std::vector<Violation> v = validatePlan(p, facility());
  ASSERT_EQ(v.size(), 2u) << violationsJson(v).dump(2);
  EXPECT_EQ(v[0].rule, rules::kRangeShifterUndeclared);
  EXPECT_EQ(v[1].rule, rules::kRangeShifterNotAllowed);
  EXPECT_EQ(v[1].path, "beams[2].layers[0].range_shifter");
  EXPECT_NE(v[1].message.find("range shifter \"40mm\" is not one room gantry-1 holds"), std::string::npos)
      << v[1].message;
}

TEST(Validate, DuplicateBeamNumbers) {
  Plan p = deliverablePlan();
  p.beams[2].number = BeamNumber(1);
  expectOnly(p, rules::kDuplicateBeamNumber, "beams[2].number", 1.0, kNaN,
             "beam 1 (\"Field 3\"): beam number 1 is already used by beams[0] (\"Field 1\"); beam numbers must be "
             "unique");
  // Setup beams count: their numbers name them in records too.
  p = deliverablePlan();
  p.beams[1].number = BeamNumber(3);
  expectOnly(p, rules::kDuplicateBeamNumber, "beams[2].number", 3.0, kNaN, "already used by beams[1] (\"Setup\")");
}

TEST(Validate, EmptyLayerAndEmptyBeam) {
  Plan p = deliverablePlan();
  p.beams[0].layers[1].spots.clear();
  expectOnly(p, rules::kEmptyLayer, "beams[0].layers[1].spots", 0.0, 1.0, "layer has no spots");
  p = deliverablePlan();
  p.beams[2].layers.clear();
  expectOnly(p, rules::kEmptyBeam, "beams[2].layers", 0.0, 1.0, "a treatment beam without energy layers");
}

TEST(Validate, NoTreatmentBeam) {
  Plan p = deliverablePlan();
  p.beams = {p.beams[1]};  // the setup beam only
  expectOnly(p, rules::kNoTreatmentBeam, "beams", 0.0, 1.0, "no treatment beam");
  p.beams.clear();
  expectOnly(p, rules::kNoTreatmentBeam, "beams", 0.0, 1.0, "(0 beams");
}

TEST(Validate, UnapprovedAndRejectedPlans) {
  Plan p = deliverablePlan();
  p.approval = Approval::Unapproved;
  expectOnly(p, rules::kUnapproved, "approval", kNaN, kNaN, "plan is UNAPPROVED");
  p.approval = Approval::Rejected;
  expectOnly(p, rules::kUnapproved, "approval", kNaN, kNaN, "plan is REJECTED");
}

TEST(Validate, SetupBeamsAreNotChecked) {
  Plan p = deliverablePlan();
  Beam& setup = p.beams[1];
  setup.machine = "NOWHERE";
  setup.ion = IonSpecies{7, 14, 7};
  setup.layers[0].energy = MeVPerNucleon(1000.0);
  setup.layers[0].spots[0].meterset = -1.0;
  setup.layers[0].rangeShifter = "RS99";
  setup.rangeShifters = {RangeShifter{0, "RS98", "BINARY"}};
  setup.layers.push_back(Layer{});
  EXPECT_TRUE(validatePlan(p, facility()).empty());
}

TEST(Validate, ControlPointInMessagesAndJson) {
  Plan p = deliverablePlan();
  p.beams[0].layers[1].sourceControlPoint = 6;
  p.beams[0].layers[1].energy = MeVPerNucleon(200.5);
  spotAt(p, 0, 1, 3).meterset = 10.0;
  p.beams[0].machine = "GANTRY9";  // a beam-level violation: no control point
  p.beams[2].machine = "GANTRY9";
  const std::vector<Violation> v = validatePlan(p, facility());
  ASSERT_EQ(v.size(), 4u) << violationsJson(v).dump(2);
  EXPECT_EQ(v[0].rule, rules::kUnknownMachine);
  EXPECT_EQ(v[0].controlPoint, -1);
  EXPECT_EQ(v[1].rule, rules::kEnergyNotInTable);
  EXPECT_EQ(v[1].controlPoint, 6);
  EXPECT_EQ(v[1].message.rfind("beam 1 (\"Field 1\"), layer 2 (control point 6, 200.5 MeV/u): energy 200.5", 0), 0u)
      << v[1].message;
  EXPECT_EQ(v[2].rule, rules::kMetersetMin);
  EXPECT_EQ(v[2].controlPoint, 6);
  EXPECT_EQ(
      v[2].message.rfind("beam 1 (\"Field 1\"), layer 2 (control point 6, 200.5 MeV/u), spot 4: meterset 10 NP", 0), 0u)
      << v[2].message;
  EXPECT_EQ(v[3].rule, rules::kUnknownMachine);
  // Layers without a control point say nothing about one.
  p.beams[0].layers[1].sourceControlPoint = -1;
  EXPECT_EQ(validatePlan(p, facility())[1].message.find("control point"), std::string::npos);

  const nlohmann::json j = violationsJson(v);
  EXPECT_FALSE(j["violations"][0].contains("control_point"));
  EXPECT_EQ(j["violations"][0].size(), 5u);
  EXPECT_EQ(j["violations"][1]["control_point"], 6);
  EXPECT_EQ(j["violations"][1].size(), 6u);
  EXPECT_EQ(j["violations"][2]["control_point"], 6);
  // Control point 0 is a control point.
  EXPECT_EQ(violationsJson({Violation{"p", "r", 1.0, 2.0, "m", 0}})["violations"][0]["control_point"], 0);
}

TEST(Validate, ReportsEveryViolationInPlanOrder) {
  Plan p = deliverablePlan();
  p.approval = Approval::Unapproved;
  spotAt(p, 0, 0, 0).meterset = 10.0;
  spotAt(p, 0, 0, 2).meterset = -20.0;
  spotAt(p, 0, 0, 2).x = Millimetres(150.0);
  p.beams[0].rangeShifters = {RangeShifter{0, "RS99", "ANALOG"}};
  p.beams[0].layers[1].energy = MeVPerNucleon(500.0);
  p.beams[0].layers[1].rangeShifter = "RS30";
  spotAt(p, 0, 1, 1).meterset = kNaN;
  spotAt(p, 0, 1, 3).meterset = 6e7;
  p.beams[1].number = BeamNumber(1);
  p.beams[2].machine = "GANTRY2";
  p.beams[2].layers[0].energy = MeVPerNucleon(120.0);
  p.beams[2].layers[0].spots.clear();
  const std::vector<Violation> v = validatePlan(p, facility());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"approval", "unapproved"},
      {"beams[0].range_shifters[0].id", "range-shifter-not-allowed"},
      {"beams[0].layers[0].spots[0][2]", "meterset-min"},
      {"beams[0].layers[0].spots[2][0]", "scan-field"},
      {"beams[0].layers[0].spots[2][2]", "meterset-negative"},
      {"beams[0].layers[1].energy_mev_u", "energy-range"},
      {"beams[0].layers[1].range_shifter", "range-shifter-undeclared"},
      {"beams[0].layers[1].spots[1][2]", "meterset-not-finite"},
      {"beams[0].layers[1].spots[3][2]", "meterset-max"},
      {"beams[1].number", "duplicate-beam-number"},
      {"beams[2].machine", "mixed-rooms"},
      {"beams[2].layers[0].energy_mev_u", "energy-not-in-table"},
      {"beams[2].layers[0].spots", "empty-layer"},
  };
  ASSERT_EQ(v.size(), expected.size()) << violationsJson(v).dump(2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(v[i].path, expected[i].first) << i;
    EXPECT_EQ(v[i].rule, expected[i].second) << i;
  }
}

TEST(Validate, ViolationsJsonShape) {
  EXPECT_EQ(violationsJson({}), nlohmann::json::parse(R"({"valid": true, "violations": []})"));
  Plan p = deliverablePlan();
  p.approval = Approval::Unapproved;
  spotAt(p, 0, 0, 0).meterset = 10.0;
  const nlohmann::json j = violationsJson(validatePlan(p, facility()));
  EXPECT_EQ(j.size(), 2u);
  EXPECT_EQ(j["valid"], false);
  ASSERT_EQ(j["violations"].size(), 2u);
  const nlohmann::json& first = j["violations"][0];
  EXPECT_EQ(first["rule"], "unapproved");
  EXPECT_EQ(first["path"], "approval");
  EXPECT_TRUE(first["value"].is_null());
  EXPECT_TRUE(first["limit"].is_null());
  const nlohmann::json& second = j["violations"][1];
  EXPECT_EQ(second["rule"], "meterset-min");
  EXPECT_EQ(second["path"], "beams[0].layers[0].spots[0][2]");
  EXPECT_EQ(second["value"], 10.0);
  EXPECT_EQ(second["limit"], 5000.0);
  EXPECT_TRUE(second["message"].is_string());
  EXPECT_EQ(second.size(), 5u);
}

TEST(Facility, RoomForMachine) {
  EXPECT_EQ(roomForMachine(facility(), "GANTRY1"), "gantry-1");
  EXPECT_EQ(roomForMachine(facility(), "gantry-1"), "gantry-1");
  EXPECT_EQ(roomForMachine(facility(), "GANTRY2"), "gantry-2");
  EXPECT_EQ(roomForMachine(facility(), "gantry-2"), "gantry-2");
  EXPECT_EQ(roomForMachine(facility(), "FIXED1"), "fixed-1");
  EXPECT_EQ(roomForMachine(facility(), "fixed-1"), "fixed-1");
  EXPECT_EQ(roomForMachine(facility(), "Gantry1"), std::nullopt);
  EXPECT_EQ(roomForMachine(facility(), ""), std::nullopt);
}

TEST(Facility, BuiltInNumbers) {
  const Facility& f = facility();
  ASSERT_EQ(f.rooms.size(), 3u);
  EXPECT_EQ(f.rooms[0].name, "gantry-1");
  EXPECT_EQ(f.rooms[1].name, "gantry-2");
  EXPECT_EQ(f.rooms[2].name, "fixed-1");
  EXPECT_TRUE(f.room("gantry-1")->rotating);
  EXPECT_TRUE(f.room("gantry-2")->rotating);
  EXPECT_FALSE(f.room("fixed-1")->rotating);
  EXPECT_EQ(f.room("fixed-1")->fixedGantryAngle.value(), 90.0);
  EXPECT_EQ(f.room("nowhere"), nullptr);
  const std::vector<std::string> gantryShifters{"RS20", "RS30", "RS40", "RS_3CM"};
  EXPECT_EQ(f.room("gantry-1")->allowedRangeShifters, gantryShifters);
  EXPECT_EQ(f.room("gantry-2")->allowedRangeShifters, gantryShifters);
  EXPECT_EQ(f.room("fixed-1")->allowedRangeShifters,
            (std::vector<std::string>{"RS20", "RS30", "RS40", "RS60", "RS_3CM"}));
  for (const RoomModel& r : f.rooms) {
    EXPECT_EQ(r.ions, (std::vector<IonSpecies>{kCarbon, kHelium, kOxygen, kNeon, kProton})) << r.name;
    EXPECT_EQ(r.scanFieldHalfWidthX.value(), 100.0);
    EXPECT_EQ(r.scanFieldHalfWidthY.value(), 100.0);
    EXPECT_EQ(r.maxSpotsPerLayer, 20'000u);
    EXPECT_EQ(r.positionTolerance.value(), 1.0);
    EXPECT_EQ(r.metersetTolerance, 0.03);
    EXPECT_EQ(r.metersetToleranceFloor, 0.0);
    EXPECT_EQ(r.monitorAgreement, 0.02);
  }
  struct Expect {
    IonSpecies ion;
    double eMin, eMax;
    std::uint32_t levels;
    double minParticles;
  };
  ASSERT_EQ(f.ions.size(), 5u);
  std::size_t i = 0;
  for (const Expect& e : {Expect{kCarbon, 85, 430, 255, 5000}, Expect{kHelium, 50, 220, 126, 15000},
                          Expect{kOxygen, 103.77, 430.32, 255, 4000}, Expect{kNeon, 120, 430, 229, 3000},
                          Expect{kProton, 48.12, 221.06, 255, 100000}}) {
    const IonModel* m = f.ion(e.ion);
    ASSERT_NE(m, nullptr) << ionName(e.ion);
    EXPECT_EQ(&f.ions[i++], m) << "file order";
    EXPECT_EQ(m->energy.min.value(), e.eMin);
    EXPECT_EQ(m->energy.max.value(), e.eMax);
    EXPECT_EQ(m->energyLevels, e.levels);
    EXPECT_EQ(m->minSpotParticles, e.minParticles);
    EXPECT_EQ(m->maxSpotParticles, e.minParticles * 1e4);
    EXPECT_EQ(m->minSpotMu, 0.001);
    EXPECT_EQ(m->maxSpotMu, 1000.0);
    EXPECT_FALSE(m->source.empty());
    const std::vector<MeVPerNucleon> table = energyTable(*m);
    ASSERT_EQ(table.size(), m->energyLevels);
    EXPECT_EQ(table.front().value(), e.eMin);
    EXPECT_EQ(table.back().value(), e.eMax);
  }
  // Carbon: 255 energies about 1.36 MeV/u apart, as the design says.
  const std::vector<MeVPerNucleon> carbon = energyTable(*f.ion(kCarbon));
  EXPECT_EQ(carbon[1].value(), 86.36);
  EXPECT_EQ(carbon[85].value(), 200.45);
}

TEST(Facility, NearestTableEnergy) {
  const IonModel& carbon = *facility().ion(kCarbon);
  const std::vector<MeVPerNucleon> table = energyTable(carbon);
  EXPECT_EQ(nearestTableEnergy(carbon, MeVPerNucleon(10.0)), table.front());
  EXPECT_EQ(nearestTableEnergy(carbon, MeVPerNucleon(1000.0)), table.back());
  EXPECT_EQ(nearestTableEnergy(carbon, table[100]), table[100]);
  const double justBelowMid = (table[100].value() + table[101].value()) / 2.0 - 0.01;
  EXPECT_EQ(nearestTableEnergy(carbon, MeVPerNucleon(justBelowMid)), table[100]);
  EXPECT_EQ(nearestTableEnergy(carbon, MeVPerNucleon(justBelowMid + 0.02)), table[101]);
  IonModel continuous = carbon;
  continuous.energyLevels = 0;
  EXPECT_EQ(nearestTableEnergy(continuous, MeVPerNucleon(123.456)), MeVPerNucleon(123.456));
}

}  // namespace
}  // namespace spotline::plan
