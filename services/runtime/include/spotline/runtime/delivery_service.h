#pragma once
// The delivery service: takes fraction commands, gets the plan from the plan service, has rv
// verify it, and runs the accelerator model (one synchrotron shared by the rooms, one raster
// scanner per room) spot by spot, sending every event on the spot stream to rv (lossless, with a
// credit window) and publishing it on the bus. It holds the beam on any interlock: its own spot
// checks, a QA hold request, rv's credit window used up, a critical service's heartbeat lost, the
// room's door, a lost spill, the operator. A held fraction is resumed (ResumeFraction) exactly
// where it stopped, or closed as interrupted and resumed later, also by a new delivery process
// (StartFraction.resumeFractionId) from what rv journaled. One fraction per room at a time.
//
// Time: simulated (as fast as the machine can go) or, with `realtime`, paced to the wall clock.
// The physics never reads the wall clock; liveness (heartbeats, credit timeout) always does.
//
// Lifecycle: one thread, run() until the stop token is set. Owns its sockets and scanners.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>

#include "spotline/bus/spot_stream.h"
#include "spotline/delivery/simulator.h"
#include "spotline/delivery/synchrotron.h"
#include "spotline/plan/facility.h"
#include "spotline/recorder/journal.h"
#include "spotline/runtime/service_context.h"

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace spotline::runtime {

struct DeliveryOptions {
  bus::StreamConfig stream;
  WallClock::Duration creditTimeout = std::chrono::seconds(2);
  delivery::MachineParameters machine;
  std::size_t stepsPerTurn = 256;  // simulator steps between two looks at the sockets
  std::vector<std::string> criticalServices{"rv", "dose", "qa"};
  bool realtime = false;  // pace simulated time to the wall clock (console, demos)
  // Credit in beam time as well as in events: the machine does not run more than this much
  // simulated time ahead of what rv has made durable (bounds what a crash of rv can leave unrecorded).
  SimDuration maxUnacknowledgedBeam = std::chrono::seconds(5);
  // Simulated time: the machine waits this long (wall) after a beam-on request before it runs, so
  // that fractions started together (the console starting three rooms) start at the same
  // simulated time and share the synchrotron the same way every run.
  WallClock::Duration startTogether = std::chrono::milliseconds(250);
  // Carries out a process fault (kill-rv@spot=N ...) by stopping that service; empty when this
  // delivery service cannot (a multi-process facility), and such faults are refused.
  std::function<void(const std::string& service)> processFault;
  // The durable outbox: every spot stream event is written here (group commit, one fdatasync per
  // turn) before the machine takes its next turn, and kept until rv has acknowledged it. A restarted
  // delivery service hands rv what it had not acknowledged before anything else. Empty: in memory
  // only (unit tests), and a crash of this process loses what rv had not made durable.
  std::filesystem::path outboxDir;
};

std::string_view toString(wire::HoldReason reason);
std::string_view toString(wire::FractionOutcome outcome);

class DeliveryService {
 public:
  DeliveryService(ServiceContext ctx, plan::Facility facility, DeliveryOptions options);
  ~DeliveryService();
  void run(std::stop_token stop);

 private:
  enum class State { Running, Held, Ending };
  struct Fraction {
    std::string id;
    std::string room;
    const plan::RoomModel* roomModel = nullptr;
    std::unique_ptr<plan::Plan> plan;
    std::unique_ptr<delivery::RasterScanner> scanner;
    std::vector<delivery::FaultSpec> faults;
    State state = State::Running;
    std::uint32_t spotsDelivered = 0;  // completed, all sessions
    double meterset = 0.0;             // all sessions
    std::uint64_t lastSequence = 0;
    SimDuration simStart{0};
    SimDuration simLast{0};
    delivery::ResumePoint at;
    BeamNumber beam;
    std::optional<wire::HoldReason> lastHold;
    std::deque<std::pair<std::uint64_t, SimDuration>> unacked;  // sequence, simulated time
  };

  void handleCommand(const bus::Inbound& in);
  std::string start(wire::StartFraction::Reader cmd, std::string& fractionId);
  // Steps the synchrotron: every room's events, until the turn is over, rv's credit runs out, the
  // real-time clock is reached, or no room can do anything.
  void stepMachine();
  // rv's credit: events in the window and simulated beam time not yet durable.
  bool hasCredit();
  void dispatch(Fraction& f, const delivery::SimEvent& ev);
  void emitSpot(Fraction& f, const delivery::SpotDelivered& sd);
  void emitHold(Fraction& f, wire::HoldReason reason, double value, double limit, const std::string& detail,
                SimDuration requested, SimDuration off);
  // Beam off for the fraction now, journaled with reason, value and limit.
  void interlock(Fraction& f, wire::HoldReason reason, double value, double limit, const std::string& detail);
  void end(Fraction& f, wire::FractionOutcome outcome, wire::TerminationStatus status, const std::string& code);
  Fraction* find(std::string_view fractionId);
  void hearPeers();             // drains the subscriber, noting heartbeats
  SimDuration wallSim() const;  // wall time since the service started, as simulated time
  // Forgets fractions that ended and are fully acknowledged: their room is free again.
  void releaseDurable();
  // The durable outbox: open it and load what a crashed predecessor left; hand it to rv; commit
  // the turn's events; start afresh once everything is acknowledged.
  void openOutbox();
  void replayOutbox();
  void commitOutbox();
  void resetOutboxIfIdle();
  // Encodes one event, publishes it and puts it on the spot stream.
  template <typename Fill>
  void emit(Fraction& f, Fill&& fill);

  ServiceContext ctx_;
  plan::Facility facility_;
  DeliveryOptions options_;
  bus::ZmqRouter commands_;
  bus::ZmqDealer streamLink_;
  bus::SpotStreamSender sender_;
  bus::Publisher publisher_;
  bus::Subscriber subscriber_;
  bus::RequestClient planClient_;
  bus::RequestClient rvClient_;
  bus::HeartbeatTracker peers_;
  HeartbeatEmitter heartbeat_;
  messages::Encoder encoder_;
  messages::Encoder replyEncoder_;
  std::map<std::string, Fraction> rooms_;
  bool ready_ = false;
  prometheus::Counter& spots_;
  prometheus::Counter& fractions_;
  prometheus::Counter& interlocks_;
  prometheus::Counter& refusals_;
  prometheus::Gauge& unacked_;
  delivery::Synchrotron synchrotron_;
  WallClock::TimePoint epoch_;
  std::optional<WallClock::TimePoint> creditWaitSince_;
  std::optional<WallClock::TimePoint> lastStart_;
  double creditValue_ = 0.0, creditLimit_ = 0.0;  // what ran out: events, or beam time
  std::string creditWhat_;
  std::unique_ptr<recorder::JournalWriter> outbox_;
  // Events a crashed predecessor wrote to the outbox, per fraction, until rv has them.
  std::map<std::string, std::vector<messages::Frame>> replay_;
  std::map<std::string, std::uint64_t> replayUpTo_;  // fraction -> last sequence handed to rv
  bool replayed_ = false;
};

}  // namespace spotline::runtime
