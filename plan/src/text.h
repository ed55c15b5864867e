#pragma once
// Internal to spotline::plan: numbers in messages and summaries.

#include <charconv>
#include <cmath>
#include <string>

namespace spotline::plan::detail {

// The shortest text that reads back to the same double, in plain decimal for everyday
// magnitudes ("50000000", "0.0009") and scientific only beyond them, so messages state limits
// exactly and readably.
inline std::string shortNumber(double v) {
  char buf[64];
  const double a = std::abs(v);
  const bool plain = a == 0.0 || (a >= 1e-6 && a < 1e15);
  const auto [end, ec] = plain ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                               : std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

}  // namespace spotline::plan::detail
