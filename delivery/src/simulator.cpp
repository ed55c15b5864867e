#include "spotline/delivery/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace spotline::delivery {
namespace {

// Rounded to the nanosecond with llround, which is exact and the same everywhere.
SimDuration fromSeconds(double seconds) {
  return SimDuration(std::llround(seconds * 1e9));
}

// The first deliverable spot at or after p: skips setup beams, empty layers and a layer whose
// spots are all done; {beams.size(), 0, 0} when nothing is left.
ResumePoint normalise(const plan::Plan& plan, ResumePoint p) {
  while (p.beamIndex < plan.beams.size()) {
    const plan::Beam& beam = plan.beams[p.beamIndex];
    if (beam.treatment && p.layerIndex < beam.layers.size()) {
      if (p.spotIndex < beam.layers[p.layerIndex].spots.size()) return p;
      ++p.layerIndex;
      p.spotIndex = 0;
      continue;
    }
    ++p.beamIndex;
    p.layerIndex = 0;
    p.spotIndex = 0;
  }
  return ResumePoint{static_cast<std::uint32_t>(plan.beams.size()), 0, 0};
}

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("delivery::MachineParameters: ") + what);
}

void validate(const MachineParameters& p) {
  // Written as !(x > 0) so that NaN is refused as well.
  require(p.spillLength.count() > 0, "spillLength must be positive");
  require(p.spillGap.count() >= 0, "spillGap must not be negative");
  require(p.particlesPerSpill >= 1.0, "particlesPerSpill must be at least one particle");
  require(p.intensity > 0.0, "intensity must be positive");
  require(p.minIntensity > 0.0, "minIntensity must be positive");
  require(p.particlesPerMu > 0.0, "particlesPerMu must be positive");
  require(p.beamOffReaction.count() >= 0, "beamOffReaction must not be negative");
  require(p.scanSpeedMmPerS > 0.0, "scanSpeedMmPerS must be positive");
  require(p.positionNoiseMm >= 0.0, "positionNoiseMm must not be negative");
  require(p.primaryNoise >= 0.0, "primaryNoise must not be negative");
  require(p.secondaryNoise >= 0.0, "secondaryNoise must not be negative");
  require(p.secondaryCalibration >= 0.0, "secondaryCalibration must not be negative");
  require(p.maxOvershootFraction >= 0.0, "maxOvershootFraction must not be negative");
}

}  // namespace

double particlesPerUnit(MetersetUnit unit, const MachineParameters& params) {
  return unit == MetersetUnit::MU ? params.particlesPerMu : 1.0;
}

double layerIntensity(const plan::Layer& layer, MetersetUnit unit, const MachineParameters& params) {
  double smallest = std::numeric_limits<double>::infinity();
  for (const plan::Spot& spot : layer.spots) {
    if (spot.meterset > 0.0) smallest = std::min(smallest, spot.meterset);
  }
  const double reaction = toSeconds(params.beamOffReaction);
  if (smallest == std::numeric_limits<double>::infinity() || reaction <= 0.0) return params.intensity;
  const double wanted = params.maxOvershootFraction * smallest * particlesPerUnit(unit, params) / reaction;
  return std::min(params.intensity, std::max(params.minIntensity, wanted));
}

FractionSimulator::FractionSimulator(const plan::Plan& plan, MachineParameters params, std::uint64_t seed,
                                     ResumePoint from)
    : plan_(plan),
      params_(params),
      normal_(seed),
      unitParticles_(particlesPerUnit(plan.metersetUnit, params)),
      cursor_(normalise(plan, from)) {
  validate(params_);
}

SimDuration FractionSimulator::now() const {
  return now_;
}

ResumePoint FractionSimulator::position() const {
  return normalise(plan_, cursor_);
}

std::uint32_t FractionSimulator::spill() const {
  return spill_;
}

bool FractionSimulator::finished() const {
  return done_;
}

void FractionSimulator::injectPositionDrift(Millimetres dx, Millimetres dy) {
  driftX_ = dx;
  driftY_ = dy;
}

const plan::Layer& FractionSimulator::currentLayer() const {
  return plan_.beams[cursor_.beamIndex].layers[cursor_.layerIndex];
}

SimEvent FractionSimulator::step() {
  if (done_) return FractionCompleted{now_};
  if (!layerOpen_) return startLayer();
  if (spotInProgress_) return continueSpot();
  if (cursor_.spotIndex >= currentLayer().spots.size()) return completeLayer();
  return continueSpot();
}

SimEvent FractionSimulator::startLayer() {
  cursor_ = normalise(plan_, cursor_);
  if (cursor_.beamIndex >= plan_.beams.size()) {
    done_ = true;
    return FractionCompleted{now_};
  }
  // One energy per spill: the synchrotron dumps what is left of the spill, changes energy during
  // the gap and extracts the new layer from a fresh spill. No WaitingForSpill is emitted for this;
  // the gap shows as LayerStarted.at - LayerCompleted.at.
  if (spillUsedByLayer_) {
    ++spill_;
    spillStart_ = now_ + params_.spillGap;
    now_ = spillStart_;
    spillParticlesUsed_ = 0.0;
  }
  spillUsedByLayer_ = true;
  magnetsReady_ = true;  // set to the first spot while the energy changed
  layerOpen_ = true;
  layerDelivered_ = 0.0;
  const plan::Beam& beam = plan_.beams[cursor_.beamIndex];
  const plan::Layer& layer = beam.layers[cursor_.layerIndex];
  layerIntensity_ = layerIntensity(layer, plan_.metersetUnit, params_);
  return LayerStarted{cursor_.beamIndex,
                      cursor_.layerIndex,
                      beam.number,
                      layer.energy,
                      static_cast<std::uint32_t>(layer.spots.size()),
                      now_};
}

SimEvent FractionSimulator::completeLayer() {
  LayerCompleted done{cursor_.beamIndex, cursor_.layerIndex, plan_.beams[cursor_.beamIndex].number, layerDelivered_,
                      now_};
  layerOpen_ = false;
  cursor_ = ResumePoint{cursor_.beamIndex, cursor_.layerIndex + 1, 0};
  return done;
}

bool FractionSimulator::spillExhausted() const {
  // Particles are whole: less than one left means the ring is empty.
  return now_ >= spillEnd() || params_.particlesPerSpill - spillParticlesUsed_ < 1.0;
}

SimEvent FractionSimulator::waitForSpill(SimDuration from) {
  WaitingForSpill wait{spill_ + 1, from, from + params_.spillGap};
  ++spill_;
  spillStart_ = wait.until;
  now_ = std::max(now_, wait.until);
  spillParticlesUsed_ = 0.0;
  magnetsReady_ = true;  // the scanning magnets reach the next spot long before the gap is over
  return wait;
}

SimEvent FractionSimulator::continueSpot() {
  if (!spotInProgress_) {
    const plan::Spot& spot = currentLayer().spots[cursor_.spotIndex];
    const double particles = std::max(0.0, spot.meterset) * unitParticles_;
    if (particles <= 0.0) return deliverEmptySpot();
    // x and y have their own magnets and move at the same time: the longer axis sets the time.
    const double distance = std::max(std::abs((spot.x - lastX_).value()), std::abs((spot.y - lastY_).value()));
    const SimDuration move = magnetsReady_ ? SimDuration{0} : fromSeconds(distance / params_.scanSpeedMmPerS);
    if (spillExhausted() || now_ + move >= spillEnd()) return waitForSpill(now_);
    now_ += move;
    magnetsReady_ = false;
    lastX_ = spot.x;
    lastY_ = spot.y;
    spotInProgress_ = true;
    spotRemaining_ = particles;
    spotTrue_ = 0.0;
    spotStart_ = now_;
  }

  // Here the current spill has time and particles left: a spot starts only in such a spill, and a
  // spot continued after a WaitingForSpill finds a fresh one.
  const double intensity = layerIntensity_;
  const SimDuration timeLeft = spillEnd() - now_;
  const double particlesLeft = params_.particlesPerSpill - spillParticlesUsed_;
  const double particlesInTime = intensity * toSeconds(timeLeft);

  if (spotRemaining_ <= particlesLeft && spotRemaining_ <= particlesInTime) {
    // The primary monitor reaches the target: beam-off request, then the beam keeps coming for the
    // reaction time (unless the spill or its particles end first).
    const SimDuration beamOffRequest = now_ + std::min(fromSeconds(spotRemaining_ / intensity), timeLeft);
    spillParticlesUsed_ += spotRemaining_;
    spotTrue_ += spotRemaining_;
    spotRemaining_ = 0.0;
    const SimDuration overshootTime = std::min(params_.beamOffReaction, spillEnd() - beamOffRequest);
    const double overshoot =
        std::max(0.0, std::min(intensity * toSeconds(overshootTime), params_.particlesPerSpill - spillParticlesUsed_));
    spillParticlesUsed_ += overshoot;
    spotTrue_ += overshoot;
    now_ = beamOffRequest + params_.beamOffReaction;
    return completeSpot();
  }

  // The spill ends inside this spot: extract what it has, continue in the next spill.
  if (particlesLeft <= particlesInTime) {
    now_ += std::min(fromSeconds(particlesLeft / intensity), timeLeft);
    spotRemaining_ -= particlesLeft;
    spotTrue_ += particlesLeft;
    spillParticlesUsed_ = params_.particlesPerSpill;
  } else {
    now_ = spillEnd();
    spotRemaining_ -= particlesInTime;
    spotTrue_ += particlesInTime;
    spillParticlesUsed_ += particlesInTime;
  }
  return waitForSpill(now_);
}

SimEvent FractionSimulator::completeSpot() {
  const plan::Beam& beam = plan_.beams[cursor_.beamIndex];
  const plan::Layer& layer = beam.layers[cursor_.layerIndex];
  const plan::Spot& spot = layer.spots[cursor_.spotIndex];
  // Draw order is fixed (primary, secondary, x, y): it is part of the reproducibility contract.
  const double primaryNoise = normal_.next();
  const double secondaryNoise = normal_.next();
  const double xNoise = normal_.next();
  const double yNoise = normal_.next();
  const double primary = spotTrue_ * (1.0 + params_.primaryNoise * primaryNoise) / unitParticles_;
  const double secondary =
      spotTrue_ * params_.secondaryCalibration * (1.0 + params_.secondaryNoise * secondaryNoise) / unitParticles_;
  const Millimetres xMeasured = spot.x + driftX_ + Millimetres(params_.positionNoiseMm * xNoise);
  const Millimetres yMeasured = spot.y + driftY_ + Millimetres(params_.positionNoiseMm * yNoise);
  SpotDelivered delivered{cursor_.beamIndex,
                          cursor_.layerIndex,
                          cursor_.spotIndex,
                          beam.number,
                          spot.meterset,
                          primary,
                          secondary,
                          spot.x,
                          spot.y,
                          xMeasured,
                          yMeasured,
                          layer.energy,
                          spill_,
                          spotStart_,
                          now_};
  layerDelivered_ += primary;
  spotInProgress_ = false;
  ++cursor_.spotIndex;
  return delivered;
}

SimEvent FractionSimulator::deliverEmptySpot() {
  // A zero-meterset spot needs no beam: the scanner skips it, the monitors read nothing and the
  // position monitor has no beam to see, so the planned position is reported.
  const plan::Beam& beam = plan_.beams[cursor_.beamIndex];
  const plan::Layer& layer = beam.layers[cursor_.layerIndex];
  const plan::Spot& spot = layer.spots[cursor_.spotIndex];
  SpotDelivered delivered{cursor_.beamIndex,
                          cursor_.layerIndex,
                          cursor_.spotIndex,
                          beam.number,
                          spot.meterset,
                          0.0,
                          0.0,
                          spot.x,
                          spot.y,
                          spot.x,
                          spot.y,
                          layer.energy,
                          spill_,
                          now_,
                          now_};
  ++cursor_.spotIndex;
  return delivered;
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

  const double excess = spot.delivered - spot.planned;
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
