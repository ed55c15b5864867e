#pragma once
// Plans and helpers shared by the delivery tests. Plans are built from the structs directly so the
// tests do not depend on the plan library's readers.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "spotline/delivery/simulator.h"

namespace spotline::delivery::testing {

// A layer of `count` spots on a 5 mm raster, every spot with the given meterset.
inline plan::Layer uniformLayer(double energy, std::size_t count, double meterset) {
  plan::Layer layer;
  layer.energy = MeVPerNucleon(energy);
  for (std::size_t i = 0; i < count; ++i) {
    const double x = -50.0 + 5.0 * static_cast<double>(i % 21);
    const double y = -50.0 + 5.0 * static_cast<double>((i / 21) % 21);
    layer.spots.push_back(plan::Spot{Millimetres(x), Millimetres(y), meterset});
  }
  return layer;
}

inline plan::Beam treatmentBeam(std::uint32_t number, std::vector<plan::Layer> layers) {
  plan::Beam beam;
  beam.number = BeamNumber(number);
  beam.name = "B" + std::to_string(number);
  beam.layers = std::move(layers);
  return beam;
}

// A plausible carbon fraction: beams x layers x spots, metersets log-uniform in [5e3, 2e6]
// particles (carbon's minimum spot is about 5,000), energies stepping down from 300 MeV/u.
inline plan::Plan carbonPlan(std::size_t beams, std::size_t layers, std::size_t spotsPerLayer, std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(std::log10(5e3), std::log10(2e6));
  plan::Plan p;
  p.metersetUnit = MetersetUnit::NP;
  for (std::size_t b = 0; b < beams; ++b) {
    std::vector<plan::Layer> ls;
    for (std::size_t l = 0; l < layers; ++l) {
      plan::Layer layer = uniformLayer(300.0 - 3.0 * static_cast<double>(l), spotsPerLayer, 0.0);
      for (plan::Spot& spot : layer.spots) spot.meterset = std::round(std::pow(10.0, exponent(rng)));
      ls.push_back(std::move(layer));
    }
    p.beams.push_back(treatmentBeam(static_cast<std::uint32_t>(b + 1), std::move(ls)));
  }
  return p;
}

// Every event until FractionCompleted (included). Stops after maxSteps to keep a bug from hanging,
// and when the simulator is held (it returns nothing until resumed).
inline std::vector<SimEvent> runToEnd(FractionSimulator& sim, std::size_t maxSteps = 10'000'000) {
  std::vector<SimEvent> events;
  for (std::size_t i = 0; i < maxSteps; ++i) {
    auto ev = sim.step();
    if (!ev) break;
    events.push_back(std::move(*ev));
    if (std::holds_alternative<FractionCompleted>(events.back())) break;
  }
  return events;
}

template <typename T>
std::vector<T> only(const std::vector<SimEvent>& events) {
  std::vector<T> out;
  for (const SimEvent& e : events) {
    if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

// Exact text of an event: doubles as hex floats so that equal text means equal bits.
inline std::string describe(const SimEvent& event) {
  char buf[512];
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, LayerStarted>) {
          std::snprintf(buf, sizeof buf, "L+ %u %u %u %a %u %u %a %lld", e.beamIndex, e.layerIndex, e.beam.value(),
                        e.energy.value(), e.spots, e.spill, e.intensity, static_cast<long long>(e.at.count()));
        } else if constexpr (std::is_same_v<T, SpotDelivered>) {
          std::snprintf(buf, sizeof buf, "S %u %u %u %u %a %a %a %a %a %a %a %a %a %u %lld %lld%s", e.beamIndex,
                        e.layerIndex, e.spotIndex, e.beam.value(), e.planned, e.target, e.delivered, e.secondary,
                        e.xPlanned.value(), e.yPlanned.value(), e.xMeasured.value(), e.yMeasured.value(),
                        e.energy.value(), e.spill, static_cast<long long>(e.start.count()),
                        static_cast<long long>(e.end.count()), e.partial ? " partial" : "");
        } else if constexpr (std::is_same_v<T, LayerCompleted>) {
          std::snprintf(buf, sizeof buf, "L- %u %u %u %a %lld", e.beamIndex, e.layerIndex, e.beam.value(), e.meterset,
                        static_cast<long long>(e.at.count()));
        } else if constexpr (std::is_same_v<T, WaitingForSpill>) {
          std::snprintf(buf, sizeof buf, "W %u %lld %lld %u %s", e.nextSpill, static_cast<long long>(e.from.count()),
                        static_cast<long long>(e.until.count()), e.spillsToOtherRooms, e.lastOtherRoom.c_str());
        } else if constexpr (std::is_same_v<T, BeamHeld>) {
          std::snprintf(buf, sizeof buf, "H %s %lld %lld", std::string(toString(e.cause)).c_str(),
                        static_cast<long long>(e.requestedAt.count()), static_cast<long long>(e.at.count()));
        } else if constexpr (std::is_same_v<T, FaultTriggered>) {
          std::snprintf(buf, sizeof buf, "X %s %lld", e.spec.c_str(), static_cast<long long>(e.at.count()));
        } else {
          std::snprintf(buf, sizeof buf, "F %lld", static_cast<long long>(e.at.count()));
        }
      },
      event);
  return buf;
}

inline std::vector<std::string> describeAll(const std::vector<SimEvent>& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const SimEvent& e : events) out.push_back(describe(e));
  return out;
}

}  // namespace spotline::delivery::testing
