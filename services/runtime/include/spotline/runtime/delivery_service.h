#pragma once
// The delivery service: takes fraction commands, gets the plan from the plan service, has rv
// verify it, and runs the accelerator model spot by spot, sending every event on the spot stream
// to rv (lossless, with a credit window) and publishing it on the bus. It holds the beam (ends the
// fraction as interrupted) on any interlock: its own spot checks, a QA hold request, rv's credit
// window used up, or a critical service's heartbeat lost. One fraction per room at a time.
//
// Lifecycle: one thread, run() until the stop token is set. Owns its sockets and simulators.

#include <map>
#include <memory>
#include <optional>
#include <stop_token>

#include "spotline/bus/spot_stream.h"
#include "spotline/delivery/simulator.h"
#include "spotline/plan/facility.h"
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
};

std::string_view toString(wire::HoldReason reason);
std::string_view toString(wire::FractionOutcome outcome);

class DeliveryService {
 public:
  DeliveryService(ServiceContext ctx, plan::Facility facility, DeliveryOptions options);
  ~DeliveryService();
  void run(std::stop_token stop);

 private:
  enum class State { Running, Paused, Ending };
  struct Fraction {
    std::string id;
    std::string room;
    const plan::RoomModel* roomModel = nullptr;
    std::unique_ptr<plan::Plan> plan;
    std::unique_ptr<delivery::FractionSimulator> sim;
    State state = State::Running;
    std::uint32_t spotsDelivered = 0;
    double meterset = 0.0;
    std::uint64_t lastSequence = 0;
    std::optional<WallClock::TimePoint> creditWaitSince;
    delivery::ResumePoint at;
    BeamNumber beam;
  };

  void handleCommand(const bus::Inbound& in);
  std::string start(wire::StartFraction::Reader cmd, std::string& fractionId);
  bool step(Fraction& f);  // false when the fraction stopped stepping this turn
  void interlock(Fraction& f, wire::HoldReason reason, double value, double limit, const std::string& detail);
  void end(Fraction& f, wire::FractionOutcome outcome, wire::TerminationStatus status, const std::string& code);
  Fraction* find(std::string_view fractionId);
  // Forgets fractions that ended and are fully acknowledged: their room is free again.
  void releaseDurable();
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
};

}  // namespace spotline::runtime
