#pragma once
// The whole facility in one process: the event proxy and every service on a thread of its own,
// over inproc:// in one ZeroMQ context. Same service code as the multi-process facility.
//
// Lifecycle: start() builds and launches; the destructor stops every service and joins its thread.
// No exception escapes a service thread: a service that throws is logged and marked failed.

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "spotline/monitoring/metrics.h"
#include "spotline/plan/facility.h"
#include "spotline/runtime/delivery_service.h"
#include "spotline/runtime/rv_service.h"

namespace spotline::runtime {

struct EmbeddedOptions {
  std::filesystem::path journalDir;
  // The journal's signing key file, created when missing. Empty: <journalDir>.key beside the
  // journal directory. The delivery outbox, unless options.delivery names one, is <journalDir>.outbox.
  std::filesystem::path signingKey;
  plan::Facility facility = plan::builtInFacility();
  DeliveryOptions delivery;
  bool metrics = false;  // expose a Prometheus endpoint per service on a free port
};

class EmbeddedFacility {
 public:
  static Result<std::unique_ptr<EmbeddedFacility>, std::string> start(zmq::context_t& zmq,
                                                                      std::shared_ptr<spdlog::logger> log,
                                                                      const WallClock& clock, EmbeddedOptions options);
  ~EmbeddedFacility();
  const bus::Endpoints& endpoints() const { return endpoints_; }
  // service -> metrics port (empty unless options.metrics)
  std::map<std::string, int> metricsPorts() const;
  bool failed() const { return failed_.load(); }
  // Stops one service's thread at once, as a crash would (process faults such as kill-rv; in one
  // process there is no process to kill). Thread-safe; the thread is joined by the destructor.
  void stopService(const std::string& name);

 private:
  EmbeddedFacility(zmq::context_t& zmq, std::shared_ptr<spdlog::logger> log, const WallClock& clock);
  template <typename Service>
  void launch(const std::string& name, std::unique_ptr<Service> service);
  ServiceContext context(const std::string& service);

  zmq::context_t& zmq_;
  std::shared_ptr<spdlog::logger> log_;
  const WallClock& clock_;
  bus::Endpoints endpoints_;
  std::unique_ptr<bus::EventProxy> proxy_;
  std::map<std::string, std::shared_ptr<prometheus::Registry>> registries_;
  std::map<std::string, std::unique_ptr<monitoring::MetricsEndpoint>> metrics_;
  std::vector<std::shared_ptr<void>> services_;
  std::vector<std::jthread> threads_;
  std::vector<std::string> threadNames_;
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> killed_;
  std::atomic<bool> failed_{false};
};

}  // namespace spotline::runtime
