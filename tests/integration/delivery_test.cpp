// The delivery model through the whole embedded facility: every interlock provoked and checked in
// the journal (reason, value, limit, the bound), resume in the same session and in a new one,
// three rooms sharing the synchrotron, determinism of what is journaled.

#include <map>

#include "embedded_fixture.h"

namespace spotline::runtime {
namespace {

using Body = wire::Message::Body;
using SpotKey = std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>;

std::vector<JournaledEvent> ofFraction(const std::vector<JournaledEvent>& all, const std::string& fraction) {
  std::vector<JournaledEvent> out;
  for (const auto& e : all) {
    if (e.source == "delivery" && e.fraction == fraction) out.push_back(e);
  }
  return out;
}

// Per planned spot, the sum of its journaled records.
std::map<SpotKey, double> spotTotals(const std::vector<JournaledEvent>& events) {
  std::map<SpotKey, double> out;
  for (const auto& e : events) {
    if (e.which == Body::SPOT_DELIVERED) out[{e.beam, e.layer, e.spot}] += e.delivered;
  }
  return out;
}

// Every planned spot received its meterset within tolerance and never more than planned plus it.
void expectEverySpotWithinTolerance(const plan::Plan& p, const std::map<SpotKey, double>& totals) {
  const auto& room = *plan::builtInFacility().room("gantry-1");
  std::size_t planned = 0;
  for (const auto& beam : p.beams) {
    for (std::uint32_t l = 0; l < beam.layers.size(); ++l) {
      for (std::uint32_t s = 0; s < beam.layers[l].spots.size(); ++s) {
        ++planned;
        const double m = beam.layers[l].spots[s].meterset;
        const double allowed = std::max(m * room.metersetTolerance, room.metersetToleranceFloor);
        auto it = totals.find({beam.number.value(), l, s});
        ASSERT_NE(it, totals.end()) << "spot " << beam.number.value() << "/" << l << "/" << s << " never delivered";
        EXPECT_LE(it->second, m + allowed);
        EXPECT_GE(it->second, m - allowed);
      }
    }
  }
  EXPECT_EQ(totals.size(), planned);
}

class DeliveryTest : public EmbeddedFacilityTest {
 protected:
  std::string deliver(const StartOptions& o, std::uint64_t seed = 5, FractionReport* report = nullptr) {
    auto loaded = client_->loadPlan(plan_);
    EXPECT_TRUE(loaded.ok) << loaded.error;
    auto fid = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 1, seed, o);
    EXPECT_TRUE(fid.ok()) << fid.error().message;
    if (!fid) return {};
    auto r = client_->follow({fid.value()}, nullptr).at(fid.value());
    if (report != nullptr) *report = r;
    return fid.value();
  }
};

struct InterlockCase {
  const char* fault;
  wire::HoldReason reason;
  bool measured;  // value > limit from a reading; else value is the beam-off latency against the bound
};

class InterlockTest : public DeliveryTest, public ::testing::WithParamInterface<InterlockCase> {};

// Each fault leads to its interlock: a beam hold journaled with reason, value and limit, within its
// bound, after which no spot of the fraction follows; the fraction ends interrupted by the machine.
TEST_P(InterlockTest, FaultLeadsToItsHoldWithinTheBoundAndNoSpotFollows) {
  const auto c = GetParam();
  start();
  FractionReport r;
  const auto fid = deliver(StartOptions{.faults = {c.fault}}, 5, &r);
  ASSERT_FALSE(fid.empty());
  EXPECT_EQ(r.status, "interrupted");
  ASSERT_FALSE(r.interlocks.empty());
  EXPECT_EQ(r.interlocks.front().reason, toString(c.reason));
  stop();
  const auto events = ofFraction(readJournal(dir_ / "journal"), fid);
  const JournaledEvent* hold = nullptr;
  const JournaledEvent* lastSpot = nullptr;
  for (const auto& e : events) {
    if (hold == nullptr && e.which == Body::SPOT_DELIVERED) lastSpot = &e;
    if (hold == nullptr && e.which == Body::BEAM_HOLD) hold = &e;
    if (hold != nullptr) {
      EXPECT_NE(e.which, Body::SPOT_DELIVERED) << "a spot after the hold";
    }
  }
  ASSERT_NE(hold, nullptr);
  ASSERT_NE(lastSpot, nullptr);
  EXPECT_EQ(hold->holdReason, c.reason);
  const auto reaction = delivery::MachineParameters{}.beamOffReaction.count();
  if (c.measured) {
    EXPECT_GT(hold->holdValue, hold->holdLimit);
    // Found on the spot's readings: the beam is off when that spot ends, the next does not start.
    EXPECT_EQ(hold->holdOffNs, hold->holdRequestedNs);
    EXPECT_LE(hold->holdOffNs - lastSpot->simNs, 0);
  } else {
    EXPECT_LE(hold->holdOffNs - hold->holdRequestedNs, reaction);
    EXPECT_LE(hold->holdValue, hold->holdLimit);
    EXPECT_GE(hold->holdOffNs, lastSpot->simNs);
  }
  ASSERT_EQ(events.back().which, Body::FRACTION_ENDED);
  EXPECT_EQ(events.back().outcome, wire::FractionOutcome::INTERRUPTED);
  EXPECT_EQ(events.back().termination, wire::TerminationStatus::MACHINE);
  EXPECT_EQ(events.back().code, toString(c.reason));
}

INSTANTIATE_TEST_SUITE_P(
    Faults, InterlockTest,
    ::testing::Values(InterlockCase{"position-drift@layer=2", wire::HoldReason::POSITION_OUT_OF_TOLERANCE, true},
                      InterlockCase{"monitor2-fail@spot=30", wire::HoldReason::MONITOR_DISAGREEMENT, true},
                      InterlockCase{"overshoot@spot=40", wire::HoldReason::SPOT_OVERSHOOT, true},
                      InterlockCase{"door-open@t=2200ms", wire::HoldReason::DOOR_OPEN, false},
                      InterlockCase{"spill-abort@spill=2", wire::HoldReason::SPILL_ABORTED, false}),
    [](const auto& param) {
      std::string name = param.param.fault;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

// A hold that cut a spot, the session closed, the facility stopped; a new facility on the same
// journal resumes: one fraction, two sessions, every spot delivered within tolerance.
TEST_F(DeliveryTest, ResumeInANewFacilityDeliversExactlyTheRest) {
  start();
  FractionReport first;
  const auto fid = deliver(StartOptions{.faults = {"door-open@t=2200ms"}}, 5, &first);
  EXPECT_EQ(first.status, "interrupted");
  EXPECT_EQ(first.partialSpots, 1u);
  stop();
  start();
  FractionReport second;
  deliver(StartOptions{.resumeFractionId = fid}, 5, &second);
  EXPECT_EQ(second.status, "completed");
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(second.spotsRecorded, plan::totals(plan_).spots);
  // A third start of the same fraction is refused: it is delivered.
  auto loaded = client_->loadPlan(plan_);
  auto again =
      client_->startFraction(plan_, loaded.contentHash, "gantry-1", 1, 5, StartOptions{.resumeFractionId = fid});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already delivered"), std::string::npos) << again.error().message;
  stop();
  const auto events = ofFraction(readJournal(dir_ / "journal"), fid);
  int starts = 0, resumedStarts = 0, partials = 0;
  for (const auto& e : events) {
    starts += e.which == Body::FRACTION_STARTED;
    resumedStarts += e.which == Body::FRACTION_STARTED && e.resumed;
    partials += e.which == Body::SPOT_DELIVERED && e.partial;
  }
  EXPECT_EQ(starts, 2);
  EXPECT_EQ(resumedStarts, 1);
  EXPECT_EQ(partials, 1);
  expectEverySpotWithinTolerance(plan_, spotTotals(events));
  EXPECT_TRUE(recorder::verifyJournal(dir_ / "journal").ok);
}

// A resume must use the same plan; an unknown fraction cannot be resumed.
TEST_F(DeliveryTest, ResumeRefusesAnotherPlanAndAnUnknownFraction) {
  start();
  const auto fid = deliver(StartOptions{.faults = {"spill-abort@spill=1"}});
  auto loaded = client_->loadPlan(plan_);
  auto unknown = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 2, 5,
                                        StartOptions{.resumeFractionId = "F2-" + loaded.contentHash.substr(0, 12)});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("nothing to resume"), std::string::npos) << unknown.error().message;
  auto fresh = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 1, 5);
  ASSERT_FALSE(fresh.ok());
  EXPECT_NE(fresh.error().message.find("--resume " + fid), std::string::npos) << fresh.error().message;
  plan_.beams[0].layers[0].spots[0].meterset *= 1.01;  // another plan under the same UID is refused too
  plan_.uid = PlanUid(plan_.uid.value() + ".9");
  auto other = client_->loadPlan(plan_);
  ASSERT_TRUE(other.ok) << other.error;
  auto wrong =
      client_->startFraction(plan_, other.contentHash, "gantry-1", 1, 5, StartOptions{.resumeFractionId = fid});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("is not fraction 1"), std::string::npos) << wrong.error().message;
}

// Operator pause and resume in one session; a QA hold request likewise. One fraction, completed.
TEST_F(DeliveryTest, PauseAndResumeInTheSameSessionCompleteTheFraction) {
  EmbeddedOptions options;
  options.delivery.realtime = true;  // so that the pause lands while the beam is on
  options.delivery.machine.spillGap = std::chrono::milliseconds(200);
  start(std::move(options));
  auto loaded = client_->loadPlan(plan_);
  auto fid = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 1, 5);
  ASSERT_TRUE(fid.ok()) << fid.error().message;
  ASSERT_TRUE(client_->awaitSpots(fid.value(), 3, std::chrono::seconds(20)));  // the beam is on
  ASSERT_TRUE(client_->command(fid.value(), Body::PAUSE_FRACTION).ok());
  EXPECT_FALSE(client_->command(fid.value(), Body::PAUSE_FRACTION).ok());  // already held
  ASSERT_TRUE(client_->command(fid.value(), Body::RESUME_FRACTION).ok());
  auto r = client_->follow({fid.value()}, nullptr).at(fid.value());
  EXPECT_EQ(r.status, "completed");
  EXPECT_TRUE(r.interlocks.empty());  // the operator's pause is not an interlock
  stop();
  const auto events = ofFraction(readJournal(dir_ / "journal"), fid.value());
  int holds = 0, resumes = 0;
  for (const auto& e : events) {
    holds += e.which == Body::BEAM_HOLD && e.holdReason == wire::HoldReason::OPERATOR_PAUSE;
    resumes += e.which == Body::BEAM_RESUMED;
  }
  EXPECT_EQ(holds, 1);
  EXPECT_EQ(resumes, 1);
  expectEverySpotWithinTolerance(plan_, spotTotals(events));
}

// rv stops acknowledging (killed): the credit window in beam time stops the machine and the
// credit timeout holds the beam; a new facility resumes from what rv had journaled.
TEST_F(DeliveryTest, KilledRvHoldsTheBeamByCreditAndTheFractionResumesFromTheJournal) {
  EmbeddedOptions options;
  options.delivery.creditTimeout = std::chrono::milliseconds(100);   // before the 1 s heartbeat timeout
  options.delivery.maxUnacknowledgedBeam = std::chrono::seconds(1);  // less than the plan's remaining beam
  start(std::move(options));
  FractionReport r;
  const auto fid = deliver(StartOptions{.faults = {"kill-rv@spot=30"}}, 5, &r);
  EXPECT_EQ(r.status, "interrupted");
  ASSERT_FALSE(r.interlocks.empty());
  EXPECT_EQ(r.interlocks.front().reason, "credit-window");
  EXPECT_FALSE(r.recordedByRv);
  stop();
  const auto journaled = ofFraction(readJournal(dir_ / "journal"), fid);
  std::int64_t lastSim = 0;
  for (const auto& e : journaled) lastSim = std::max(lastSim, e.simNs);
  start();
  FractionReport second;
  deliver(StartOptions{.resumeFractionId = fid}, 5, &second);
  EXPECT_EQ(second.status, "completed");
  stop();
  const auto events = ofFraction(readJournal(dir_ / "journal"), fid);
  expectEverySpotWithinTolerance(plan_, spotTotals(events));
  EXPECT_TRUE(recorder::verifyJournal(dir_ / "journal").ok);
}

// A service that stops (killed) is a lost heartbeat: the beam is held within the heartbeat timeout
// of wall time (real-time pacing here, so that the bound is visible in beam time too).
TEST_F(DeliveryTest, KilledQaIsAHeartbeatHoldWithinTheTimeout) {
  EmbeddedOptions options;
  options.delivery.realtime = true;
  options.delivery.machine.spillGap = std::chrono::milliseconds(200);
  start(std::move(options));
  FractionReport r;
  const auto fid = deliver(StartOptions{.faults = {"kill-qa@spot=5"}}, 5, &r);
  EXPECT_EQ(r.status, "interrupted");
  ASSERT_FALSE(r.interlocks.empty());
  EXPECT_EQ(r.interlocks.front().reason, "heartbeat-lost");
  EXPECT_NE(r.interlocks.front().detail.find("qa"), std::string::npos);
  stop();
  const auto events = ofFraction(readJournal(dir_ / "journal"), fid);
  std::int64_t fifthSpotWall = 0, holdWall = 0;
  int spots = 0;
  for (const auto& e : events) {
    if (e.which == Body::SPOT_DELIVERED && ++spots == 5) fifthSpotWall = e.wallNs;
    if (e.which == Body::BEAM_HOLD && holdWall == 0) holdWall = e.wallNs;
  }
  ASSERT_GT(holdWall, 0);
  const double waited = static_cast<double>(holdWall - fifthSpotWall) / 1e9;
  EXPECT_LT(waited, std::chrono::duration<double>(bus::kHeartbeatTimeout).count() + 0.5);
}

// The delivery service dies in the middle of a fraction (no end is journaled); a new facility on
// the same journal resumes it from what rv journaled.
TEST_F(DeliveryTest, FractionInterruptedByADeliveryCrashResumesFromTheJournal) {
  EmbeddedOptions options;
  options.delivery.realtime = true;  // so that the crash lands in the middle of the fraction
  options.delivery.machine.spillGap = std::chrono::milliseconds(200);
  start(std::move(options));
  auto loaded = client_->loadPlan(plan_);
  auto fid = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 1, 5);
  ASSERT_TRUE(fid.ok()) << fid.error().message;
  ASSERT_TRUE(client_->awaitSpots(fid.value(), 20, std::chrono::seconds(20)));
  facility_->stopService("delivery");
  stop();
  const auto before = ofFraction(readJournal(dir_ / "journal"), fid.value());
  ASSERT_FALSE(before.empty());
  for (const auto& e : before) EXPECT_NE(e.which, Body::FRACTION_ENDED) << "the crash left the fraction open";
  const auto journaledSpots = spotTotals(before).size();
  EXPECT_LT(journaledSpots, plan::totals(plan_).spots);

  start();
  FractionReport second;
  deliver(StartOptions{.resumeFractionId = fid.value()}, 5, &second);
  EXPECT_EQ(second.status, "completed");
  EXPECT_TRUE(second.resumed);
  stop();
  const auto events = ofFraction(readJournal(dir_ / "journal"), fid.value());
  expectEverySpotWithinTolerance(plan_, spotTotals(events));
  EXPECT_TRUE(recorder::verifyJournal(dir_ / "journal").ok);
}

// Three rooms at once share the synchrotron: all complete, each waited for the others, and no
// spill carried beam to two rooms.
TEST_F(DeliveryTest, ThreeRoomsShareTheSynchrotronAndEachWaitsForTheOthers) {
  start();
  std::set<std::string> ids;
  std::map<std::string, std::string> roomOf;
  const std::map<std::string, std::string> machines{
      {"gantry-1", "GANTRY1"}, {"gantry-2", "GANTRY2"}, {"fixed-1", "FIXED1"}};
  for (const auto& [room, machine] : machines) {
    plan::SynthOptions o;
    o.targetSizeMm = 20;
    o.depthMm = 60;
    o.spotSpacingMm = 4;
    o.seed = 7 + room.size();
    o.machine = machine;
    if (room == "fixed-1") o.gantryAngle = 90.0;
    auto p = plan::synthesizePlan(o);
    auto loaded = client_->loadPlan(p);
    ASSERT_TRUE(loaded.ok) << room << ": " << loaded.error;
    auto fid = client_->startFraction(p, loaded.contentHash, room, 1, 3);
    ASSERT_TRUE(fid.ok()) << room << ": " << fid.error().message;
    ids.insert(fid.value());
    roomOf[fid.value()] = room;
  }
  auto reports = client_->follow(ids, nullptr);
  for (const auto& [id, r] : reports) {
    EXPECT_EQ(r.status, "completed") << id;
    EXPECT_GT(r.spillsToOthers, 0u) << id;
  }
  stop();
  std::map<std::uint32_t, std::set<std::string>> roomsBySpill;
  for (const auto& e : readJournal(dir_ / "journal")) {
    if (e.source == "delivery" && e.which == Body::SPOT_DELIVERED && e.delivered > 0) {
      roomsBySpill[e.spill].insert(roomOf[e.fraction]);
    }
  }
  ASSERT_FALSE(roomsBySpill.empty());
  for (const auto& [spill, rooms] : roomsBySpill) EXPECT_EQ(rooms.size(), 1u) << "spill " << spill;
}

// Same plan, seed and faults: two facilities journal the same spots with the same values.
TEST_F(DeliveryTest, SameSeedAndFaultsJournalIdenticalSpots) {
  auto run = [&](const std::string& sub) {
    start();
    const auto fid = deliver(StartOptions{.faults = {"door-open@t=2200ms"}}, 11);
    stop();
    auto events = ofFraction(readJournal(dir_ / "journal"), fid);
    fs::rename(dir_ / "journal", dir_ / sub);
    // The next facility starts from nothing: without this journal, delivery's outbox beside it
    // (which may still hold the interrupted fraction's events) belongs to it too.
    fs::remove_all(dir_ / "journal.outbox");
    std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t, double, double, double, std::int64_t, bool>>
        spots;
    for (const auto& e : events) {
      if (e.which == Body::SPOT_DELIVERED) {
        spots.emplace_back(e.beam, e.layer, e.spot, e.delivered, e.dx, e.dy, e.simNs, e.partial);
      }
    }
    return spots;
  };
  const auto a = run("a");
  const auto b = run("b");
  ASSERT_GT(a.size(), 10u);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace spotline::runtime
