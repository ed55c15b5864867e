#pragma once
// What main hands every service: the ZeroMQ context, where the sockets are, the wall clock, the
// logger and the metrics registry. The service owns none of them; main outlives the service.

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "spotline/bus/codec_helpers.h"
#include "spotline/bus/endpoints.h"
#include "spotline/bus/heartbeat.h"
#include "spotline/bus/zmq.h"
#include "spotline/core/clock.h"

namespace spotline::runtime {

struct ServiceContext {
  zmq::context_t& zmq;
  const bus::Endpoints& endpoints;
  const WallClock& clock;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<prometheus::Registry> registry;
  // Set (embedded facility) when an injected process fault "kills" the service: it stops at once,
  // without the orderly last steps (rv's final commit), as a killed process would.
  std::shared_ptr<std::atomic<bool>> killed = std::make_shared<std::atomic<bool>>(false);
};

// A counter in a service's probe: labelled with the service, so one Prometheus sees every process.
inline prometheus::Counter& serviceCounter(prometheus::Registry& registry, const std::string& service,
                                           const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({{"service", service}});
}

// Publishes this service's heartbeat every kHeartbeatPeriod of wall time.
class HeartbeatEmitter {
 public:
  HeartbeatEmitter(std::string service, const WallClock& clock);
  // Call from the service loop; `ready` says the service's subscriber has seen the bus.
  void tick(bus::Publisher& publisher, bool ready);

 private:
  std::string service_;
  const WallClock& clock_;
  WallClock::TimePoint started_;
  WallClock::TimePoint last_{};
  messages::Encoder encoder_;
  std::uint64_t sequence_ = 0;
};

}  // namespace spotline::runtime
