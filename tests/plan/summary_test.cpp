#include "spotline/plan/summary.h"

#include <gtest/gtest.h>

#include <string>

#include "spotline/plan/hash.h"
#include "test_plans.h"

namespace spotline::plan {
namespace {

// validMixedPlan: treatment beam 1 (carbon, 2 layers, 7 spots, 5.6e6), setup beam 2 (1 layer,
// 2 spots, 1.8e7), treatment beam 3 (protons, 1 layer, 2 spots, 5e7).
constexpr double kBeam1Meterset = 1.0e6 + 1.1e6 + 0.9e6 + 5.0e5 + 6.0e5 + 7.0e5 + 8.0e5;
constexpr double kBeam3Meterset = 2.0e7 + 3.0e7;

TEST(Totals, CountTreatmentBeamsOnly) {
  const Plan p = testing::validMixedPlan();
  const PlanTotals t = totals(p);
  EXPECT_EQ(t.beams, 2u);
  EXPECT_EQ(t.layers, 3u);
  EXPECT_EQ(t.spots, 9u);
  EXPECT_DOUBLE_EQ(t.meterset, kBeam1Meterset + kBeam3Meterset);
  EXPECT_DOUBLE_EQ(beamMeterset(p.beams[1]), 1.8e7);
}

TEST(Totals, PaintingsDoNotMultiplyTheMeterset) {
  Plan p = testing::validMixedPlan();
  p.beams[0].layers[0].paintings = 5;
  EXPECT_DOUBLE_EQ(beamMeterset(p.beams[0]), kBeam1Meterset);
}

TEST(Summary, JsonHasEveryFieldAndTotalsSkipSetupBeams) {
  const Plan p = testing::validMixedPlan();
  const nlohmann::json j = planSummaryJson(p);
  EXPECT_EQ(j["plan_uid"], "1.2.826.0.1.3680043.8.498.1");
  EXPECT_EQ(j["patient_id"], "PAT-001");
  EXPECT_EQ(j["label"], "test plan");
  EXPECT_EQ(j["approval"], "APPROVED");
  EXPECT_EQ(j["meterset_unit"], "NP");
  EXPECT_EQ(j["fractions_planned"], 20);
  EXPECT_EQ(j["synthetic"], false);
  EXPECT_EQ(j["content_hash"], contentHash(p));
  EXPECT_EQ(j["beams_count"], 2);
  EXPECT_EQ(j["layers"], 3);
  EXPECT_EQ(j["spots"], 9);
  EXPECT_DOUBLE_EQ(j["meterset"].get<double>(), kBeam1Meterset + kBeam3Meterset);

  ASSERT_EQ(j["beams"].size(), 3u);
  const nlohmann::json& carbon = j["beams"][0];
  EXPECT_EQ(carbon["number"], 1);
  EXPECT_EQ(carbon["name"], "Field 1");
  EXPECT_EQ(carbon["machine"], "GANTRY1");
  EXPECT_EQ(carbon["treatment"], true);
  EXPECT_EQ(carbon["radiation"], "ION");
  EXPECT_EQ(carbon["ion"], (nlohmann::json{{"z", 6}, {"a", 12}, {"charge", 6}}));
  EXPECT_EQ(carbon["gantry_angle"], 45.0);
  EXPECT_EQ(carbon["couch_angle"], 10.0);
  EXPECT_EQ(carbon["layers"], 2);
  EXPECT_EQ(carbon["spots"], 7);
  EXPECT_DOUBLE_EQ(carbon["meterset"].get<double>(), kBeam1Meterset);
  EXPECT_EQ(carbon["energy_min"], 200.5);
  EXPECT_EQ(carbon["energy_max"], 250.12);

  const nlohmann::json& setup = j["beams"][1];
  EXPECT_EQ(setup["treatment"], false);
  EXPECT_EQ(setup["spots"], 2);  // listed with its own numbers, left out of the totals

  const nlohmann::json& proton = j["beams"][2];
  EXPECT_EQ(proton["radiation"], "PROTON");
  EXPECT_TRUE(proton["ion"].is_null());
  EXPECT_EQ(proton["energy_min"], 120.0);
  EXPECT_EQ(proton["energy_max"], 120.0);
}

TEST(Summary, BeamWithoutLayersHasNullEnergies) {
  Plan p = testing::validMixedPlan();
  p.beams[1].layers.clear();
  const nlohmann::json j = planSummaryJson(p);
  EXPECT_TRUE(j["beams"][1]["energy_min"].is_null());
  EXPECT_TRUE(j["beams"][1]["energy_max"].is_null());
  EXPECT_EQ(j["beams"][1]["layers"], 0);
}

TEST(Summary, TextNamesThePlanBeamsAndTotals) {
  const Plan p = testing::validMixedPlan();
  const std::string text = planSummaryText(p);
  EXPECT_NE(text.find("Plan 1.2.826.0.1.3680043.8.498.1  \"test plan\""), std::string::npos) << text;
  EXPECT_NE(text.find("content hash " + contentHash(p)), std::string::npos);
  EXPECT_NE(text.find("beam 2 \"Setup\" SETUP (not delivered)"), std::string::npos) << text;
  EXPECT_NE(text.find("beam 3 \"Field 3\" treatment, machine gantry-1, proton"), std::string::npos) << text;
  EXPECT_NE(text.find("2 layers, 7 spots, 5.6e+06 NP, 200.5-250.12 MeV/u"), std::string::npos) << text;
  EXPECT_NE(text.find("total (treatment beams): 2 beams, 3 layers, 9 spots, 5.56e+07 NP"), std::string::npos) << text;
}

}  // namespace
}  // namespace spotline::plan
