#pragma once
// The treatment plan as Spotline holds it in memory: beams of energy layers of spots.
// Read from the native JSON form and from DICOM RT Ion Plans (plan/README.md).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "spotline/core/ids.h"
#include "spotline/core/units.h"

namespace spotline::plan {

enum class Approval : std::uint8_t { Approved, Unapproved, Rejected };
enum class Radiation : std::uint8_t { Proton, Ion };

// Nuclear identity of the beam particle. Protons: z=1, a=1, charge=1.
struct IonSpecies {
  int z = 6;
  int a = 12;
  int charge = 6;
  auto operator<=>(const IonSpecies&) const = default;
};

inline constexpr IonSpecies kProton{1, 1, 1};
inline constexpr IonSpecies kHelium{2, 4, 2};
inline constexpr IonSpecies kCarbon{6, 12, 6};
inline constexpr IonSpecies kOxygen{8, 16, 8};
inline constexpr IonSpecies kNeon{10, 20, 10};

// "proton", "helium", "carbon", "oxygen", "neon"; nullopt for anything else.
std::optional<IonSpecies> ionFromName(std::string_view name);
std::string ionName(const IonSpecies& ion);

struct Spot {
  Millimetres x;  // scan position at isocentre plane
  Millimetres y;
  double meterset = 0.0;  // in Plan::metersetUnit
  // Exact comparison: a round trip through the JSON form must reproduce every bit of a value.
  bool operator==(const Spot&) const = default;
};

struct Layer {
  MeVPerNucleon energy;
  int paintings = 1;
  std::vector<Spot> spots;
  // DICOM ScanSpotTuneID: the machine's beam-optics setting for this layer; empty when not given.
  std::string tuneId;
  // DICOM ScanningSpotSize: nominal spot size in air at isocentre, x and y (mm); 0 when not given.
  std::array<double, 2> spotSizeMm{0.0, 0.0};
  // The RangeShifterID (of the beam's declared range shifters) set IN for this layer; empty for none.
  std::string rangeShifter;
  // Where the layer came from, for messages only: the index of the DICOM control point it was
  // read from, or -1 for other sources. Not part of the plan's content (hash, equality).
  int sourceControlPoint = -1;
  bool operator==(const Layer& other) const {
    return energy == other.energy && paintings == other.paintings && tuneId == other.tuneId &&
           spotSizeMm == other.spotSizeMm && rangeShifter == other.rangeShifter && spots == other.spots;
  }
};

// A range shifter declared in a beam (DICOM RangeShifterSequence). Numbering may start at 0.
struct RangeShifter {
  int number = 0;
  std::string id;               // RangeShifterID, matched against the room's allowed shifters
  std::string type = "BINARY";  // "BINARY" or "ANALOG"
  bool operator==(const RangeShifter&) const = default;
};

struct Beam {
  BeamNumber number;
  std::string name;
  std::string machine;    // TreatmentMachineName: which room answers to it is the facility's business
  bool treatment = true;  // setup beams are never delivered
  Radiation radiation = Radiation::Ion;
  IonSpecies ion = kCarbon;
  Degrees gantryAngle;
  Degrees couchAngle;
  std::array<double, 3> isocentreMm{0.0, 0.0, 0.0};
  std::vector<RangeShifter> rangeShifters;  // declared; which one a layer uses is Layer::rangeShifter
  std::vector<Layer> layers;
  bool operator==(const Beam&) const = default;
};

struct Plan {
  PlanUid uid;
  PatientId patient;
  std::string label;
  Approval approval = Approval::Unapproved;
  MetersetUnit metersetUnit = MetersetUnit::NP;
  int fractionsPlanned = 1;
  bool synthetic = false;  // true for plans Spotline generated itself
  std::vector<Beam> beams;
  bool operator==(const Plan&) const = default;
};

// Totals over treatment beams only.
struct PlanTotals {
  std::size_t beams = 0;
  std::size_t layers = 0;
  std::size_t spots = 0;
  double meterset = 0.0;
};
PlanTotals totals(const Plan& plan);
double beamMeterset(const Beam& beam);

std::string_view toString(Approval approval);
// "PROTON" or "ION", as DICOM's RadiationType.
std::string_view toString(Radiation radiation);

}  // namespace spotline::plan
