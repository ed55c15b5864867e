// spotline bench delivery [--repeat R] [--json]
//
// How fast the simulated machine runs, in spots per second of wall time: the model alone (one
// room, then the demo's three rooms sharing the synchrotron), and the whole embedded facility with
// rv journaling every event durably behind it. The model must be far faster than the pipeline so
// that it is never the bottleneck of `spotline bench pipeline`. Nothing here asserts a time.

#include <iostream>

#include "console.h"
#include "session.h"
#include "spotline/delivery/simulator.h"
#include "spotline/monitoring/logging.h"
#include "spotline/plan/dicom.h"
#include "spotline/runtime/embedded.h"

namespace spotline::console {

namespace fs = std::filesystem;

namespace {

struct DeliveryBenchArgs {
  int repeat = 5;
  bool json = false;
};

double seconds(WallClock::Duration d) {
  return std::chrono::duration<double>(d).count();
}

int deliveryBench(const DeliveryBenchArgs& a) {
  if (a.repeat < 1) return complain("spotline bench delivery", "--repeat must be at least 1", kExitBadInput);
  const fs::path dir = examplesDir();
  std::vector<Job> jobs{{(dir / "carbon-10k.dcm").string(), {}, "gantry-1", 1, 1},
                        {(dir / "helium.dcm").string(), {}, "gantry-2", 1, 2},
                        {(dir / "small.dcm").string(), {}, "fixed-1", 1, 3}};
  for (auto& j : jobs) {
    if (auto problem = prepareJob(j)) return complain("spotline bench delivery", *problem, kExitBadInput);
  }
  const plan::Plan& carbon = jobs[0].plan;
  const auto carbonSpots = plan::totals(carbon).spots;
  SteadyClock clock;
  nlohmann::json out;

  // 1. The model alone, one room.
  {
    std::size_t spots = 0;
    double simulated = 0.0;
    auto t0 = clock.now();
    for (int r = 0; r < a.repeat; ++r) {
      delivery::FractionSimulator sim(carbon, {}, static_cast<std::uint64_t>(r + 1));
      while (auto ev = sim.step()) {
        if (std::holds_alternative<delivery::SpotDelivered>(*ev)) ++spots;
        if (const auto* done = std::get_if<delivery::FractionCompleted>(&*ev)) {
          simulated += toSeconds(done->at);
          break;
        }
      }
    }
    const double wall = seconds(clock.now() - t0);
    out["model_one_room"] = {{"spots", spots},
                             {"wall_s", wall},
                             {"spots_per_s", spots / wall},
                             {"simulated_s", simulated},
                             {"speedup", simulated / wall}};
  }
  // 2. The model alone, the demo's three rooms on one synchrotron.
  {
    std::size_t spots = 0;
    double simulated = 0.0;
    auto t0 = clock.now();
    for (int r = 0; r < a.repeat; ++r) {
      delivery::Synchrotron sync({});
      std::vector<std::unique_ptr<delivery::RasterScanner>> scanners;
      for (const auto& j : jobs) {
        scanners.push_back(std::make_unique<delivery::RasterScanner>(j.plan, delivery::MachineParameters{}, j.seed));
        sync.attach(j.room, *scanners.back());
      }
      while (auto ev = sync.step()) {
        if (std::holds_alternative<delivery::SpotDelivered>(ev->event)) ++spots;
        if (std::holds_alternative<delivery::FractionCompleted>(ev->event)) sync.detach(ev->room);
      }
      simulated += toSeconds(sync.now());
    }
    const double wall = seconds(clock.now() - t0);
    out["model_three_rooms"] = {{"spots", spots},
                                {"wall_s", wall},
                                {"spots_per_s", spots / wall},
                                {"simulated_s", simulated},
                                {"speedup", simulated / wall}};
  }
  // 3. The whole embedded facility: delivery, dose, qa and rv journaling durably.
  {
    auto scratch = fs::temp_directory_path() / ("spotline-bench-delivery-" + std::to_string(::getpid()));
    fs::create_directories(scratch);
    auto log = monitoring::makeLogger(
        "bench", monitoring::LogOptions{.file = scratch / "bench.log", .consoleLevel = spdlog::level::err});
    zmq::context_t zmq(1);
    std::size_t spots = 0;
    double simulated = 0.0;
    double wall = 0.0;
    std::string problem;
    {
      runtime::EmbeddedOptions options{.journalDir = scratch / "journal"};
      options.delivery.startTogether = WallClock::Duration{0};  // one room: no start gate to measure
      auto started = runtime::EmbeddedFacility::start(zmq, log, clock, std::move(options));
      if (!started) {
        fs::remove_all(scratch);
        return complain("spotline bench delivery", started.error().message, kExitInternal);
      }
      runtime::ConsoleClient client(zmq, started.value()->endpoints(), clock);
      if (!client.waitForFacility(std::chrono::seconds(15))) problem = "facility not ready";
      auto t0 = clock.now();
      for (int r = 0; r < a.repeat && problem.empty(); ++r) {
        Job job = jobs[0];
        job.fraction = static_cast<std::uint16_t>(r + 1);
        auto o = runJobs(client, {job}, false);
        if (o.front().report.status != "completed" || !o.front().report.recordedByRv) {
          problem = "fraction " + std::to_string(r + 1) + ": " + o.front().report.status + " " + o.front().error;
        }
        spots += o.front().report.spotsRecorded;
        simulated += o.front().report.simulatedSeconds;
      }
      wall = seconds(clock.now() - t0);
    }
    fs::remove_all(scratch);
    if (!problem.empty()) return complain("spotline bench delivery", problem, kExitInternal);
    out["embedded_facility"] = {{"spots", spots},
                                {"wall_s", wall},
                                {"spots_per_s", spots / wall},
                                {"simulated_s", simulated},
                                {"speedup", simulated / wall}};
  }
  out["plan"] = {{"file", jobs[0].planFile}, {"spots", carbonSpots}, {"repeat", a.repeat}};
  if (a.json) {
    printJson(out);
    return kExitOk;
  }
  for (const char* k : {"model_one_room", "model_three_rooms", "embedded_facility"}) {
    const auto& m = out[k];
    std::printf("%-18s %10.0f spots/s   %8zu spots in %.3f s wall, %.0f s simulated (%.0fx real time)\n", k,
                m["spots_per_s"].get<double>(), m["spots"].get<std::size_t>(), m["wall_s"].get<double>(),
                m["simulated_s"].get<double>(), m["speedup"].get<double>());
  }
  return kExitOk;
}

}  // namespace

void addDeliveryBench(CLI::App& bench, Action& action) {
  auto args = std::make_shared<DeliveryBenchArgs>();
  auto* d = bench.add_subcommand("delivery", "Simulated delivery speed: the model alone and the embedded facility");
  d->add_option("--repeat", args->repeat, "fractions of the carbon-10k example per measurement")->capture_default_str();
  d->add_flag("--json", args->json, "print {model_one_room, model_three_rooms, embedded_facility}");
  d->callback([&action, args] { action = [args] { return deliveryBench(*args); }; });
}

}  // namespace spotline::console
