#include "spotline/runtime/embedded.h"
#include <unistd.h>

#include <atomic>

#include "spotline/monitoring/logging.h"
#include "spotline/runtime/dose_service.h"
#include "spotline/runtime/plan_service.h"
#include "spotline/runtime/qa_service.h"

namespace spotline::runtime {

namespace {
std::atomic<std::uint64_t> instanceCounter{0};
}

EmbeddedFacility::EmbeddedFacility(zmq::context_t& zmq, std::shared_ptr<spdlog::logger> log, const WallClock& clock)
    : zmq_(zmq),
      log_(std::move(log)),
      clock_(clock),
      endpoints_(bus::Endpoints::inproc(std::to_string(::getpid()) + "-" + std::to_string(instanceCounter++))) {
  // No reallocation once services run: stopService() may be called from a service thread.
  threads_.reserve(16);
  threadNames_.reserve(16);
}

ServiceContext EmbeddedFacility::context(const std::string& service) {
  auto registry = std::make_shared<prometheus::Registry>();
  registries_[service] = registry;
  ServiceContext ctx{zmq_, endpoints_, clock_, monitoring::childLogger(log_, service), registry};
  killed_[service] = ctx.killed;
  return ctx;
}

template <typename Service>
void EmbeddedFacility::launch(const std::string& name, std::unique_ptr<Service> service) {
  std::shared_ptr<Service> shared(std::move(service));
  services_.push_back(shared);
  auto log = log_;
  threadNames_.push_back(name);
  threads_.emplace_back([shared, name, log, this](std::stop_token stop) {
    try {
      shared->run(stop);
    } catch (const std::exception& e) {
      failed_ = true;
      log->critical("service {} failed: {}", name, e.what());
    }
  });
}

Result<std::unique_ptr<EmbeddedFacility>, std::string> EmbeddedFacility::start(zmq::context_t& zmq,
                                                                               std::shared_ptr<spdlog::logger> log,
                                                                               const WallClock& clock,
                                                                               EmbeddedOptions options) {
  std::unique_ptr<EmbeddedFacility> f(new EmbeddedFacility(zmq, std::move(log), clock));
  try {
    f->proxy_ = std::make_unique<bus::EventProxy>(zmq, f->endpoints_.busXsub, f->endpoints_.busXpub);
    auto journalDir = options.journalDir.lexically_normal();
    if (!journalDir.has_filename()) journalDir = journalDir.parent_path();
    auto keyFile = options.signingKey;
    if (keyFile.empty()) keyFile = std::filesystem::path(journalDir.string() + ".key");
    if (options.delivery.outboxDir.empty()) {
      options.delivery.outboxDir = std::filesystem::path(journalDir.string() + ".outbox");
    }
    auto key = loadOrCreateSigningKey(keyFile, *f->log_);
    if (!key) return fail(std::string("signing key"), key.error().message);
    auto rv = RvService::open(f->context("rv"), options.facility,
                              RvOptions{.journalDir = options.journalDir, .signingKey = key.value()});
    if (!rv) return fail(std::string("journal"), rv.error().message);
    f->launch("rv", std::move(rv).value());
    f->launch("plan", std::make_unique<PlanService>(f->context("plan"), options.facility));
    f->launch("dose", std::make_unique<DoseService>(f->context("dose")));
    f->launch("qa", std::make_unique<QaService>(f->context("qa"), options.facility));
    if (!options.delivery.processFault) {
      options.delivery.processFault = [raw = f.get()](const std::string& service) { raw->stopService(service); };
    }
    f->launch("delivery",
              std::make_unique<DeliveryService>(f->context("delivery"), options.facility, options.delivery));
    if (options.metrics) {
      for (auto& [name, registry] : f->registries_) {
        auto endpoint = std::make_unique<monitoring::MetricsEndpoint>(0);
        endpoint->add(registry);
        f->metrics_[name] = std::move(endpoint);
      }
    }
  } catch (const std::exception& e) {
    return fail(std::string("start"), std::string("facility did not start: ") + e.what());
  }
  return f;
}

void EmbeddedFacility::stopService(const std::string& name) {
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    if (threadNames_[i] == name) {
      log_->warn("service {} killed by an injected process fault", name);
      if (auto it = killed_.find(name); it != killed_.end()) it->second->store(true);
      threads_[i].request_stop();
    }
  }
}

std::map<std::string, int> EmbeddedFacility::metricsPorts() const {
  std::map<std::string, int> out;
  for (const auto& [name, m] : metrics_) out[name] = m->port();
  return out;
}

EmbeddedFacility::~EmbeddedFacility() {
  for (auto& t : threads_) t.request_stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  services_.clear();
  proxy_.reset();
}

}  // namespace spotline::runtime
