#include "spotline/plan/validate.h"

#include <algorithm>
#include <cmath>
#include <limits>

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
  return beamWhere(beam) + ", layer " + std::to_string(l + 1) + " (" + num(layer.energy.value()) + " MeV/u)";
}

class Collector {
 public:
  void add(std::string path, std::string_view rule, double value, double limit, std::string message) {
    out_.push_back(Violation{std::move(path), std::string(rule), value, limit, std::move(message)});
  }
  std::vector<Violation> take() { return std::move(out_); }

 private:
  std::vector<Violation> out_;
};

void checkSpots(Collector& c, const Plan& plan, const Facility& facility, const Beam& beam, const IonModel* ion,
                std::size_t b, std::size_t l) {
  const Layer& layer = beam.layers[l];
  const double half = facility.scanFieldHalfWidth.value();
  const std::string_view unit = toString(plan.metersetUnit);
  const bool np = plan.metersetUnit == MetersetUnit::NP;
  const double minMeterset = ion == nullptr ? 0.0 : (np ? ion->minSpotParticles : ion->minSpotMu);
  const double maxMeterset = ion == nullptr ? 0.0 : (np ? ion->maxSpotParticles : ion->maxSpotMu);
  const int paintings = std::max(1, layer.paintings);
  for (std::size_t s = 0; s < layer.spots.size(); ++s) {
    const Spot& spot = layer.spots[s];
    const auto where = [&] { return layerWhere(beam, layer, l) + ", spot " + std::to_string(s + 1) + ": "; };
    const double coords[2] = {spot.x.value(), spot.y.value()};
    for (std::size_t axis = 0; axis < 2; ++axis) {
      // Written so that NaN fails the test too.
      if (!(std::abs(coords[axis]) <= half)) {
        const char* name = axis == 0 ? "x" : "y";
        c.add(spotPath(b, l, s) + "[" + std::to_string(axis) + "]", rules::kScanField, coords[axis], half,
              where() + name + " = " + num(coords[axis]) + " mm is outside the scan field (|" + name +
                  "| <= " + num(half) + " mm)");
      }
    }
    const std::string metersetPath = spotPath(b, l, s) + "[2]";
    if (!std::isfinite(spot.meterset)) {
      c.add(metersetPath, rules::kMetersetNotFinite, spot.meterset, kNoNumber,
            where() + "meterset is " + num(spot.meterset) + ", not a finite number");
      continue;
    }
    if (ion == nullptr) continue;  // unknown-ion already reported; no limits to compare with
    // Each painting delivers its share of the spot's meterset, and it is that share the machine
    // must be able to deliver.
    const double share = spot.meterset / paintings;
    const std::string shareText = paintings == 1 ? "meterset " + num(share) + " " + std::string(unit)
                                                 : "meterset " + num(spot.meterset) + " " + std::string(unit) +
                                                       " over " + std::to_string(paintings) + " paintings is " +
                                                       num(share) + " " + std::string(unit) + " per painting, which";
    if (share < minMeterset) {
      c.add(metersetPath, rules::kMetersetMin, share, minMeterset,
            where() + shareText + " is below the minimum " + num(minMeterset) + " " + std::string(unit) + " for " +
                ionName(beam.ion));
    } else if (share > maxMeterset) {
      c.add(metersetPath, rules::kMetersetMax, share, maxMeterset,
            where() + shareText + " is above the maximum " + num(maxMeterset) + " " + std::string(unit) + " for " +
                ionName(beam.ion));
    }
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
      !(std::abs(beam.gantryAngle.value() - kFixedBeamGantryAngle.value()) <= kAngleSlackDeg)) {
    c.add(beamPath(b) + ".gantry_angle", rules::kGantryFixedRoom, beam.gantryAngle.value(),
          kFixedBeamGantryAngle.value(),
          beamWhere(beam) + ": gantry angle " + num(beam.gantryAngle.value()) + " deg, but room " + room->name +
              " is a fixed beam line at " + num(kFixedBeamGantryAngle.value()) + " deg");
  }
  if (beam.layers.empty()) {
    c.add(beamPath(b) + ".layers", rules::kEmptyBeam, 0.0, 1.0,
          beamWhere(beam) + ": a treatment beam without energy layers");
  }
  for (std::size_t l = 0; l < beam.layers.size(); ++l) {
    const Layer& layer = beam.layers[l];
    const double e = layer.energy.value();
    if (ion != nullptr) {
      const double lo = ion->energy.min.value();
      const double hi = ion->energy.max.value();
      if (!(e >= lo) || !(e <= hi)) {
        const bool below = !(e >= lo);
        c.add(layerPath(b, l) + ".energy_mev_u", rules::kEnergyRange, e, below ? lo : hi,
              layerWhere(beam, layer, l) + ": energy " + num(e) + " MeV/u is " + (below ? "below" : "above") + " the " +
                  ionName(beam.ion) + " range " + num(lo) + "-" + num(hi) + " MeV/u");
      }
    }
    if (layer.spots.empty()) {
      c.add(layerPath(b, l) + ".spots", rules::kEmptyLayer, 0.0, 1.0,
            layerWhere(beam, layer, l) + ": layer has no spots");
    } else if (layer.spots.size() > facility.maxSpotsPerLayer) {
      c.add(layerPath(b, l) + ".spots", rules::kTooManySpots, static_cast<double>(layer.spots.size()),
            static_cast<double>(facility.maxSpotsPerLayer),
            layerWhere(beam, layer, l) + ": " + std::to_string(layer.spots.size()) + " spots, more than the " +
                std::to_string(facility.maxSpotsPerLayer) + " a layer may have");
    }
    checkSpots(c, plan, facility, beam, ion, b, l);
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
    list.push_back({{"path", v.path},
                    {"rule", v.rule},
                    {"value", numberOrNull(v.value)},
                    {"limit", numberOrNull(v.limit)},
                    {"message", v.message}});
  }
  return {{"valid", violations.empty()}, {"violations", std::move(list)}};
}

std::optional<std::string> roomForMachine(const Facility& facility, std::string_view machine) {
  const RoomModel* room = facility.roomForMachine(machine);
  if (room == nullptr) return std::nullopt;
  return room->name;
}

}  // namespace spotline::plan
