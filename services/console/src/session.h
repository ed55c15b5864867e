#pragma once
// Delivering one or more fractions through a ConsoleClient, shared by `deliver` and `demo`.

#include <optional>
#include <string>
#include <vector>

#include "console.h"
#include "spotline/plan/plan.h"
#include "spotline/runtime/console_client.h"

namespace spotline::console {

struct Job {
  std::string planFile;
  plan::Plan plan;
  std::string room;
  std::uint16_t fraction = 1;
  std::uint64_t seed = 1;
  runtime::StartOptions start;  // resume, faults, priority
};

struct JobOutcome {
  runtime::FractionReport report;
  std::string contentHash;
  std::vector<plan::Violation> violations;  // the plan service refused the plan
  std::string error;                        // anything else that stopped the job
  int exitCode = kExitOk;
};

// Loads every plan, starts every fraction (they run at once, one per room), follows them to the end.
std::vector<JobOutcome> runJobs(runtime::ConsoleClient& client, const std::vector<Job>& jobs, bool progressLine);

nlohmann::json outcomeJson(const JobOutcome& o);
// Worst exit code of a set of outcomes.
int combinedExit(const std::vector<JobOutcome>& outcomes);
// Reads and checks a plan file and a room before anything touches the facility.
std::optional<std::string> prepareJob(Job& job);

}  // namespace spotline::console
