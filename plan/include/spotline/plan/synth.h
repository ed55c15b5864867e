#pragma once
// Synthetic plans: a cube of water-equivalent target irradiated by pencil-beam scanning, built
// from a simple physical model (plan/README.md, "Synthetic plans"). For tests, demos and load;
// never for patients. Every plan is marked synthetic=true.
//
// Reproducible: the same options (and facility) always give a byte-identical writePlanJson.
// The random ±10 % spot variation comes from a SplitMix64 stream seeded by `seed`, not from
// <random>'s distributions (whose output differs between standard libraries).

#include <cstdint>
#include <optional>
#include <string>

#include "spotline/core/units.h"
#include "spotline/plan/facility.h"
#include "spotline/plan/plan.h"

namespace spotline::plan {

struct SynthOptions {
  IonSpecies ion = kCarbon;
  double targetSizeMm = 60.0;  // cube edge
  double depthMm = 100.0;      // depth of the cube's centre in water
  double spotSpacingMm = 3.0;  // lateral spot grid and depth spacing of the energy layers
  std::uint64_t seed = 1;
  std::string machine = "GANTRY1";
  double gantryAngle = 0.0;
  int beams = 1;
  MetersetUnit unit = MetersetUnit::NP;
  std::string planUid;    // empty => "2.25.<decimal>" derived from the options and seed
  std::string patientId;  // empty => "SYNTHETIC"
  std::string label;      // empty => "synthetic <ion>" (fits DICOM RTPlanLabel, 16 characters)
  // Added beyond the first version of the brief:
  int fractions = 1;
  Approval approval = Approval::Approved;  // synthetic plans are made to be delivered in tests
};

// Water range in mm of an ion at `energy` MeV/u by the Bragg-Kleeman rule R = alpha * E^p
// (alpha per ion, p = 1.75; plan/README.md), and its inverse.
double rangeInWaterMm(const IonSpecies& ion, MeVPerNucleon energy);
MeVPerNucleon energyForRangeMm(const IonSpecies& ion, double rangeMm);

// nullopt when the options make sense for the facility, else why not (for the console to print).
std::optional<std::string> checkSynthOptions(const SynthOptions& options, const Facility& facility);

// Throws std::invalid_argument when checkSynthOptions reports a problem (a caller's bug: check
// first). The one-argument form uses builtInFacility().
Plan synthesizePlan(const SynthOptions& options, const Facility& facility);
Plan synthesizePlan(const SynthOptions& options);

}  // namespace spotline::plan
