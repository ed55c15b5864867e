// `spotline plan` with DICOM and a facility model: what a physicist runs on a plan from a planning
// system. Every malformed file exits 2 naming the file and the place; nothing crashes or hangs.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "dicom_corpus.h"
#include "run.h"
#include "spotline/plan/dicom.h"

namespace spotline::systemtest {
namespace {

namespace fs = std::filesystem;

class PlanCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spotline-plancli-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string spotline() { return bin("spotline"); }
  static std::string example(const std::string& name) {
    return std::string(SPOTLINE_SOURCE_DIR) + "/examples/plans/" + name;
  }
  fs::path dir_;
};

TEST_F(PlanCli, EveryMalformedDicomFileExitsTwoWithItsReason) {
  for (const auto& c : plan::testing::malformedCorpus()) {
    const fs::path file = dir_ / (c.name + ".dcm");
    plan::testing::writeBytes(file, c.bytes);
    auto r = run(spotline() + " plan validate " + quote(file));
    EXPECT_EQ(r.code, 2) << c.name << ": " << r.text();
    EXPECT_NE(r.err.find(file.string()), std::string::npos) << c.name << ": names the file\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.name << ": says why\n" << r.err;
    auto show = run(spotline() + " plan show " + quote(file));
    EXPECT_EQ(show.code, 2) << c.name;
  }
}

TEST_F(PlanCli, ValidateJsonListsEveryReadProblemWithItsPlace) {
  const auto corpus = plan::testing::malformedCorpus();
  const auto it = std::find_if(corpus.begin(), corpus.end(), [](const auto& c) { return c.name == "nan-weight"; });
  ASSERT_NE(it, corpus.end());
  const fs::path file = dir_ / "nan.dcm";
  plan::testing::writeBytes(file, it->bytes);
  auto r = run(spotline() + " plan validate --json " + quote(file));
  EXPECT_EQ(r.code, 2);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["valid"].get<bool>());
  ASSERT_FALSE(j["violations"].empty());
  const auto& first = j["violations"][0];
  EXPECT_EQ(first["path"], "beam 1 (\"Field 1\"), control point 0, spot 4");
  EXPECT_NE(first["message"].get<std::string>().find("ScanSpotMetersetWeights is nan"), std::string::npos);
  for (const char* key : {"path", "rule", "value", "limit", "message"}) EXPECT_TRUE(first.contains(key)) << key;
}

TEST_F(PlanCli, ShowJsonOfADicomPlanHasEveryDocumentedField) {
  auto r = run(spotline() + " plan show --json " + quote(example("oxygen.dcm")));
  ASSERT_EQ(r.code, 0) << r.text();
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"plan_uid", "patient_id", "label", "approval", "meterset_unit", "layers", "spots", "meterset",
                          "content_hash", "beams"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  const auto& beam = j["beams"][0];
  for (const char* key : {"number", "name", "machine", "radiation", "ion", "gantry_angle", "layers", "spots",
                          "meterset", "energy_min", "energy_max"}) {
    EXPECT_TRUE(beam.contains(key)) << key;
  }
  EXPECT_EQ(beam["ion"], (nlohmann::json{{"z", 8}, {"a", 16}, {"charge", 8}}));
  EXPECT_EQ(beam["radiation"], "ION");
  EXPECT_EQ(beam["gantry_angle"], 45.0);
  EXPECT_EQ(j["spots"], 2744);
  EXPECT_EQ(j["label"], "synthetic oxygen");
}

TEST_F(PlanCli, SynthWritesDicomThatShowsTheSameAsTheJsonPlan) {
  const std::string opts =
      " plan synth --ion helium --size 42 --depth 80 --spacing 3 --seed 2 --machine GANTRY2 --gantry 270";
  auto dcm = run(spotline() + opts + " --out " + quote(dir_ / "helium.dcm"));
  ASSERT_EQ(dcm.code, 0) << dcm.text();
  auto fromDicom = run(spotline() + " plan show --json " + quote(dir_ / "helium.dcm"));
  auto fromJson = run(spotline() + " plan show --json " + quote(example("helium.json")));
  ASSERT_EQ(fromDicom.code, 0) << fromDicom.text();
  EXPECT_EQ(nlohmann::json::parse(fromDicom.out), nlohmann::json::parse(fromJson.out))
      << "same plan, same content hash, whichever format it came in";
  EXPECT_EQ(run(spotline() + opts + " --format dicom").code, 2) << "DICOM needs --out";
  EXPECT_EQ(run(spotline() + opts + " --format xml --out x").code, 2);
}

TEST_F(PlanCli, ValidateAgainstAFacilityFile) {
  // The checked-in model accepts the example; a model whose fixed room takes no carbon refuses it,
  // naming the rule and the place.
  const std::string config = std::string(SPOTLINE_SOURCE_DIR) + "/config/facility.toml";
  auto ok = run(spotline() + " plan validate --json --facility " + quote(config) + " " + quote(example("small.dcm")));
  EXPECT_EQ(ok.code, 0) << ok.text();
  std::ifstream in(config);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const fs::path bad = dir_ / "facility.toml";
  std::ofstream(bad) << text << "\n[[nonsense]]\nkey = 1\n";
  auto refused = run(spotline() + " plan validate --facility " + quote(bad) + " " + quote(example("small.dcm")));
  EXPECT_EQ(refused.code, 2) << refused.text();
  EXPECT_NE(refused.err.find(bad.string()), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("nonsense"), std::string::npos) << refused.err;
  auto missing =
      run(spotline() + " plan validate --facility " + quote(dir_ / "none.toml") + " " + quote(example("small.dcm")));
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("none.toml"), std::string::npos) << missing.err;
}

TEST_F(PlanCli, RealExportsAreReadAndJudgedByTheFacility) {
  const fs::path real = fs::path(SPOTLINE_SOURCE_DIR) / "../shared/data/dicom/dicomfix_Plan5.5.dcm";
  if (!fs::exists(real)) GTEST_SKIP() << "absent: " << real;
  auto show = run(spotline() + " plan show --json " + quote(real));
  ASSERT_EQ(show.code, 0) << show.text();
  EXPECT_EQ(nlohmann::json::parse(show.out)["spots"], 784);
  // Machine TR4 is not one of this facility's rooms: refused with the rule, exit 2.
  auto v = run(spotline() + " plan validate --json " + quote(real));
  EXPECT_EQ(v.code, 2);
  const auto j = nlohmann::json::parse(v.out);
  EXPECT_FALSE(j["valid"].get<bool>());
  EXPECT_EQ(j["violations"][0]["rule"], "unknown-machine");
  EXPECT_EQ(j["violations"][0]["path"], "beams[0].machine");
}

}  // namespace
}  // namespace spotline::systemtest
