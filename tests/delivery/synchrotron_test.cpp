#include "spotline/delivery/synchrotron.h"

#include <gtest/gtest.h>

#include <map>

#include "test_plans.h"

namespace spotline::delivery {
namespace {

using namespace std::chrono_literals;
using testing::carbonPlan;
using testing::describe;

struct RoomsRun {
  std::map<std::string, std::vector<SimEvent>> events;
  std::vector<LeaseRecord> leases;
};

RoomsRun runRooms(const std::map<std::string, const plan::Plan*>& plans, const MachineParameters& params,
                  std::map<std::string, int> priority = {}) {
  Synchrotron sync(params);
  std::map<std::string, std::unique_ptr<RasterScanner>> scanners;
  std::uint64_t seed = 1;
  for (const auto& [room, p] : plans) {
    scanners[room] = std::make_unique<RasterScanner>(*p, params, seed++);
    sync.attach(room, *scanners[room], priority[room]);
  }
  RoomsRun run;
  std::size_t guard = 0;
  while (auto ev = sync.step()) {
    run.events[ev->room].push_back(ev->event);
    if (std::holds_alternative<FractionCompleted>(ev->event)) sync.detach(ev->room);
    if (++guard > 5'000'000) break;
  }
  run.leases = sync.allocator().history();
  return run;
}

TEST(Synchrotron, ThreeRoomsShareTheBeamAllCompleteAndNoneGetsBeamOutsideItsLease) {
  const plan::Plan a = carbonPlan(1, 8, 120, 1), b = carbonPlan(2, 5, 80, 2), c = carbonPlan(1, 12, 40, 3);
  const MachineParameters params;
  const RoomsRun run = runRooms({{"gantry-1", &a}, {"gantry-2", &b}, {"fixed-1", &c}}, params);
  ASSERT_EQ(run.events.size(), 3u);
  for (const auto& [room, events] : run.events) {
    ASSERT_TRUE(std::holds_alternative<FractionCompleted>(events.back())) << room;
  }
  // Leases never overlap: one spill at a time, a gap between them.
  for (std::size_t i = 1; i < run.leases.size(); ++i) {
    EXPECT_GE(run.leases[i].start, run.leases[i - 1].releasedAt + params.spillGap) << i;
  }
  // Every spot with beam lies inside a lease of its own room.
  std::size_t spots = 0;
  for (const auto& [room, events] : run.events) {
    for (const auto& e : events) {
      const auto* s = std::get_if<SpotDelivered>(&e);
      if (s == nullptr || s->delivered == 0.0) continue;
      ++spots;
      bool inside = false;
      for (const auto& l : run.leases) {
        if (l.spill == s->spill) inside = l.room == room && s->end <= l.releasedAt + params.beamOffReaction;
      }
      EXPECT_TRUE(inside) << room << " spill " << s->spill;
    }
  }
  EXPECT_EQ(spots, 8u * 120 + 2 * 5 * 80 + 12 * 40);
  // Each room was told it waited for the others.
  for (const auto& [room, events] : run.events) {
    std::uint32_t toOthers = 0;
    for (const auto& e : events) {
      if (const auto* w = std::get_if<WaitingForSpill>(&e)) {
        toOthers += w->spillsToOtherRooms;
        if (w->spillsToOtherRooms > 0) {
          EXPECT_NE(w->lastOtherRoom, room);
          EXPECT_GT(w->until - w->from, params.spillGap);
        }
      }
    }
    EXPECT_GT(toOthers, 0u) << room;
  }
}

TEST(Synchrotron, ARoomsReadingsDoNotDependOnTheOtherRooms) {
  const plan::Plan a = carbonPlan(1, 6, 60, 5), b = carbonPlan(1, 9, 70, 6);
  const MachineParameters params;
  const RoomsRun alone = runRooms({{"gantry-1", &a}}, params);
  const RoomsRun shared = runRooms({{"gantry-1", &a}, {"gantry-2", &b}}, params);
  auto readings = [](const std::vector<SimEvent>& events) {
    std::vector<std::tuple<double, double, double, double>> out;
    for (const auto& e : events) {
      if (const auto* s = std::get_if<SpotDelivered>(&e)) {
        out.emplace_back(s->delivered, s->secondary, s->xMeasured.value(), s->yMeasured.value());
      }
    }
    return out;
  };
  EXPECT_EQ(readings(alone.events.at("gantry-1")), readings(shared.events.at("gantry-1")));
  EXPECT_GT(toSeconds(timeOf(shared.events.at("gantry-1").back())),
            toSeconds(timeOf(alone.events.at("gantry-1").back())));
}

TEST(Synchrotron, SameInputsGiveTheSameInterleaving) {
  const plan::Plan a = carbonPlan(1, 4, 50, 5), b = carbonPlan(1, 5, 30, 6), c = carbonPlan(1, 3, 90, 7);
  const RoomsRun x = runRooms({{"gantry-1", &a}, {"gantry-2", &b}, {"fixed-1", &c}}, {});
  const RoomsRun y = runRooms({{"gantry-1", &a}, {"gantry-2", &b}, {"fixed-1", &c}}, {});
  for (const auto& [room, events] : x.events) {
    ASSERT_EQ(events.size(), y.events.at(room).size());
    for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(describe(events[i]), describe(y.events.at(room)[i]));
  }
}

TEST(Synchrotron, AHeldRoomFreesTheBeamForTheOthers) {
  const plan::Plan a = carbonPlan(1, 3, 200, 8), b = carbonPlan(1, 3, 200, 9);
  MachineParameters params;
  Synchrotron sync(params);
  RasterScanner sa(a, params, 1), sb(b, params, 2);
  sync.attach("gantry-1", sa);
  sync.attach("gantry-2", sb);
  // RoomsRun until the first spot, then hold whichever room has the beam.
  std::optional<RoomEvent> ev;
  while ((ev = sync.step()) && !std::holds_alternative<SpotDelivered>(ev->event)) {
  }
  ASSERT_TRUE(ev.has_value());
  const std::string first = ev->room;
  const std::string other = first == "gantry-1" ? "gantry-2" : "gantry-1";
  auto held = sync.hold(first);
  ASSERT_FALSE(held.empty());
  EXPECT_TRUE(std::holds_alternative<BeamHeld>(held.back()));
  EXPECT_FALSE(sync.allocator().lease().has_value());
  // Only the other room delivers now, to the end.
  while ((ev = sync.step())) {
    EXPECT_EQ(ev->room, other);
    if (std::holds_alternative<FractionCompleted>(ev->event)) sync.detach(other);
  }
  sync.resume(first);
  std::size_t spots = 0;
  while ((ev = sync.step())) {
    EXPECT_EQ(ev->room, first);
    spots += std::holds_alternative<SpotDelivered>(ev->event);
  }
  EXPECT_EQ(spots, 3u * 200 - 1);
  EXPECT_TRUE(sa.finished());
}

}  // namespace
}  // namespace spotline::delivery
