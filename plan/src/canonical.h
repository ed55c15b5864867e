#pragma once
// Internal to spotline::plan: the little-endian field writer behind the canonical byte form and
// SHA-256 over it. Not installed, not part of the public API.

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace spotline::plan::detail {

// Appends fields little-endian, independent of the host's byte order.
class CanonicalWriter {
 public:
  explicit CanonicalWriter(std::size_t reserve = 256) { bytes_.reserve(reserve); }

  void u8(std::uint8_t v) { bytes_.push_back(static_cast<std::byte>(v)); }

  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }

  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }

  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }

  // IEEE-754 binary64 bit pattern. -0.0 is written as +0.0 and every NaN as the one quiet NaN,
  // because they compare equal (or are the same non-value) and must not give two hashes.
  void f64(double v) {
    if (v == 0.0) v = 0.0;
    if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();
    u64(std::bit_cast<std::uint64_t>(v));
  }

  // Length-prefixed (u64 byte count), raw bytes: no terminator, no escaping.
  void str(std::string_view s) {
    u64(s.size());
    for (char c : s) u8(static_cast<std::uint8_t>(c));
  }

  const std::vector<std::byte>& bytes() const { return bytes_; }
  std::vector<std::byte> take() { return std::move(bytes_); }

 private:
  std::vector<std::byte> bytes_;
};

// SHA-256 via OpenSSL EVP. Throws std::runtime_error only if OpenSSL itself fails (a bug or an
// out-of-memory condition, never a property of the input).
std::array<unsigned char, 32> sha256(std::span<const std::byte> bytes);

}  // namespace spotline::plan::detail
