// HeartbeatTracker on a ManualClock; Endpoints written and read back, and refused when malformed.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "spotline/bus/endpoints.h"
#include "spotline/bus/heartbeat.h"

namespace spotline::bus {
namespace {

using namespace std::chrono_literals;

TEST(HeartbeatTracker, AliveUntilTheTimeoutPasses) {
  ManualClock clock;
  HeartbeatTracker hb(clock);
  EXPECT_FALSE(hb.alive("rv"));  // never heard
  hb.heard("rv", true);
  EXPECT_TRUE(hb.alive("rv"));
  clock.advance(kHeartbeatTimeout);
  EXPECT_TRUE(hb.alive("rv"));  // exactly the timeout: still fresh
  clock.advance(1ns);
  EXPECT_FALSE(hb.alive("rv"));
  hb.heard("rv", true);  // heard again: fresh again
  EXPECT_TRUE(hb.alive("rv"));
}

TEST(HeartbeatTracker, NotReadyIsNotAlive) {
  ManualClock clock;
  HeartbeatTracker hb(clock);
  hb.heard("dose", false);
  EXPECT_FALSE(hb.alive("dose"));
  hb.heard("dose", true);
  EXPECT_TRUE(hb.alive("dose"));
  hb.heard("dose", false);  // a service may become unready
  EXPECT_FALSE(hb.alive("dose"));
}

TEST(HeartbeatTracker, CustomMaxAgeAndFirstMissing) {
  ManualClock clock;
  HeartbeatTracker hb(clock);
  hb.heard("rv", true);
  clock.advance(300ms);
  hb.heard("dose", true);
  hb.heard("qa", true);
  EXPECT_TRUE(hb.alive("rv", 300ms));
  EXPECT_FALSE(hb.alive("rv", 299ms));
  EXPECT_EQ(hb.firstMissing({"rv", "dose", "qa"}), "");
  EXPECT_EQ(hb.firstMissing({"rv", "dose", "qa"}, 100ms), "rv");
  EXPECT_EQ(hb.firstMissing({"dose", "plan", "qa"}), "plan");
  clock.advance(kHeartbeatTimeout - 300ms + 1ns);  // rv is now 1 s + 1 ns old, the others 0.7 s
  EXPECT_EQ(hb.firstMissing({"dose", "qa", "rv"}), "rv");
  EXPECT_EQ(hb.firstMissing({}), "");
}

class EndpointsFile : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("spotline-endpoints-" + std::to_string(::getpid()) + "-" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }
  void write(const std::filesystem::path& p, const std::string& content) const {
    std::ofstream out(p);
    out << content;
  }

 private:
  std::filesystem::path dir_;
};

void expectEqual(const Endpoints& a, const Endpoints& b) {
  EXPECT_EQ(a.busXsub, b.busXsub);
  EXPECT_EQ(a.busXpub, b.busXpub);
  EXPECT_EQ(a.planCommand, b.planCommand);
  EXPECT_EQ(a.rvCommand, b.rvCommand);
  EXPECT_EQ(a.rvStream, b.rvStream);
  EXPECT_EQ(a.deliveryCommand, b.deliveryCommand);
  EXPECT_EQ(a.rvQuery, b.rvQuery);
  EXPECT_EQ(a.metricsPorts, b.metricsPorts);
}

TEST_F(EndpointsFile, TcpRoundTrip) {
  auto e = Endpoints::tcp({5001, 5002, 5003, 5004, 5005, 5006, 5007});
  e.metricsPorts = {{"rv", 9101}, {"dose", 9102}, {"delivery", 0}};
  EXPECT_EQ(e.busXsub, "tcp://127.0.0.1:5001");
  EXPECT_EQ(e.deliveryCommand, "tcp://127.0.0.1:5006");
  EXPECT_EQ(e.rvQuery, "tcp://127.0.0.1:5007");
  writeEndpoints(file("endpoints.json"), e);
  EXPECT_FALSE(std::filesystem::exists(file("endpoints.json.tmp")));  // written atomically via rename
  auto back = readEndpoints(file("endpoints.json"));
  ASSERT_TRUE(back.ok()) << back.error().message;
  expectEqual(back.value(), e);
}

TEST_F(EndpointsFile, InprocRoundTripAndDistinctNames) {
  auto e = Endpoints::inproc("t1");
  std::set<std::string> names{e.busXsub,  e.busXpub,         e.planCommand, e.rvCommand,
                              e.rvStream, e.deliveryCommand, e.rvQuery};
  EXPECT_EQ(names.size(), 7u);
  for (const auto& n : names) EXPECT_EQ(n.rfind("inproc://spotline-t1-", 0), 0u) << n;
  EXPECT_NE(Endpoints::inproc("t2").rvStream, e.rvStream);
  writeEndpoints(file("e.json"), e);
  // Overwriting an existing file replaces it.
  auto other = Endpoints::inproc("t3");
  writeEndpoints(file("e.json"), other);
  auto back = readEndpoints(file("e.json"));
  ASSERT_TRUE(back.ok()) << back.error().message;
  expectEqual(back.value(), other);
}

TEST_F(EndpointsFile, MissingMetricsPortsIsEmpty) {
  write(
      file("e.json"),
      R"({"bus_xsub":"a","bus_xpub":"b","plan_command":"c","rv_command":"d","rv_stream":"e","delivery_command":"f"})");
  auto back = readEndpoints(file("e.json"));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value().rvStream, "e");
  EXPECT_TRUE(back.value().metricsPorts.empty());
}

TEST_F(EndpointsFile, MissingFileIsUnreadableAndNamed) {
  auto back = readEndpoints(file("absent.json"));
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.error().code, EndpointsError::Unreadable);
  EXPECT_NE(back.error().message.find(file("absent.json").string()), std::string::npos) << back.error().message;
}

TEST_F(EndpointsFile, MalformedFilesAreRefusedAndNamed) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"not-json.json", "this is { not json"},
      {"empty.json", ""},
      {"missing-key.json", R"({"bus_xsub":"a","bus_xpub":"b","plan_command":"c","rv_command":"d","rv_stream":"e"})"},
      {"wrong-type.json",
       R"({"bus_xsub":1,"bus_xpub":"b","plan_command":"c","rv_command":"d","rv_stream":"e","delivery_command":"f"})"},
      {"bad-ports.json",
       R"({"bus_xsub":"a","bus_xpub":"b","plan_command":"c","rv_command":"d","rv_stream":"e","delivery_command":"f",)"
       R"("metrics_ports":{"rv":"x"}})"},
      {"array.json", "[1, 2, 3]"},
  };
  for (const auto& [name, content] : cases) {
    write(file(name), content);
    auto back = readEndpoints(file(name));
    ASSERT_FALSE(back.ok()) << name;
    EXPECT_EQ(back.error().code, EndpointsError::Malformed) << name;
    EXPECT_NE(back.error().message.find(file(name).string()), std::string::npos) << back.error().message;
  }
}

TEST(Endpoints, TcpNeedsSixPorts) {
  EXPECT_THROW(Endpoints::tcp({1, 2, 3, 4, 5, 6}), std::invalid_argument);
}

TEST(Endpoints, FreeTcpPortsAreDistinctAndNonZero) {
  auto ports = freeTcpPorts(7);
  ASSERT_EQ(ports.size(), 7u);
  std::set<int> distinct(ports.begin(), ports.end());
  EXPECT_EQ(distinct.size(), 7u);
  for (int p : ports) {
    EXPECT_GT(p, 0);
    EXPECT_LT(p, 65536);
  }
  EXPECT_GT(freeTcpPort(), 0);
}

TEST(Endpoints, ServiceNames) {
  const auto& names = serviceNames();
  EXPECT_EQ(names.front(), "bus");
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
}

}  // namespace
}  // namespace spotline::bus
