// Plans to the wire and back: every field survives, through a real encoded frame.

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <vector>

#include "spotline/messages/codec.h"
#include "spotline/plan/synth.h"
#include "spotline/runtime/plan_wire.h"

namespace spotline::runtime {
namespace {

plan::Plan roundTripThroughFrame(const plan::Plan& p) {
  messages::Encoder enc;
  toWire(p, enc.start({.source = "console"}).initLoadPlan().initPlan());
  auto frame = enc.finish();
  auto d = messages::decode(frame);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  if (!d.ok()) return {};
  return fromWire(d.value()->body().getLoadPlan().getPlan());
}

plan::Plan roundTrip(const plan::Plan& p) {
  capnp::MallocMessageBuilder b;
  auto w = b.initRoot<wire::Plan>();
  toWire(p, w);
  return fromWire(w.asReader());
}

TEST(PlanWire, SynthesizedCarbonPlanRoundTrips) {
  plan::SynthOptions o;
  o.seed = 42;
  o.targetSizeMm = 30.0;
  o.spotSpacingMm = 5.0;
  auto p = plan::synthesizePlan(o);
  ASSERT_FALSE(p.beams.empty());
  ASSERT_GT(plan::totals(p).spots, 10u);
  EXPECT_EQ(roundTrip(p), p);
  EXPECT_EQ(roundTripThroughFrame(p), p);
}

TEST(PlanWire, ManyVariantsRoundTrip) {
  struct Variant {
    plan::IonSpecies ion;
    MetersetUnit unit;
    int beams;
    int fractions;
    plan::Approval approval;
    std::uint64_t seed;
  };
  const std::vector<Variant> variants{
      {plan::kProton, MetersetUnit::MU, 2, 30, plan::Approval::Approved, 1},
      {plan::kHelium, MetersetUnit::NP, 3, 1, plan::Approval::Unapproved, 2},
      {plan::kOxygen, MetersetUnit::MU, 1, 5, plan::Approval::Rejected, 3},
      {plan::kNeon, MetersetUnit::NP, 4, 12, plan::Approval::Approved, 4},
      {plan::kCarbon, MetersetUnit::MU, 2, 1000, plan::Approval::Approved, 5},
  };
  for (const auto& v : variants) {
    plan::SynthOptions o;
    o.ion = v.ion;
    o.unit = v.unit;
    o.beams = v.beams;
    o.fractions = v.fractions;
    o.approval = v.approval;
    o.seed = v.seed;
    o.targetSizeMm = 24.0;
    o.spotSpacingMm = 6.0;
    o.patientId = "PAT-" + std::to_string(v.seed);
    auto p = plan::synthesizePlan(o);
    SCOPED_TRACE(plan::ionName(v.ion));
    ASSERT_EQ(static_cast<int>(p.beams.size()), v.beams);
    EXPECT_EQ(p.beams[0].radiation, v.ion == plan::kProton ? plan::Radiation::Proton : plan::Radiation::Ion);
    auto back = roundTripThroughFrame(p);
    EXPECT_EQ(back, p);
    EXPECT_EQ(back.approval, v.approval);
    EXPECT_EQ(back.metersetUnit, v.unit);
    EXPECT_EQ(back.fractionsPlanned, v.fractions);
  }
}

// Fields the synthesizer never varies: setup beams, repaints, couch angle, isocentre, labels.
TEST(PlanWire, HandEditedFieldsRoundTrip) {
  plan::SynthOptions o;
  o.beams = 2;
  o.targetSizeMm = 20.0;
  o.spotSpacingMm = 5.0;
  auto p = plan::synthesizePlan(o);
  p.label = "edited \xc3\xa9 label";
  p.synthetic = false;
  p.beams[0].treatment = false;
  p.beams[0].name = "SETUP";
  p.beams[1].couchAngle = Degrees(270.5);
  p.beams[1].isocentreMm = {1.25, -3.5, 1e-3};
  p.beams[1].machine = "FIXED1";
  p.beams[1].layers[0].paintings = 4;
  p.beams[1].layers[0].spots[0].meterset = 1.0 / 3.0;  // every bit must survive
  auto back = roundTripThroughFrame(p);
  EXPECT_EQ(back, p);
  EXPECT_FALSE(back.beams[0].treatment);
  EXPECT_EQ(back.beams[1].layers[0].paintings, 4);
  EXPECT_EQ(back.beams[1].isocentreMm, p.beams[1].isocentreMm);
  // And a difference is noticed: operator== is not trivially true.
  back.beams[1].layers[0].spots[0].meterset += 1e-12;
  EXPECT_NE(back, p);
}

TEST(PlanWire, EmptyPlanRoundTrips) {
  plan::Plan p;
  p.uid = PlanUid("2.25.1");
  p.patient = PatientId("P");
  EXPECT_EQ(roundTrip(p), p);
}

TEST(PlanWire, MetersetUnits) {
  EXPECT_EQ(fromWire(toWire(MetersetUnit::MU)), MetersetUnit::MU);
  EXPECT_EQ(fromWire(toWire(MetersetUnit::NP)), MetersetUnit::NP);
  EXPECT_EQ(toWire(MetersetUnit::MU), wire::MetersetUnit::MU);
  EXPECT_EQ(toWire(MetersetUnit::NP), wire::MetersetUnit::NP);
}

TEST(PlanWire, ViolationsRoundTrip) {
  std::vector<plan::Violation> v{
      {"beams[0].layers[2].spots[5][2]", "meterset-min", 0.5, 1.0, "spot below minimum"},
      {"beams[1].machine", "machine", 0.0, 0.0, "no room answers to XYZ"},
  };
  capnp::MallocMessageBuilder b;
  auto reply = b.initRoot<wire::PlanReply>();
  toWire(v, reply.initViolations(static_cast<unsigned>(v.size())));
  auto back = fromWire(reply.asReader().getViolations());
  ASSERT_EQ(back.size(), v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(back[i].path, v[i].path);
    EXPECT_EQ(back[i].rule, v[i].rule);
    EXPECT_EQ(back[i].value, v[i].value);
    EXPECT_EQ(back[i].limit, v[i].limit);
    EXPECT_EQ(back[i].message, v[i].message);
  }
}

}  // namespace
}  // namespace spotline::runtime
