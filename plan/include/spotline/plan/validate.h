#pragma once
// Checks a plan against what the facility can deliver, reporting every violation (not only the
// first), so a physicist sees the whole list at once. Rules and numbers: plan/README.md.
//
// Paths use the JSON path of the offending field in the native plan format, zero-based:
// `beams[1].layers[2].spots[16][2]` is the meterset of the 17th spot of the 3rd layer of the
// 2nd beam in the plan's list. Messages start with the human form ("beam 2 (\"Field 2\"), layer 3
// (200.5 MeV/u), spot 17: ..."), which uses the beam's number and one-based layer and spot counts;
// a layer read from DICOM also names its control point ("layer 3 (control point 6, 200.5 MeV/u)").

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spotline/plan/facility.h"
#include "spotline/plan/plan.h"

namespace spotline::plan {

// Rule names, stable: tools and tests match on them.
namespace rules {
inline constexpr std::string_view kEnergyRange = "energy-range";
inline constexpr std::string_view kEnergyNotInTable = "energy-not-in-table";
inline constexpr std::string_view kScanField = "scan-field";
inline constexpr std::string_view kMetersetMin = "meterset-min";
inline constexpr std::string_view kMetersetMax = "meterset-max";
inline constexpr std::string_view kMetersetNotFinite = "meterset-not-finite";
inline constexpr std::string_view kMetersetNegative = "meterset-negative";
inline constexpr std::string_view kRangeShifterUndeclared = "range-shifter-undeclared";
inline constexpr std::string_view kRangeShifterNotAllowed = "range-shifter-not-allowed";
inline constexpr std::string_view kDuplicateBeamNumber = "duplicate-beam-number";
inline constexpr std::string_view kUnknownMachine = "unknown-machine";
inline constexpr std::string_view kUnknownIon = "unknown-ion";
inline constexpr std::string_view kIonNotInRoom = "ion-not-in-room";
inline constexpr std::string_view kGantryFixedRoom = "gantry-fixed-room";
inline constexpr std::string_view kMixedRooms = "mixed-rooms";
inline constexpr std::string_view kTooManySpots = "too-many-spots";
inline constexpr std::string_view kEmptyLayer = "empty-layer";
inline constexpr std::string_view kEmptyBeam = "empty-beam";
inline constexpr std::string_view kNoTreatmentBeam = "no-treatment-beam";
inline constexpr std::string_view kUnapproved = "unapproved";
}  // namespace rules

struct Violation {
  std::string path;     // JSON path, see above
  std::string rule;     // one of rules::k*
  double value = 0.0;   // the offending value; NaN when the rule has no number (JSON null)
  double limit = 0.0;   // the limit it broke; NaN when the rule has no number (JSON null)
  std::string message;  // for people: where (human form), what, and the limit
  // For a layer or spot violation, the DICOM control point the layer was read from
  // (Layer::sourceControlPoint); -1 otherwise.
  int controlPoint = -1;
};

// Table energies match a layer energy within this (they are rounded to 0.01 MeV/u).
inline constexpr double kEnergyTableTolerance = 0.005;

// Every violation, in plan order (plan-level rules first). Setup beams are not checked: they are
// never delivered. Empty means the facility can deliver the plan.
std::vector<Violation> validatePlan(const Plan& plan, const Facility& facility);

// {"valid": bool, "violations": [{"path", "rule", "value", "limit", "message"}]}; non-finite
// value or limit is written as null. A violation with a control point (>= 0) also has
// "control_point": N.
nlohmann::json violationsJson(const std::vector<Violation>& violations);

// The name of the room that answers to a TreatmentMachineName (exact match), if any.
std::optional<std::string> roomForMachine(const Facility& facility, std::string_view machine);

}  // namespace spotline::plan
