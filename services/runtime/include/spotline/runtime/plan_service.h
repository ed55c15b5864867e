#pragma once
// The plan service: validates plans against the facility model, keeps approved plans by content
// hash, answers GetPlan by UID, publishes PlanLoaded / PlanRejected.
//
// Lifecycle: constructed and run on one thread (run() returns when the stop token is set);
// owns its sockets.

#include <map>
#include <stop_token>

#include "spotline/plan/facility.h"
#include "spotline/plan/plan.h"
#include "spotline/runtime/service_context.h"

namespace spotline::runtime {

class PlanService {
 public:
  PlanService(ServiceContext ctx, plan::Facility facility);
  void run(std::stop_token stop);

 private:
  struct Stored {
    plan::Plan plan;
    std::string hash;
  };
  void handle(const bus::Inbound& in);

  ServiceContext ctx_;
  plan::Facility facility_;
  bus::ZmqRouter commands_;
  bus::Publisher publisher_;
  bus::Subscriber subscriber_;
  HeartbeatEmitter heartbeat_;
  messages::Encoder encoder_;
  std::map<std::string, Stored> plans_;
  bool ready_ = false;
  prometheus::Counter& loaded_;
  prometheus::Counter& rejected_;
  prometheus::Counter& requests_;
  prometheus::Counter& badFrames_;
};

}  // namespace spotline::runtime
