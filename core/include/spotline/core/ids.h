#pragma once
// Typed identifiers: a plan UID can never be passed where a fraction id is expected.

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>

namespace spotline {

template <typename Tag, typename Rep>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(Rep value) : value_(std::move(value)) {}
  const Rep& value() const { return value_; }
  auto operator<=>(const StrongId&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const StrongId& id) { return os << id.value_; }

 private:
  Rep value_{};
};

using PlanUid = StrongId<struct PlanUidTag, std::string>;
using PatientId = StrongId<struct PatientIdTag, std::string>;
using FractionId = StrongId<struct FractionIdTag, std::string>;
using RoomId = StrongId<struct RoomIdTag, std::string>;
using BeamNumber = StrongId<struct BeamNumberTag, std::uint32_t>;
using LayerIndex = StrongId<struct LayerIndexTag, std::uint32_t>;
using SpotIndex = StrongId<struct SpotIndexTag, std::uint32_t>;

}  // namespace spotline

template <typename Tag, typename Rep>
struct std::hash<spotline::StrongId<Tag, Rep>> {
  std::size_t operator()(const spotline::StrongId<Tag, Rep>& id) const noexcept { return std::hash<Rep>{}(id.value()); }
};
