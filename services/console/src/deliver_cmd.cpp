// spotline deliver PLAN --room ROOM [--fraction N] [--journal DIR] [--seed S] [--facility DIR] [--json]
//                 [--resume FRACTION_ID] [--fault KIND@WHERE ...] [--realtime] [--priority P]

#include <charconv>
#include <iostream>

#include "session.h"
#include "spotline/bus/endpoints.h"
#include "spotline/delivery/faults.h"
#include "spotline/monitoring/logging.h"
#include "spotline/runtime/embedded.h"

namespace spotline::console {

namespace {

struct DeliverArgs {
  Job job;
  std::string journal = "spotline-out/journal";
  std::string facility;
  bool json = false;
  bool realtime = false;
};

std::string resumeCommand(const DeliverArgs& a, const std::string& fractionId) {
  std::string cmd = "spotline deliver " + a.job.planFile + " --room " + a.job.room + " --resume " + fractionId;
  cmd += a.facility.empty() ? " --journal " + a.journal : " --facility " + a.facility;
  return cmd;
}

void printHuman(const DeliverArgs& a, const JobOutcome& o) {
  const auto& r = o.report;
  std::cout << "fraction " << (r.fractionId.empty() ? "-" : r.fractionId) << " room " << r.room << ": " << r.status
            << "\n";
  if (!r.refusal.empty()) std::cout << "  refused: " << r.refusal << "\n";
  for (const auto& v : o.violations) std::cout << "  " << v.path << ": " << v.rule << ": " << v.message << "\n";
  if (r.status == "refused") return;
  std::cout << "  spots delivered " << r.spotsDelivered << "/" << r.spotsPlanned << ", recorded by rv "
            << r.spotsRecorded << "\n"
            << "  meterset " << r.metersetDelivered << "/" << r.metersetPlanned << " " << r.metersetUnit << ", layers "
            << r.layersCompleted << "/" << r.layersPlanned << ", simulated " << r.simulatedSeconds << " s"
            << (r.resumed ? " (this session; resumed)" : "") << "\n"
            << "  waited for beam " << r.beamWaitSeconds << " s over " << r.spillWaits << " spills";
  if (r.spillsToOthers > 0) std::cout << " (" << r.spillsToOthers << " spills went to other rooms)";
  std::cout << "\n";
  if (r.partialSpots > 0) std::cout << "  spots cut by a hold: " << r.partialSpots << "\n";
  for (const auto& i : r.interlocks) {
    std::cout << "  interlock " << i.reason << " at beam " << i.beam << " layer " << i.layer << " spot " << i.spot
              << ": value " << i.value << ", limit " << i.limit << " (" << i.detail << ")\n";
  }
  if (!o.error.empty()) std::cout << "  " << o.error << "\n";
  if (r.status == "interrupted") std::cout << "  resume with: " << resumeCommand(a, r.fractionId) << "\n";
}

int deliver(DeliverArgs a) {
  if (auto problem = prepareJob(a.job)) return complain("spotline deliver", *problem, kExitBadInput);
  if (a.realtime && !a.facility.empty()) {
    return complain("spotline deliver", "--realtime applies to the embedded facility, not to --facility",
                    kExitBadInput);
  }
  if (!a.job.start.overrides.empty() && (a.job.start.overrideReason.empty() || a.job.start.user.empty())) {
    return complain("spotline deliver", "--override needs --override-reason and --user: both are journaled",
                    kExitBadInput);
  }
  if (auto faults = delivery::parseFaults(a.job.start.faults); !faults) {
    return complain("spotline deliver", "--fault: " + faults.error().message, kExitBadInput);
  }
  if (!a.job.start.resumeFractionId.empty()) {
    // A fraction id is F<number>-<plan hash prefix>: the number comes with it.
    const auto& id = a.job.start.resumeFractionId;
    auto dash = id.find('-');
    int number = 0;
    if (id.size() < 3 || id[0] != 'F' || dash == std::string::npos ||
        std::from_chars(id.data() + 1, id.data() + dash, number).ptr != id.data() + dash || number < 1 ||
        number > 999) {
      return complain("spotline deliver", "--resume: '" + id + "' is not a fraction id (F<number>-<hash>)",
                      kExitBadInput);
    }
    a.job.fraction = static_cast<std::uint16_t>(number);
  }
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
    runtime::EmbeddedOptions options{.journalDir = journal};
    options.delivery.realtime = a.realtime;
    auto started = runtime::EmbeddedFacility::start(zmq, log, clock, std::move(options));
    if (!started) {
      // A signing key that is not one (or others may read) is bad input; a damaged journal is not.
      return complain("spotline deliver", "--journal " + a.journal + ": " + started.error().message,
                      started.error().code == "signing key" ? kExitBadInput : kExitIntegrity);
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
    if (outcomes.front().report.status == "interrupted")
      j["resume_with"] = resumeCommand(a, outcomes.front().report.fractionId);
    printJson(j);
  } else {
    printHuman(a, outcomes.front());
  }
  return outcomes.front().exitCode;
}

}  // namespace

void addDeliverCommand(CLI::App& app, Action& action) {
  auto args = std::make_shared<DeliverArgs>();
  auto* cmd = app.add_subcommand("deliver", "Deliver one fraction of a plan in a room (embedded unless --facility)");
  cmd->add_option("PLAN", args->job.planFile, "plan file (DICOM RT Ion Plan or Spotline JSON)")->required();
  cmd->add_option("--room", args->job.room, "gantry-1, gantry-2 or fixed-1")->required();
  cmd->add_option("--fraction", args->job.fraction, "fraction number")
      ->capture_default_str()
      ->check(CLI::Range(1, 999));
  cmd->add_option("--journal", args->journal, "journal directory (embedded)")->capture_default_str();
  cmd->add_option("--seed", args->job.seed, "seed of the machine model")->capture_default_str();
  cmd->add_option("--facility", args->facility,
                  "directory of a running multi-process facility ('spotline facility up')");
  cmd->add_flag("--json", args->json, "print the fraction report as JSON");
  cmd->add_option("--resume", args->job.start.resumeFractionId,
                  "continue this interrupted fraction where rv's journal says it stopped");
  cmd->add_option("--fault", args->job.start.faults,
                  "inject a fault, KIND@WHERE (repeatable): position-drift@layer=N, monitor2-fail@spot=N, "
                  "overshoot@spot=N, spill-abort@spill=N, door-open@t=30s, kill-rv@spot=N, kill-dose@spot=N, "
                  "kill-qa@spot=N, kill-delivery@spot=N");
  cmd->add_option("--override", args->job.start.overrides,
                  "override a check rv refused (repeatable; only 'room' may be): journaled with reason and user");
  cmd->add_option("--override-reason", args->job.start.overrideReason, "why the check is overridden (journaled)");
  cmd->add_option("--user", args->job.start.user, "who overrides (journaled)");
  cmd->add_flag("--realtime", args->realtime, "pace the simulated machine to the wall clock (embedded)");
  cmd->add_option("--priority", args->job.start.priority, "beam allocation priority among rooms")
      ->capture_default_str()
      ->check(CLI::Range(-100, 100));
  cmd->callback([&action, args] { action = [args] { return deliver(*args); }; });
}

}  // namespace spotline::console
