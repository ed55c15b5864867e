// The multi-process facility: `facility up`, deliver over tcp, a killed service restarted by the
// supervisor, `facility down`, and no process left behind.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "run.h"

namespace spotline::systemtest {
namespace {

namespace fs = std::filesystem;

// Live (not zombie) processes whose command line mentions `needle`.
std::vector<int> liveProcessesMentioning(const std::string& needle) {
  std::vector<int> pids;
  for (const auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmd(e.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), {});
    if (cmdline.find(needle) == std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z') continue;
    pids.push_back(std::stoi(name));
  }
  return pids;
}

class FacilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spotline-facility-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override {
    run(bin("spotline") + " facility down --dir " + quote(dir_));
    fs::remove_all(dir_);
  }
  nlohmann::json status() {
    auto r = run(bin("spotline") + " facility status --json --dir " + quote(dir_));
    return nlohmann::json::parse(r.out);
  }
  fs::path dir_;
};

TEST_F(FacilityTest, UpDeliverRestartDown) {
  auto up = run(bin("spotline") + " facility up --json --dir " + quote(dir_));
  ASSERT_EQ(up.code, 0) << up.text();
  auto u = nlohmann::json::parse(up.out);
  EXPECT_TRUE(u["ready"].get<bool>());
  EXPECT_EQ(u["started"].size(), 6u);
  for (const char* s : {"bus", "plan", "rv", "dose", "qa", "delivery"}) {
    EXPECT_TRUE(fs::exists(dir_ / "pids" / (std::string(s) + ".pid"))) << s;
    EXPECT_TRUE(u["services"][s]["running"].get<bool>()) << s;
  }
  EXPECT_NE(u["endpoints"]["rv_stream"].get<std::string>().find("tcp://127.0.0.1:"), std::string::npos);

  // `up` again starts nothing.
  auto again = run(bin("spotline") + " facility up --json --dir " + quote(dir_));
  ASSERT_EQ(again.code, 0) << again.text();
  EXPECT_TRUE(nlohmann::json::parse(again.out)["started"].empty());

  auto plan = std::string(SPOTLINE_SOURCE_DIR) + "/examples/plans/small.json";
  auto d = run(bin("spotline") + " deliver " + plan + " --room fixed-1 --json --facility " + quote(dir_));
  ASSERT_EQ(d.code, 0) << d.text();
  auto j = nlohmann::json::parse(d.out);
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["spots_delivered"], 216);
  EXPECT_EQ(j["spots_recorded"], 216);

  // Kill a service; the supervisor starts a new one and says so.
  int dosePid = status()["services"]["dose"]["pid"].get<int>();
  ASSERT_GT(dosePid, 0);
  ASSERT_EQ(::kill(dosePid, SIGKILL), 0);
  int newPid = 0;
  for (int i = 0; i < 200 && (newPid == 0 || newPid == dosePid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a bounded wait, not asserting a time
    newPid = status()["services"]["dose"]["pid"].get<int>();
  }
  EXPECT_NE(newPid, 0);
  EXPECT_NE(newPid, dosePid);
  std::ifstream log(dir_ / "logs" / "supervisor.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("restarted dose"), std::string::npos) << text;

  // The facility still delivers after the restart.
  auto d2 = run(bin("spotline") + " deliver " + plan + " --room fixed-1 --fraction 2 --json --facility " + quote(dir_));
  ASSERT_EQ(d2.code, 0) << d2.text();
  EXPECT_EQ(nlohmann::json::parse(d2.out)["spots_recorded"], 216);

  auto v = run(bin("spotline") + " journal verify --json " + quote(dir_ / "journal"));
  EXPECT_EQ(v.code, 0) << v.text();

  // rv answers the journal queries over the bus, the same as the journal read offline; spots in
  // pages of 50 lines.
  const std::string id = j["fraction_id"];
  auto offline = run(bin("spotline") + " journal spots " + quote(dir_ / "journal") + " --fraction " + id);
  auto overBus = run(bin("spotline") + " journal spots --facility " + quote(dir_) + " --fraction " + id + " --page 50");
  ASSERT_EQ(overBus.code, 0) << overBus.text();
  EXPECT_EQ(overBus.out, offline.out);
  EXPECT_EQ(std::count(overBus.out.begin(), overBus.out.end(), '\n'), 217);
  auto fOffline = run(bin("spotline") + " journal fractions --json " + quote(dir_ / "journal"));
  auto fBus = run(bin("spotline") + " journal fractions --json --facility " + quote(dir_));
  ASSERT_EQ(fBus.code, 0) << fBus.text();
  EXPECT_EQ(nlohmann::json::parse(fBus.out)["fractions"], nlohmann::json::parse(fOffline.out)["fractions"]);
  auto unknown = run(bin("spotline") + " journal spots --facility " + quote(dir_) + " --fraction F9-none");
  EXPECT_EQ(unknown.code, 2) << unknown.text();
  EXPECT_NE(unknown.text().find(id), std::string::npos) << "names the fractions it has";

  auto down = run(bin("spotline") + " facility down --dir " + quote(dir_));
  EXPECT_EQ(down.code, 0) << down.text();
  EXPECT_TRUE(liveProcessesMentioning(dir_.string()).empty()) << "a process of the facility is left behind";
  EXPECT_FALSE(status()["running"].get<bool>());
}

TEST_F(FacilityTest, DeliverToAFacilityThatIsNotUpExitsTwo) {
  auto r = run(bin("spotline") + " deliver " + std::string(SPOTLINE_SOURCE_DIR) +
               "/examples/plans/small.json --room fixed-1 --facility " + quote(dir_));
  EXPECT_EQ(r.code, 2) << r.text();
  EXPECT_NE(r.text().find("endpoints.json"), std::string::npos) << r.text();
}

}  // namespace
}  // namespace spotline::systemtest
