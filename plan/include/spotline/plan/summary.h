#pragma once
// What `spotline plan show FILE [--json]` prints.

#include <nlohmann/json.hpp>
#include <string>

#include "spotline/plan/plan.h"

namespace spotline::plan {

// {plan_uid, patient_id, label, approval, meterset_unit, fractions_planned, synthetic,
//  content_hash, beams_count, layers, spots, meterset,
//  beams: [{number, name, machine, treatment, radiation, ion: {z, a, charge} | null (protons),
//           gantry_angle, couch_angle, layers, spots, meterset, energy_min, energy_max}]}
// Plan totals (beams_count, layers, spots, meterset) count treatment beams only; every beam,
// setup beams included, is listed with its own numbers. energy_min/energy_max are null for a beam
// without layers.
nlohmann::json planSummaryJson(const Plan& plan);

// The same for people: a header, one line per beam, the totals.
std::string planSummaryText(const Plan& plan);

}  // namespace spotline::plan
