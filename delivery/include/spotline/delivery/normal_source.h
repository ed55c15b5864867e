#pragma once
// Standard normal deviates that are the same, bit for bit, on every IEEE-754 platform and standard
// library. std::normal_distribution's algorithm is implementation-defined and libm's log/sin/cos are
// not correctly rounded, so a journal recorded on one machine could not be reproduced on another.
// NormalSource uses std::mt19937_64 (fully specified by the standard), Marsaglia's polar method and
// portableLog(), which uses only frexp, +, -, * and / (the library is built with -ffp-contract=off so
// no fused multiply-add changes a rounding).
//
// Lifecycle: a value type owned by whoever draws from it; not thread-safe.

#include <cstdint>
#include <optional>
#include <random>

namespace spotline::delivery {

// Natural logarithm for finite x > 0 (relative error about 1e-16); returns NaN for x <= 0 or NaN.
double portableLog(double x);

class NormalSource {
 public:
  explicit NormalSource(std::uint64_t seed) : rng_(seed) {}

  // One standard normal deviate (mean 0, sigma 1). Deviates come in pairs; the second is kept.
  double next();

 private:
  double uniformSymmetric();  // in [-1, 1), exactly representable steps of 2^-52

  std::mt19937_64 rng_;
  std::optional<double> spare_;
};

}  // namespace spotline::delivery
