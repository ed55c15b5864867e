#include "session.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <set>

#include "spotline/plan/dicom.h"
#include "spotline/plan/validate.h"

namespace spotline::console {

std::optional<std::string> prepareJob(Job& job) {
  auto facility = plan::builtInFacility();
  if (facility.room(job.room) == nullptr) {
    std::string known;
    for (const auto& r : facility.rooms) known += (known.empty() ? "" : ", ") + r.name;
    return "--room: unknown room '" + job.room + "' (known: " + known + ")";
  }
  auto p = plan::readPlanFile(job.planFile);
  if (!p) return p.error().message;
  job.plan = std::move(p).value();
  return std::nullopt;
}

namespace {

void drawProgress(const std::map<std::string, runtime::FractionReport>& reports) {
  std::string line;
  for (const auto& [id, r] : reports) {
    double pct = r.spotsPlanned ? 100.0 * r.spotsDelivered / r.spotsPlanned : 0.0;
    std::string state = r.status;
    if (state.empty() && r.held) state = "HELD";
    if (state.empty() && !r.waitingFor.empty()) state = "waiting for beam (" + r.waitingFor + ")";
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %s %5.1f%% layer %u/%u spots %u/%u%s",
                  r.room.empty() ? id.c_str() : r.room.c_str(), pct, r.layersCompleted, r.layersPlanned,
                  r.spotsDelivered, r.spotsPlanned, state.empty() ? "" : (" " + state).c_str());
    line += buf;
  }
  std::fprintf(stderr, "\r%s   ", line.c_str());
  std::fflush(stderr);
}

}  // namespace

std::vector<JobOutcome> runJobs(runtime::ConsoleClient& client, const std::vector<Job>& jobs, bool progressLine) {
  std::vector<JobOutcome> outcomes(jobs.size());
  std::set<std::string> started;
  std::map<std::string, std::size_t> byFraction;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    auto& o = outcomes[i];
    o.report.room = jobs[i].room;
    o.report.planUid = jobs[i].plan.uid.value();
    auto loaded = client.loadPlan(jobs[i].plan);
    o.contentHash = loaded.contentHash;
    if (!loaded.ok) {
      o.violations = loaded.violations;
      o.error = loaded.error.empty() ? "plan refused" : loaded.error;
      o.report.status = "refused";
      o.exitCode = loaded.violations.empty() ? kExitInternal : kExitBadInput;
      continue;
    }
    auto fid = client.startFraction(jobs[i].plan, loaded.contentHash, jobs[i].room, jobs[i].fraction, jobs[i].seed,
                                    jobs[i].start);
    if (!fid) {
      o.report.status = "refused";
      o.report.refusal = fid.error().message;
      o.error = fid.error().message;
      o.exitCode = fid.error().code == runtime::ClientError::Refused ? kExitIntegrity : kExitInternal;
      continue;
    }
    o.report.fractionId = fid.value();
    started.insert(fid.value());
    byFraction[fid.value()] = i;
  }
  if (!started.empty()) {
    bool draw = progressLine && ::isatty(STDERR_FILENO);
    auto reports = client.follow(started, draw ? runtime::ConsoleClient::Progress(drawProgress) : nullptr);
    if (draw) std::fprintf(stderr, "\n");
    for (auto& [id, r] : reports) {
      auto& o = outcomes[byFraction[id]];
      o.report = r;
      if (r.status != "completed") {
        o.exitCode = kExitIncomplete;
      } else if (!r.recordedByRv || r.spotsRecorded != r.spotsDelivered) {
        o.exitCode = kExitIntegrity;
        o.error = "rv recorded " + std::to_string(r.spotsRecorded) + " of " + std::to_string(r.spotsDelivered) +
                  " delivered spots";
      }
    }
  }
  return outcomes;
}

nlohmann::json outcomeJson(const JobOutcome& o) {
  const auto& r = o.report;
  nlohmann::json interlocks = nlohmann::json::array();
  for (const auto& i : r.interlocks) {
    interlocks.push_back({{"reason", i.reason},
                          {"beam", i.beam},
                          {"layer", i.layer},
                          {"spot", i.spot},
                          {"value", i.value},
                          {"limit", i.limit},
                          {"detail", i.detail}});
  }
  nlohmann::json j{{"fraction_id", r.fractionId},
                   {"status", r.status},
                   {"room", r.room},
                   {"plan_uid", r.planUid},
                   {"content_hash", o.contentHash},
                   {"spots_planned", r.spotsPlanned},
                   {"spots_delivered", r.spotsDelivered},
                   {"spots_recorded", r.spotsRecorded},
                   {"layers", r.layersPlanned},
                   {"layers_completed", r.layersCompleted},
                   {"meterset_planned", r.metersetPlanned},
                   {"meterset_delivered", r.metersetDelivered},
                   {"meterset_unit", r.metersetUnit},
                   {"interlocks", interlocks},
                   {"spill_waits", r.spillWaits},
                   {"beam_wait_s", r.beamWaitSeconds},
                   {"spills_to_other_rooms", r.spillsToOthers},
                   {"partial_spots", r.partialSpots},
                   {"resumed", r.resumed},
                   {"simulated_duration_s", r.simulatedSeconds}};
  if (!r.refusal.empty()) j["refusal"] = r.refusal;
  if (!o.error.empty()) j["error"] = o.error;
  if (!o.violations.empty()) {
    nlohmann::json v = nlohmann::json::array();
    for (const auto& x : o.violations) {
      v.push_back({{"path", x.path}, {"rule", x.rule}, {"value", x.value}, {"limit", x.limit}, {"message", x.message}});
    }
    j["violations"] = v;
  }
  return j;
}

int combinedExit(const std::vector<JobOutcome>& outcomes) {
  // Worst first: internal, bad input, integrity, incomplete.
  int worst = kExitOk;
  auto rank = [](int c) {
    switch (c) {
      case kExitInternal: return 4;
      case kExitBadInput: return 3;
      case kExitIntegrity: return 2;
      case kExitIncomplete: return 1;
      default: return 0;
    }
  };
  for (const auto& o : outcomes) {
    if (rank(o.exitCode) > rank(worst)) worst = o.exitCode;
  }
  return worst;
}

}  // namespace spotline::console
