#include "spotline/delivery/allocator.h"

#include <gtest/gtest.h>

#include <map>

namespace spotline::delivery {
namespace {

using namespace std::chrono_literals;

AllocatorParameters params(double ageing = 0.5) {
  return AllocatorParameters{4s, 1500ms, ageing, 500ms};
}

TEST(BeamAllocator, OneLeaseAtATimeStartingAGapAfterTheDecision) {
  BeamAllocator a(params());
  a.request("gantry-1", 0, 0s);
  a.request("gantry-2", 0, 0s);
  auto first = a.grant();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->start, 1500ms);
  EXPECT_EQ(first->end, 5500ms);
  EXPECT_FALSE(a.grant().has_value());  // leased
  EXPECT_TRUE(a.pathIsFor(first->room, 2s));
  EXPECT_FALSE(a.pathIsFor(first->room == "gantry-1" ? "gantry-2" : "gantry-1", 2s));
  EXPECT_FALSE(a.pathIsFor(first->room, 1s));  // before its spill
  a.release(first->room, 2s);
  EXPECT_FALSE(a.pathIsFor(first->room, 2s));
  auto second = a.grant();
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second->room, first->room);
  EXPECT_EQ(second->start, 3500ms);  // the beam was free at 2 s
  EXPECT_EQ(second->spill, first->spill + 1);
}

TEST(BeamAllocator, HigherPriorityFirstAndEqualPriorityByWait) {
  BeamAllocator a(params());
  a.request("low", 0, 0s);
  a.request("high", 5, 0s);
  EXPECT_EQ(a.grant()->room, "high");
  a.release("high", 2s);
  a.request("early", 0, 0s);  // "low" also waits since 0 s
  a.request("late", 0, 1s);
  EXPECT_EQ(a.grant()->room, "early");  // a tie on score goes to the earlier request, then the name
}

// Two busy rooms that ask again the moment they release, and one low-priority room: with ageing
// the low one is served within a bounded wait; without, it starves.
std::map<std::string, int> run(double ageing, int spills) {
  BeamAllocator a(params(ageing));
  std::map<std::string, int> served;
  a.request("busy-1", 3, 0s);
  a.request("busy-2", 3, 0s);
  a.request("patient", 0, 0s);
  for (int i = 0; i < spills; ++i) {
    auto lease = a.grant();
    if (!lease) break;
    ++served[lease->room];
    a.release(lease->room, lease->start + 1s);
    if (lease->room != "patient") a.request(lease->room, 3, lease->start + 1s);
  }
  return served;
}

TEST(BeamAllocator, AgeingPreventsStarvationAndWithoutItALowPriorityRoomStarves) {
  EXPECT_EQ(run(0.5, 20)["patient"], 1);
  EXPECT_EQ(run(0.0, 20)["patient"], 0);
}

TEST(BeamAllocator, UnusedLeaseTimesOutAndSpentSpillExpires) {
  BeamAllocator a(params());
  a.request("gantry-1", 0, 0s);
  auto lease = a.grant();
  EXPECT_FALSE(a.expire(1900ms));  // 0.4 s into the spill
  EXPECT_TRUE(a.expire(2000ms));   // not used within 0.5 s
  ASSERT_EQ(a.history().size(), 1u);
  EXPECT_EQ(a.history()[0].how, LeaseRecord::End::TimedOut);
  EXPECT_EQ(a.freeAt(), 2000ms);

  a.request("gantry-2", 0, 2s);
  lease = a.grant();
  a.markUsed(lease->start);
  EXPECT_FALSE(a.expire(lease->start + 3s));
  EXPECT_TRUE(a.expire(lease->end));
  EXPECT_EQ(a.history()[1].how, LeaseRecord::End::SpillOver);
}

TEST(BeamAllocator, WithdrawnRequestsAreNotServedAndReleaseByAnotherRoomIsIgnored) {
  BeamAllocator a(params());
  a.request("gantry-1", 0, 0s);
  a.withdraw("gantry-1");
  EXPECT_FALSE(a.grant().has_value());
  a.request("gantry-2", 0, 0s);
  auto lease = a.grant();
  a.release("gantry-1", 2s);
  EXPECT_TRUE(a.lease().has_value());
  EXPECT_THROW(BeamAllocator(AllocatorParameters{0s, 1s, 0.5, 1s}), std::invalid_argument);
}

}  // namespace
}  // namespace spotline::delivery
