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
  EXPECT_TRUE(validatePlan(testing::validMixedPlan(), facility()).empty());
}

TEST(Validate, EnergyBelowAndAboveTheIonRange) {
  Plan p = testing::validMixedPlan();
  p.beams[0].layers[1].energy = MeVPerNucleon(84.9);
  expectOnly(p, rules::kEnergyRange, "beams[0].layers[1].energy_mev_u", 84.9, 85.0,
             "beam 1 (\"Field 1\"), layer 2 (84.9 MeV/u): energy 84.9 MeV/u is below the carbon "
             "range 85-430 MeV/u");
  p.beams[0].layers[1].energy = MeVPerNucleon(430.5);
  expectOnly(p, rules::kEnergyRange, "beams[0].layers[1].energy_mev_u", 430.5, 430.0, "above");
  // Protons have their own range: 230 MeV is fine for carbon but not for protons.
  p = testing::validMixedPlan();
  p.beams[2].layers[0].energy = MeVPerNucleon(230.0);
  expectOnly(p, rules::kEnergyRange, "beams[2].layers[0].energy_mev_u", 230.0, 221.0, "proton");
  // The limits themselves are deliverable; NaN is not.
  p = testing::validMixedPlan();
  p.beams[0].layers[0].energy = MeVPerNucleon(430.0);
  p.beams[0].layers[1].energy = MeVPerNucleon(85.0);
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  p.beams[0].layers[1].energy = MeVPerNucleon(kNaN);
  expectOnly(p, rules::kEnergyRange, "beams[0].layers[1].energy_mev_u", kNaN, 85.0, "energy");
}

TEST(Validate, SpotOutsideTheScanField) {
  Plan p = testing::validMixedPlan();
  spotAt(p, 0, 1, 2).x = Millimetres(100.5);
  expectOnly(p, rules::kScanField, "beams[0].layers[1].spots[2][0]", 100.5, 100.0,
             "layer 2 (200.5 MeV/u), spot 3: x = 100.5 mm is outside the scan field");
  p = testing::validMixedPlan();
  spotAt(p, 2, 0, 1).y = Millimetres(-101.0);
  expectOnly(p, rules::kScanField, "beams[2].layers[0].spots[1][1]", -101.0, 100.0, "y = -101");
  p = testing::validMixedPlan();
  spotAt(p, 0, 0, 0).x = Millimetres(-100.0);  // on the edge: deliverable
  spotAt(p, 0, 0, 0).y = Millimetres(100.0);
  EXPECT_TRUE(validatePlan(p, facility()).empty());
}

TEST(Validate, MetersetBelowTheMinimum) {
  Plan p = testing::validMixedPlan();
  spotAt(p, 0, 1, 3).meterset = 4999.0;
  expectOnly(p, rules::kMetersetMin, "beams[0].layers[1].spots[3][2]", 4999.0, 5000.0,
             "spot 4: meterset 4999 NP is below the minimum 5000 NP for carbon");
  spotAt(p, 0, 1, 3).meterset = 5000.0;  // the minimum itself is deliverable
  EXPECT_TRUE(validatePlan(p, facility()).empty());
  // Protons need more particles per spot than carbon.
  p = testing::validMixedPlan();
  spotAt(p, 2, 0, 0).meterset = 150'000.0;  // two paintings: 75,000 each
  expectOnly(p, rules::kMetersetMin, "beams[2].layers[0].spots[0][2]", 75'000.0, 100'000.0,
             "over 2 paintings is 75000 NP per painting");
}

TEST(Validate, MetersetMinimumAppliesToEachPainting) {
  Plan p = testing::validMixedPlan();
  p.beams[0].layers[1].paintings = 3;
  spotAt(p, 0, 1, 0).meterset = 12'000.0;
  expectOnly(p, rules::kMetersetMin, "beams[0].layers[1].spots[0][2]", 4000.0, 5000.0,
             "meterset 12000 NP over 3 paintings is 4000 NP per painting");
}

TEST(Validate, MetersetAboveTheMaximum) {
  Plan p = testing::validMixedPlan();
  spotAt(p, 0, 0, 1).meterset = 5.0e7 + 1.0;
  expectOnly(p, rules::kMetersetMax, "beams[0].layers[0].spots[1][2]", 5.0e7 + 1.0, 5.0e7,
             "above the maximum 50000000 NP for carbon");
}

TEST(Validate, MetersetLimitsInMonitorUnits) {
  Plan p = testing::validMixedPlan();
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
  EXPECT_DOUBLE_EQ(v[0].limit, 0.001);
  EXPECT_NE(v[0].message.find("0.0009 MU"), std::string::npos) << v[0].message;
  EXPECT_EQ(v[1].rule, rules::kMetersetMax);
  EXPECT_EQ(v[1].path, "beams[0].layers[1].spots[0][2]");
  EXPECT_DOUBLE_EQ(v[1].limit, 1000.0);
}

TEST(Validate, MetersetNotFinite) {
  Plan p = testing::validMixedPlan();
  spotAt(p, 0, 1, 1).meterset = kNaN;
  expectOnly(p, rules::kMetersetNotFinite, "beams[0].layers[1].spots[1][2]", kNaN, kNaN, "not a finite number");
  spotAt(p, 0, 1, 1).meterset = std::numeric_limits<double>::infinity();
  expectOnly(p, rules::kMetersetNotFinite, "beams[0].layers[1].spots[1][2]", std::numeric_limits<double>::infinity(),
             kNaN, "inf");
}

TEST(Validate, UnknownMachine) {
  Plan p = testing::validMixedPlan();
  p.beams[2].machine = "GANTRY9";
  expectOnly(p, rules::kUnknownMachine, "beams[2].machine", kNaN, kNaN,
             "beam 3 (\"Field 3\"): no treatment room answers to machine \"GANTRY9\"");
  // Names match exactly: "gantry1" is neither "GANTRY1" nor "gantry-1".
  p.beams[2].machine = "gantry1";
  expectOnly(p, rules::kUnknownMachine, "beams[2].machine", kNaN, kNaN, "\"gantry1\"");
}

TEST(Validate, UnknownIon) {
  Plan p = testing::validMixedPlan();
  p.beams[0].ion = IonSpecies{7, 14, 7};
  expectOnly(p, rules::kUnknownIon, "beams[0].ion", 7.0, kNaN,
             "the facility does not accelerate ion(z=7,a=14,charge=7)");
}

TEST(Validate, IonNotInRoom) {
  Facility f = builtInFacility();
  f.rooms[1].ions = {kCarbon};  // gantry-2 without helium
  Plan p = testing::validMixedPlan();
  p.beams.resize(1);
  p.beams[0].machine = "GANTRY2";
  p.beams[0].ion = kHelium;
  p.beams[0].layers[0].energy = MeVPerNucleon(150.0);
  p.beams[0].layers[1].energy = MeVPerNucleon(120.0);
  for (Layer& l : p.beams[0].layers) {
    for (Spot& s : l.spots) s.meterset = 1e6;
  }
  expectOnly(p, rules::kIonNotInRoom, "beams[0].ion", 2.0, kNaN, "room gantry-2 cannot receive helium", f);
}

TEST(Validate, GantryAngleInTheFixedRoom) {
  Plan p = testing::validMixedPlan();
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
}

TEST(Validate, TreatmentBeamsInDifferentRooms) {
  Plan p = testing::validMixedPlan();
  p.beams[2].machine = "GANTRY2";
  expectOnly(p, rules::kMixedRooms, "beams[2].machine", kNaN, kNaN,
             "is room gantry-2, but beam 1 (\"Field 1\") is for room gantry-1");
}

TEST(Validate, TooManySpotsInALayer) {
  Plan p = testing::validMixedPlan();
  std::vector<Spot>& spots = p.beams[0].layers[0].spots;
  spots.assign(20'001, Spot{Millimetres(0.0), Millimetres(0.0), 1e6});
  expectOnly(p, rules::kTooManySpots, "beams[0].layers[0].spots", 20'001.0, 20'000.0,
             "20001 spots, more than the 20000");
  spots.pop_back();
  EXPECT_TRUE(validatePlan(p, facility()).empty());
}

TEST(Validate, EmptyLayerAndEmptyBeam) {
  Plan p = testing::validMixedPlan();
  p.beams[0].layers[1].spots.clear();
  expectOnly(p, rules::kEmptyLayer, "beams[0].layers[1].spots", 0.0, 1.0, "layer has no spots");
  p = testing::validMixedPlan();
  p.beams[2].layers.clear();
  expectOnly(p, rules::kEmptyBeam, "beams[2].layers", 0.0, 1.0, "a treatment beam without energy layers");
}

TEST(Validate, NoTreatmentBeam) {
  Plan p = testing::validMixedPlan();
  p.beams = {p.beams[1]};  // the setup beam only
  expectOnly(p, rules::kNoTreatmentBeam, "beams", 0.0, 1.0, "no treatment beam");
  p.beams.clear();
  expectOnly(p, rules::kNoTreatmentBeam, "beams", 0.0, 1.0, "(0 beams");
}

TEST(Validate, UnapprovedAndRejectedPlans) {
  Plan p = testing::validMixedPlan();
  p.approval = Approval::Unapproved;
  expectOnly(p, rules::kUnapproved, "approval", kNaN, kNaN, "plan is UNAPPROVED");
  p.approval = Approval::Rejected;
  expectOnly(p, rules::kUnapproved, "approval", kNaN, kNaN, "plan is REJECTED");
}

TEST(Validate, SetupBeamsAreNotChecked) {
  Plan p = testing::validMixedPlan();
  Beam& setup = p.beams[1];
  setup.machine = "NOWHERE";
  setup.ion = IonSpecies{7, 14, 7};
  setup.layers[0].energy = MeVPerNucleon(1000.0);
  setup.layers[0].spots[0].meterset = 1.0;
  setup.layers.push_back(Layer{});
  EXPECT_TRUE(validatePlan(p, facility()).empty());
}

TEST(Validate, ReportsEveryViolationInPlanOrder) {
  Plan p = testing::validMixedPlan();
  p.approval = Approval::Unapproved;
  spotAt(p, 0, 0, 0).meterset = 10.0;
  spotAt(p, 0, 0, 2).meterset = 20.0;
  spotAt(p, 0, 0, 2).x = Millimetres(150.0);
  p.beams[0].layers[1].energy = MeVPerNucleon(500.0);
  spotAt(p, 0, 1, 3).meterset = 6e7;
  p.beams[2].machine = "GANTRY2";
  p.beams[2].layers[0].spots.clear();
  const std::vector<Violation> v = validatePlan(p, facility());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"approval", "unapproved"},
      {"beams[0].layers[0].spots[0][2]", "meterset-min"},
      {"beams[0].layers[0].spots[2][0]", "scan-field"},
      {"beams[0].layers[0].spots[2][2]", "meterset-min"},
      {"beams[0].layers[1].energy_mev_u", "energy-range"},
      {"beams[0].layers[1].spots[3][2]", "meterset-max"},
      {"beams[2].machine", "mixed-rooms"},
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
  Plan p = testing::validMixedPlan();
  p.approval = Approval::Unapproved;
  spotAt(p, 0, 0, 0).meterset = 10.0;
  const nlohmann::json j = violationsJson(validatePlan(p, facility()));
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
  EXPECT_TRUE(f.room("gantry-1")->rotating);
  EXPECT_TRUE(f.room("gantry-2")->rotating);
  EXPECT_FALSE(f.room("fixed-1")->rotating);
  EXPECT_EQ(f.room("nowhere"), nullptr);
  for (const RoomModel& r : f.rooms) {
    EXPECT_EQ(r.ions.size(), 5u) << r.name;
    EXPECT_DOUBLE_EQ(r.positionTolerance.value(), 1.0);
    EXPECT_DOUBLE_EQ(r.metersetTolerance, 0.03);
    EXPECT_DOUBLE_EQ(r.monitorAgreement, 0.02);
  }
  struct Expect {
    IonSpecies ion;
    double eMin, eMax, minParticles;
  };
  for (const Expect& e :
       {Expect{kCarbon, 85, 430, 5000}, Expect{kHelium, 50, 220, 15000}, Expect{kOxygen, 100, 430, 4000},
        Expect{kNeon, 120, 430, 3000}, Expect{kProton, 48, 221, 100000}}) {
    const IonModel* m = f.ion(e.ion);
    ASSERT_NE(m, nullptr) << ionName(e.ion);
    EXPECT_DOUBLE_EQ(m->energy.min.value(), e.eMin);
    EXPECT_DOUBLE_EQ(m->energy.max.value(), e.eMax);
    EXPECT_DOUBLE_EQ(m->minSpotParticles, e.minParticles);
    EXPECT_DOUBLE_EQ(m->maxSpotParticles, e.minParticles * 1e4);
    EXPECT_DOUBLE_EQ(m->minSpotMu, 0.001);
    EXPECT_DOUBLE_EQ(m->maxSpotMu, 1000.0);
    // About 1.36 MeV/u between table energies for every ion.
    const std::vector<MeVPerNucleon> table = energyTable(*m);
    ASSERT_EQ(table.size(), m->energyLevels);
    EXPECT_DOUBLE_EQ(table.front().value(), e.eMin);
    EXPECT_DOUBLE_EQ(table.back().value(), e.eMax);
    const double spacing = (e.eMax - e.eMin) / static_cast<double>(table.size() - 1);
    EXPECT_NEAR(spacing, 1.36, 0.01) << ionName(e.ion);
  }
  EXPECT_EQ(f.ion(kCarbon)->energyLevels, 255u);
  EXPECT_DOUBLE_EQ(f.scanFieldHalfWidth.value(), 100.0);
  EXPECT_EQ(f.maxSpotsPerLayer, 20'000u);
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
