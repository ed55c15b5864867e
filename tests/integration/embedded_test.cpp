// A whole fraction through the embedded facility: every service on its thread over inproc://,
// the real journal on disk. Checks the safety invariants end to end from the journal itself.

#include <fstream>

#include "embedded_fixture.h"
#include "spotline/bus/codec_helpers.h"

namespace spotline::runtime {
namespace {

TEST_F(EmbeddedFacilityTest, JournalHoldsEveryPlannedSpotOnceInOrderWithinTolerance) {
  start();
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok) << loaded.error;
  EXPECT_EQ(loaded.contentHash, plan::contentHash(plan_));
  auto fid = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 1, 42);
  ASSERT_TRUE(fid.ok()) << fid.error().message;
  auto reports = client_->follow({fid.value()}, nullptr);
  const auto& r = reports.at(fid.value());
  auto totals = plan::totals(plan_);
  EXPECT_EQ(r.status, "completed");
  EXPECT_EQ(r.spotsPlanned, totals.spots);
  EXPECT_EQ(r.spotsDelivered, totals.spots);
  EXPECT_EQ(r.spotsRecorded, totals.spots);
  EXPECT_TRUE(r.recordedByRv);
  stop();

  auto events = readJournal(dir_ / "journal");
  std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> planned, journaled;
  for (const auto& beam : plan_.beams) {
    for (std::uint32_t l = 0; l < beam.layers.size(); ++l) {
      for (std::uint32_t s = 0; s < beam.layers[l].spots.size(); ++s) planned.emplace_back(beam.number.value(), l, s);
    }
  }
  std::uint64_t expectSeq = 1;
  const auto& room = *plan::builtInFacility().room("gantry-1");
  for (const auto& e : events) {
    if (e.source != "delivery" || e.fraction != fid.value()) continue;
    EXPECT_EQ(e.sequence, expectSeq++) << "stream sequence must be continuous in the journal";
    if (e.which != wire::Message::Body::SPOT_DELIVERED) continue;
    journaled.emplace_back(e.beam, e.layer, e.spot);
    EXPECT_LE(std::abs(e.delivered - e.planned), e.planned * room.metersetTolerance);
    EXPECT_LE(std::max(std::abs(e.dx), std::abs(e.dy)), room.positionTolerance.value());
  }
  EXPECT_EQ(journaled, planned) << "every planned spot exactly once, in plan order";
  ASSERT_FALSE(events.empty());
  auto verify = recorder::verifyJournal(dir_ / "journal");
  EXPECT_TRUE(verify.ok) << verify.message;
}

TEST_F(EmbeddedFacilityTest, RefusesBeamOnWhenContentHashDiffersAndDeliversNothing) {
  start();
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok);
  std::string wrong = loaded.contentHash;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  auto fid = client_->startFraction(plan_, wrong, "gantry-1", 1, 1);
  ASSERT_FALSE(fid.ok());
  EXPECT_EQ(fid.error().code, ClientError::Refused);
  EXPECT_NE(fid.error().message.find("content hash"), std::string::npos) << fid.error().message;
  stop();
  for (const auto& e : readJournal(dir_ / "journal")) {
    EXPECT_NE(e.which, wire::Message::Body::SPOT_DELIVERED);
    EXPECT_NE(e.which, wire::Message::Body::FRACTION_STARTED);
  }
}

TEST_F(EmbeddedFacilityTest, RefusesARoomThatDoesNotAnswerToThePlansMachine) {
  start();
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok);
  auto fid = client_->startFraction(plan_, loaded.contentHash, "gantry-2", 1, 1);
  ASSERT_FALSE(fid.ok());
  EXPECT_NE(fid.error().message.find("GANTRY1"), std::string::npos) << fid.error().message;
  auto unknown = client_->startFraction(plan_, loaded.contentHash, "gantry-9", 1, 1);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown room gantry-9"), std::string::npos) << unknown.error().message;
}

TEST_F(EmbeddedFacilityTest, ARoomTransferIsOverriddenOnlyWithReasonAndUserAndIsJournaled) {
  start();
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok);
  // The plan's machine belongs to gantry-1; gantry-2 refuses, and says the check may be overridden.
  auto refused = client_->startFraction(plan_, loaded.contentHash, "gantry-2", 1, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("[room]"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("--override room"), std::string::npos) << refused.error().message;
  // An override without a user is no override.
  StartOptions anonymous;
  anonymous.overrides = {"room"};
  anonymous.overrideReason = "gantry-1 out of service";
  auto noUser = client_->startFraction(plan_, loaded.contentHash, "gantry-2", 1, 1, anonymous);
  ASSERT_FALSE(noUser.ok());
  EXPECT_NE(noUser.error().message.find("needs a reason and a user"), std::string::npos) << noUser.error().message;
  StartOptions approved = anonymous;
  approved.user = "physicist-a";
  auto fid = client_->startFraction(plan_, loaded.contentHash, "gantry-2", 1, 1, approved);
  ASSERT_TRUE(fid.ok()) << fid.error().message;
  EXPECT_EQ(client_->follow({fid.value()}, nullptr).at(fid.value()).status, "completed");
  stop();
  // The override is part of the record: who, why, which check; rebuilt from the journal alone.
  FractionLedger ledger;
  auto reader = recorder::JournalReader::open(dir_ / "journal");
  ASSERT_TRUE(reader.ok());
  while (true) {
    auto rec = reader.value()->next();
    ASSERT_TRUE(rec.ok());
    if (!rec.value()) break;
    if (auto m = messages::decode(rec.value()->payload)) ledger.record(*m.value());
  }
  const auto& overrides = ledger.overridesOf(fid.value());
  ASSERT_EQ(overrides.size(), 1u);
  EXPECT_EQ(overrides[0].check, "room");
  EXPECT_EQ(overrides[0].user, "physicist-a");
  EXPECT_EQ(overrides[0].reason, "gantry-1 out of service");
  EXPECT_TRUE(ledger.overridesOf("F9-none").empty());
}

TEST_F(EmbeddedFacilityTest, APatientMismatchCannotBeOverridden) {
  start();
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok);
  auto other = plan_;
  other.patient = PatientId("SOMEONE-ELSE");
  StartOptions options;
  options.overrides = {"patient"};
  options.overrideReason = "try";
  options.user = "therapist";
  auto fid = client_->startFraction(other, loaded.contentHash, "gantry-1", 1, 1, options);
  ASSERT_FALSE(fid.ok());
  EXPECT_NE(fid.error().message.find("[patient]"), std::string::npos) << fid.error().message;
  EXPECT_NE(fid.error().message.find("cannot be overridden"), std::string::npos) << fid.error().message;
}

TEST_F(EmbeddedFacilityTest, ARoomThatCannotReceiveTheIonIsRefusedEvenWithARoomOverride) {
  EmbeddedOptions options;
  for (auto& room : options.facility.rooms) {
    if (room.name == "gantry-2") room.ions = {plan::kProton};
  }
  start(std::move(options));
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok);
  StartOptions transfer;
  transfer.overrides = {"room"};
  transfer.overrideReason = "transfer";
  transfer.user = "physicist-a";
  auto fid = client_->startFraction(plan_, loaded.contentHash, "gantry-2", 1, 1, transfer);
  ASSERT_FALSE(fid.ok());
  EXPECT_NE(fid.error().message.find("[ion]"), std::string::npos) << fid.error().message;
  EXPECT_NE(fid.error().message.find("cannot receive"), std::string::npos) << fid.error().message;
  EXPECT_EQ(fid.error().message.find("may override"), std::string::npos) << "an ion refusal is final";
}

// A crash in the middle of rv's commit leaves a torn record at the end of the last segment. The next
// rv cuts it and journals the cut as an incident before anything else; the fraction's spots are
// intact and the journal verifies.
TEST_F(EmbeddedFacilityTest, ATornTailIsCutOnStartAndJournaledAsAnIncident) {
  start();
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok);
  auto fid = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 1, 1);
  ASSERT_TRUE(fid.ok()) << fid.error().message;
  ASSERT_EQ(client_->follow({fid.value()}, nullptr).at(fid.value()).status, "completed");
  stop();
  const auto segment = dir_ / "journal" / "segment-00000001.journal";
  const auto intact = fs::file_size(segment);
  {
    // The first 30 bytes of a record: its length says 200 bytes of payload follow; they never came.
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    const unsigned char torn[30] = {200, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 1, 2, 3};
    out.write(reinterpret_cast<const char*>(torn), sizeof torn);
  }
  ASSERT_FALSE(recorder::verifyJournal(dir_ / "journal").ok);
  start();
  stop();
  EXPECT_TRUE(recorder::verifyJournal(dir_ / "journal").ok);
  FractionLedger ledger;
  int incidents = 0;
  auto reader = recorder::JournalReader::open(dir_ / "journal");
  ASSERT_TRUE(reader.ok());
  while (true) {
    auto rec = reader.value()->next();
    ASSERT_TRUE(rec.ok());
    if (!rec.value()) break;
    auto m = messages::decode(rec.value()->payload);
    ASSERT_TRUE(m.ok());
    ledger.record(*m.value());
    if (!m.value()->body().isJournalIncident()) continue;
    ++incidents;
    auto i = m.value()->body().getJournalIncident();
    EXPECT_EQ(i.getKind(), wire::JournalIncidentKind::TORN_TAIL);
    EXPECT_EQ(i.getOffset(), intact);
    EXPECT_EQ(i.getBytesDropped(), 30u);
    EXPECT_EQ(bus::view(i.getSegment()), "segment-00000001.journal");
  }
  EXPECT_EQ(incidents, 1);
  ASSERT_NE(ledger.find(fid.value()), nullptr);
  EXPECT_EQ(ledger.find(fid.value())->spots, plan::totals(plan_).spots);
}

TEST_F(EmbeddedFacilityTest, RefusesAFractionAlreadyDelivered) {
  start();
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok);
  auto first = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 3, 1);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(client_->follow({first.value()}, nullptr).at(first.value()).status, "completed");
  auto again = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 3, 1);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already delivered"), std::string::npos) << again.error().message;
}

TEST_F(EmbeddedFacilityTest, PlanServiceRejectsAnUndeliverablePlanWithEveryViolationAndNothingIsJournaled) {
  start();
  plan_.beams[0].layers[0].spots[0].meterset = 1.0;     // far below the carbon minimum
  plan_.beams[0].layers[1].energy = MeVPerNucleon(20);  // below the carbon energy table
  auto loaded = client_->loadPlan(plan_);
  EXPECT_FALSE(loaded.ok);
  ASSERT_GE(loaded.violations.size(), 2u);
  std::set<std::string> rules;
  for (const auto& v : loaded.violations) rules.insert(v.rule);
  EXPECT_TRUE(rules.contains("meterset-min"));
  EXPECT_TRUE(rules.contains("energy-range"));
  stop();
  EXPECT_TRUE(readJournal(dir_ / "journal").empty());
}

TEST_F(EmbeddedFacilityTest, PositionInterlockHoldsTheBeamAndNoSpotFollowsTheHold) {
  EmbeddedOptions options;
  for (auto& room : options.facility.rooms) room.positionTolerance = Millimetres(0.05);  // below the monitor's noise
  start(std::move(options));
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok);
  auto fid = client_->startFraction(plan_, loaded.contentHash, "gantry-1", 1, 5);
  ASSERT_TRUE(fid.ok()) << fid.error().message;
  auto r = client_->follow({fid.value()}, nullptr).at(fid.value());
  EXPECT_EQ(r.status, "interrupted");
  ASSERT_FALSE(r.interlocks.empty());
  EXPECT_EQ(r.interlocks.front().reason, "position-out-of-tolerance");
  EXPECT_GT(r.interlocks.front().value, r.interlocks.front().limit);
  EXPECT_LT(r.spotsDelivered, plan::totals(plan_).spots);
  stop();
  bool held = false;
  for (const auto& e : readJournal(dir_ / "journal")) {
    if (e.source != "delivery") continue;
    if (e.which == wire::Message::Body::BEAM_HOLD) {
      EXPECT_EQ(e.holdReason, wire::HoldReason::POSITION_OUT_OF_TOLERANCE);
      held = true;
    }
    if (held) {
      EXPECT_NE(e.which, wire::Message::Body::SPOT_DELIVERED) << "a spot after the beam hold";
    }
    if (e.which == wire::Message::Body::FRACTION_ENDED) {
      EXPECT_EQ(e.outcome, wire::FractionOutcome::INTERRUPTED);
    }
  }
  EXPECT_TRUE(held);
}

TEST_F(EmbeddedFacilityTest, SecondFacilityOnTheSameJournalIsRefusedAndTheJournalIsIntact) {
  start();
  auto loaded = client_->loadPlan(plan_);
  ASSERT_TRUE(loaded.ok);
  EmbeddedOptions second;
  second.journalDir = dir_ / "journal";
  auto other = EmbeddedFacility::start(zmq_, log_, clock_, second);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("journal"), std::string::npos) << other.error().message;
  stop();
  EXPECT_TRUE(recorder::verifyJournal(dir_ / "journal").ok);
}

}  // namespace
}  // namespace spotline::runtime
