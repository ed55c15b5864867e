// spotline bench plan-read --spots N [--repeat R] [--json]
//
// Reading and validating a large DICOM RT Ion Plan, against pydicom on the same file in the same
// run. A synthetic carbon plan of about N spots is written as DICOM to a scratch directory; Spotline
// reads it (DCMTK parse + model + every check of the reader) and validates it against the
// built-in facility R times; then scripts/bench_pydicom.py reads the same file with pydicom and sums
// its spot weights R times. Medians are compared; nothing here asserts a time.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "console.h"
#include "spotline/plan/dicom.h"
#include "spotline/plan/synth.h"
#include "spotline/plan/validate.h"

namespace spotline::console {

namespace fs = std::filesystem;

namespace {

struct PlanBenchArgs {
  std::size_t spots = 100'000;
  int repeat = 20;
  bool json = false;
  bool pydicom = true;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// The synthetic options whose cube has at least `spots` spots (carbon, 3 mm spacing, centred
// deep enough for its far edge to stay within carbon's reach).
plan::SynthOptions optionsFor(std::size_t spots) {
  plan::SynthOptions o;
  o.ion = plan::kCarbon;
  o.spotSpacingMm = 3.0;
  const auto perAxis = static_cast<std::size_t>(std::ceil(std::cbrt(static_cast<double>(spots))));
  o.targetSizeMm = 3.0 * static_cast<double>(perAxis - 1);
  o.depthMm = std::max(100.0, o.targetSizeMm / 2.0 + 40.0);
  o.seed = 1;
  return o;
}

int planRead(const PlanBenchArgs& a) {
  const char* cmd = "spotline bench plan-read";
  if (a.spots == 0 || a.repeat < 1) return complain(cmd, "--spots and --repeat must be at least 1", kExitBadInput);
  const plan::SynthOptions options = optionsFor(a.spots);
  const plan::Facility facility = plan::builtInFacility();
  if (auto problem = plan::checkSynthOptions(options, facility)) {
    return complain(cmd, "--spots " + std::to_string(a.spots) + ": " + *problem, kExitBadInput);
  }
  const plan::Plan plan = plan::synthesizePlan(options, facility);
  const fs::path scratch = fs::temp_directory_path() / ("spotline-bench-plan-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  const fs::path file = scratch / "plan.dcm";
  if (auto written = plan::writePlanDicom(plan, file); !written) {
    fs::remove_all(scratch);
    return complain(cmd, written.error().message, kExitInternal);
  }
  const auto bytes = fs::file_size(file);

  std::vector<double> readMs;
  std::vector<double> totalMs;
  std::size_t spots = 0;
  std::size_t violations = 0;
  for (int i = 0; i < a.repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto read = plan::readPlanDicom(file);
    const auto t1 = std::chrono::steady_clock::now();
    if (!read) {
      fs::remove_all(scratch);
      return complain(cmd, read.error().message, kExitInternal);
    }
    violations = plan::validatePlan(read.value(), facility).size();
    const auto t2 = std::chrono::steady_clock::now();
    spots = plan::totals(read.value()).spots;
    readMs.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    totalMs.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
  }

  nlohmann::json out{{"file_bytes", bytes},
                     {"spots", spots},
                     {"repeat", a.repeat},
                     {"violations", violations},
                     {"spotline",
                      {{"read_median_ms", median(readMs)},
                       {"read_validate_median_ms", median(totalMs)},
                       {"read_validate_min_ms", *std::min_element(totalMs.begin(), totalMs.end())}}}};
  if (a.pydicom) {
    const fs::path script = fs::path(SPOTLINE_SOURCE_DIR) / "scripts" / "bench_pydicom.py";
    const std::string command =
        "/usr/bin/python3 '" + script.string() + "' '" + file.string() + "' " + std::to_string(a.repeat) + " 2>&1";
    std::string text;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
      char buf[4096];
      while (std::fgets(buf, sizeof buf, pipe) != nullptr) text += buf;
      const int status = ::pclose(pipe);
      auto parsed = nlohmann::json::parse(text, nullptr, false);
      if (status == 0 && parsed.is_object()) {
        out["pydicom"] = parsed;
        const double ours = median(totalMs);
        out["speedup"] = ours > 0 ? parsed["median_ms"].get<double>() / ours : 0.0;
        if (parsed["spots"].get<std::size_t>() != spots) {
          out["warning"] = "pydicom counted " + std::to_string(parsed["spots"].get<std::size_t>()) + " spots";
        }
      } else {
        out["pydicom"] = {{"error", "python3-pydicom not usable: " + text.substr(0, 300)}};
      }
    }
  }
  fs::remove_all(scratch);

  if (a.json) {
    printJson(out);
    return kExitOk;
  }
  std::printf("plan: %zu spots, %llu bytes (synthetic carbon, DICOM), %d repeats\n", spots,
              static_cast<unsigned long long>(bytes), a.repeat);
  std::printf("spotline  read %8.2f ms   read+validate %8.2f ms (median)\n", median(readMs), median(totalMs));
  if (out.contains("speedup")) {
    std::printf("pydicom %s read+sum weights %8.2f ms (median)\n",
                out["pydicom"]["pydicom_version"].get<std::string>().c_str(),
                out["pydicom"]["median_ms"].get<double>());
    std::printf("spotline is %.1fx faster than pydicom\n", out["speedup"].get<double>());
  } else if (out.contains("pydicom")) {
    std::printf("pydicom: %s\n", out["pydicom"].dump().c_str());
  }
  return kExitOk;
}

}  // namespace

void addPlanReadBench(CLI::App& bench, Action& action) {
  auto args = std::make_shared<PlanBenchArgs>();
  auto* p = bench.add_subcommand("plan-read", "Read + validate a large DICOM plan, side by side with pydicom");
  p->add_option("--spots", args->spots, "about this many spots (a synthetic carbon cube)")->capture_default_str();
  p->add_option("--repeat", args->repeat, "reads per side; medians are reported")->capture_default_str();
  p->add_flag("--json", args->json, "print {spotline:{...}, pydicom:{...}, speedup}");
  p->add_flag("!--no-pydicom", args->pydicom, "skip the pydicom side");
  p->callback([&action, args] { action = [args] { return planRead(*args); }; });
}

}  // namespace spotline::console
