#pragma once
// Hand-built plans shared by the plan tests.

#include <string>

#include "spotline/plan/plan.h"

namespace spotline::plan::testing {

// Valid for builtInFacility(): approved, NP, one carbon treatment beam on GANTRY1 with two
// layers (3 and 4 spots), a setup beam, and a second treatment beam of protons on "gantry-1".
Plan validMixedPlan();

// A plan whose numbers exercise the JSON writer: thirds, tiny and huge values, negative
// coordinates, non-ASCII text, MU, several paintings.
Plan awkwardPlan();

}  // namespace spotline::plan::testing
