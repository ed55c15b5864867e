#include "spotline/delivery/normal_source.h"

#include <cmath>
#include <limits>
#include <numbers>

namespace spotline::delivery {

double portableLog(double x) {
  if (!(x > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  if (x == std::numeric_limits<double>::infinity()) return x;
  // x = m * 2^e exactly; frexp is pure bit manipulation, so identical everywhere.
  int e = 0;
  double m = std::frexp(x, &e);  // m in [0.5, 1)
  if (m < std::numbers::sqrt2 / 2.0) {
    m *= 2.0;
    --e;
  }
  // m in [sqrt(1/2), sqrt(2)): ln m = 2 atanh(t) = 2 (t + t^3/3 + t^5/5 + ...), t = (m-1)/(m+1),
  // |t| <= 0.1716 so t^2 <= 0.0295 and 13 terms leave a truncation error below 1e-20.
  const double t = (m - 1.0) / (m + 1.0);
  const double t2 = t * t;
  constexpr int kTerms = 13;
  double series = 1.0 / (2.0 * kTerms - 1.0);
  for (int k = kTerms - 2; k >= 0; --k) series = series * t2 + 1.0 / (2.0 * k + 1.0);
  return static_cast<double>(e) * std::numbers::ln2 + 2.0 * t * series;
}

double NormalSource::uniformSymmetric() {
  // The top 53 bits give a uniform double in [0, 1) exactly; 2u - 1 is exact too.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return 2.0 * u - 1.0;
}

double NormalSource::next() {
  if (spare_) {
    const double value = *spare_;
    spare_.reset();
    return value;
  }
  // Marsaglia's polar method: needs only log and sqrt (sqrt is correctly rounded by IEEE-754),
  // unlike Box-Muller which needs sin and cos as well.
  for (;;) {
    const double u = uniformSymmetric();
    const double v = uniformSymmetric();
    const double s = u * u + v * v;
    if (s > 0.0 && s < 1.0) {
      const double factor = std::sqrt(-2.0 * portableLog(s) / s);
      spare_ = v * factor;
      return u * factor;
    }
  }
}

}  // namespace spotline::delivery
