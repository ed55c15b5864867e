// qaCheckSpot: each check fires just past its limit and not at it; a NaN never passes.

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "spotline/runtime/qa_service.h"

namespace spotline::runtime {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Tolerances chosen to be exact in binary so that "at the limit" is exactly the limit.
plan::RoomModel room() {
  plan::RoomModel r;
  r.name = "gantry-1";
  r.positionTolerance = Millimetres(1.0);
  r.metersetTolerance = 0.25;
  r.metersetToleranceFloor = 5.0;
  r.monitorAgreement = 0.125;
  return r;
}

struct SpotValues {
  double planned = 1000.0;
  double target = -1.0;  // < 0: the planned meterset
  bool partial = false;
  double delivered = 1000.0;
  double secondary = 1000.0;
  double xPlanned = 10.0, yPlanned = -20.0;
  double xMeasured = 10.0, yMeasured = -20.0;
};

std::vector<QaFinding> check(const SpotValues& v, const plan::RoomModel& r = room()) {
  capnp::MallocMessageBuilder b;
  auto s = b.initRoot<wire::SpotDelivered>();
  s.setFractionId("F");
  s.setPlanned(v.planned);
  s.setTarget(v.target < 0 ? v.planned : v.target);
  s.setPartial(v.partial);
  s.setDelivered(v.delivered);
  s.setSecondary(v.secondary);
  s.setXPlannedMm(v.xPlanned);
  s.setYPlannedMm(v.yPlanned);
  s.setXMeasuredMm(v.xMeasured);
  s.setYMeasuredMm(v.yMeasured);
  return qaCheckSpot(s.asReader(), r);
}

bool has(const std::vector<QaFinding>& f, wire::QaCheck c) {
  for (const auto& x : f) {
    if (x.check == c) return true;
  }
  return false;
}
const QaFinding* find(const std::vector<QaFinding>& f, wire::QaCheck c) {
  for (const auto& x : f) {
    if (x.check == c) return &x;
  }
  return nullptr;
}

TEST(QaCheckSpot, PerfectSpotPasses) {
  EXPECT_TRUE(check({}).empty());
}

TEST(QaCheckSpot, PositionAtToleranceIsAcceptedJustBeyondIsNot) {
  const double eps = std::ldexp(1.0, -30);
  EXPECT_TRUE(check({.xMeasured = 11.0}).empty());
  EXPECT_TRUE(check({.xMeasured = 9.0}).empty());
  EXPECT_TRUE(check({.yMeasured = -21.0}).empty());
  EXPECT_TRUE(check({.yMeasured = -19.0}).empty());
  EXPECT_TRUE(check({.xMeasured = 11.0, .yMeasured = -19.0}).empty());  // per axis, not Euclidean

  auto fx = check({.xMeasured = 11.0 + eps});
  ASSERT_EQ(fx.size(), 1u);
  EXPECT_EQ(fx[0].check, wire::QaCheck::SPOT_POSITION);
  EXPECT_DOUBLE_EQ(fx[0].value, 1.0 + eps);
  EXPECT_EQ(fx[0].limit, 1.0);

  auto fy = check({.yMeasured = -21.0 - eps});
  ASSERT_EQ(fy.size(), 1u);
  EXPECT_EQ(fy[0].check, wire::QaCheck::SPOT_POSITION);

  // The larger deviation is reported.
  auto both = check({.xMeasured = 12.0, .yMeasured = -23.0});
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0].value, 3.0);
}

TEST(QaCheckSpot, MetersetRelativeToleranceAtAndBeyond) {
  // planned 1000, 25 %: limit 250 (above the 5.0 floor).
  EXPECT_TRUE(check({.delivered = 1250.0, .secondary = 1250.0}).empty());
  EXPECT_TRUE(check({.delivered = 750.0, .secondary = 750.0}).empty());
  auto over = check({.delivered = 1250.5, .secondary = 1250.5});
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].check, wire::QaCheck::SPOT_METERSET);
  EXPECT_EQ(over[0].value, 250.5);
  EXPECT_EQ(over[0].limit, 250.0);
  auto under = check({.delivered = 749.5, .secondary = 749.5});
  ASSERT_EQ(under.size(), 1u);
  EXPECT_EQ(under[0].check, wire::QaCheck::SPOT_METERSET);
}

TEST(QaCheckSpot, MetersetFloorAppliesToSmallSpots) {
  // planned 8, 25 % would be 2; the floor makes it 5.
  EXPECT_TRUE(check({.planned = 8.0, .delivered = 13.0, .secondary = 13.0}).empty());
  auto f = check({.planned = 8.0, .delivered = 13.5, .secondary = 13.5});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].check, wire::QaCheck::SPOT_METERSET);
  EXPECT_EQ(f[0].limit, 5.0);
  EXPECT_EQ(f[0].value, 5.5);
  // Without a floor the relative limit alone applies.
  auto noFloor = room();
  noFloor.metersetToleranceFloor = 0.0;
  auto g = check({.planned = 8.0, .delivered = 10.5, .secondary = 10.5}, noFloor);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].limit, 2.0);
  EXPECT_TRUE(check({.planned = 8.0, .delivered = 10.0, .secondary = 10.0}, noFloor).empty());
}

TEST(QaCheckSpot, ResumedAndCutRecordsAreJudgedAgainstTheirTarget) {
  // 1000 planned, 600 delivered before a hold: the rest aims for 400, allowance 250 of the spot.
  SpotValues rest{.planned = 1000.0, .target = 400.0, .delivered = 420.0, .secondary = 420.0};
  EXPECT_FALSE(has(check(rest), wire::QaCheck::SPOT_METERSET));
  rest.delivered = rest.secondary = 660.0;
  ASSERT_TRUE(has(check(rest), wire::QaCheck::SPOT_METERSET));
  EXPECT_DOUBLE_EQ(find(check(rest), wire::QaCheck::SPOT_METERSET)->value, 260.0);
  // A record cut by a hold is short by design.
  SpotValues cut{.planned = 1000.0, .partial = true, .delivered = 100.0, .secondary = 100.0};
  EXPECT_FALSE(has(check(cut), wire::QaCheck::SPOT_METERSET));
}

TEST(QaCheckSpot, MonitorAgreementAtAndBeyond) {
  // primary 1000, 12.5 %: secondary may differ by 125.
  EXPECT_TRUE(check({.secondary = 1125.0}).empty());
  EXPECT_TRUE(check({.secondary = 875.0}).empty());
  auto f = check({.secondary = 1126.0});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].check, wire::QaCheck::MONITOR_AGREEMENT);
  EXPECT_DOUBLE_EQ(f[0].value, 0.126);
  EXPECT_EQ(f[0].limit, 0.125);
  auto g = check({.secondary = 874.0});
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].check, wire::QaCheck::MONITOR_AGREEMENT);
}

TEST(QaCheckSpot, ZeroPrimaryCannotAgree) {
  auto f = check({.planned = 0.0, .delivered = 0.0, .secondary = 0.0});
  EXPECT_TRUE(has(f, wire::QaCheck::MONITOR_AGREEMENT));
  EXPECT_FALSE(has(f, wire::QaCheck::SPOT_METERSET));  // 0 of 0 is within the floor
}

TEST(QaCheckSpot, SeveralChecksAtOnce) {
  auto f = check({.delivered = 2000.0, .secondary = 1000.0, .xMeasured = 15.0});
  EXPECT_EQ(f.size(), 3u);
  EXPECT_TRUE(has(f, wire::QaCheck::SPOT_POSITION));
  EXPECT_TRUE(has(f, wire::QaCheck::SPOT_METERSET));
  EXPECT_TRUE(has(f, wire::QaCheck::MONITOR_AGREEMENT));
}

TEST(QaCheckSpot, NaNMeasurementsAreFindings) {
  auto x = check({.xMeasured = kNaN});
  ASSERT_NE(find(x, wire::QaCheck::SPOT_POSITION), nullptr);
  EXPECT_TRUE(std::isnan(find(x, wire::QaCheck::SPOT_POSITION)->value));

  auto y = check({.yMeasured = kNaN});  // x is perfect: the NaN must not hide behind it
  ASSERT_NE(find(y, wire::QaCheck::SPOT_POSITION), nullptr);
  EXPECT_TRUE(std::isnan(find(y, wire::QaCheck::SPOT_POSITION)->value));

  auto yOff = check({.xMeasured = 10.5, .yMeasured = kNaN});
  EXPECT_TRUE(has(yOff, wire::QaCheck::SPOT_POSITION));

  auto delivered = check({.delivered = kNaN});
  EXPECT_TRUE(has(delivered, wire::QaCheck::SPOT_METERSET));
  EXPECT_TRUE(has(delivered, wire::QaCheck::MONITOR_AGREEMENT));

  auto secondary = check({.secondary = kNaN});
  ASSERT_EQ(secondary.size(), 1u);
  EXPECT_EQ(secondary[0].check, wire::QaCheck::MONITOR_AGREEMENT);

  auto planned = check({.planned = kNaN});
  EXPECT_TRUE(has(planned, wire::QaCheck::SPOT_METERSET));
}

TEST(QaCheckSpot, InfiniteMeasurementsAreFindings) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(has(check({.yMeasured = inf}), wire::QaCheck::SPOT_POSITION));
  EXPECT_TRUE(has(check({.delivered = inf}), wire::QaCheck::SPOT_METERSET));
}

}  // namespace
}  // namespace spotline::runtime
