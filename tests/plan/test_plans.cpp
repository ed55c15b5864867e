#include "test_plans.h"

namespace spotline::plan::testing {

namespace {
Spot spot(double x, double y, double meterset) {
  return Spot{Millimetres(x), Millimetres(y), meterset};
}
}  // namespace

Plan validMixedPlan() {
  Plan p;
  p.uid = PlanUid("1.2.826.0.1.3680043.8.498.1");
  p.patient = PatientId("PAT-001");
  p.label = "test plan";
  p.approval = Approval::Approved;
  p.metersetUnit = MetersetUnit::NP;
  p.fractionsPlanned = 20;
  p.synthetic = false;

  Beam carbon;
  carbon.number = BeamNumber(1);
  carbon.name = "Field 1";
  carbon.machine = "GANTRY1";
  carbon.treatment = true;
  carbon.radiation = Radiation::Ion;
  carbon.ion = kCarbon;
  carbon.gantryAngle = Degrees(45.0);
  carbon.couchAngle = Degrees(10.0);
  carbon.isocentreMm = {1.5, -2.25, 100.0};
  carbon.layers = {
      Layer{MeVPerNucleon(250.12), 1, {spot(-3.0, -3.0, 1.0e6), spot(0.0, -3.0, 1.1e6), spot(3.0, -3.0, 0.9e6)}},
      Layer{MeVPerNucleon(200.5),
            1,
            {spot(-3.0, 0.0, 5.0e5), spot(0.0, 0.0, 6.0e5), spot(3.0, 0.0, 7.0e5), spot(3.0, 3.0, 8.0e5)}},
  };

  Beam setup;
  setup.number = BeamNumber(2);
  setup.name = "Setup";
  setup.machine = "GANTRY1";
  setup.treatment = false;
  setup.radiation = Radiation::Ion;
  setup.ion = kCarbon;
  setup.gantryAngle = Degrees(0.0);
  setup.layers = {Layer{MeVPerNucleon(150.0), 1, {spot(0.0, 0.0, 9.0e6), spot(1.0, 0.0, 9.0e6)}}};

  Beam proton;
  proton.number = BeamNumber(3);
  proton.name = "Field 3";
  proton.machine = "gantry-1";
  proton.treatment = true;
  proton.radiation = Radiation::Proton;
  proton.ion = kProton;
  proton.gantryAngle = Degrees(270.0);
  proton.layers = {Layer{MeVPerNucleon(120.0), 2, {spot(10.0, 10.0, 2.0e7), spot(12.0, 10.0, 3.0e7)}}};

  p.beams = {carbon, setup, proton};
  return p;
}

Plan awkwardPlan() {
  Plan p;
  p.uid = PlanUid("2.25.1234567890");
  p.patient = PatientId("P\xc3\xa4tient \"quoted\" \\ back");
  p.label =
      "Sch\xc3\xa4"
      "del \xe2\x80\x93 boost\nsecond line\ttab";
  p.approval = Approval::Rejected;
  p.metersetUnit = MetersetUnit::MU;
  p.fractionsPlanned = 30;
  p.synthetic = true;
  Beam b;
  b.number = BeamNumber(4000000000u);
  b.name = "";
  b.machine = "FIXED1";
  b.treatment = true;
  b.radiation = Radiation::Ion;
  b.ion = IonSpecies{8, 16, 7};  // a charge state other than fully stripped
  b.gantryAngle = Degrees(359.99999999999994);
  b.couchAngle = Degrees(1.0 / 3.0);
  b.isocentreMm = {-0.1, 1e-300, 12345678.9};
  b.layers = {
      Layer{MeVPerNucleon(100.0 + 1.0 / 3.0),
            7,
            {spot(-99.999, 0.1 + 0.2, 0.001), spot(1e-7, -1e-7, 123.456789012345678), spot(-0.0, 0.0, 0.0)}},
      Layer{MeVPerNucleon(430.0), 1, {}},
  };
  p.beams = {b};
  return p;
}

}  // namespace spotline::plan::testing
