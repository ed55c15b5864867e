#pragma once
// What the machine can deliver. The facility-model config file (a later issue) fills this;
// until then builtInFacility() holds the defaults documented in plan/README.md.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "spotline/core/units.h"
#include "spotline/plan/plan.h"

namespace spotline::plan {

struct EnergyRange {
  MeVPerNucleon min;
  MeVPerNucleon max;
};

struct RoomModel {
  std::string name;                       // "gantry-1", "gantry-2", "fixed-1"
  std::vector<std::string> machineNames;  // TreatmentMachineName values this room answers to
  bool rotating = true;                   // fixed rooms accept gantry angle 90 (horizontal) only
  std::vector<IonSpecies> ions;
  // Tolerances used by delivery and QA.
  Millimetres positionTolerance{1.0};
  double metersetTolerance = 0.03;      // relative
  double metersetToleranceFloor = 0.0;  // absolute, in the plan's unit; max(rel, floor)
  double monitorAgreement = 0.02;       // primary vs secondary, relative
};

struct IonModel {
  IonSpecies ion;
  EnergyRange energy;
  double minSpotParticles = 0.0;
  double maxSpotParticles = 0.0;
  double minSpotMu = 0.0;
  double maxSpotMu = 0.0;
  // Number of discrete energies the synchrotron offers, evenly spaced from energy.min to
  // energy.max inclusive (see energyTable). 0 means a continuous range.
  std::uint32_t energyLevels = 0;
};

// Fixed (horizontal) beam lines accept only this gantry angle.
inline constexpr Degrees kFixedBeamGantryAngle{90.0};

struct Facility {
  std::vector<RoomModel> rooms;
  std::vector<IonModel> ions;
  Millimetres scanFieldHalfWidth{100.0};  // |x|,|y| must not exceed this
  std::size_t maxSpotsPerLayer = 20000;

  const RoomModel* room(std::string_view name) const;
  const IonModel* ion(const IonSpecies& species) const;
  // The room whose machineNames contain this TreatmentMachineName (exact, case-sensitive match),
  // or nullptr when no room answers to it.
  const RoomModel* roomForMachine(std::string_view machine) const;
};

Facility builtInFacility();

// The energies the synchrotron offers for an ion, ascending, each rounded to 0.01 MeV/u.
// Empty when ion.energyLevels is 0.
std::vector<MeVPerNucleon> energyTable(const IonModel& ion);
// The table energy closest to `energy` (clamped to the range); `energy` itself when the ion has
// no table.
MeVPerNucleon nearestTableEnergy(const IonModel& ion, MeVPerNucleon energy);

}  // namespace spotline::plan
