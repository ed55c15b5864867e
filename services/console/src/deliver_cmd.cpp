// spotline deliver PLAN --room ROOM [--fraction N] [--journal DIR] [--seed S] [--facility DIR] [--json]

#include <iostream>

#include "session.h"
#include "spotline/bus/endpoints.h"
#include "spotline/monitoring/logging.h"
#include "spotline/runtime/embedded.h"

namespace spotline::console {

namespace {

struct DeliverArgs {
  Job job;
  std::string journal = "spotline-out/journal";
  std::string facility;
  bool json = false;
};

void printHuman(const JobOutcome& o) {
  const auto& r = o.report;
  std::cout << "fraction " << (r.fractionId.empty() ? "-" : r.fractionId) << " room " << r.room << ": " << r.status
            << "\n";
  if (!r.refusal.empty()) std::cout << "  refused: " << r.refusal << "\n";
  for (const auto& v : o.violations) std::cout << "  " << v.path << ": " << v.rule << ": " << v.message << "\n";
  if (r.status == "refused") return;
  std::cout << "  spots delivered " << r.spotsDelivered << "/" << r.spotsPlanned << ", recorded by rv "
            << r.spotsRecorded << "\n"
            << "  meterset " << r.metersetDelivered << "/" << r.metersetPlanned << " " << r.metersetUnit << ", layers "
            << r.layersCompleted << "/" << r.layersPlanned << ", simulated " << r.simulatedSeconds << " s\n";
  for (const auto& i : r.interlocks) {
    std::cout << "  interlock " << i.reason << " at beam " << i.beam << " layer " << i.layer << " spot " << i.spot
              << ": value " << i.value << ", limit " << i.limit << " (" << i.detail << ")\n";
  }
  if (!o.error.empty()) std::cout << "  " << o.error << "\n";
}

int deliver(DeliverArgs a) {
  if (auto problem = prepareJob(a.job)) return complain("spotline deliver", *problem, kExitBadInput);
  zmq::context_t zmq(1);
  SteadyClock clock;
  std::unique_ptr<runtime::EmbeddedFacility> embedded;
  bus::Endpoints endpoints;
  std::shared_ptr<spdlog::logger> log;
  if (a.facility.empty()) {
    std::filesystem::path journal(a.journal);
    auto logFile =
        (journal.has_parent_path() ? journal.parent_path() : std::filesystem::path(".")) / "logs" / "spotline.log";
    log =
        monitoring::makeLogger("spotline", monitoring::LogOptions{.file = logFile, .consoleLevel = spdlog::level::err});
    auto started = runtime::EmbeddedFacility::start(zmq, log, clock, runtime::EmbeddedOptions{.journalDir = journal});
    if (!started) {
      return complain("spotline deliver", "--journal " + a.journal + ": " + started.error().message, kExitIntegrity);
    }
    embedded = std::move(started).value();
    endpoints = embedded->endpoints();
  } else {
    auto e = bus::readEndpoints(std::filesystem::path(a.facility) / "endpoints.json");
    if (!e) return complain("spotline deliver", "--facility " + e.error().message, kExitBadInput);
    endpoints = e.value();
  }
  runtime::ConsoleClient client(zmq, endpoints, clock);
  auto ready = client.waitForFacility(std::chrono::seconds(15));
  if (!ready) return complain("spotline deliver", "facility not ready: " + ready.error().message, kExitInternal);
  auto outcomes = runJobs(client, {a.job}, !a.json);
  embedded.reset();
  if (a.json) {
    auto j = outcomeJson(outcomes.front());
    if (a.facility.empty()) j["journal"] = a.journal;
    printJson(j);
  } else {
    printHuman(outcomes.front());
  }
  return outcomes.front().exitCode;
}

}  // namespace

void addDeliverCommand(CLI::App& app, Action& action) {
  auto args = std::make_shared<DeliverArgs>();
  auto* cmd = app.add_subcommand("deliver", "Deliver one fraction of a plan in a room (embedded unless --facility)");
  cmd->add_option("PLAN", args->job.planFile, "plan file (Spotline JSON)")->required();
  cmd->add_option("--room", args->job.room, "gantry-1, gantry-2 or fixed-1")->required();
  cmd->add_option("--fraction", args->job.fraction, "fraction number")
      ->capture_default_str()
      ->check(CLI::Range(1, 999));
  cmd->add_option("--journal", args->journal, "journal directory (embedded)")->capture_default_str();
  cmd->add_option("--seed", args->job.seed, "seed of the machine model")->capture_default_str();
  cmd->add_option("--facility", args->facility,
                  "directory of a running multi-process facility ('spotline facility up')");
  cmd->add_flag("--json", args->json, "print the fraction report as JSON");
  cmd->callback([&action, args] { action = [args] { return deliver(*args); }; });
}

}  // namespace spotline::console
