// DoseAccumulator: sums per spot, layer, beam and fraction.

#include <gtest/gtest.h>

#include "spotline/runtime/dose_service.h"

namespace spotline::runtime {
namespace {

TEST(DoseAccumulator, EmptyIsZero) {
  DoseAccumulator d;
  EXPECT_EQ(d.fraction().spots, 0u);
  EXPECT_EQ(d.fraction().delivered, 0.0);
  EXPECT_EQ(d.layer(1, 0).spots, 0u);
  EXPECT_EQ(d.beam(1).planned, 0.0);
  EXPECT_EQ(d.spotDelivered(1, 0, 0), 0.0);
  EXPECT_TRUE(d.beams().empty());
}

TEST(DoseAccumulator, SumsPerLayerBeamAndFraction) {
  DoseAccumulator d;
  // beam 1: layer 0 has two spots, layer 1 one; beam 2: layer 0 one spot.
  d.spot(1, 0, 0, 100.0, 101.0);
  d.spot(1, 0, 1, 200.0, 198.0);
  d.spot(1, 1, 0, 50.0, 50.5);
  d.spot(2, 0, 0, 10.0, 9.0);

  EXPECT_EQ(d.layer(1, 0).spots, 2u);
  EXPECT_DOUBLE_EQ(d.layer(1, 0).planned, 300.0);
  EXPECT_DOUBLE_EQ(d.layer(1, 0).delivered, 299.0);
  EXPECT_EQ(d.layer(1, 1).spots, 1u);
  EXPECT_DOUBLE_EQ(d.layer(1, 1).delivered, 50.5);
  EXPECT_EQ(d.layer(2, 0).spots, 1u);
  EXPECT_DOUBLE_EQ(d.layer(2, 0).planned, 10.0);
  // Layer 0 of beam 2 is not layer 0 of beam 1.
  EXPECT_EQ(d.layer(2, 1).spots, 0u);

  EXPECT_EQ(d.beam(1).spots, 3u);
  EXPECT_DOUBLE_EQ(d.beam(1).planned, 350.0);
  EXPECT_DOUBLE_EQ(d.beam(1).delivered, 349.5);
  EXPECT_EQ(d.beam(2).spots, 1u);
  EXPECT_DOUBLE_EQ(d.beam(2).delivered, 9.0);
  EXPECT_EQ(d.beam(3).spots, 0u);

  EXPECT_EQ(d.fraction().spots, 4u);
  EXPECT_DOUBLE_EQ(d.fraction().planned, 360.0);
  EXPECT_DOUBLE_EQ(d.fraction().delivered, 358.5);

  ASSERT_EQ(d.beams().size(), 2u);
  EXPECT_EQ(d.beams().begin()->first, 1u);
  EXPECT_EQ(d.beams().rbegin()->first, 2u);

  EXPECT_DOUBLE_EQ(d.spotDelivered(1, 0, 1), 198.0);
  EXPECT_DOUBLE_EQ(d.spotDelivered(2, 0, 0), 9.0);
  EXPECT_EQ(d.spotDelivered(2, 0, 1), 0.0);
}

TEST(DoseAccumulator, RepaintedSpotAccumulates) {
  DoseAccumulator d;
  d.spot(1, 2, 7, 40.0, 39.0);  // first painting
  d.spot(1, 2, 8, 40.0, 41.0);
  d.spot(1, 2, 7, 40.0, 40.5);  // second painting of the same spot
  EXPECT_DOUBLE_EQ(d.spotDelivered(1, 2, 7), 79.5);
  EXPECT_DOUBLE_EQ(d.spotDelivered(1, 2, 8), 41.0);
  EXPECT_EQ(d.layer(1, 2).spots, 3u);  // spot deliveries, repaints included
  EXPECT_DOUBLE_EQ(d.layer(1, 2).planned, 120.0);
  EXPECT_DOUBLE_EQ(d.layer(1, 2).delivered, 120.5);
  EXPECT_DOUBLE_EQ(d.fraction().delivered, 120.5);
}

TEST(DoseAccumulator, SpotCutByAHoldIsPlannedAndCountedOnce) {
  DoseAccumulator d;
  d.spot(1, 0, 3, 100.0, 37.5, true);  // cut by a hold
  d.spot(1, 0, 3, 100.0, 62.6);        // the rest, after resume
  EXPECT_DOUBLE_EQ(d.spotDelivered(1, 0, 3), 100.1);
  EXPECT_EQ(d.layer(1, 0).spots, 1u);
  EXPECT_DOUBLE_EQ(d.layer(1, 0).planned, 100.0);
  EXPECT_DOUBLE_EQ(d.fraction().delivered, 100.1);
}

TEST(DoseAccumulator, TotalsAgreeAcrossLevels) {
  DoseAccumulator d;
  double planned = 0, delivered = 0;
  for (std::uint32_t b = 1; b <= 3; ++b) {
    for (std::uint32_t l = 0; l < 5; ++l) {
      for (std::uint32_t s = 0; s < 7; ++s) {
        double p = 1.0 + b + 0.5 * l + 0.25 * s;
        double q = p * 0.98;
        d.spot(b, l, s, p, q);
        planned += p;
        delivered += q;
      }
    }
  }
  double beamPlanned = 0;
  std::uint32_t layerSpots = 0;
  for (const auto& [b, t] : d.beams()) {
    beamPlanned += t.planned;
    for (std::uint32_t l = 0; l < 5; ++l) layerSpots += d.layer(b, l).spots;
  }
  EXPECT_EQ(d.fraction().spots, 105u);
  EXPECT_EQ(layerSpots, 105u);
  EXPECT_DOUBLE_EQ(beamPlanned, planned);
  EXPECT_DOUBLE_EQ(d.fraction().planned, planned);
  EXPECT_DOUBLE_EQ(d.fraction().delivered, delivered);
}

}  // namespace
}  // namespace spotline::runtime
