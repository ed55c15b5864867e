#pragma once
// Typed physical quantities. Raw doubles appear only in codecs and file formats.

#include <chrono>
#include <cmath>
#include <compare>
#include <cstdint>
#include <string_view>

namespace spotline {

template <typename Tag>
class Quantity {
 public:
  constexpr Quantity() = default;
  constexpr explicit Quantity(double value) : value_(value) {}
  constexpr double value() const { return value_; }
  constexpr auto operator<=>(const Quantity&) const = default;
  constexpr Quantity operator+(Quantity o) const { return Quantity(value_ + o.value_); }
  constexpr Quantity operator-(Quantity o) const { return Quantity(value_ - o.value_); }
  constexpr Quantity operator*(double k) const { return Quantity(value_ * k); }
  constexpr Quantity& operator+=(Quantity o) {
    value_ += o.value_;
    return *this;
  }

 private:
  double value_ = 0.0;
};

using Millimetres = Quantity<struct MillimetresTag>;
using MeVPerNucleon = Quantity<struct MeVPerNucleonTag>;
using Degrees = Quantity<struct DegreesTag>;

// Meterset of a spot: monitor units (MU) or number of particles (NP), as DICOM's
// PrimaryDosimeterUnit. The unit travels with the value so MU and NP never mix.
enum class MetersetUnit : std::uint8_t { MU, NP };

constexpr std::string_view toString(MetersetUnit unit) {
  return unit == MetersetUnit::MU ? "MU" : "NP";
}

struct Meterset {
  double value = 0.0;
  MetersetUnit unit = MetersetUnit::NP;
};

// Simulated (physics) time. Wall time for liveness uses std::chrono::steady_clock durations.
using SimDuration = std::chrono::nanoseconds;

constexpr double toSeconds(SimDuration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace spotline
