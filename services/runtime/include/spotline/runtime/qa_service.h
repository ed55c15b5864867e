#pragma once
// Real-time QA: checks every delivered spot against the room's tolerance table, independently of
// delivery's own interlocks, publishes a QaEvent for each violation and asks delivery to hold the
// beam. It also notices gaps in a fraction's event sequence.
//
// Lifecycle: one thread, run() until the stop token is set.

#include <map>
#include <stop_token>

#include "spotline/plan/facility.h"
#include "spotline/runtime/service_context.h"

namespace prometheus {
class Counter;
}

namespace spotline::runtime {

struct QaFinding {
  wire::QaCheck check;
  double value;
  double limit;
};

// Position (larger of |dx|, |dy|, mm), meterset (|delivered - planned| against
// max(relative x planned, floor)), and monitor agreement (|secondary - primary| / primary).
std::vector<QaFinding> qaCheckSpot(wire::SpotDelivered::Reader spot, const plan::RoomModel& room);

class QaService {
 public:
  QaService(ServiceContext ctx, plan::Facility facility);
  void run(std::stop_token stop);

 private:
  struct Active {
    const plan::RoomModel* room = nullptr;
    std::uint64_t lastSequence = 0;
    bool holdRequested = false;
  };
  void handle(const bus::Event& ev);
  void requestHold(const std::string& fraction, const QaFinding& finding);

  ServiceContext ctx_;
  plan::Facility facility_;
  bus::Publisher publisher_;
  bus::Subscriber subscriber_;
  bus::RequestClient delivery_;
  HeartbeatEmitter heartbeat_;
  messages::Encoder encoder_;
  std::map<std::string, Active> active_;
  bool ready_ = false;
  prometheus::Counter& checked_;
  prometheus::Counter& violations_;
  prometheus::Counter& holds_;
};

}  // namespace spotline::runtime
