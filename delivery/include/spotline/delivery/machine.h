#pragma once
// The numbers of the accelerator and scanning model, and the events it produces. Sources and
// reasoning for every default are in delivery/README.md.

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "spotline/core/units.h"
#include "spotline/plan/plan.h"

namespace spotline::delivery {

struct MachineParameters {
  // --- the synchrotron, shared by the rooms -------------------------------------------------
  SimDuration spillLength = std::chrono::seconds(4);       // slow extraction of one spill
  SimDuration spillGap = std::chrono::milliseconds(1500);  // dump, injection, acceleration
  double particlesPerSpill = 4e8;                          // carbon; other ions by ionScale()
  double maxIntensity = 8e7;                               // carbon, particles/s: top level
  double minIntensity = 2e6;                               // carbon, particles/s: lowest level
  std::uint32_t intensityLevels = 10;                      // log-spaced steps from min to max
  // Several energy layers in one spill (multi-energy extraction): the next layer of the same
  // beam, at a lower energy, follows in the same spill after energyStep.
  bool multiEnergyExtraction = false;
  SimDuration energyStep = std::chrono::milliseconds(100);

  // --- beam allocation among rooms ------------------------------------------------------------
  double ageingPerSecond = 0.5;                               // priority gained per second of waiting: no room starves
  SimDuration leaseTimeout = std::chrono::milliseconds(500);  // granted but unused: revoked

  // --- intensity-controlled raster scanning ---------------------------------------------------
  double particlesPerMu = 1.0e7;  // calibration used when the plan is in MU
  SimDuration beamOffReaction = std::chrono::microseconds(100);
  double scanSpeedMmPerS = 10'000.0;  // scanning magnets at isocentre
  // Overshoot correction: the beam-off request for a spot is made early by the overshoot
  // predicted from the dose rate the monitor measured on the previous spot of the spill.
  bool overshootCorrection = true;
  // Intensity level per layer: the predicted overshoot (level x reaction) may be this fraction of
  // the layer's smallest spot with correction, maxOvershootFraction without.
  double maxCorrectedOvershoot = 0.1;
  double maxOvershootFraction = 0.01;
  double intensityRipple = 0.03;  // relative sigma of the extracted intensity, spot to spot
  // A resumed spot whose remaining meterset is below this fraction of its plan is complete.
  double resumeSkipFraction = 0.005;

  // --- monitors ---------------------------------------------------------------------------------
  double positionNoiseMm = 0.15;      // sigma of the position monitor, per axis
  double primaryNoise = 0.002;        // relative sigma of the primary monitor
  double secondaryNoise = 0.003;      // relative sigma of the secondary monitor
  double secondaryCalibration = 1.0;  // secondary reads this factor times the true particles

  // --- injected faults ------------------------------------------------------------------------
  double faultDriftMm = 2.0;                                   // position-drift: offset in x
  double faultOvershootFraction = 0.10;                        // overshoot: late beam-off
  SimDuration faultSpillAbortAfter = std::chrono::seconds(1);  // spill-abort: into the spill
};

// Throws std::invalid_argument naming the parameter the model cannot run with.
void validate(const MachineParameters& params);

// Particles per spill and intensities scale with (6/Z)^2 from carbon's numbers (see README).
double ionScale(const plan::IonSpecies& ion);
// Particles per unit of plan meterset: 1 for NP, params.particlesPerMu for MU.
double particlesPerUnit(MetersetUnit unit, const MachineParameters& params);
// The intensity levels for an ion, lowest first, particles per second.
std::vector<double> intensityLevels(const plan::IonSpecies& ion, const MachineParameters& params);
// The highest level whose predicted overshoot (level x beamOffReaction) is at most the allowed
// fraction of `smallestParticles` (the lowest level when none is).
double chooseIntensity(double smallestParticles, const plan::IonSpecies& ion, const MachineParameters& params);

// Where a fraction resumes: the first spot not yet fully delivered, counted over treatment beams
// only, and how much of that spot (primary reading, plan's unit) was already delivered.
struct ResumePoint {
  std::uint32_t beamIndex = 0;  // index into plan.beams (setup beams are skipped)
  std::uint32_t layerIndex = 0;
  std::uint32_t spotIndex = 0;
  double spotDelivered = 0.0;
};

// One spill of the synchrotron, leased to one room.
struct Spill {
  std::uint32_t number = 0;  // facility-wide count
  std::string room;          // the beam line is switched to this room
  SimDuration start{0}, end{0};
  double particles = 0.0;
};

struct LayerStarted {
  std::uint32_t beamIndex, layerIndex;
  BeamNumber beam;
  MeVPerNucleon energy;
  std::uint32_t spots;  // all spots of the layer, also when a resumed layer is re-opened
  std::uint32_t spill;  // facility-wide spill number
  double intensity;     // extraction intensity level chosen, particles per second
  SimDuration at;
};

struct SpotDelivered {
  std::uint32_t beamIndex, layerIndex, spotIndex;
  BeamNumber beam;
  double planned;    // the spot's planned meterset, plan's unit
  double target;     // what this record aimed for: planned less what earlier records delivered
  double delivered;  // primary monitor, plan's unit
  double secondary;  // secondary monitor, plan's unit
  Millimetres xPlanned, yPlanned, xMeasured, yMeasured;
  MeVPerNucleon energy;
  std::uint32_t spill;  // the spill in which the record ends
  SimDuration start;    // beam on (a spot larger than a spill starts in an earlier one)
  SimDuration end;      // beam off, after the beam-off reaction time
  bool partial;         // the beam was held inside the spot: the rest follows on resume
};

struct LayerCompleted {
  std::uint32_t beamIndex, layerIndex;
  BeamNumber beam;
  double meterset;  // delivered in this layer (primary), plan's unit; a re-opened layer: since re-opening
  SimDuration at;
};

// The room waited for beam from `from` to `until`, when spill `nextSpill` started for it.
struct WaitingForSpill {
  std::uint32_t nextSpill;
  SimDuration from;
  SimDuration until;
  std::uint32_t spillsToOtherRooms;  // spills the synchrotron gave other rooms meanwhile
  std::string lastOtherRoom;         // the last of them, empty when none
};

enum class HoldCause : std::uint8_t { External, DoorOpen, SpillAborted };

// The beam is off for this room: requested at `requestedAt`, off at `at` (after the reaction
// time if it was on). A partial SpotDelivered precedes it when the hold cut a spot.
struct BeamHeld {
  HoldCause cause;
  SimDuration requestedAt;
  SimDuration at;
};

// An injected fault took effect (for logs, training and the service's process faults).
struct FaultTriggered {
  std::string spec;
  SimDuration at;
};

struct FractionCompleted {
  SimDuration at;
};

using SimEvent = std::variant<LayerStarted, SpotDelivered, LayerCompleted, WaitingForSpill, BeamHeld, FaultTriggered,
                              FractionCompleted>;

SimDuration timeOf(const SimEvent& event);
std::string_view toString(HoldCause cause);

}  // namespace spotline::delivery
