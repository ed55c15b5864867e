#pragma once
// The content hash that identifies a plan: lowercase hex SHA-256 over a canonical byte form.
//
// The canonical form is a fixed-order binary serialisation of every field of the Plan (documented
// byte by byte in plan/README.md), so the hash does not depend on JSON whitespace, key order or
// number spelling ("5000", "5000.0" and "5e3" hash the same), and any change to a meterset,
// position, energy, angle, id, unit, approval or structure changes it.

#include <cstddef>
#include <string>
#include <vector>

#include "spotline/plan/plan.h"

namespace spotline::plan {

// Version tag written first in the canonical form; bumped if the form ever changes.
inline constexpr std::string_view kCanonicalFormTag = "spotline-plan-canonical/2";

// The canonical bytes the hash is computed over (exposed for tests and for auditors who want to
// recompute the hash independently).
std::vector<std::byte> canonicalBytes(const Plan& plan);

// Lowercase hex SHA-256 (64 characters) of canonicalBytes(plan).
std::string contentHash(const Plan& plan);

}  // namespace spotline::plan
