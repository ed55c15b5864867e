#pragma once
// The facility model as a file: config/facility.toml (format: config/README.md). The loader is
// strict: an unknown, missing or mistyped key, a value out of its range, min > max, a room naming
// an unknown ion, a room or machine name given twice are each refused, and every problem is
// reported (up to kMaxReportedFacilityErrors), one per line of the message, sorted by position:
//
//     config/facility.toml:104:26: rooms.fixed-1.fixed_gantry_angle_deg: expected a number in [0, 360), got 400
//
// builtInFacility() (facility.h) is the parse of the copy of config/facility.toml embedded at
// build time (builtInFacilityToml()).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "spotline/core/result.h"
#include "spotline/plan/facility.h"

namespace spotline::plan {

enum class FacilityError : std::uint8_t {
  Unreadable,  // the file cannot be opened or read, or is larger than kMaxFacilityFileBytes
  Malformed,   // not TOML (syntax), with the parser's line:column
  Invalid,     // TOML, but not a Spotline facility model: key, type, value or consistency
};

constexpr std::string_view toString(FacilityError error) {
  switch (error) {
    case FacilityError::Unreadable: return "unreadable";
    case FacilityError::Malformed: return "malformed";
    case FacilityError::Invalid: return "invalid";
  }
  return "unknown";
}

inline constexpr std::string_view kFacilityFormatName = "spotline-facility";
inline constexpr std::int64_t kFacilityFormatVersion = 1;
inline constexpr std::size_t kMaxReportedFacilityErrors = 50;
inline constexpr std::uintmax_t kMaxFacilityFileBytes = 1u << 20;  // 1 MiB; the real file is ~6 kB

// Parses a facility model. `sourceName` starts every message (usually the file's path).
Result<Facility, FacilityError> parseFacilityConfig(std::string_view text, std::string_view sourceName);

// Reads and parses a facility model file; messages name the path as given.
Result<Facility, FacilityError> loadFacilityConfig(const std::filesystem::path& file);

// The text of config/facility.toml as it was when this library was built.
std::string_view builtInFacilityToml();

}  // namespace spotline::plan
