#include "spotline/plan/synth.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "canonical.h"
#include "text.h"

namespace spotline::plan {

namespace {

std::string num(double v) {
  return detail::shortNumber(v);
}

// Bragg-Kleeman exponent and the proton coefficient for water, fitted to the NIST PSTAR CSDA
// ranges 77.2 mm at 100 MeV and 259.6 mm at 200 MeV. At equal energy per nucleon an ion of mass
// number A and charge Z travels A/Z^2 times as far as a proton (range scaling), which gives the
// per-ion coefficients in plan/README.md.
constexpr double kBraggKleemanP = 1.75;
constexpr double kProtonAlphaMm = 0.0244;

double alphaMm(const IonSpecies& ion) {
  return kProtonAlphaMm * static_cast<double>(ion.a) / (static_cast<double>(ion.z) * static_cast<double>(ion.z));
}

// Meterset model (plan/README.md): the distal layer's spots get kDistalSpotMinimums times the
// ion's minimum spot particles at 3 mm spacing, scaled by spacing^2 (each spot covers that area)
// and divided among the beams; the layer weight falls linearly to kProximalWeight at the most
// proximal layer, because shallower layers already receive the plateau dose of deeper ones.
constexpr double kDistalSpotMinimums = 200.0;
constexpr double kReferenceSpacingMm = 3.0;
constexpr double kProximalWeight = 0.35;
constexpr double kSpotVariation = 0.10;
// Particles per MU for plans in MU: the default calibration of the delivery model.
constexpr double kParticlesPerMu = 1.0e7;

constexpr std::size_t kMaxSpotsTotal = 2'000'000;  // keeps a typo from allocating gigabytes
constexpr int kMaxBeams = 36;

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fully specified, the same on every platform.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

// The nearest value a 32-bit float holds (DICOM FL), unchanged when it already is one.
double asFloat(double v) {
  return static_cast<double>(static_cast<float>(v));
}

// Rounds to 1/scale. Dividing by the integer scale (rather than multiplying by 0.001) gives the
// double nearest the decimal value, so 28.5 prints as 28.5 and not 28.500000000000004.

double roundTo(double v, double scale) {
  return std::round(v * scale) / scale;
}

// Grid points per axis: a centred grid from -size/2 to +size/2 (inclusive when size is a multiple
// of the spacing). The small slack absorbs 60/3 = 19.999999 style rounding.
std::size_t pointsPerAxis(double size, double spacing) {
  return static_cast<std::size_t>(std::floor(size / spacing + 1e-9)) + 1;
}

// 128-bit big-endian number in decimal, by long division (no __int128 under -Wpedantic).
std::string toDecimal(std::array<unsigned char, 16> n) {
  std::string digits;
  const auto isZero = [&n] { return std::all_of(n.begin(), n.end(), [](unsigned char b) { return b == 0; }); };
  do {
    unsigned remainder = 0;
    for (unsigned char& b : n) {
      const unsigned cur = (remainder << 8) | b;
      b = static_cast<unsigned char>(cur / 10);
      remainder = cur % 10;
    }
    digits.push_back(static_cast<char>('0' + remainder));
  } while (!isZero());
  std::reverse(digits.begin(), digits.end());
  return digits;
}

// "2.25.<decimal>" (a UUID-derived DICOM UID, PS3.5 B.2) from a SHA-256 of every option: the
// first 16 bytes with the UUID version set to 8 (custom) and the RFC 4122 variant.
std::string derivedUid(const SynthOptions& o) {
  detail::CanonicalWriter w;
  w.str("spotline-synth-uid/1");
  w.i32(o.ion.z);
  w.i32(o.ion.a);
  w.i32(o.ion.charge);
  w.f64(o.targetSizeMm);
  w.f64(o.depthMm);
  w.f64(o.spotSpacingMm);
  w.u64(o.seed);
  w.str(o.machine);
  w.f64(o.gantryAngle);
  w.i32(o.beams);
  w.u8(o.unit == MetersetUnit::MU ? 0 : 1);
  w.str(o.patientId);
  w.str(o.label);
  w.i32(o.fractions);
  w.u8(static_cast<std::uint8_t>(o.approval == Approval::Approved ? 0 : o.approval == Approval::Unapproved ? 1 : 2));
  const std::array<unsigned char, 32> digest = detail::sha256(w.bytes());
  std::array<unsigned char, 16> uuid{};
  std::copy_n(digest.begin(), 16, uuid.begin());
  uuid[6] = static_cast<unsigned char>((uuid[6] & 0x0f) | 0x80);
  uuid[8] = static_cast<unsigned char>((uuid[8] & 0x3f) | 0x80);
  return "2.25." + toDecimal(uuid);
}

}  // namespace

double rangeInWaterMm(const IonSpecies& ion, MeVPerNucleon energy) {
  return alphaMm(ion) * std::pow(energy.value(), kBraggKleemanP);
}

MeVPerNucleon energyForRangeMm(const IonSpecies& ion, double rangeMm) {
  return MeVPerNucleon(std::pow(rangeMm / alphaMm(ion), 1.0 / kBraggKleemanP));
}

std::optional<std::string> checkSynthOptions(const SynthOptions& o, const Facility& facility) {
  const IonModel* ion = facility.ion(o.ion);
  if (ion == nullptr) return "the facility does not accelerate " + ionName(o.ion);
  if (!(std::isfinite(o.targetSizeMm) && o.targetSizeMm > 0.0)) {
    return "target size must be a positive number of mm, got " + num(o.targetSizeMm);
  }
  if (!(std::isfinite(o.spotSpacingMm) && o.spotSpacingMm > 0.0)) {
    return "spot spacing must be a positive number of mm, got " + num(o.spotSpacingMm);
  }
  if (!(std::isfinite(o.depthMm) && o.depthMm - o.targetSizeMm / 2.0 > 0.0)) {
    return "depth must put the whole target below the surface (depth > size/2), got depth " + num(o.depthMm) +
           " mm for a " + num(o.targetSizeMm) + " mm target";
  }
  if (!(std::isfinite(o.gantryAngle) && o.gantryAngle >= 0.0 && o.gantryAngle < 360.0)) {
    return "gantry angle must be in [0, 360) deg, got " + num(o.gantryAngle);
  }
  if (o.beams < 1 || o.beams > kMaxBeams) {
    return "beams must be 1.." + std::to_string(kMaxBeams) + ", got " + std::to_string(o.beams);
  }
  if (o.fractions < 1 || o.fractions > 1000) {
    return "fractions must be 1..1000, got " + std::to_string(o.fractions);
  }
  const RoomModel* room = facility.roomForMachine(o.machine);
  if (room == nullptr) return "no treatment room answers to machine \"" + o.machine + "\"";
  if (std::find(room->ions.begin(), room->ions.end(), o.ion) == room->ions.end()) {
    return "room " + room->name + " cannot receive " + ionName(o.ion);
  }
  if (!room->rotating && o.gantryAngle != room->fixedGantryAngle.value()) {
    return "room " + room->name + " is a fixed beam line: the gantry angle must be " +
           num(room->fixedGantryAngle.value()) + ", got " + num(o.gantryAngle);
  }
  const std::size_t perAxis = pointsPerAxis(o.targetSizeMm, o.spotSpacingMm);
  const double halfExtent = static_cast<double>(perAxis - 1) * o.spotSpacingMm / 2.0;
  const double fieldHalf = std::min(room->scanFieldHalfWidthX.value(), room->scanFieldHalfWidthY.value());
  if (halfExtent > fieldHalf) {
    return "a " + num(o.targetSizeMm) + " mm target does not fit the scan field of room " + room->name + " (+/-" +
           num(fieldHalf) + " mm)";
  }
  if (perAxis * perAxis > room->maxSpotsPerLayer) {
    return std::to_string(perAxis * perAxis) + " spots per layer, more than room " + room->name + "'s " +
           std::to_string(room->maxSpotsPerLayer) + "; use a larger spacing";
  }
  if (perAxis * perAxis * perAxis * static_cast<std::size_t>(o.beams) > kMaxSpotsTotal) {
    return "more than " + std::to_string(kMaxSpotsTotal) + " spots; use a larger spacing";
  }
  const double distal = o.depthMm + halfExtent;
  const double proximal = o.depthMm - halfExtent;
  const double reachMax = rangeInWaterMm(o.ion, ion->energy.max);
  const double reachMin = rangeInWaterMm(o.ion, ion->energy.min);
  if (distal > reachMax) {
    return "the target's far edge at " + num(distal) + " mm is deeper than " + ionName(o.ion) + " reaches at " +
           num(ion->energy.max.value()) + " MeV/u (" + num(roundTo(reachMax, 10.0)) + " mm)";
  }
  if (proximal < reachMin) {
    return "the target's near edge at " + num(proximal) + " mm is shallower than " + ionName(o.ion) + " reaches at " +
           num(ion->energy.min.value()) + " MeV/u (" + num(roundTo(reachMin, 10.0)) + " mm)";
  }
  return std::nullopt;
}

Plan synthesizePlan(const SynthOptions& o) {
  return synthesizePlan(o, builtInFacility());
}

Plan synthesizePlan(const SynthOptions& o, const Facility& facility) {
  if (auto problem = checkSynthOptions(o, facility)) {
    throw std::invalid_argument("synthesizePlan: " + *problem);
  }
  const IonModel& ion = *facility.ion(o.ion);
  const RoomModel& room = *facility.roomForMachine(o.machine);
  const std::size_t perAxis = pointsPerAxis(o.targetSizeMm, o.spotSpacingMm);
  const double halfExtent = static_cast<double>(perAxis - 1) * o.spotSpacingMm / 2.0;

  // Energies from the distal edge up, snapped to the synchrotron's table; two depths that snap
  // to the same energy make one layer.
  std::vector<MeVPerNucleon> energies;
  for (std::size_t i = 0; i < perAxis; ++i) {
    const double depth = o.depthMm + halfExtent - static_cast<double>(i) * o.spotSpacingMm;
    const MeVPerNucleon e = nearestTableEnergy(ion, energyForRangeMm(o.ion, depth));
    if (energies.empty() || e != energies.back()) energies.push_back(e);
  }

  // Lateral grid, rounded to a micrometre so coordinates print short and exactly.
  std::vector<double> grid(perAxis);
  for (std::size_t i = 0; i < perAxis; ++i) {
    grid[i] = asFloat(roundTo(-halfExtent + static_cast<double>(i) * o.spotSpacingMm, 1e3));
  }

  const double spacingScale = (o.spotSpacingMm / kReferenceSpacingMm) * (o.spotSpacingMm / kReferenceSpacingMm);
  const double distalParticles =
      kDistalSpotMinimums * ion.minSpotParticles * spacingScale / static_cast<double>(o.beams);
  SplitMix64 rng(o.seed);

  Plan plan;
  plan.uid = PlanUid(o.planUid.empty() ? derivedUid(o) : o.planUid);
  plan.patient = PatientId(o.patientId.empty() ? std::string("SYNTHETIC") : o.patientId);
  // At most 16 characters by default, so that it fits DICOM's RTPlanLabel (SH).
  plan.label = o.label.empty() ? "synthetic " + ionName(o.ion) : o.label;
  plan.approval = o.approval;
  plan.metersetUnit = o.unit;
  plan.fractionsPlanned = o.fractions;
  plan.synthetic = true;

  for (int k = 0; k < o.beams; ++k) {
    const double step = 360.0 * static_cast<double>(k) / static_cast<double>(o.beams);
    Beam beam;
    beam.number = BeamNumber(static_cast<std::uint32_t>(k + 1));
    beam.name = "Field " + std::to_string(k + 1);
    beam.machine = o.machine;
    beam.treatment = true;
    beam.radiation = o.ion == kProton ? Radiation::Proton : Radiation::Ion;
    beam.ion = o.ion;
    // Beams are spread evenly around the patient: by the gantry where it rotates, by the couch
    // in a fixed room.
    // Rounded to a micro-degree so that every angle fits a DICOM decimal string (16 characters).
    const auto angle = [](double a) {
      const double r = roundTo(std::fmod(a, 360.0), 1e6);
      return r >= 360.0 ? 0.0 : r;
    };
    beam.gantryAngle = Degrees(room.rotating ? angle(o.gantryAngle + step) : o.gantryAngle);
    beam.couchAngle = Degrees(room.rotating ? 0.0 : angle(step));
    for (std::size_t l = 0; l < energies.size(); ++l) {
      const double weight = energies.size() == 1 ? 1.0
                                                 : 1.0 - (1.0 - kProximalWeight) * static_cast<double>(l) /
                                                             static_cast<double>(energies.size() - 1);
      Layer layer;
      layer.energy = energies[l];
      layer.paintings = 1;
      layer.spots.reserve(perAxis * perAxis);
      for (std::size_t row = 0; row < perAxis; ++row) {
        for (std::size_t col = 0; col < perAxis; ++col) {
          // Serpentine raster: every other row runs backwards, as the scanning magnets do.
          const std::size_t c = row % 2 == 0 ? col : perAxis - 1 - col;
          const double variation = 1.0 + kSpotVariation * (2.0 * rng.uniform() - 1.0);
          const double particles = distalParticles * weight * variation;
          double meterset = 0.0;
          if (o.unit == MetersetUnit::NP) {
            meterset = std::clamp(std::round(particles), ion.minSpotParticles, ion.maxSpotParticles);
          } else {
            meterset = std::clamp(roundTo(particles / kParticlesPerMu, 1e4), ion.minSpotMu, ion.maxSpotMu);
          }
          // DICOM stores weights as 32-bit floats: made exact here so a written plan reads back
          // identical. The clamp limits are float-exact, so the result stays within them.
          meterset = asFloat(meterset);
          layer.spots.push_back(Spot{Millimetres(grid[c]), Millimetres(grid[row]), meterset});
        }
      }
      beam.layers.push_back(std::move(layer));
    }
    plan.beams.push_back(std::move(beam));
  }
  return plan;
}

}  // namespace spotline::plan
