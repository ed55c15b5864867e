// spotline bench pipeline --spots N [--json]
//
// Spots per second end to end — delivery's spot stream sender → ZeroMQ → rv → journal, durable
// (fdatasync'd group commit) and acknowledged — and spot-to-durable latency (send → the ack that
// covers it). Embedded: rv on a thread over inproc://. Multi-process: a spotline-rv process over
// tcp://127.0.0.1. The numbers go into the README; nothing here asserts a time.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fstream>

#include <algorithm>
#include <iostream>
#include <thread>

#include "console.h"
#include "spotline/bus/spot_stream.h"
#include "spotline/monitoring/logging.h"
#include "spotline/runtime/rv_service.h"

namespace spotline::console {

namespace fs = std::filesystem;

namespace {

struct BenchArgs {
  std::uint64_t spots = 200000;
  std::size_t window = 8192;
  bool json = false;
  bool embeddedOnly = false;
};

struct BenchResult {
  double spotsPerS = 0, p50ms = 0, p99ms = 0, maxMs = 0;
  std::uint64_t spots = 0;
  double seconds = 0;
  double rvPeakRssKb = 0, rvRssKb = 0;  // multi-process: the rv process's VmHWM and VmRSS
};

BenchResult drive(zmq::context_t& zmq, const std::string& rvStream, const std::string& rvCommand, std::uint64_t n,
                  std::size_t window) {
  SteadyClock clock;
  // Wait until rv answers, so the stream does not start into a socket nobody reads yet.
  bus::RequestClient probe(zmq, rvCommand, "bench");
  for (int i = 0; i < 100; ++i) {
    probe.begin().initFractionQuery().setFractionId("probe");
    if (probe.call(std::chrono::milliseconds(200))) break;
  }
  bus::ZmqDealer link(zmq, rvStream, "bench-" + std::to_string(::getpid()));
  bus::SpotStreamSender sender(link, clock, bus::StreamConfig{.window = window});
  const std::string fraction = "BENCH-" + std::to_string(unixNanosNow());
  sender.beginFraction(fraction, 1);
  messages::Encoder enc;
  std::vector<WallClock::TimePoint> sentAt(n + 1);
  std::vector<double> latencies;
  latencies.reserve(n);
  std::uint64_t acked = 0;
  std::uint64_t next = 1;
  auto t0 = clock.now();
  while (acked < n) {
    while (next <= n && sender.hasCredit()) {
      auto s = enc.start({.source = "delivery",
                          .sequence = next,
                          .simTimeNs = static_cast<std::int64_t>(next) * 1000,
                          .wallTimeNs = unixNanosNow()})
                   .initSpotDelivered();
      s.setFractionId(fraction);
      s.setBeam(1);
      s.setLayer(static_cast<std::uint32_t>(next / 100));
      s.setSpot(static_cast<std::uint32_t>(next % 100));
      s.setPlanned(10000.0);
      s.setDelivered(10012.5);
      s.setSecondary(10003.1);
      s.setXPlannedMm(1.5);
      s.setYPlannedMm(-3.0);
      s.setXMeasuredMm(1.52);
      s.setYMeasuredMm(-2.97);
      s.setEnergyMevPerU(250.0);
      s.setSpill(1);
      sentAt[next] = clock.now();
      sender.send(fraction, enc.finish());
      ++next;
      if (next % 256 == 0) break;  // look at acks now and then
    }
    bus::pollReadable({&link.socket()}, std::chrono::milliseconds(sender.hasCredit() && next <= n ? 0 : 5));
    sender.poll();
    auto upTo = sender.acknowledgedUpTo(fraction);
    if (upTo > acked) {
      auto now = clock.now();
      for (auto s = acked + 1; s <= upTo; ++s) {
        latencies.push_back(std::chrono::duration<double, std::milli>(now - sentAt[s]).count());
      }
      acked = upTo;
    }
  }
  BenchResult r;
  r.spots = n;
  r.seconds = std::chrono::duration<double>(clock.now() - t0).count();
  r.spotsPerS = static_cast<double>(n) / r.seconds;
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()))];
  };
  r.p50ms = pct(0.50);
  r.p99ms = pct(0.99);
  r.maxMs = latencies.back();
  return r;
}

BenchResult embedded(const BenchArgs& a, const fs::path& scratch) {
  zmq::context_t zmq(1);
  SteadyClock clock;
  auto endpoints = bus::Endpoints::inproc("bench-" + std::to_string(::getpid()));
  bus::EventProxy proxy(zmq, endpoints.busXsub, endpoints.busXpub);
  auto log = monitoring::makeLogger("rv", monitoring::LogOptions{.file = scratch / "embedded.log"});
  runtime::ServiceContext ctx{zmq, endpoints, clock, log, std::make_shared<prometheus::Registry>()};
  auto rv = runtime::RvService::open(ctx, plan::builtInFacility(),
                                     runtime::RvOptions{.journalDir = scratch / "embedded-journal"});
  if (!rv) throw std::runtime_error("bench journal: " + rv.error().message);
  std::shared_ptr<runtime::RvService> service(std::move(rv).value());
  std::jthread thread([service](std::stop_token stop) { service->run(stop); });
  auto r = drive(zmq, endpoints.rvStream, endpoints.rvCommand, a.spots, a.window);
  thread.request_stop();
  return r;
}

BenchResult multiprocess(const BenchArgs& a, const fs::path& scratch) {
  auto endpoints = bus::Endpoints::tcp(bus::freeTcpPorts(7));
  auto file = scratch / "endpoints.json";
  bus::writeEndpoints(file, endpoints);
  auto exe = (executableDir() / "spotline-rv").string();
  auto journal = (scratch / "mp-journal").string();
  auto logFile = (scratch / "rv.log").string();
  auto endpointsArg = file.string();
  pid_t pid = ::fork();
  if (pid == 0) {
    const char* argv[] = {exe.c_str(), "--endpoints",   endpointsArg.c_str(), "--journal", journal.c_str(),
                          "--log",     logFile.c_str(), "--metrics-port",     "0",         nullptr};
    ::execv(exe.c_str(), const_cast<char* const*>(argv));
    std::_Exit(127);
  }
  BenchResult r;
  try {
    zmq::context_t zmq(1);
    r = drive(zmq, endpoints.rvStream, endpoints.rvCommand, a.spots, a.window);
  } catch (...) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw;
  }
  // rv's memory after the whole run: peak and current resident set (its journal is on disk).
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) r.rvPeakRssKb = std::stod(line.substr(6));
    if (line.starts_with("VmRSS:")) r.rvRssKb = std::stod(line.substr(6));
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  return r;
}

nlohmann::json toJson(const BenchResult& r) {
  nlohmann::json j{{"spots", r.spots},  {"seconds", r.seconds}, {"spots_per_s", r.spotsPerS},
                   {"p50_ms", r.p50ms}, {"p99_ms", r.p99ms},    {"max_ms", r.maxMs}};
  if (r.rvPeakRssKb > 0) {
    j["rv_peak_rss_mb"] = r.rvPeakRssKb / 1024.0;
    j["rv_rss_mb"] = r.rvRssKb / 1024.0;
  }
  return j;
}

int pipeline(const BenchArgs& a) {
  if (a.spots == 0) return complain("spotline bench pipeline", "--spots must be at least 1", kExitBadInput);
  auto scratch = fs::temp_directory_path() / ("spotline-bench-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  nlohmann::json out;
  try {
    out["embedded"] = toJson(embedded(a, scratch));
    if (!a.embeddedOnly) out["multiprocess"] = toJson(multiprocess(a, scratch));
  } catch (...) {
    fs::remove_all(scratch);
    throw;
  }
  fs::remove_all(scratch);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  out["machine"] = {{"cores", std::thread::hardware_concurrency()}, {"host", host}};
  out["durable"] = true;
  out["window"] = a.window;
  if (a.json) {
    printJson(out);
  } else {
    for (const char* mode : {"embedded", "multiprocess"}) {
      if (!out.contains(mode)) continue;
      const auto& m = out[mode];
      std::printf("%-13s %10.0f spots/s   p50 %.3f ms   p99 %.3f ms   (%llu spots, durable)\n", mode,
                  m["spots_per_s"].get<double>(), m["p50_ms"].get<double>(), m["p99_ms"].get<double>(),
                  static_cast<unsigned long long>(m["spots"].get<std::uint64_t>()));
    }
  }
  return kExitOk;
}

}  // namespace

void addBenchCommands(CLI::App& app, Action& action) {
  auto args = std::make_shared<BenchArgs>();
  auto* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  auto* p = bench->add_subcommand("pipeline", "Spots/s and spot-to-durable latency, delivery -> bus -> rv journal");
  p->add_option("--spots", args->spots, "spots to send")->capture_default_str();
  p->add_option("--window", args->window, "credit window (unacknowledged spots)")->capture_default_str();
  p->add_flag("--embedded-only", args->embeddedOnly, "skip the multi-process run");
  p->add_flag("--json", args->json, "print {embedded:{spots_per_s,p50_ms,p99_ms}, multiprocess:{...}}");
  p->callback([&action, args] { action = [args] { return pipeline(*args); }; });
  addPlanReadBench(*bench, action);
  addDeliveryBench(*bench, action);
  addKafkaBench(*bench, action);
}

}  // namespace spotline::console
