#pragma once
// What the machine can deliver: rooms, ions, energy tables, spot limits, tolerances. The values
// live in config/facility.toml (read by facility_config.h); builtInFacility() is that file as it
// was embedded at build time, so there is one source of truth. Numbers and their sources:
// config/README.md.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "spotline/core/units.h"
#include "spotline/plan/plan.h"

namespace spotline::plan {

struct EnergyRange {
  MeVPerNucleon min;
  MeVPerNucleon max;
  bool operator==(const EnergyRange&) const = default;
};

// The usual gantry angle of a horizontal fixed beam line (the default of RoomModel::fixedGantryAngle).
inline constexpr Degrees kFixedBeamGantryAngle{90.0};

struct RoomModel {
  std::string name;                                  // "gantry-1", "gantry-2", "fixed-1"
  std::vector<std::string> machineNames;             // TreatmentMachineName values this room answers to
  bool rotating = true;                              // a rotating gantry reaches every angle in [0, 360)
  Degrees fixedGantryAngle = kFixedBeamGantryAngle;  // the only angle a fixed (!rotating) room accepts
  std::vector<IonSpecies> ions;                      // the ions the room can receive
  // Scan field at the isocentre plane: a spot must have |x| <= x and |y| <= y.
  Millimetres scanFieldHalfWidthX{100.0};
  Millimetres scanFieldHalfWidthY{100.0};
  std::size_t maxSpotsPerLayer = 20000;
  std::vector<std::string> allowedRangeShifters;  // RangeShifterIDs the room's nozzle holds
  // Tolerances used by delivery and QA.
  Millimetres positionTolerance{1.0};
  double metersetTolerance = 0.03;      // relative
  double metersetToleranceFloor = 0.0;  // absolute, in the plan's unit; max(rel, floor)
  double monitorAgreement = 0.02;       // primary vs secondary, relative
  bool operator==(const RoomModel&) const = default;
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
  std::string source;  // where the numbers come from (config file's `source`)
  bool operator==(const IonModel&) const = default;
};

struct Facility {
  std::vector<RoomModel> rooms;  // in the order of the config file
  std::vector<IonModel> ions;    // in the order of the config file

  const RoomModel* room(std::string_view name) const;
  const IonModel* ion(const IonSpecies& species) const;
  // The room whose machineNames contain this TreatmentMachineName (exact, case-sensitive match),
  // or nullptr when no room answers to it.
  const RoomModel* roomForMachine(std::string_view machine) const;
  bool operator==(const Facility&) const = default;
};

// The parse of config/facility.toml as embedded at build time. Throws std::logic_error if the
// embedded text does not parse: that is a build bug (the tests parse the same file).
Facility builtInFacility();

// The energies the synchrotron offers for an ion, ascending, each rounded to 0.01 MeV/u.
// Empty when ion.energyLevels is 0.
std::vector<MeVPerNucleon> energyTable(const IonModel& ion);
// The table energy closest to `energy` (clamped to the range); `energy` itself when the ion has
// no table.
MeVPerNucleon nearestTableEnergy(const IonModel& ion, MeVPerNucleon energy);

}  // namespace spotline::plan
