// spotline plan show | validate | synth

#include <fstream>
#include <iostream>
#include <sstream>

#include "console.h"
#include "spotline/plan/dicom.h"
#include "spotline/plan/facility_config.h"
#include "spotline/plan/json_format.h"
#include "spotline/plan/summary.h"
#include "spotline/plan/synth.h"
#include "spotline/plan/validate.h"

namespace spotline::console {

namespace {

struct PlanArgs {
  std::string file;
  bool json = false;
  plan::SynthOptions synth;
  std::string ion = "carbon";
  std::string unit = "NP";
  std::string out;
  std::string format;    // synth: "json" or "dicom"; empty = by --out's extension
  std::string facility;  // validate: facility model file; empty = the built-in config/facility.toml
};

nlohmann::json readProblem(const std::string& path, plan::PlanError code, const std::string& message) {
  return {{"path", path},
          {"rule", std::string(plan::toString(code))},
          {"value", nullptr},
          {"limit", nullptr},
          {"message", message}};
}

// A plan the reader refuses, as validate --json reports it: one violation per problem. DICOM
// problems come with their place (beam, control point, spot). The JSON reader's message lines are
// "SOURCE: PATH: WHAT", PATH a JSON path (plan/README.md), which becomes the violation's path.
nlohmann::json readFailureJson(const std::string& source, const Failure<plan::PlanError>& failure,
                               const std::vector<plan::DicomProblem>& dicomProblems) {
  nlohmann::json violations = nlohmann::json::array();
  if (!dicomProblems.empty()) {
    for (const auto& p : dicomProblems) {
      violations.push_back(readProblem(p.where, failure.code, p.where.empty() ? p.what : p.where + ": " + p.what));
    }
  } else {
    std::istringstream lines(failure.message);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(source + ": ", 0) == 0) line = line.substr(source.size() + 2);
      const auto colon = line.find(": ");
      violations.push_back(readProblem(colon == std::string::npos ? "" : line.substr(0, colon), failure.code, line));
    }
  }
  return {{"valid", false}, {"violations", violations}};
}

int show(const PlanArgs& a) {
  auto p = plan::readPlanFile(a.file);
  if (!p) return complain("spotline plan show", p.error().message, kExitBadInput);
  if (a.json) {
    printJson(plan::planSummaryJson(p.value()));
  } else {
    std::cout << plan::planSummaryText(p.value());
  }
  return kExitOk;
}

int validate(const PlanArgs& a) {
  plan::Facility facility;
  if (a.facility.empty()) {
    facility = plan::builtInFacility();
  } else {
    auto loaded = plan::loadFacilityConfig(a.facility);
    if (!loaded) return complain("spotline plan validate", "--facility: " + loaded.error().message, kExitBadInput);
    facility = std::move(loaded).value();
  }
  std::vector<plan::DicomProblem> problems;
  auto p = plan::isDicomFile(a.file) ? plan::readPlanDicom(a.file, &problems) : plan::readPlanJson(a.file);
  if (!p) {
    if (a.json) printJson(readFailureJson(a.file, p.error(), problems));
    return complain("spotline plan validate", p.error().message, kExitBadInput);
  }
  auto violations = plan::validatePlan(p.value(), facility);
  if (a.json) {
    printJson(plan::violationsJson(violations));
  } else if (violations.empty()) {
    std::cout << a.file << ": valid\n";
  } else {
    for (const auto& v : violations)
      std::cout << a.file << ": " << v.path << ": " << v.rule << ": " << v.message << "\n";
  }
  return violations.empty() ? kExitOk : kExitBadInput;
}

int synth(PlanArgs a) {
  auto ion = plan::ionFromName(a.ion);
  if (!ion)
    return complain("spotline plan synth", "--ion: unknown ion '" + a.ion + "' (proton, helium, carbon, oxygen, neon)",
                    kExitBadInput);
  a.synth.ion = *ion;
  if (a.unit != "NP" && a.unit != "MU")
    return complain("spotline plan synth", "--unit: must be NP or MU", kExitBadInput);
  a.synth.unit = a.unit == "MU" ? MetersetUnit::MU : MetersetUnit::NP;
  auto facility = plan::builtInFacility();
  if (auto problem = plan::checkSynthOptions(a.synth, facility)) {
    return complain("spotline plan synth", *problem, kExitBadInput);
  }
  auto p = plan::synthesizePlan(a.synth, facility);
  std::string format = a.format;
  if (format.empty()) format = a.out.size() > 4 && a.out.substr(a.out.size() - 4) == ".dcm" ? "dicom" : "json";
  if (format != "json" && format != "dicom") {
    return complain("spotline plan synth", "--format: must be json or dicom, got '" + format + "'", kExitBadInput);
  }
  if (format == "dicom") {
    if (a.out.empty() || a.out == "-") {
      return complain("spotline plan synth", "--format dicom needs --out FILE (DICOM is not written to a terminal)",
                      kExitBadInput);
    }
    auto written = plan::writePlanDicom(p, a.out);
    if (!written) return complain("spotline plan synth", written.error().message, kExitBadInput);
    auto t = plan::totals(p);
    std::cerr << "wrote " << a.out << ": synthetic " << plan::ionName(p.beams.front().ion) << " RT Ion Plan (DICOM), "
              << t.layers << " layers, " << t.spots << " spots\n";
    return kExitOk;
  }
  auto text = plan::writePlanJson(p);
  if (a.out.empty() || a.out == "-") {
    std::cout << text;
  } else {
    std::ofstream out(a.out, std::ios::trunc);
    out << text;
    if (!out) return complain("spotline plan synth", "--out: cannot write " + a.out, kExitBadInput);
    auto t = plan::totals(p);
    std::cerr << "wrote " << a.out << ": synthetic " << plan::ionName(p.beams.front().ion) << " plan, " << t.layers
              << " layers, " << t.spots << " spots\n";
  }
  return kExitOk;
}

}  // namespace

void addPlanCommands(CLI::App& app, Action& action) {
  auto args = std::make_shared<PlanArgs>();
  auto* planCmd = app.add_subcommand("plan", "Inspect, validate and synthesise treatment plans");
  planCmd->require_subcommand(1);

  auto* showCmd = planCmd->add_subcommand("show", "Summarise a plan (beams, layers, spots, meterset, content hash)");
  showCmd->add_option("FILE", args->file, "plan file: DICOM RT Ion Plan or Spotline JSON")->required();
  showCmd->add_flag("--json", args->json, "machine-readable output");
  showCmd->callback([&action, args] { action = [args] { return show(*args); }; });

  auto* validateCmd =
      planCmd->add_subcommand("validate", "Check a plan against the facility model; lists every violation");
  validateCmd->add_option("FILE", args->file, "plan file: DICOM RT Ion Plan or Spotline JSON")->required();
  validateCmd->add_option("--facility", args->facility,
                          "facility model (TOML; default: the built-in config/facility.toml)");
  validateCmd->add_flag("--json", args->json, "print {valid, violations:[{path, rule, value, limit, message}]}");
  validateCmd->callback([&action, args] { action = [args] { return validate(*args); }; });

  auto* synthCmd = planCmd->add_subcommand("synth", "Write a reproducible synthetic plan (never for patients)");
  auto& s = args->synth;
  synthCmd->add_option("--ion", args->ion, "proton, helium, carbon, oxygen or neon")->capture_default_str();
  synthCmd->add_option("--size", s.targetSizeMm, "target cube edge, mm")->capture_default_str();
  synthCmd->add_option("--depth", s.depthMm, "depth of the target centre in water, mm")->capture_default_str();
  synthCmd->add_option("--spacing", s.spotSpacingMm, "spot and layer spacing, mm")->capture_default_str();
  synthCmd->add_option("--seed", s.seed, "seed of the ±10% spot variation")->capture_default_str();
  synthCmd->add_option("--machine", s.machine, "TreatmentMachineName")->capture_default_str();
  synthCmd->add_option("--gantry", s.gantryAngle, "gantry angle, degrees")->capture_default_str();
  synthCmd->add_option("--beams", s.beams, "number of beams")->capture_default_str();
  synthCmd->add_option("--unit", args->unit, "NP or MU")->capture_default_str();
  synthCmd->add_option("--uid", s.planUid, "plan UID (default: derived from the options)");
  synthCmd->add_option("--patient", s.patientId, "patient id (default SYNTHETIC)");
  synthCmd->add_option("--label", s.label, "plan label");
  synthCmd->add_option("--out", args->out, "output file (default: standard output; a .dcm name writes DICOM)");
  synthCmd->add_option("--format", args->format, "json or dicom (default: dicom for a .dcm --out, else json)");
  synthCmd->callback([&action, args] { action = [args] { return synth(*args); }; });
}

}  // namespace spotline::console
