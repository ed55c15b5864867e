#pragma once
// The embedded facility fixture and a journal reader shared by the integration tests.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "spotline/monitoring/logging.h"
#include "spotline/plan/hash.h"
#include "spotline/plan/synth.h"
#include "spotline/recorder/journal.h"
#include "spotline/runtime/console_client.h"
#include "spotline/runtime/embedded.h"

namespace spotline::runtime {

namespace fs = std::filesystem;

struct JournaledEvent {
  std::string source;
  std::uint64_t sequence;
  wire::Message::Body::Which which;
  std::string fraction;
  std::uint32_t beam = 0, layer = 0, spot = 0;
  double planned = 0, target = 0, delivered = 0, dx = 0, dy = 0;
  bool partial = false;
  std::uint32_t spill = 0;
  std::int64_t simNs = 0, wallNs = 0;
  wire::HoldReason holdReason = wire::HoldReason::OPERATOR_PAUSE;
  double holdValue = 0, holdLimit = 0;
  std::int64_t holdRequestedNs = 0, holdOffNs = 0;
  wire::FractionOutcome outcome = wire::FractionOutcome::COMPLETED;
  wire::TerminationStatus termination = wire::TerminationStatus::NORMAL;
  std::string code;
  std::string room;
  bool resumed = false;
  std::uint32_t spillsToOthers = 0;
};

inline std::vector<JournaledEvent> readJournal(const fs::path& dir) {
  std::vector<JournaledEvent> out;
  auto reader = recorder::JournalReader::open(dir);
  EXPECT_TRUE(reader.ok());
  if (!reader) return out;
  while (true) {
    auto rec = reader.value()->next();
    EXPECT_TRUE(rec.ok());
    if (!rec || !rec.value()) break;
    auto decoded = messages::decode(rec.value()->payload);
    EXPECT_TRUE(decoded.ok()) << "journal record " << rec.value()->index << " is not a message";
    if (!decoded) continue;
    const auto& m = *decoded.value();
    JournaledEvent e{bus::str(m.envelope().getSource()), m.envelope().getSequence(), m.body().which(),
                     std::string(messages::fractionIdOf(m.body()))};
    e.simNs = m.envelope().getSimTimeNs();
    e.wallNs = m.envelope().getWallTimeNs();
    if (m.body().isSpotDelivered()) {
      auto s = m.body().getSpotDelivered();
      e.beam = s.getBeam();
      e.layer = s.getLayer();
      e.spot = s.getSpot();
      e.planned = s.getPlanned();
      e.delivered = s.getDelivered();
      e.dx = s.getXMeasuredMm() - s.getXPlannedMm();
      e.dy = s.getYMeasuredMm() - s.getYPlannedMm();
      e.target = s.getTarget();
      e.partial = s.getPartial();
      e.spill = s.getSpill();
    } else if (m.body().isBeamHold()) {
      auto h = m.body().getBeamHold();
      e.holdReason = h.getReason();
      e.holdValue = h.getValue();
      e.holdLimit = h.getLimit();
      e.holdRequestedNs = h.getRequestedSimNs();
      e.holdOffNs = h.getBeamOffSimNs();
    } else if (m.body().isFractionEnded()) {
      e.outcome = m.body().getFractionEnded().getOutcome();
      e.termination = m.body().getFractionEnded().getTermination();
      e.code = bus::str(m.body().getFractionEnded().getCode());
    } else if (m.body().isFractionStarted()) {
      e.room = bus::str(m.body().getFractionStarted().getRoom());
      e.resumed = m.body().getFractionStarted().getResumed();
    } else if (m.body().isWaitingForBeam()) {
      e.spillsToOthers = m.body().getWaitingForBeam().getSpillsToOtherRooms();
    } else if (m.body().isLayerStarted()) {
      e.spill = m.body().getLayerStarted().getSpill();
    }
    out.push_back(e);
  }
  return out;
}

class EmbeddedFacilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spotline-it-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    log_ = monitoring::makeLogger("test", monitoring::LogOptions{.file = dir_ / "test.log"});
    plan::SynthOptions o;
    o.targetSizeMm = 20;
    o.depthMm = 60;
    o.spotSpacingMm = 4;
    o.seed = 7;
    o.machine = "GANTRY1";
    plan_ = plan::synthesizePlan(o);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void start(EmbeddedOptions options = {}) {
    options.journalDir = dir_ / "journal";
    auto f = EmbeddedFacility::start(zmq_, log_, clock_, std::move(options));
    ASSERT_TRUE(f.ok()) << f.error().message;
    facility_ = std::move(f).value();
    client_ = std::make_unique<ConsoleClient>(zmq_, facility_->endpoints(), clock_);
    auto ready = client_->waitForFacility(std::chrono::seconds(20));
    ASSERT_TRUE(ready.ok()) << ready.error().message;
  }
  void stop() {
    client_.reset();
    facility_.reset();
  }

  fs::path dir_;
  zmq::context_t zmq_{1};
  SteadyClock clock_;
  std::shared_ptr<spdlog::logger> log_;
  plan::Plan plan_;
  std::unique_ptr<EmbeddedFacility> facility_;
  std::unique_ptr<ConsoleClient> client_;
};

}  // namespace spotline::runtime
