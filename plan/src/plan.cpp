#include "spotline/plan/plan.h"

#include <string>

namespace spotline::plan {

std::optional<IonSpecies> ionFromName(std::string_view name) {
  if (name == "proton") return kProton;
  if (name == "helium") return kHelium;
  if (name == "carbon") return kCarbon;
  if (name == "oxygen") return kOxygen;
  if (name == "neon") return kNeon;
  return std::nullopt;
}

std::string ionName(const IonSpecies& ion) {
  if (ion == kProton) return "proton";
  if (ion == kHelium) return "helium";
  if (ion == kCarbon) return "carbon";
  if (ion == kOxygen) return "oxygen";
  if (ion == kNeon) return "neon";
  // Anything else is still named unambiguously, so messages about foreign plans stay precise.
  return "ion(z=" + std::to_string(ion.z) + ",a=" + std::to_string(ion.a) + ",charge=" + std::to_string(ion.charge) +
         ")";
}

double beamMeterset(const Beam& beam) {
  // Meterset weights are totals over all paintings (as DICOM's ScanSpotMetersetWeights), so
  // paintings do not multiply them.
  double sum = 0.0;
  for (const Layer& layer : beam.layers) {
    for (const Spot& spot : layer.spots) sum += spot.meterset;
  }
  return sum;
}

PlanTotals totals(const Plan& plan) {
  PlanTotals t;
  for (const Beam& beam : plan.beams) {
    if (!beam.treatment) continue;  // setup beams are never delivered
    ++t.beams;
    t.layers += beam.layers.size();
    for (const Layer& layer : beam.layers) t.spots += layer.spots.size();
    t.meterset += beamMeterset(beam);
  }
  return t;
}

std::string_view toString(Approval approval) {
  switch (approval) {
    case Approval::Approved: return "APPROVED";
    case Approval::Unapproved: return "UNAPPROVED";
    case Approval::Rejected: return "REJECTED";
  }
  return "UNKNOWN";
}

std::string_view toString(Radiation radiation) {
  return radiation == Radiation::Proton ? "PROTON" : "ION";
}

}  // namespace spotline::plan
