#pragma once
// Errors of the plan library, carried in spotline::Result with a message that says what and where.

#include <cstdint>
#include <string_view>

namespace spotline::plan {

enum class PlanError : std::uint8_t {
  Unreadable,  // the file cannot be opened or read, or is larger than the reader accepts
  Malformed,   // not JSON (syntax), or nested deeper than the reader accepts
  Invalid,     // JSON, but not a Spotline plan: wrong key, type, value or structure
};

constexpr std::string_view toString(PlanError error) {
  switch (error) {
    case PlanError::Unreadable: return "unreadable";
    case PlanError::Malformed: return "malformed";
    case PlanError::Invalid: return "invalid";
  }
  return "unknown";
}

}  // namespace spotline::plan
