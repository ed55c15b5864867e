#pragma once
// The accelerator and beam delivery model, in simulated time.
//
// FractionSimulator walks one fraction of a plan energy layer by energy layer, spot by spot, and
// says what the machine did: when a layer starts, when each spot was delivered with what the
// primary and secondary dose monitors and the position monitor measured, when a spill ended and the
// beam waited for the next one. It owns simulated time; it never reads a real clock. Two simulators
// built from the same plan, machine parameters, seed and resume point produce identical events,
// bit for bit, on every platform (the normal deviates are computed without libm; see README).
//
// Lifecycle: built by the delivery service for one fraction; step() is called from that service's
// thread only; not thread-safe. The plan is held by reference and must outlive the simulator.

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "spotline/core/units.h"
#include "spotline/delivery/normal_source.h"
#include "spotline/plan/facility.h"
#include "spotline/plan/plan.h"

namespace spotline::delivery {

// Numbers of the simple synchrotron and scanning model; sources in delivery/README.md.
struct MachineParameters {
  SimDuration spillLength = std::chrono::seconds(4);
  SimDuration spillGap = std::chrono::milliseconds(1500);
  double particlesPerSpill = 1e9;  // extractable particles per spill (carbon)
  double intensity = 5e7;          // highest extraction intensity, particles per second
  double particlesPerMu = 1.0e7;   // calibration used when the plan is in MU
  SimDuration beamOffReaction = std::chrono::microseconds(20);
  double scanSpeedMmPerS = 10'000.0;  // scanning magnets: 10 m/s at isocentre
  double positionNoiseMm = 0.15;      // sigma of the position monitor, per axis
  double primaryNoise = 0.002;        // relative sigma of the primary monitor
  double secondaryNoise = 0.003;      // relative sigma of the secondary monitor
  double secondaryCalibration = 1.0;  // secondary reads this factor times the true particles
  // Intensity is chosen per layer so that the beam-off overshoot (intensity x beamOffReaction) is
  // at most this fraction of the layer's smallest spot, but never below minIntensity.
  double maxOvershootFraction = 0.01;
  double minIntensity = 1e6;  // particles per second; lowest intensity step
};

// Where a fraction resumes: the first spot not yet delivered, counted over treatment beams only.
struct ResumePoint {
  std::uint32_t beamIndex = 0;  // index into plan.beams (setup beams are skipped)
  std::uint32_t layerIndex = 0;
  std::uint32_t spotIndex = 0;
};

struct LayerStarted {
  std::uint32_t beamIndex, layerIndex;
  BeamNumber beam;
  MeVPerNucleon energy;
  std::uint32_t spots;  // all spots of the layer, also when a resumed layer is re-opened
  SimDuration at;
};

struct SpotDelivered {
  std::uint32_t beamIndex, layerIndex, spotIndex;
  BeamNumber beam;
  double planned;    // meterset in the plan's unit
  double delivered;  // primary monitor, in the plan's unit
  double secondary;  // secondary monitor, in the plan's unit
  Millimetres xPlanned, yPlanned, xMeasured, yMeasured;
  MeVPerNucleon energy;
  std::uint32_t spill;  // the spill in which the spot was completed
  SimDuration start;    // beam on for this spot (a spot larger than a spill starts in an earlier one)
  SimDuration end;      // beam off, after the beam-off reaction time
};

struct LayerCompleted {
  std::uint32_t beamIndex, layerIndex;
  BeamNumber beam;
  double meterset;  // delivered in this layer (primary), plan's unit; a re-opened layer: since re-opening
  SimDuration at;
};

// The spill ended (time or particles ran out) before the layer was done: the beam waits.
struct WaitingForSpill {
  std::uint32_t nextSpill;
  SimDuration from;
  SimDuration until;
};

struct FractionCompleted {
  SimDuration at;
};

using SimEvent = std::variant<LayerStarted, SpotDelivered, LayerCompleted, WaitingForSpill, FractionCompleted>;

// Particles per unit of plan meterset: 1 for NP, params.particlesPerMu for MU.
double particlesPerUnit(MetersetUnit unit, const MachineParameters& params);

// The extraction intensity (particles per second) the model uses for a layer: params.intensity,
// lowered so that intensity x beamOffReaction <= maxOvershootFraction x the smallest non-zero
// spot, but not below minIntensity (and never above params.intensity).
double layerIntensity(const plan::Layer& layer, MetersetUnit unit, const MachineParameters& params);

class FractionSimulator {
 public:
  // Throws std::invalid_argument for parameters the model cannot run with (a non-positive spill
  // length, spill budget, intensity, scan speed or MU calibration; a negative gap, reaction or noise):
  // they are a configuration bug, not an expected outcome.
  FractionSimulator(const plan::Plan& plan, MachineParameters params, std::uint64_t seed, ResumePoint from = {});
  FractionSimulator(plan::Plan&& plan, MachineParameters params, std::uint64_t seed,
                    ResumePoint from = {}) = delete;  // the plan is held by reference

  // The next thing the machine does; FractionCompleted once, then forever FractionCompleted.
  SimEvent step();

  SimDuration now() const;
  // First spot not yet delivered, always a real spot of a treatment beam, or {plan.beams.size(), 0, 0}
  // once every spot is delivered. A new simulator started there delivers exactly the rest.
  ResumePoint position() const;
  std::uint32_t spill() const;
  bool finished() const;  // FractionCompleted has been returned

  // Fault hook for tests and training: from now on the position monitor reads this offset.
  void injectPositionDrift(Millimetres dx, Millimetres dy);

 private:
  const plan::Layer& currentLayer() const;
  SimEvent startLayer();
  SimEvent completeLayer();
  SimEvent continueSpot();
  SimEvent completeSpot();
  SimEvent deliverEmptySpot();
  SimEvent waitForSpill(SimDuration from);
  bool spillExhausted() const;
  SimDuration spillEnd() const { return spillStart_ + params_.spillLength; }

  const plan::Plan& plan_;
  MachineParameters params_;
  NormalSource normal_;
  double unitParticles_ = 1.0;  // particles per unit of plan meterset

  // Next spot to deliver; within the open layer its spotIndex may equal the layer's size (the layer
  // is done but LayerCompleted not yet returned). position() normalises it.
  ResumePoint cursor_;
  SimDuration now_{0};
  SimDuration spillStart_{0};
  double spillParticlesUsed_ = 0.0;
  std::uint32_t spill_ = 1;
  bool spillUsedByLayer_ = false;  // a layer already ran in this spill: the next layer needs a new one
  bool layerOpen_ = false;
  bool done_ = false;
  double layerDelivered_ = 0.0;
  double layerIntensity_ = 0.0;
  bool magnetsReady_ = true;  // magnets already at the next spot (they moved during a gap)

  // The spot being delivered; it may span spills.
  bool spotInProgress_ = false;
  double spotRemaining_ = 0.0;  // particles still to extract before the beam-off request
  double spotTrue_ = 0.0;       // particles that actually reached the patient so far
  SimDuration spotStart_{0};

  Millimetres lastX_{0.0}, lastY_{0.0};
  Millimetres driftX_{0.0}, driftY_{0.0};
};

// Interlock checks on one delivered spot against a room's tolerances; nullopt when in tolerance.
// When several apply, the first in this order is returned. value and limit are in the same terms:
//   PositionOutOfTolerance: max(|x measured - planned|, |y measured - planned|), mm;
//   MonitorDisagreement: |secondary - primary| / primary, a fraction (infinite if only primary is 0);
//   SpotOvershoot: delivered - planned, plan's unit, against max(planned x tolerance, floor).
enum class InterlockReason : std::uint8_t {
  PositionOutOfTolerance,
  MonitorDisagreement,
  SpotOvershoot,
};
struct InterlockFinding {
  InterlockReason reason;
  double value;
  double limit;
};
std::optional<InterlockFinding> checkSpot(const SpotDelivered& spot, const plan::RoomModel& room);

std::string_view toString(InterlockReason reason);

}  // namespace spotline::delivery
