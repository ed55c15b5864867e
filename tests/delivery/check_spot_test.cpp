#include <gtest/gtest.h>

#include <cmath>

#include "spotline/delivery/simulator.h"

namespace spotline::delivery {
namespace {

// A spot exactly as planned: 10,000 particles at (10, -20) mm.
SpotDelivered nominalSpot() {
  return SpotDelivered{0,
                       0,
                       0,
                       BeamNumber(1),
                       10'000.0,
                       10'000.0,
                       10'000.0,
                       10'000.0,
                       Millimetres(10),
                       Millimetres(-20),
                       Millimetres(10),
                       Millimetres(-20),
                       MeVPerNucleon(200),
                       1,
                       SimDuration{0},
                       SimDuration{1000},
                       false};
}

TEST(CheckSpot, NominalSpotHasNoFinding) {
  const plan::RoomModel room;
  EXPECT_FALSE(checkSpot(nominalSpot(), room).has_value());
  SpotDelivered s = nominalSpot();
  s.xMeasured = Millimetres(10.99);  // just inside +-1 mm
  s.delivered = 10'299.0;            // 2.99 % over
  s.secondary = 10'299.0 * 1.0199;   // 1.99 % apart
  EXPECT_FALSE(checkSpot(s, room).has_value());
}

TEST(CheckSpot, PositionUsesTheWorseAxisInMillimetres) {
  const plan::RoomModel room;
  SpotDelivered s = nominalSpot();
  s.xMeasured = Millimetres(10.8);
  s.yMeasured = Millimetres(-20.8);  // radially 1.13 mm, but each axis within 1 mm
  EXPECT_FALSE(checkSpot(s, room).has_value());
  s.yMeasured = Millimetres(-21.5);
  const auto finding = checkSpot(s, room);
  ASSERT_TRUE(finding.has_value());
  EXPECT_EQ(finding->reason, InterlockReason::PositionOutOfTolerance);
  EXPECT_NEAR(finding->value, 1.5, 1e-12);
  EXPECT_EQ(finding->limit, 1.0);
  plan::RoomModel loose = room;
  loose.positionTolerance = Millimetres(2.0);
  EXPECT_FALSE(checkSpot(s, loose).has_value());
}

TEST(CheckSpot, MonitorDisagreementIsRelativeToThePrimary) {
  const plan::RoomModel room;
  SpotDelivered s = nominalSpot();
  s.secondary = 9'700.0;  // 3 % below the primary
  auto finding = checkSpot(s, room);
  ASSERT_TRUE(finding.has_value());
  EXPECT_EQ(finding->reason, InterlockReason::MonitorDisagreement);
  EXPECT_NEAR(finding->value, 0.03, 1e-12);
  EXPECT_EQ(finding->limit, 0.02);

  s.delivered = 0.0;  // the primary saw nothing while the secondary saw beam
  finding = checkSpot(s, room);
  ASSERT_TRUE(finding.has_value());
  EXPECT_EQ(finding->reason, InterlockReason::MonitorDisagreement);
  EXPECT_TRUE(std::isinf(finding->value));
}

TEST(CheckSpot, OvershootUsesTheLargerOfRelativeToleranceAndFloor) {
  plan::RoomModel room;
  SpotDelivered s = nominalSpot();
  s.delivered = s.secondary = 10'500.0;  // 500 over, allowed 3 % = 300
  auto finding = checkSpot(s, room);
  ASSERT_TRUE(finding.has_value());
  EXPECT_EQ(finding->reason, InterlockReason::SpotOvershoot);
  EXPECT_DOUBLE_EQ(finding->value, 500.0);
  EXPECT_DOUBLE_EQ(finding->limit, 300.0);

  room.metersetToleranceFloor = 600.0;  // an absolute floor protects small spots
  EXPECT_FALSE(checkSpot(s, room).has_value());
  room.metersetToleranceFloor = 400.0;
  finding = checkSpot(s, room);
  ASSERT_TRUE(finding.has_value());
  EXPECT_DOUBLE_EQ(finding->limit, 400.0);

  room.metersetToleranceFloor = 500.0;  // exactly at the limit is still within it
  EXPECT_FALSE(checkSpot(s, room).has_value());

  s.delivered = s.secondary = 9'000.0;  // under-delivery is not an overshoot
  EXPECT_FALSE(checkSpot(s, room).has_value());
}

TEST(CheckSpot, PositionIsReportedBeforeTheOtherReasons) {
  const plan::RoomModel room;
  SpotDelivered s = nominalSpot();
  s.xMeasured = Millimetres(13);
  s.delivered = 12'000.0;
  s.secondary = 10'000.0;
  EXPECT_EQ(checkSpot(s, room)->reason, InterlockReason::PositionOutOfTolerance);
  s.xMeasured = s.xPlanned;
  EXPECT_EQ(checkSpot(s, room)->reason, InterlockReason::MonitorDisagreement);
  EXPECT_EQ(toString(InterlockReason::SpotOvershoot), "SpotOvershoot");
}

TEST(CheckSpot, NaNReadingsAreFindings) {
  // A failed monitor reads NaN; a check that lets NaN pass would keep the beam on.
  const plan::RoomModel room;
  SpotDelivered nominal{};
  nominal.planned = 10000.0;
  nominal.target = 10000.0;
  nominal.delivered = 10000.0;
  nominal.secondary = 10000.0;
  ASSERT_FALSE(checkSpot(nominal, room).has_value());
  auto withX = nominal;
  withX.xMeasured = Millimetres(std::nan(""));
  ASSERT_TRUE(checkSpot(withX, room).has_value());
  EXPECT_EQ(checkSpot(withX, room)->reason, InterlockReason::PositionOutOfTolerance);
  auto withY = nominal;
  withY.yMeasured = Millimetres(std::nan(""));
  EXPECT_TRUE(checkSpot(withY, room).has_value());
  auto withSecondary = nominal;
  withSecondary.secondary = std::nan("");
  ASSERT_TRUE(checkSpot(withSecondary, room).has_value());
  EXPECT_EQ(checkSpot(withSecondary, room)->reason, InterlockReason::MonitorDisagreement);
  auto withPrimary = nominal;
  withPrimary.delivered = std::nan("");
  EXPECT_TRUE(checkSpot(withPrimary, room).has_value());
}

TEST(CheckSpot, ResumedRecordIsJudgedAgainstWhatRemainedWithTheWholeSpotsAllowance) {
  const plan::RoomModel room;  // 3 %
  SpotDelivered s = nominalSpot();
  s.target = 2'000.0;  // 8,000 of the 10,000 were delivered before the hold
  s.delivered = 2'250.0;
  s.secondary = 2'250.0;
  EXPECT_FALSE(checkSpot(s, room).has_value());  // 250 over, allowance 300 of the whole spot
  s.delivered = s.secondary = 2'350.0;
  auto f = checkSpot(s, room);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->reason, InterlockReason::SpotOvershoot);
  EXPECT_DOUBLE_EQ(f->value, 350.0);
  EXPECT_DOUBLE_EQ(f->limit, 300.0);
}

}  // namespace
}  // namespace spotline::delivery
