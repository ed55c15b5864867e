#include "spotline/plan/facility.h"

#include <algorithm>
#include <cmath>

namespace spotline::plan {

const RoomModel* Facility::room(std::string_view name) const {
  for (const RoomModel& r : rooms) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const IonModel* Facility::ion(const IonSpecies& species) const {
  for (const IonModel& m : ions) {
    if (m.ion == species) return &m;
  }
  return nullptr;
}

const RoomModel* Facility::roomForMachine(std::string_view machine) const {
  for (const RoomModel& r : rooms) {
    if (std::find(r.machineNames.begin(), r.machineNames.end(), machine) != r.machineNames.end()) {
      return &r;
    }
  }
  return nullptr;
}

namespace {

// Spot meterset limits: the maximum is 10,000 times the minimum for every ion, the dynamic range
// of the carbon numbers (5e3..5e7 particles). Minima scale with the particles an ion needs for a
// given dose (lighter ions deposit less per particle, so they need more). See plan/README.md.
IonModel ionModel(IonSpecies ion, double eMin, double eMax, double minParticles, std::uint32_t levels) {
  IonModel m;
  m.ion = ion;
  m.energy = EnergyRange{MeVPerNucleon(eMin), MeVPerNucleon(eMax)};
  m.minSpotParticles = minParticles;
  m.maxSpotParticles = minParticles * 1e4;
  m.minSpotMu = 0.001;
  m.maxSpotMu = 1000.0;
  m.energyLevels = levels;
  return m;
}

RoomModel roomModel(std::string name, std::vector<std::string> machines, bool rotating,
                    const std::vector<IonSpecies>& ions) {
  RoomModel r;
  r.name = std::move(name);
  r.machineNames = std::move(machines);
  r.rotating = rotating;
  r.ions = ions;
  r.positionTolerance = Millimetres(1.0);
  r.metersetTolerance = 0.03;
  r.monitorAgreement = 0.02;
  return r;
}

}  // namespace

Facility builtInFacility() {
  Facility f;
  // Carbon: 255 energies over 85..430 MeV/u (1.36 MeV/u apart); the other ions use about the
  // same spacing over their own ranges. Ranges other than carbon's are approximate.
  f.ions = {
      ionModel(kCarbon, 85.0, 430.0, 5'000.0, 255),   ionModel(kHelium, 50.0, 220.0, 15'000.0, 126),
      ionModel(kOxygen, 100.0, 430.0, 4'000.0, 244),  ionModel(kNeon, 120.0, 430.0, 3'000.0, 229),
      ionModel(kProton, 48.0, 221.0, 100'000.0, 128),
  };
  const std::vector<IonSpecies> all{kCarbon, kHelium, kOxygen, kNeon, kProton};
  f.rooms = {
      roomModel("gantry-1", {"GANTRY1", "gantry-1"}, true, all),
      roomModel("gantry-2", {"GANTRY2", "gantry-2"}, true, all),
      roomModel("fixed-1", {"FIXED1", "fixed-1"}, false, all),
  };
  f.scanFieldHalfWidth = Millimetres(100.0);
  f.maxSpotsPerLayer = 20'000;
  return f;
}

std::vector<MeVPerNucleon> energyTable(const IonModel& ion) {
  std::vector<MeVPerNucleon> table;
  if (ion.energyLevels == 0) return table;
  const double lo = ion.energy.min.value();
  const double hi = ion.energy.max.value();
  if (ion.energyLevels == 1) {
    table.emplace_back(std::round(lo * 100.0) / 100.0);
    return table;
  }
  table.reserve(ion.energyLevels);
  const double step = (hi - lo) / static_cast<double>(ion.energyLevels - 1);
  for (std::uint32_t i = 0; i < ion.energyLevels; ++i) {
    // Rounded so that table energies print short and compare exactly after a JSON round trip.
    const double e = i + 1 == ion.energyLevels ? hi : lo + step * static_cast<double>(i);
    table.emplace_back(std::round(e * 100.0) / 100.0);
  }
  return table;
}

MeVPerNucleon nearestTableEnergy(const IonModel& ion, MeVPerNucleon energy) {
  const std::vector<MeVPerNucleon> table = energyTable(ion);
  if (table.empty()) return energy;
  auto it = std::lower_bound(table.begin(), table.end(), energy);
  if (it == table.begin()) return table.front();
  if (it == table.end()) return table.back();
  const auto below = std::prev(it);
  return (energy - *below) <= (*it - energy) ? *below : *it;
}

}  // namespace spotline::plan
