// The console's contract: help, exit codes, and messages that name what and where.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "run.h"

namespace spotline::systemtest {
namespace {

namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spotline-cli-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string spotline() const { return bin("spotline"); }
  std::string small() const { return std::string(SPOTLINE_SOURCE_DIR) + "/examples/plans/small.json"; }
  fs::path dir_;
};

TEST_F(CliTest, EveryCommandHasHelp) {
  for (const char* cmd : {"",
                          "demo",
                          "plan",
                          "plan show",
                          "plan validate",
                          "plan synth",
                          "deliver",
                          "journal",
                          "journal verify",
                          "journal repair",
                          "journal keygen",
                          "journal export",
                          "journal spots",
                          "journal fractions",
                          "facility",
                          "facility up",
                          "facility status",
                          "facility down",
                          "bench",
                          "bench pipeline"}) {
    auto r = run(spotline() + " " + cmd + " --help");
    EXPECT_EQ(r.code, 0) << cmd << ": " << r.text();
    EXPECT_NE(r.text().find("Usage"), std::string::npos) << cmd;
  }
  auto top = run(spotline() + " --help");
  for (const char* c : {"demo", "plan", "deliver", "journal", "facility", "bench"}) {
    EXPECT_NE(top.text().find(c), std::string::npos) << c;
  }
}

TEST_F(CliTest, WrongCommandLineExitsTwo) {
  EXPECT_EQ(run(spotline() + " no-such-command").code, 2);
  EXPECT_EQ(run(spotline() + " deliver " + small()).code, 2);  // --room missing
  auto r = run(spotline() + " deliver " + small() + " --room gantry-1 --fraction abc");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.text().find("--fraction"), std::string::npos) << r.text();
}

TEST_F(CliTest, UnknownRoomExitsTwoNamingTheRoomAndJournalsNothing) {
  auto r = run(spotline() + " deliver " + small() + " --room gantry-7 --journal " + quote(dir_ / "j"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.text().find("gantry-7"), std::string::npos) << r.text();
  EXPECT_FALSE(fs::exists(dir_ / "j"));
}

TEST_F(CliTest, MalformedPlanExitsTwoNamingFileAndPlace) {
  auto bad = dir_ / "bad.json";
  std::ofstream(bad) << "{\"format\": \"spotline-plan\", \"version\": 1, \"beams\": [ }";
  auto r = run(spotline() + " deliver " + quote(bad) + " --room gantry-1 --journal " + quote(dir_ / "j"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.text().find("bad.json"), std::string::npos) << r.text();
  EXPECT_FALSE(fs::exists(dir_ / "j"));
  auto missing = run(spotline() + " plan show " + quote(dir_ / "nope.json"));
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.text().find("nope.json"), std::string::npos) << missing.text();
}

TEST_F(CliTest, PlanShowAndValidateJson) {
  auto show = run(spotline() + " plan show " + small() + " --json");
  ASSERT_EQ(show.code, 0) << show.text();
  auto j = nlohmann::json::parse(show.out);
  for (const char* key : {"plan_uid", "patient_id", "label", "approval", "meterset_unit", "layers", "spots", "meterset",
                          "content_hash", "beams"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["spots"].get<int>(), 216);
  auto valid = run(spotline() + " plan validate " + small() + " --json");
  EXPECT_EQ(valid.code, 0) << valid.text();
  EXPECT_TRUE(nlohmann::json::parse(valid.out)["valid"].get<bool>());
}

TEST_F(CliTest, SynthReproducesTheCommittedExample) {
  auto out = dir_ / "small.json";
  auto r = run(spotline() +
               " plan synth --ion carbon --size 20 --depth 60 --spacing 4 --seed 3 --machine FIXED1 "
               "--gantry 90 --out " +
               quote(out));
  ASSERT_EQ(r.code, 0) << r.text();
  std::ifstream a(out), b(small());
  std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(sa, sb);
  EXPECT_EQ(run(spotline() + " plan synth --ion xenon").code, 2);
}

TEST_F(CliTest, DeliverJsonThenRefusedRepeatKeepsTheJournalIntact) {
  auto journal = dir_ / "journal";
  auto first = run(spotline() + " deliver " + small() + " --room fixed-1 --seed 3 --json --journal " + quote(journal));
  ASSERT_EQ(first.code, 0) << first.text();
  auto j = nlohmann::json::parse(first.out);
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["spots_planned"], 216);
  EXPECT_EQ(j["spots_delivered"], 216);
  EXPECT_EQ(j["spots_recorded"], 216);
  EXPECT_TRUE(j["interlocks"].empty());
  EXPECT_GT(j["simulated_duration_s"].get<double>(), 0.0);
  for (const char* key : {"fraction_id", "layers", "meterset_planned", "meterset_delivered", "meterset_unit"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  auto before = run(spotline() + " journal verify " + quote(journal) + " --json");
  ASSERT_EQ(before.code, 0) << before.text();
  auto records = nlohmann::json::parse(before.out)["records"].get<int>();

  auto again = run(spotline() + " deliver " + small() + " --room fixed-1 --json --journal " + quote(journal));
  EXPECT_EQ(again.code, 3) << again.text();
  EXPECT_EQ(nlohmann::json::parse(again.out)["status"], "refused");
  auto after = run(spotline() + " journal verify " + quote(journal) + " --json");
  ASSERT_EQ(after.code, 0) << after.text();
  // The refusal itself is journaled (request and decision); nothing earlier changed.
  EXPECT_GE(nlohmann::json::parse(after.out)["records"].get<int>(), records);
}

TEST_F(CliTest, JournalVerifyFindsAChangedByteAndExitsThree) {
  auto journal = dir_ / "journal";
  ASSERT_EQ(run(spotline() + " deliver " + small() + " --room fixed-1 --journal " + quote(journal)).code, 0);
  fs::path segment;
  for (const auto& e : fs::directory_iterator(journal)) {
    if (e.path().extension() == ".journal") segment = e.path();
  }
  ASSERT_FALSE(segment.empty());
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(segment) / 2));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(fs::file_size(segment) / 2));
    f.put(static_cast<char>(c ^ 0x01));
  }
  auto r = run(spotline() + " journal verify " + quote(journal) + " --json");
  EXPECT_EQ(r.code, 3) << r.text();
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["segment"], segment.filename().string());
  // A damaged journal is never written to: rv refuses to start on it.
  auto refused = run(spotline() + " deliver " + small() + " --room fixed-1 --fraction 2 --journal " + quote(journal));
  EXPECT_EQ(refused.code, 3) << refused.text();
  EXPECT_EQ(run(spotline() + " journal verify " + quote(dir_ / "absent")).code, 2);
}

TEST_F(CliTest, FaultInterruptsWithItsInterlockAndResumeCompletesTheSameFraction) {
  auto journal = dir_ / "journal";
  auto first = run(spotline() + " deliver " + small() + " --room fixed-1 --seed 3 --json --fault door-open@t=4s" +
                   " --journal " + quote(journal));
  ASSERT_EQ(first.code, 4) << first.text();
  auto j = nlohmann::json::parse(first.out);
  EXPECT_EQ(j["status"], "interrupted");
  ASSERT_EQ(j["interlocks"].size(), 1u);
  EXPECT_EQ(j["interlocks"][0]["reason"], "door-open");
  EXPECT_LT(j["spots_delivered"].get<int>(), 216);
  const auto id = j["fraction_id"].get<std::string>();
  EXPECT_NE(j["resume_with"].get<std::string>().find("--resume " + id), std::string::npos);

  auto second = run(spotline() + " deliver " + small() + " --room fixed-1 --seed 3 --json --resume " + id +
                    " --journal " + quote(journal));
  ASSERT_EQ(second.code, 0) << second.text();
  auto k = nlohmann::json::parse(second.out);
  EXPECT_EQ(k["status"], "completed");
  EXPECT_EQ(k["fraction_id"], id);
  EXPECT_TRUE(k["resumed"].get<bool>());
  EXPECT_EQ(k["spots_recorded"], 216);
  EXPECT_EQ(run(spotline() + " journal verify " + quote(journal)).code, 0);

  // The journal's own view: one fraction, two sessions, one hold; one CSV line per spot record.
  auto fr = run(spotline() + " journal fractions " + quote(journal) + " --json");
  ASSERT_EQ(fr.code, 0) << fr.text();
  auto list = nlohmann::json::parse(fr.out)["fractions"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["fraction_id"], id);
  EXPECT_EQ(list[0]["status"], "completed");
  EXPECT_EQ(list[0]["sessions"], 2);
  EXPECT_EQ(list[0]["holds"], 1);
  EXPECT_EQ(list[0]["spots_delivered"], 216);
  auto csv = run(spotline() + " journal spots " + quote(journal) + " --fraction " + id + " --csv");
  ASSERT_EQ(csv.code, 0) << csv.text();
  std::istringstream lines(csv.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "seq,beam,layer,spot,planned,delivered,unit,x_planned,y_planned,x_measured,y_measured");
  std::map<std::string, std::pair<double, double>> perSpot;  // planned, delivered sum
  std::size_t records = 0;
  while (std::getline(lines, line)) {
    ++records;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 11u) << line;
    auto& s = perSpot[f[1] + "/" + f[2] + "/" + f[3]];
    s.first = std::stod(f[4]);
    s.second += std::stod(f[5]);
  }
  EXPECT_EQ(perSpot.size(), 216u);
  EXPECT_GT(records, 216u);  // the spot the door cut has two records
  for (const auto& [key, s] : perSpot) EXPECT_NEAR(s.second, s.first, 0.03 * s.first) << key;
  EXPECT_EQ(run(spotline() + " journal spots " + quote(journal) + " --fraction F9-x --csv").code, 2);
}

TEST_F(CliTest, BadFaultResumeOrRealtimeUseExitsTwoAndJournalsNothing) {
  auto journal = dir_ / "journal";
  auto bad =
      run(spotline() + " deliver " + small() + " --room fixed-1 --fault laser@spot=3 --journal " + quote(journal));
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("unknown kind 'laser'"), std::string::npos) << bad.err;
  auto where = run(spotline() + " deliver " + small() + " --room fixed-1 --fault overshoot@layer=2");
  EXPECT_EQ(where.code, 2);
  EXPECT_NE(where.err.find("overshoot takes spot=N"), std::string::npos) << where.err;
  auto id = run(spotline() + " deliver " + small() + " --room fixed-1 --resume nonsense --journal " + quote(journal));
  EXPECT_EQ(id.code, 2);
  EXPECT_NE(id.err.find("not a fraction id"), std::string::npos) << id.err;
  auto rt = run(spotline() + " deliver " + small() + " --room fixed-1 --realtime --facility " + quote(dir_));
  EXPECT_EQ(rt.code, 2);
  EXPECT_FALSE(std::filesystem::exists(journal));
  // Resuming a fraction that was never started is refused by rv (exit 3).
  auto none = run(spotline() + " deliver " + small() + " --room fixed-1 --json --resume F1-000000000000 --journal " +
                  quote(journal));
  EXPECT_EQ(none.code, 3) << none.text();
}

}  // namespace
}  // namespace spotline::systemtest
