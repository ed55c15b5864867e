#pragma once
// The native JSON plan format ("format": "spotline-plan", version 1), documented field by field
// in plan/README.md.
//
// The reader is strict: unknown keys, missing keys, wrong types and out-of-range values are all
// refused, and every message names the source, a JSON path such as
// `beams[1].layers[3].spots[17][2]` and what was expected. The reader collects every schema error
// (up to kMaxReportedErrors) rather than stopping at the first, one per line of the message.
// The writer is deterministic: the same Plan always gives the same bytes.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "spotline/core/result.h"
#include "spotline/plan/error.h"
#include "spotline/plan/plan.h"

namespace spotline::plan {

inline constexpr std::string_view kPlanFormatName = "spotline-plan";
inline constexpr int kPlanFormatVersion = 1;

// Reader limits (a plan file comes from outside and is not trusted).
inline constexpr std::uintmax_t kMaxPlanFileBytes = 64u * 1024u * 1024u;
inline constexpr int kMaxJsonNesting = 32;
inline constexpr std::size_t kMaxReportedErrors = 50;

// Reads and checks a plan file. The file's path is the source named in messages.
Result<Plan, PlanError> readPlanJson(const std::filesystem::path& file);

// Parses and checks plan text; `sourceName` (a file name, "stdin", ...) prefixes every message.
Result<Plan, PlanError> parsePlanJson(std::string_view text, std::string_view sourceName);

// Pretty-printed (2-space indent, keys in documented order, one spot triple per line), ending in a
// newline. Numbers use the shortest form that reads back to the same double, so
// parsePlanJson(writePlanJson(p)) == p for every plan whose numbers are finite.
std::string writePlanJson(const Plan& plan);

}  // namespace spotline::plan
