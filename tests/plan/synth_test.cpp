#include "spotline/plan/synth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "spotline/plan/json_format.h"
#include "spotline/plan/validate.h"

namespace spotline::plan {
namespace {

double layerMean(const Layer& layer) {
  double sum = 0.0;
  for (const Spot& s : layer.spots) sum += s.meterset;
  return sum / static_cast<double>(layer.spots.size());
}

TEST(RangeEnergy, BraggKleemanNumbers) {
  // Protons: NIST PSTAR CSDA range in water is 77.2 mm at 100 MeV and 259.6 mm at 200 MeV.
  EXPECT_NEAR(rangeInWaterMm(kProton, MeVPerNucleon(100.0)), 77.2, 0.5);
  EXPECT_NEAR(rangeInWaterMm(kProton, MeVPerNucleon(200.0)), 259.6, 2.0);
  // Range scaling with A/Z^2 at equal energy per nucleon.
  const double p = rangeInWaterMm(kProton, MeVPerNucleon(300.0));
  EXPECT_DOUBLE_EQ(rangeInWaterMm(kCarbon, MeVPerNucleon(300.0)), p * 12.0 / 36.0);
  EXPECT_DOUBLE_EQ(rangeInWaterMm(kHelium, MeVPerNucleon(300.0)), p);
  EXPECT_DOUBLE_EQ(rangeInWaterMm(kOxygen, MeVPerNucleon(300.0)), p * 16.0 / 64.0);
  EXPECT_DOUBLE_EQ(rangeInWaterMm(kNeon, MeVPerNucleon(300.0)), p * 20.0 / 100.0);
  // Carbon at 430 MeV/u reaches about 30 cm; the inverse is exact.
  EXPECT_NEAR(rangeInWaterMm(kCarbon, MeVPerNucleon(430.0)), 330.0, 10.0);
  EXPECT_NEAR(energyForRangeMm(kCarbon, rangeInWaterMm(kCarbon, MeVPerNucleon(250.0))).value(), 250.0, 1e-9);
}

TEST(Synth, SameOptionsGiveByteIdenticalJson) {
  SynthOptions o;
  o.ion = kOxygen;
  o.targetSizeMm = 30.0;
  o.depthMm = 90.0;
  o.seed = 42;
  const std::string a = writePlanJson(synthesizePlan(o));
  const std::string b = writePlanJson(synthesizePlan(o));
  EXPECT_EQ(a, b);
}

TEST(Synth, SeedChangesMetersetsButNotGeometry) {
  SynthOptions o;
  o.targetSizeMm = 21.0;
  const Plan a = synthesizePlan(o);
  o.seed = 2;
  const Plan b = synthesizePlan(o);
  EXPECT_NE(a.uid, b.uid);
  ASSERT_EQ(a.beams[0].layers.size(), b.beams[0].layers.size());
  std::size_t differing = 0;
  for (std::size_t l = 0; l < a.beams[0].layers.size(); ++l) {
    const Layer& la = a.beams[0].layers[l];
    const Layer& lb = b.beams[0].layers[l];
    EXPECT_EQ(la.energy, lb.energy);
    ASSERT_EQ(la.spots.size(), lb.spots.size());
    for (std::size_t s = 0; s < la.spots.size(); ++s) {
      EXPECT_EQ(la.spots[s].x, lb.spots[s].x);
      EXPECT_EQ(la.spots[s].y, lb.spots[s].y);
      differing += la.spots[s].meterset != lb.spots[s].meterset ? 1 : 0;
    }
  }
  EXPECT_GT(differing, a.beams[0].layers.size() * a.beams[0].layers[0].spots.size() * 9 / 10);
}

TEST(Synth, PlanIdentityAndMarking) {
  SynthOptions o;
  const Plan p = synthesizePlan(o);
  EXPECT_TRUE(p.synthetic);
  EXPECT_EQ(p.approval, Approval::Approved);
  EXPECT_EQ(p.patient.value(), "SYNTHETIC");
  EXPECT_EQ(p.label, "synthetic carbon");
  EXPECT_EQ(p.fractionsPlanned, 1);
  const std::string& uid = p.uid.value();
  ASSERT_EQ(uid.rfind("2.25.", 0), 0u);
  const std::string digits = uid.substr(5);
  EXPECT_EQ(digits.find_first_not_of("0123456789"), std::string::npos) << uid;
  EXPECT_NE(digits.front(), '0');
  EXPECT_LE(uid.size(), 64u);  // DICOM UI maximum
  EXPECT_EQ(synthesizePlan(o).uid, p.uid);
  // Any option, not only the seed, derives a different UID.
  SynthOptions other = o;
  other.label = "another";
  EXPECT_NE(synthesizePlan(other).uid, p.uid);
  o.planUid = "1.2.3.4";
  o.patientId = "PHANTOM-7";
  o.label = "water cube";
  o.fractions = 12;
  o.approval = Approval::Unapproved;
  const Plan q = synthesizePlan(o);
  EXPECT_EQ(q.uid.value(), "1.2.3.4");
  EXPECT_EQ(q.patient.value(), "PHANTOM-7");
  EXPECT_EQ(q.label, "water cube");
  EXPECT_EQ(q.fractionsPlanned, 12);
  EXPECT_EQ(q.approval, Approval::Unapproved);
}

TEST(Synth, SpotsOnACentredSerpentineGrid) {
  const Plan p = synthesizePlan(SynthOptions{});  // 60 mm cube, 3 mm spacing
  ASSERT_EQ(p.beams.size(), 1u);
  const Beam& b = p.beams[0];
  EXPECT_EQ(b.machine, "GANTRY1");
  EXPECT_EQ(b.ion, kCarbon);
  EXPECT_EQ(b.radiation, Radiation::Ion);
  ASSERT_EQ(b.layers.size(), 21u);
  for (const Layer& layer : b.layers) {
    ASSERT_EQ(layer.spots.size(), 21u * 21u);
    EXPECT_EQ(layer.paintings, 1);
  }
  const std::vector<Spot>& s = b.layers[0].spots;
  EXPECT_EQ(s[0].x.value(), -30.0);
  EXPECT_EQ(s[0].y.value(), -30.0);
  EXPECT_EQ(s[1].x.value(), -27.0);
  EXPECT_EQ(s[20].x.value(), 30.0);
  EXPECT_EQ(s[21].x.value(), 30.0);  // second row runs backwards
  EXPECT_EQ(s[21].y.value(), -27.0);
  EXPECT_EQ(s[22].x.value(), 27.0);
  EXPECT_EQ(s.back().x.value(), 30.0);  // 21 rows: the last one runs forwards
  EXPECT_EQ(s.back().y.value(), 30.0);
  for (std::size_t i = 1; i < s.size(); ++i) {
    const double step = std::abs(s[i].x.value() - s[i - 1].x.value()) + std::abs(s[i].y.value() - s[i - 1].y.value());
    EXPECT_DOUBLE_EQ(step, 3.0) << i;  // neighbours only: no jumps across the field
  }
}

TEST(Synth, EnergiesFromTheTableCoverTheTargetDepth) {
  SynthOptions o;
  const Facility f = builtInFacility();
  const IonModel& carbon = *f.ion(kCarbon);
  const std::vector<MeVPerNucleon> table = energyTable(carbon);
  const Plan p = synthesizePlan(o);
  const std::vector<Layer>& layers = p.beams[0].layers;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    EXPECT_TRUE(std::binary_search(table.begin(), table.end(), layers[l].energy)) << l;
    if (l > 0) {
      EXPECT_LT(layers[l].energy, layers[l - 1].energy);  // distal first
    }
  }
  // Half a table step is at most ~0.7 MeV/u, i.e. well under a millimetre of range here.
  EXPECT_NEAR(rangeInWaterMm(kCarbon, layers.front().energy), 130.0, 1.0);
  EXPECT_NEAR(rangeInWaterMm(kCarbon, layers.back().energy), 70.0, 1.0);
}

TEST(Synth, DeepestLayerGetsTheMostMeterset) {
  const Plan p = synthesizePlan(SynthOptions{});
  const std::vector<Layer>& layers = p.beams[0].layers;
  for (std::size_t l = 1; l < layers.size(); ++l) {
    EXPECT_LT(layerMean(layers[l]), layerMean(layers[l - 1])) << l;
  }
  EXPECT_NEAR(layerMean(layers.back()) / layerMean(layers.front()), 0.35, 0.01);
  // Distal spot meterset: 200 x carbon's minimum (5000) at the reference 3 mm spacing.
  EXPECT_NEAR(layerMean(layers.front()), 1.0e6, 1.0e4);
}

TEST(Synth, SpotVariationIsWithinTenPercent) {
  const Plan p = synthesizePlan(SynthOptions{});
  const std::vector<Layer>& layers = p.beams[0].layers;
  double lowest = 2.0;
  double highest = 0.0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const double nominal = 1.0e6 * (1.0 - 0.65 * static_cast<double>(l) / 20.0);
    for (const Spot& s : layers[l].spots) {
      lowest = std::min(lowest, s.meterset / nominal);
      highest = std::max(highest, s.meterset / nominal);
      EXPECT_EQ(s.meterset, std::round(s.meterset));  // whole particles
    }
  }
  EXPECT_GE(lowest, 0.9 - 1e-6);
  EXPECT_LE(highest, 1.1 + 1e-6);
  EXPECT_LT(lowest, 0.91);  // the variation is really used
  EXPECT_GT(highest, 1.09);
}

TEST(Synth, EveryIonGivesADeliverablePlan) {
  const Facility f = builtInFacility();
  for (IonSpecies ion : {kCarbon, kHelium, kOxygen, kNeon, kProton}) {
    for (MetersetUnit unit : {MetersetUnit::NP, MetersetUnit::MU}) {
      SynthOptions o;
      o.ion = ion;
      o.targetSizeMm = 30.0;
      o.depthMm = 80.0;
      o.unit = unit;
      const Plan p = synthesizePlan(o, f);
      EXPECT_EQ(p.beams[0].radiation, ion == kProton ? Radiation::Proton : Radiation::Ion);
      const auto v = validatePlan(p, f);
      EXPECT_TRUE(v.empty()) << ionName(ion) << " " << toString(unit) << ": " << violationsJson(v).dump(2);
      auto parsed = parsePlanJson(writePlanJson(p), "synth.json");
      ASSERT_TRUE(parsed.ok()) << parsed.error().message;
      EXPECT_EQ(parsed.value(), p);
    }
  }
}

TEST(Synth, MetersetsAreClampedIntoTheIonLimits) {
  SynthOptions o;
  o.targetSizeMm = 10.0;
  o.spotSpacingMm = 0.5;  // tiny spots: the model asks for fewer particles than the minimum
  o.beams = 10;
  const Plan p = synthesizePlan(o);
  double lowest = 1e300;
  for (const Beam& b : p.beams) {
    for (const Layer& l : b.layers) {
      for (const Spot& s : l.spots) lowest = std::min(lowest, s.meterset);
    }
  }
  EXPECT_EQ(lowest, 5000.0);
  EXPECT_TRUE(validatePlan(p, builtInFacility()).empty());
}

TEST(Synth, MonitorUnitsAreParticlesOverTenMillion) {
  SynthOptions o;
  o.targetSizeMm = 12.0;
  const Plan np = synthesizePlan(o);
  o.unit = MetersetUnit::MU;
  const Plan mu = synthesizePlan(o);
  EXPECT_EQ(mu.metersetUnit, MetersetUnit::MU);
  const Spot& a = np.beams[0].layers[0].spots[3];
  const Spot& b = mu.beams[0].layers[0].spots[3];
  EXPECT_NEAR(b.meterset, a.meterset / 1e7, 1e-4);
  // Rounded to 0.0001 MU, then to the nearest float (DICOM FL): within half a float ulp of it.
  const double decimal = std::round(b.meterset * 1e4) / 1e4;
  EXPECT_EQ(b.meterset, static_cast<double>(static_cast<float>(decimal)));
}

TEST(Synth, SeveralBeamsAreSpreadAroundThePatient) {
  SynthOptions o;
  o.targetSizeMm = 12.0;
  o.beams = 3;
  o.gantryAngle = 30.0;
  const Plan p = synthesizePlan(o);
  ASSERT_EQ(p.beams.size(), 3u);
  EXPECT_EQ(p.beams[0].gantryAngle.value(), 30.0);
  EXPECT_EQ(p.beams[1].gantryAngle.value(), 150.0);
  EXPECT_EQ(p.beams[2].gantryAngle.value(), 270.0);
  EXPECT_EQ(p.beams[2].number.value(), 3u);
  EXPECT_EQ(p.beams[2].name, "Field 3");
  // Each beam gives a third of the dose.
  o.beams = 1;
  const Plan single = synthesizePlan(o);
  EXPECT_NEAR(beamMeterset(p.beams[0]) / beamMeterset(single.beams[0]), 1.0 / 3.0, 0.01);
  // In the fixed room the couch turns instead.
  o.beams = 2;
  o.machine = "FIXED1";
  o.gantryAngle = 90.0;
  const Plan fixed = synthesizePlan(o);
  EXPECT_EQ(fixed.beams[1].gantryAngle.value(), 90.0);
  EXPECT_EQ(fixed.beams[0].couchAngle.value(), 0.0);
  EXPECT_EQ(fixed.beams[1].couchAngle.value(), 180.0);
  EXPECT_TRUE(validatePlan(fixed, builtInFacility()).empty());
}

TEST(Synth, RefusesOptionsThatMakeNoSense) {
  const Facility f = builtInFacility();
  struct Case {
    const char* name;
    void (*change)(SynthOptions&);
    const char* message;
  };
  const Case cases[] = {
      {"size", [](SynthOptions& o) { o.targetSizeMm = 0.0; }, "target size must be a positive"},
      {"spacing", [](SynthOptions& o) { o.spotSpacingMm = -1.0; }, "spot spacing must be"},
      {"shallow", [](SynthOptions& o) { o.depthMm = 20.0; }, "depth > size/2"},
      {"deep", [](SynthOptions& o) { o.depthMm = 400.0; }, "is deeper than carbon reaches"},
      {"too shallow for neon",
       [](SynthOptions& o) {
         o.ion = kNeon;
         o.depthMm = 32.0;
       },
       "is shallower than neon reaches"},
      {"fixed room", [](SynthOptions& o) { o.machine = "FIXED1"; }, "the gantry angle must be 90"},
      {"machine", [](SynthOptions& o) { o.machine = "GANTRY3"; }, "no treatment room answers"},
      {"beams", [](SynthOptions& o) { o.beams = 0; }, "beams must be"},
      {"ion",
       [](SynthOptions& o) {
         o.ion = IonSpecies{7, 14, 7};
       },
       "does not accelerate"},
      {"field",
       [](SynthOptions& o) {
         o.targetSizeMm = 210.0;
         o.depthMm = 200.0;
       },
       "does not fit the scan field"},
      {"gantry", [](SynthOptions& o) { o.gantryAngle = 360.0; }, "gantry angle must be in"},
  };
  for (const Case& c : cases) {
    SynthOptions o;
    c.change(o);
    const auto problem = checkSynthOptions(o, f);
    ASSERT_TRUE(problem.has_value()) << c.name;
    EXPECT_NE(problem->find(c.message), std::string::npos) << c.name << ": " << *problem;
    EXPECT_THROW(synthesizePlan(o, f), std::invalid_argument) << c.name;
  }
  EXPECT_EQ(checkSynthOptions(SynthOptions{}, f), std::nullopt);
}

TEST(Synth, UsesTheLimitsOfTheRoomItsMachinePicks) {
  Facility f = builtInFacility();
  const auto room = [&f](std::string_view name) -> RoomModel& {
    return *std::find_if(f.rooms.begin(), f.rooms.end(), [&](const RoomModel& r) { return r.name == name; });
  };
  room("fixed-1").fixedGantryAngle = Degrees(270.0);
  RoomModel& g2 = room("gantry-2");
  g2.scanFieldHalfWidthY = Millimetres(20.0);
  g2.maxSpotsPerLayer = 100;
  SynthOptions o;
  o.machine = "FIXED1";
  o.gantryAngle = 270.0;
  EXPECT_EQ(checkSynthOptions(o, f), std::nullopt) << "this fixed line is horizontal the other way";
  o.gantryAngle = 90.0;
  EXPECT_NE(checkSynthOptions(o, f).value_or("").find("the gantry angle must be 270"), std::string::npos);
  o = SynthOptions{};  // 60 mm cube, 3 mm: 21 x 21 = 441 spots per layer, +/-30 mm
  EXPECT_EQ(checkSynthOptions(o, f), std::nullopt) << "gantry-1 keeps its own limits";
  o.machine = "GANTRY2";
  EXPECT_NE(checkSynthOptions(o, f).value_or("").find("scan field of room gantry-2 (+/-20 mm)"), std::string::npos);
  o.targetSizeMm = 36.0;  // +/-18 mm fits; 13 x 13 = 169 spots per layer do not
  EXPECT_NE(checkSynthOptions(o, f).value_or("").find("169 spots per layer, more than room gantry-2's 100"),
            std::string::npos);
}

}  // namespace
}  // namespace spotline::plan
