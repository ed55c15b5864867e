#include "spotline/delivery/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace spotline::delivery {

FractionSimulator::FractionSimulator(const plan::Plan& plan, MachineParameters params, std::uint64_t seed,
                                     ResumePoint from, std::vector<FaultSpec> faults)
    : scanner_(plan, params, seed, from, std::move(faults)), synchrotron_(params) {
  synchrotron_.attach("room", scanner_);
}

std::optional<SimEvent> FractionSimulator::step() {
  if (completedAt_) return FractionCompleted{*completedAt_};
  auto ev = synchrotron_.step();
  if (!ev) return std::nullopt;
  if (const auto* done = std::get_if<FractionCompleted>(&ev->event)) completedAt_ = done->at;
  return std::move(ev->event);
}

std::vector<SimEvent> FractionSimulator::hold() {
  return synchrotron_.hold("room");
}

void FractionSimulator::resume() {
  synchrotron_.resume("room");
}

std::optional<InterlockFinding> checkSpot(const SpotDelivered& spot, const plan::RoomModel& room) {
  // Every comparison is written `!(value <= limit)` so that a NaN reading (a failed monitor) is a
  // finding: NaN compares false with everything, and a missing reading must hold the beam.
  const double dx = std::abs((spot.xMeasured - spot.xPlanned).value());
  const double dy = std::abs((spot.yMeasured - spot.yPlanned).value());
  const double positionError =
      std::isnan(dx) || std::isnan(dy) ? std::numeric_limits<double>::quiet_NaN() : std::max(dx, dy);
  if (!(positionError <= room.positionTolerance.value())) {
    return InterlockFinding{InterlockReason::PositionOutOfTolerance, positionError, room.positionTolerance.value()};
  }

  // Relative to the primary, which is the monitor that ends the spot.
  const double difference = std::abs(spot.secondary - spot.delivered);
  if (!(difference <= 0.0)) {
    const double relative =
        spot.delivered > 0.0 ? difference / spot.delivered : std::numeric_limits<double>::infinity();
    if (!(relative <= room.monitorAgreement)) {
      return InterlockFinding{InterlockReason::MonitorDisagreement, relative, room.monitorAgreement};
    }
  }

  // Against what this record aimed for (the whole spot, or what remained of a resumed one); the
  // allowance is that of the whole planned spot.
  const double excess = spot.delivered - spot.target;
  const double allowed = std::max(spot.planned * room.metersetTolerance, room.metersetToleranceFloor);
  if (!(excess <= allowed)) return InterlockFinding{InterlockReason::SpotOvershoot, excess, allowed};
  return std::nullopt;
}

std::string_view toString(InterlockReason reason) {
  switch (reason) {
    case InterlockReason::PositionOutOfTolerance: return "PositionOutOfTolerance";
    case InterlockReason::MonitorDisagreement: return "MonitorDisagreement";
    case InterlockReason::SpotOvershoot: return "SpotOvershoot";
  }
  return "Unknown";
}

}  // namespace spotline::delivery
