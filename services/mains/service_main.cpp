// One thin main for every service process: parse flags, build the context, run the service until
// SIGTERM or SIGINT. Which service is decided by SPOTLINE_SERVICE, set per executable in CMake.

#include <signal.h>
#include <csignal>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "spotline/bus/endpoints.h"
#include "spotline/monitoring/logging.h"
#include "spotline/monitoring/metrics.h"
#include "spotline/runtime/delivery_service.h"
#include "spotline/runtime/dose_service.h"
#include "spotline/runtime/plan_service.h"
#include "spotline/runtime/qa_service.h"
#include "spotline/runtime/rv_service.h"

namespace {

volatile std::sig_atomic_t stopSignal = 0;
void onSignal(int sig) {
  stopSignal = sig;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace spotline;
  const std::string service = SPOTLINE_SERVICE;
  CLI::App app{"spotline-" + service + ": the " + service + " service of a multi-process Spotline facility"};
  std::string endpointsFile;
  std::string journalDir;
  std::string signingKey;
  std::string outboxDir;
  std::string logFile;
  int metricsPort = -1;
  std::string metricsAddress = "127.0.0.1";
  bool realtime = false;
  std::string pidsDir;
  app.add_option("--endpoints", endpointsFile, "endpoints.json written by 'spotline facility up'")->required();
  app.add_option("--journal", journalDir, "journal directory (rv only)");
  app.add_option("--outbox", outboxDir, "delivery only: durable outbox directory for events rv has not acknowledged");
  app.add_option("--signing-key", signingKey,
                 "rv only: Ed25519 key file that signs journal checkpoints (created, mode 600, when missing)");
  app.add_option("--metrics-port", metricsPort,
                 "Prometheus port on 127.0.0.1 (0: any free port; default: the one in endpoints.json)");
  app.add_option("--metrics-address", metricsAddress,
                 "address the Prometheus endpoint listens on (default 127.0.0.1; 0.0.0.0 in a container)");
  app.add_option("--log", logFile, "append the log to this file");
  app.add_flag("--realtime", realtime, "delivery only: pace the simulated machine to the wall clock");
  app.add_option("--pids", pidsDir,
                 "delivery only: the facility's pids/ directory; process faults (kill-rv@spot=N) SIGKILL "
                 "the service named there");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  auto endpoints = bus::readEndpoints(endpointsFile);
  if (!endpoints) {
    std::cerr << "spotline-" << service << ": --endpoints " << endpoints.error().message << "\n";
    return 2;
  }
  if (service == "rv" && journalDir.empty()) {
    std::cerr << "spotline-rv: --journal DIR is required\n";
    return 2;
  }
  monitoring::LogOptions logOptions;
  if (!logFile.empty()) logOptions.file = logFile;
  auto log = monitoring::makeLogger(service, logOptions);
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    zmq::context_t zmq(1);
    SteadyClock clock;
    auto registry = std::make_shared<prometheus::Registry>();
    if (metricsPort < 0) {
      auto it = endpoints.value().metricsPorts.find(service);
      metricsPort = it == endpoints.value().metricsPorts.end() ? 0 : it->second;
    }
    std::unique_ptr<monitoring::MetricsEndpoint> metrics;
    if (metricsPort >= 0) {
      metrics = std::make_unique<monitoring::MetricsEndpoint>(metricsPort, metricsAddress);
      metrics->add(registry);
      log->info("metrics on {}:{}", metricsAddress, metrics->port());
    }
    runtime::ServiceContext ctx{zmq, endpoints.value(), clock, log, registry};
    auto facility = plan::builtInFacility();

    std::function<void(std::stop_token)> run;
    std::shared_ptr<void> keep;
    std::unique_ptr<bus::EventProxy> proxy;
    if (service == "bus") {
      proxy = std::make_unique<bus::EventProxy>(zmq, endpoints.value().busXsub, endpoints.value().busXpub);
      run = [](std::stop_token stop) {
        while (!stop.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      };
    } else if (service == "plan") {
      auto s = std::make_shared<runtime::PlanService>(ctx, facility);
      keep = s;
      run = [s](std::stop_token stop) { s->run(stop); };
    } else if (service == "rv") {
      runtime::RvOptions rvOptions{.journalDir = journalDir};
      if (!signingKey.empty()) {
        auto key = runtime::loadOrCreateSigningKey(signingKey, *log);
        if (!key) {
          std::cerr << "spotline-rv: --signing-key " << key.error().message << "\n";
          return 2;
        }
        rvOptions.signingKey = key.value();
      }
      auto s = runtime::RvService::open(ctx, facility, rvOptions);
      if (!s) {
        log->critical("cannot open the journal: {}", s.error().message);
        std::cerr << "spotline-rv: " << s.error().message << "\n";
        return s.error().code == recorder::JournalError::Corrupt ? 3 : 1;
      }
      std::shared_ptr<runtime::RvService> rv(std::move(s).value());
      keep = rv;
      run = [rv](std::stop_token stop) { rv->run(stop); };
    } else if (service == "dose") {
      auto s = std::make_shared<runtime::DoseService>(ctx);
      keep = s;
      run = [s](std::stop_token stop) { s->run(stop); };
    } else if (service == "qa") {
      auto s = std::make_shared<runtime::QaService>(ctx, facility);
      keep = s;
      run = [s](std::stop_token stop) { s->run(stop); };
    } else if (service == "delivery") {
      runtime::DeliveryOptions options;
      options.realtime = realtime;
      options.outboxDir = outboxDir;
      if (!pidsDir.empty()) {
        options.processFault = [pidsDir, log](const std::string& victim) {
          std::ifstream in(std::filesystem::path(pidsDir) / (victim + ".pid"));
          int pid = 0;
          if (!(in >> pid) || pid <= 1) {
            log->error("process fault: no pid for service {} in {}", victim, pidsDir);
            return;
          }
          log->warn("process fault: SIGKILL to {} pid={}", victim, pid);
          ::kill(pid, SIGKILL);
        };
      }
      auto s = std::make_shared<runtime::DeliveryService>(ctx, facility, options);
      keep = s;
      run = [s](std::stop_token stop) { s->run(stop); };
    } else {
      std::cerr << "unknown service " << service << "\n";
      return 1;
    }
    std::atomic<bool> failed{false};
    std::jthread worker([&](std::stop_token stop) {
      try {
        run(stop);
      } catch (const std::exception& e) {
        log->critical("service failed: {}", e.what());
        failed = true;
        stopSignal = SIGTERM;
      }
    });
    log->info("{} pid={} started", service, ::getpid());
    while (stopSignal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    log->info("{} stopping on signal {}", service, static_cast<int>(stopSignal));
    worker.request_stop();
    worker.join();
    proxy.reset();
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    log->critical("{} could not start: {}", service, e.what());
    std::cerr << "spotline-" << service << ": " << e.what() << "\n";
    return 1;
  }
}
