#include "spotline/plan/validate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "text.h"

namespace spotline::plan {

namespace {

std::string num(double v) {
  return detail::shortNumber(v);
}

constexpr double kNoNumber = std::numeric_limits<double>::quiet_NaN();
// A fixed room's angle is compared with this slack so that 90 read from a DICOM decimal string
// (e.g. "90.0000001") is not refused; anything further off is a different beam direction.
constexpr double kAngleSlackDeg = 1e-6;

std::string beamPath(std::size_t b) {
  return "beams[" + std::to_string(b) + "]";
}
std::string layerPath(std::size_t b, std::size_t l) {
  return beamPath(b) + ".layers[" + std::to_string(l) + "]";
}
std::string spotPath(std::size_t b, std::size_t l, std::size_t s) {
  return layerPath(b, l) + ".spots[" + std::to_string(s) + "]";
}

std::string beamWhere(const Beam& beam) {
  std::string out = "beam " + std::to_string(beam.number.value());
  if (!beam.name.empty()) out += " (\"" + beam.name + "\")";
  return out;
}
std::string layerWhere(const Beam& beam, const Layer& layer, std::size_t l) {
  std::string out = beamWhere(beam) + ", layer " + std::to_string(l + 1) + " (";
  if (layer.sourceControlPoint >= 0) out += "control point " + std::to_string(layer.sourceControlPoint) + ", ";
  return out + num(layer.energy.value()) + " MeV/u)";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

class Collector {
 public:
  void add(std::string path, std::string_view rule, double value, double limit, std::string message,
           int controlPoint = -1) {
    out_.push_back(
        Violation{std::move(path), std::string(rule), value, limit, std::move(message), std::max(-1, controlPoint)});
  }
  std::vector<Violation> take() { return std::move(out_); }

 private:
  std::vector<Violation> out_;
};

// `room` is nullptr when no room answers to the beam's machine (already reported): the checks
// that depend on the room are then skipped rather than guessed.
void checkSpots(Collector& c, const Plan& plan, const RoomModel* room, const Beam& beam, const IonModel* ion,
                std::size_t b, std::size_t l) {
  const Layer& layer = beam.layers[l];
  const int cp = layer.sourceControlPoint;
  const std::string_view unit = toString(plan.metersetUnit);
  const bool np = plan.metersetUnit == MetersetUnit::NP;
  const double minMeterset = ion == nullptr ? 0.0 : (np ? ion->minSpotParticles : ion->minSpotMu);
  const double maxMeterset = ion == nullptr ? 0.0 : (np ? ion->maxSpotParticles : ion->maxSpotMu);
  const int paintings = std::max(1, layer.paintings);
  for (std::size_t s = 0; s < layer.spots.size(); ++s) {
    const Spot& spot = layer.spots[s];
    const auto where = [&] { return layerWhere(beam, layer, l) + ", spot " + std::to_string(s + 1) + ": "; };
    if (room != nullptr) {
      const double coords[2] = {spot.x.value(), spot.y.value()};
      const double halves[2] = {room->scanFieldHalfWidthX.value(), room->scanFieldHalfWidthY.value()};
      for (std::size_t axis = 0; axis < 2; ++axis) {
        // Written so that NaN fails the test too.
        if (!(std::abs(coords[axis]) <= halves[axis])) {
          const char* name = axis == 0 ? "x" : "y";
          c.add(spotPath(b, l, s) + "[" + std::to_string(axis) + "]", rules::kScanField, coords[axis], halves[axis],
                where() + name + " = " + num(coords[axis]) + " mm is outside the scan field of room " + room->name +
                    " (|" + name + "| <= " + num(halves[axis]) + " mm)",
                cp);
        }
      }
    }
    // Paths and texts are built only for a violation: a 100,000-spot plan is checked in about a
    // millisecond (`spotline bench plan-read`).
    const auto metersetPath = [&] { return spotPath(b, l, s) + "[2]"; };
    if (!std::isfinite(spot.meterset)) {
      c.add(metersetPath(), rules::kMetersetNotFinite, spot.meterset, kNoNumber,
            where() + "meterset is " + num(spot.meterset) + ", not a finite number", cp);
      continue;
    }
    if (spot.meterset < 0.0) {
      c.add(metersetPath(), rules::kMetersetNegative, spot.meterset, 0.0,
            where() + "meterset " + num(spot.meterset) + " " + std::string(unit) + " is negative", cp);
      continue;
    }
    if (ion == nullptr) continue;  // unknown-ion already reported; no limits to compare with
    // Each painting delivers its share of the spot's meterset, and it is that share the machine
    // must be able to deliver.
    const double share = spot.meterset / paintings;
    const auto shareText = [&] {
      return paintings == 1
                 ? "meterset " + num(share) + " " + std::string(unit)
                 : "meterset " + num(spot.meterset) + " " + std::string(unit) + " over " + std::to_string(paintings) +
                       " paintings is " + num(share) + " " + std::string(unit) + " per painting, which";
    };
    if (share < minMeterset) {
      c.add(metersetPath(), rules::kMetersetMin, share, minMeterset,
            where() + shareText() + " is below the minimum " + num(minMeterset) + " " + std::string(unit) + " for " +
                ionName(beam.ion),
            cp);
    } else if (share > maxMeterset) {
      c.add(metersetPath(), rules::kMetersetMax, share, maxMeterset,
            where() + shareText() + " is above the maximum " + num(maxMeterset) + " " + std::string(unit) + " for " +
                ionName(beam.ion),
            cp);
    }
  }
}

void checkEnergy(Collector& c, const Beam& beam, const IonModel& ion, std::size_t b, std::size_t l) {
  const Layer& layer = beam.layers[l];
  const double e = layer.energy.value();
  const double lo = ion.energy.min.value();
  const double hi = ion.energy.max.value();
  const std::string path = layerPath(b, l) + ".energy_mev_u";
  if (!(e >= lo) || !(e <= hi)) {
    const bool below = !(e >= lo);
    c.add(path, rules::kEnergyRange, e, below ? lo : hi,
          layerWhere(beam, layer, l) + ": energy " + num(e) + " MeV/u is " + (below ? "below" : "above") + " the " +
              ionName(beam.ion) + " range " + num(lo) + "-" + num(hi) + " MeV/u",
          layer.sourceControlPoint);
    return;  // out of range: the nearest table energy would only repeat the range's end
  }
  if (ion.energyLevels == 0) return;  // a continuous range: every energy in it is deliverable
  const double nearest = nearestTableEnergy(ion, layer.energy).value();
  if (!(std::abs(e - nearest) <= kEnergyTableTolerance)) {
    c.add(path, rules::kEnergyNotInTable, e, nearest,
          layerWhere(beam, layer, l) + ": energy " + num(e) + " MeV/u is not in the " + ionName(beam.ion) +
              " energy table (nearest " + num(nearest) + " MeV/u; a layer must be within " +
              num(kEnergyTableTolerance) + " MeV/u of a table energy)",
          layer.sourceControlPoint);
  }
}

void checkRangeShifters(Collector& c, const Beam& beam, const RoomModel* room, std::size_t b) {
  if (room == nullptr) return;
  for (std::size_t k = 0; k < beam.rangeShifters.size(); ++k) {
    const RangeShifter& rs = beam.rangeShifters[k];
    if (!contains(room->allowedRangeShifters, rs.id)) {
      c.add(beamPath(b) + ".range_shifters[" + std::to_string(k) + "].id", rules::kRangeShifterNotAllowed, kNoNumber,
            kNoNumber,
            beamWhere(beam) + ": range shifter \"" + rs.id + "\" is not one room " + room->name + " holds (" +
                (room->allowedRangeShifters.empty() ? "none" : joined(room->allowedRangeShifters)) + ")");
    }
  }
}

void checkLayerRangeShifter(Collector& c, const Beam& beam, const RoomModel* room, std::size_t b, std::size_t l) {
  const Layer& layer = beam.layers[l];
  if (layer.rangeShifter.empty()) return;
  const bool declared = std::any_of(beam.rangeShifters.begin(), beam.rangeShifters.end(),
                                    [&](const RangeShifter& rs) { return rs.id == layer.rangeShifter; });
  if (declared) return;  // a declared shifter the room does not hold is reported at its declaration
  std::vector<std::string> ids;
  for (const RangeShifter& rs : beam.rangeShifters) ids.push_back(rs.id);
  const std::string path = layerPath(b, l) + ".range_shifter";
  c.add(path, rules::kRangeShifterUndeclared, kNoNumber, kNoNumber,
        layerWhere(beam, layer, l) + ": range shifter \"" + layer.rangeShifter +
            "\" is set IN, but the beam does not declare it (" +
            (ids.empty() ? "it declares none" : "declared: " + joined(ids)) + ")",
        layer.sourceControlPoint);
  if (room != nullptr && !contains(room->allowedRangeShifters, layer.rangeShifter)) {
    c.add(path, rules::kRangeShifterNotAllowed, kNoNumber, kNoNumber,
          layerWhere(beam, layer, l) + ": range shifter \"" + layer.rangeShifter + "\" is not one room " + room->name +
              " holds (" + (room->allowedRangeShifters.empty() ? "none" : joined(room->allowedRangeShifters)) + ")",
          layer.sourceControlPoint);
  }
}

void checkBeam(Collector& c, const Plan& plan, const Facility& facility, std::size_t b, const RoomModel* room) {
  const Beam& beam = plan.beams[b];
  const IonModel* ion = facility.ion(beam.ion);
  if (ion == nullptr) {
    c.add(beamPath(b) + ".ion", rules::kUnknownIon, beam.ion.z, kNoNumber,
          beamWhere(beam) + ": the facility does not accelerate " + ionName(beam.ion));
  } else if (room != nullptr && std::find(room->ions.begin(), room->ions.end(), beam.ion) == room->ions.end()) {
    c.add(beamPath(b) + ".ion", rules::kIonNotInRoom, beam.ion.z, kNoNumber,
          beamWhere(beam) + ": room " + room->name + " cannot receive " + ionName(beam.ion));
  }
  if (room != nullptr && !room->rotating &&
      !(std::abs(beam.gantryAngle.value() - room->fixedGantryAngle.value()) <= kAngleSlackDeg)) {
    c.add(beamPath(b) + ".gantry_angle", rules::kGantryFixedRoom, beam.gantryAngle.value(),
          room->fixedGantryAngle.value(),
          beamWhere(beam) + ": gantry angle " + num(beam.gantryAngle.value()) + " deg, but room " + room->name +
              " is a fixed beam line at " + num(room->fixedGantryAngle.value()) + " deg");
  }
  checkRangeShifters(c, beam, room, b);
  if (beam.layers.empty()) {
    c.add(beamPath(b) + ".layers", rules::kEmptyBeam, 0.0, 1.0,
          beamWhere(beam) + ": a treatment beam without energy layers");
  }
  for (std::size_t l = 0; l < beam.layers.size(); ++l) {
    const Layer& layer = beam.layers[l];
    if (ion != nullptr) checkEnergy(c, beam, *ion, b, l);
    checkLayerRangeShifter(c, beam, room, b, l);
    if (layer.spots.empty()) {
      c.add(layerPath(b, l) + ".spots", rules::kEmptyLayer, 0.0, 1.0,
            layerWhere(beam, layer, l) + ": layer has no spots", layer.sourceControlPoint);
    } else if (room != nullptr && layer.spots.size() > room->maxSpotsPerLayer) {
      c.add(layerPath(b, l) + ".spots", rules::kTooManySpots, static_cast<double>(layer.spots.size()),
            static_cast<double>(room->maxSpotsPerLayer),
            layerWhere(beam, layer, l) + ": " + std::to_string(layer.spots.size()) + " spots, more than the " +
                std::to_string(room->maxSpotsPerLayer) + " a layer may have in room " + room->name,
            layer.sourceControlPoint);
    }
    checkSpots(c, plan, room, beam, ion, b, l);
  }
}

}  // namespace

std::vector<Violation> validatePlan(const Plan& plan, const Facility& facility) {
  Collector c;
  if (plan.approval != Approval::Approved) {
    c.add("approval", rules::kUnapproved, kNoNumber, kNoNumber,
          "plan is " + std::string(toString(plan.approval)) + "; only an APPROVED plan can be delivered");
  }
  const auto treatmentBeams = static_cast<double>(
      std::count_if(plan.beams.begin(), plan.beams.end(), [](const Beam& b) { return b.treatment; }));
  if (treatmentBeams == 0) {
    c.add("beams", rules::kNoTreatmentBeam, 0.0, 1.0,
          "plan has no treatment beam (" + std::to_string(plan.beams.size()) + " beams, all setup)");
  }
  // A fraction is delivered in one room, so every treatment beam must name the same room.
  const RoomModel* firstRoom = nullptr;
  const Beam* firstRoomBeam = nullptr;
  for (std::size_t b = 0; b < plan.beams.size(); ++b) {
    const Beam& beam = plan.beams[b];
    // Beam numbers identify beams in records and treatment records, setup beams included.
    for (std::size_t earlier = 0; earlier < b; ++earlier) {
      if (plan.beams[earlier].number == beam.number) {
        c.add(beamPath(b) + ".number", rules::kDuplicateBeamNumber, beam.number.value(), kNoNumber,
              beamWhere(beam) + ": beam number " + std::to_string(beam.number.value()) + " is already used by " +
                  beamPath(earlier) +
                  (plan.beams[earlier].name.empty() ? "" : " (\"" + plan.beams[earlier].name + "\")") +
                  "; beam numbers must be unique");
        break;
      }
    }
    if (!beam.treatment) continue;  // setup beams are never delivered
    const RoomModel* room = facility.roomForMachine(beam.machine);
    if (room == nullptr) {
      c.add(beamPath(b) + ".machine", rules::kUnknownMachine, kNoNumber, kNoNumber,
            beamWhere(beam) + ": no treatment room answers to machine \"" + beam.machine + "\"");
    } else if (firstRoom == nullptr) {
      firstRoom = room;
      firstRoomBeam = &beam;
    } else if (room != firstRoom) {
      c.add(beamPath(b) + ".machine", rules::kMixedRooms, kNoNumber, kNoNumber,
            beamWhere(beam) + ": machine \"" + beam.machine + "\" is room " + room->name + ", but " +
                beamWhere(*firstRoomBeam) + " is for room " + firstRoom->name +
                "; a fraction is delivered in one room");
    }
    checkBeam(c, plan, facility, b, room);
  }
  return c.take();
}

nlohmann::json violationsJson(const std::vector<Violation>& violations) {
  nlohmann::json list = nlohmann::json::array();
  const auto numberOrNull = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const Violation& v : violations) {
    nlohmann::json item = {{"path", v.path},
                           {"rule", v.rule},
                           {"value", numberOrNull(v.value)},
                           {"limit", numberOrNull(v.limit)},
                           {"message", v.message}};
    if (v.controlPoint >= 0) item["control_point"] = v.controlPoint;
    list.push_back(std::move(item));
  }
  return {{"valid", violations.empty()}, {"violations", std::move(list)}};
}

std::optional<std::string> roomForMachine(const Facility& facility, std::string_view machine) {
  const RoomModel* room = facility.roomForMachine(machine);
  if (room == nullptr) return std::nullopt;
  return room->name;
}

}  // namespace spotline::plan
