#include "spotline/plan/facility.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "spotline/plan/facility_config.h"

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

Facility builtInFacility() {
  auto parsed = parseFacilityConfig(builtInFacilityToml(), "config/facility.toml (built in)");
  if (!parsed.ok()) {
    // The tests parse the same file, so this is a build that skipped them.
    throw std::logic_error("the built-in facility model does not parse:\n" + parsed.error().message);
  }
  return std::move(parsed).value();
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
