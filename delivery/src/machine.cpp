#include "spotline/delivery/machine.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace spotline::delivery {
namespace {

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("delivery::MachineParameters: ") + what);
}

}  // namespace

void validate(const MachineParameters& p) {
  // Written as !(x > 0) where NaN must be refused as well.
  require(p.spillLength.count() > 0, "spillLength must be positive");
  require(p.spillGap.count() >= 0, "spillGap must not be negative");
  require(p.particlesPerSpill >= 1.0, "particlesPerSpill must be at least one particle");
  require(p.maxIntensity > 0.0, "maxIntensity must be positive");
  require(p.minIntensity > 0.0 && p.minIntensity <= p.maxIntensity, "minIntensity must be in (0, maxIntensity]");
  require(p.intensityLevels >= 1, "intensityLevels must be at least 1");
  require(p.energyStep.count() >= 0, "energyStep must not be negative");
  require(p.ageingPerSecond >= 0.0, "ageingPerSecond must not be negative");
  require(p.leaseTimeout.count() > 0, "leaseTimeout must be positive");
  require(p.particlesPerMu > 0.0, "particlesPerMu must be positive");
  require(p.beamOffReaction.count() >= 0, "beamOffReaction must not be negative");
  require(p.scanSpeedMmPerS > 0.0, "scanSpeedMmPerS must be positive");
  require(p.maxCorrectedOvershoot >= 0.0 && p.maxCorrectedOvershoot < 1.0, "maxCorrectedOvershoot must be in [0, 1)");
  require(p.maxOvershootFraction >= 0.0, "maxOvershootFraction must not be negative");
  require(p.intensityRipple >= 0.0 && p.intensityRipple < 0.5, "intensityRipple must be in [0, 0.5)");
  require(p.resumeSkipFraction >= 0.0 && p.resumeSkipFraction < 0.03, "resumeSkipFraction must be in [0, 0.03)");
  require(p.positionNoiseMm >= 0.0, "positionNoiseMm must not be negative");
  require(p.primaryNoise >= 0.0, "primaryNoise must not be negative");
  require(p.secondaryNoise >= 0.0, "secondaryNoise must not be negative");
  require(p.secondaryCalibration >= 0.0, "secondaryCalibration must not be negative");
  require(p.faultOvershootFraction >= 0.0, "faultOvershootFraction must not be negative");
  require(p.faultSpillAbortAfter.count() >= 0, "faultSpillAbortAfter must not be negative");
}

double ionScale(const plan::IonSpecies& ion) {
  const double z = std::max(1, ion.z);
  return (6.0 / z) * (6.0 / z);
}

double particlesPerUnit(MetersetUnit unit, const MachineParameters& params) {
  return unit == MetersetUnit::MU ? params.particlesPerMu : 1.0;
}

std::vector<double> intensityLevels(const plan::IonSpecies& ion, const MachineParameters& params) {
  const double scale = ionScale(ion);
  std::vector<double> levels;
  if (params.intensityLevels == 1) return {params.maxIntensity * scale};
  const double ratio = params.maxIntensity / params.minIntensity;
  for (std::uint32_t k = 0; k < params.intensityLevels; ++k) {
    // pow on exact inputs is not guaranteed to be correctly rounded; the levels are rounded to
    // three significant digits so that every platform gets the same numbers.
    const double raw = params.minIntensity * std::pow(ratio, static_cast<double>(k) / (params.intensityLevels - 1));
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)) - 2.0);
    levels.push_back(std::round(raw / magnitude) * magnitude * scale);
  }
  levels.back() = params.maxIntensity * scale;
  levels.front() = params.minIntensity * scale;
  return levels;
}

double chooseIntensity(double smallestParticles, const plan::IonSpecies& ion, const MachineParameters& params) {
  const auto levels = intensityLevels(ion, params);
  const double reaction = toSeconds(params.beamOffReaction);
  if (reaction <= 0.0) return levels.back();
  const double fraction = params.overshootCorrection ? params.maxCorrectedOvershoot : params.maxOvershootFraction;
  double chosen = levels.front();
  for (double level : levels) {
    if (level * reaction <= fraction * smallestParticles) chosen = level;
  }
  return chosen;
}

SimDuration timeOf(const SimEvent& event) {
  return std::visit(
      [](const auto& e) -> SimDuration {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, SpotDelivered>) {
          return e.end;
        } else if constexpr (std::is_same_v<T, WaitingForSpill>) {
          return e.until;
        } else {
          return e.at;
        }
      },
      event);
}

std::string_view toString(HoldCause cause) {
  switch (cause) {
    case HoldCause::External: return "external";
    case HoldCause::DoorOpen: return "door-open";
    case HoldCause::SpillAborted: return "spill-aborted";
  }
  return "unknown";
}

}  // namespace spotline::delivery
