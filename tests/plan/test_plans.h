#pragma once
// Hand-built plans shared by the plan tests.

#include <string>

#include "spotline/plan/plan.h"

namespace spotline::plan::testing {

// Approved, NP, one carbon treatment beam on GANTRY1 with two layers (3 and 4 spots), a setup
// beam, and a second treatment beam of protons on "gantry-1". Valid for builtInFacility() except
// that its energies (250.12, 200.5, 120) are between table energies; validate_test.cpp's
// deliverablePlan() moves them onto the tables. The format, hash and summary tests rely on these
// exact numbers.
Plan validMixedPlan();

// A plan whose numbers exercise the JSON writer: thirds, tiny and huge values, negative
// coordinates, non-ASCII text, MU, several paintings.
Plan awkwardPlan();

}  // namespace spotline::plan::testing
