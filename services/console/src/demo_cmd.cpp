// spotline demo: the main job. Starts the facility in-process, delivers the example plans in all
// three rooms at once with a live progress line, verifies the journal and prints a summary.

#include <iostream>

#include "session.h"
#include "spotline/monitoring/logging.h"
#include "spotline/recorder/journal.h"
#include "spotline/runtime/embedded.h"

namespace spotline::console {

namespace fs = std::filesystem;

namespace {

struct DemoArgs {
  std::string out = "spotline-out";
  std::string plans;
  std::uint64_t seed = 1;
  bool json = false;
  bool realtime = false;
};

int demo(const DemoArgs& a) {
  fs::path plans = a.plans.empty() ? examplesDir() : fs::path(a.plans);
  // DICOM RT Ion Plans, as a treatment planning system would send them (synthetic: see
  // examples/plans/README.md).
  std::vector<Job> jobs{{(plans / "carbon-10k.dcm").string(), {}, "gantry-1", 1, a.seed},
                        {(plans / "helium.dcm").string(), {}, "gantry-2", 1, a.seed + 1},
                        {(plans / "small.dcm").string(), {}, "fixed-1", 1, a.seed + 2}};
  for (auto& j : jobs) {
    if (auto problem = prepareJob(j)) return complain("spotline demo", *problem + " (--plans DIR)", kExitBadInput);
  }
  // A new run directory each time: a journal is never reused or overwritten.
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
  fs::path run = fs::path(a.out) / ("run-" + std::string(stamp) + "-" + std::to_string(::getpid()));
  fs::create_directories(run);
  auto log = monitoring::makeLogger(
      "spotline", monitoring::LogOptions{.file = run / "spotline.log", .consoleLevel = spdlog::level::err});
  if (!a.json) {
    std::cout << "Spotline demo: embedded facility (plan, delivery, dose, qa, rv over inproc://), journal "
              << (run / "journal").string() << "\n";
    for (const auto& j : jobs) {
      auto t = plan::totals(j.plan);
      std::cout << "  " << j.room << ": " << j.planFile << " (" << plan::ionName(j.plan.beams.front().ion) << ", "
                << t.layers << " layers, " << t.spots << " spots" << (j.plan.synthetic ? ", synthetic" : "") << ")\n";
    }
  }
  zmq::context_t zmq(1);
  SteadyClock clock;
  std::vector<JobOutcome> outcomes;
  auto t0 = clock.now();
  {
    runtime::EmbeddedOptions options{.journalDir = run / "journal"};
    options.delivery.realtime = a.realtime;
    auto started = runtime::EmbeddedFacility::start(zmq, log, clock, std::move(options));
    if (!started) return complain("spotline demo", started.error().message, kExitIntegrity);
    runtime::ConsoleClient client(zmq, started.value()->endpoints(), clock);
    auto ready = client.waitForFacility(std::chrono::seconds(15));
    if (!ready) return complain("spotline demo", "facility not ready: " + ready.error().message, kExitInternal);
    outcomes = runJobs(client, jobs, !a.json);
  }
  double wall = std::chrono::duration<double>(clock.now() - t0).count();
  auto verify = recorder::verifyJournal(run / "journal");
  int code = combinedExit(outcomes);
  if (!verify.ok && code == kExitOk) code = kExitIntegrity;

  nlohmann::json fractions = nlohmann::json::array();
  for (const auto& o : outcomes) fractions.push_back(outcomeJson(o));
  nlohmann::json summary{
      {"run_dir", run.string()},
      {"fractions", fractions},
      {"journal",
       {{"ok", verify.ok}, {"records", verify.records}, {"segments", verify.segments}, {"message", verify.message}}},
      {"wall_seconds", wall}};
  if (a.json) {
    printJson(summary);
    return code;
  }
  std::cout << "\nroom      fraction          status      spots delivered/recorded/planned   meterset "
               "delivered/planned   simulated   waited for beam\n";
  for (const auto& o : outcomes) {
    const auto& r = o.report;
    std::printf(
        "%-9s %-17s %-11s %8u / %8u / %8u   %12.4g / %-12.4g %-3s %7.1f s   %6.1f s (%u spills to other rooms)\n",
        r.room.c_str(), r.fractionId.c_str(), r.status.c_str(), r.spotsDelivered, r.spotsRecorded, r.spotsPlanned,
        r.metersetDelivered, r.metersetPlanned, r.metersetUnit.c_str(), r.simulatedSeconds, r.beamWaitSeconds,
        r.spillsToOthers);
    for (const auto& i : r.interlocks) {
      std::printf("          interlock %s at beam %u layer %u spot %u (value %g, limit %g)\n", i.reason.c_str(), i.beam,
                  i.layer, i.spot, i.value, i.limit);
    }
    if (!o.error.empty()) std::printf("          %s\n", o.error.c_str());
  }
  std::cout << "One synchrotron, three rooms: each spill goes to one room; the others wait (simulated time).\n";
  std::cout << "journal: " << (verify.ok ? "verified" : "DAMAGED: " + verify.message) << ", " << verify.records
            << " records in " << verify.segments << " segment(s)\n";
  std::printf("wall time %.2f s; log %s\n", wall, (run / "spotline.log").c_str());
  return code;
}

}  // namespace

void addDemoCommand(CLI::App& app, Action& action) {
  auto args = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand("demo", "The main job: three rooms treat at once, embedded; journal verified");
  cmd->add_option("--out", args->out, "output directory")->capture_default_str();
  cmd->add_option("--plans", args->plans, "directory with carbon-10k.dcm, helium.dcm, small.dcm");
  cmd->add_option("--seed", args->seed, "seed of the machine model")->capture_default_str();
  cmd->add_flag("--json", args->json, "print the summary as JSON");
  cmd->add_flag("--realtime", args->realtime,
                "pace the machine to the wall clock, to watch the rooms wait for beam (takes minutes)");
  cmd->callback([&action, args] { action = [args] { return demo(*args); }; });
}

}  // namespace spotline::console
