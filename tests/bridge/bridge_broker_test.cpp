// The bridge against a real Apache Kafka broker, started by scripts/kafka.sh (KRaft, one combined
// broker and controller on 127.0.0.1, a free port) for each test process and stopped after it.
// What the topics hold is checked with the project's own reader, with `spotline kafka tail`, and
// with kcat; the broker is stopped in the middle of a stream, and the bridge is SIGKILLed.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "../system/run.h"
#include "bridge_fixture.h"
#include "spotline/bridge/bridge.h"

namespace spotline::bridge {
namespace {

namespace fs = std::filesystem;
using systemtest::bin;
using systemtest::quote;
using systemtest::run;
using testing::expectExactlyOnce;
using testing::readJournal;
using testing::readTopics;
using testing::writeJournal;

std::string kafkaScript() {
  return std::string(SPOTLINE_SOURCE_DIR) + "/scripts/kafka.sh";
}

class BrokerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    brokerDir_ = fs::temp_directory_path() / ("spotline-kafka-" + std::to_string(::getpid()));
    fs::remove_all(brokerDir_);
    auto r = run(kafkaScript() + " start --dir " + quote(brokerDir_));
    ASSERT_EQ(r.code, 0) << "scripts/kafka.sh start failed:\n" << r.text();
    std::istringstream lines(r.out);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty()) address_ = line;
    }
  }
  static void TearDownTestSuite() {
    auto r = run(kafkaScript() + " stop --dir " + quote(brokerDir_));
    EXPECT_EQ(r.code, 0) << r.text();
    if (std::getenv("SPOTLINE_KEEP") == nullptr) fs::remove_all(brokerDir_);
  }

  void SetUp() override {
    ASSERT_FALSE(address_.empty()) << "no broker";
    dir_ = fs::temp_directory_path() / ("spotline-bridge-broker-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // Tests share the broker when the executable runs them all: each has topics of its own.
    prefix_ = std::string("t") + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".";
  }
  void TearDown() override {
    if (bridgePid_ > 0) {
      ::kill(bridgePid_, SIGKILL);
      ::waitpid(bridgePid_, nullptr, 0);
    }
    if (std::getenv("SPOTLINE_KEEP") == nullptr) fs::remove_all(dir_);
  }

  // Starts spotline-bridge in the background; its output goes to dir_/bridge.log.
  void startBridge(const std::string& extra) {
    const std::string cmd = bin("spotline-bridge") + " --journal " + quote(dir_ / "journal") + " --brokers " +
                            address_ + " --topic-prefix " + prefix_ + " " + extra + " >>" + quote(dir_ / "bridge.log") +
                            " 2>&1";
    bridgePid_ = ::fork();
    ASSERT_GE(bridgePid_, 0);
    if (bridgePid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  // Exit status of the background bridge (waits), or -signal.
  int waitBridge() {
    int status = 0;
    ::waitpid(bridgePid_, &status, 0);
    bridgePid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  std::uint64_t position() const {
    auto p = readPosition(dir_ / "journal.bridge");
    return p.ok() ? p.value() : 0;
  }
  // Waits (up to 2 min) until the stored position reaches `n`.
  bool waitPosition(std::uint64_t n) const {
    for (int i = 0; i < 1200; ++i) {
      if (position() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string log() const {
    std::ifstream in(dir_ / "bridge.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static inline fs::path brokerDir_;
  static inline std::string address_;
  fs::path dir_;
  std::string prefix_;
  pid_t bridgePid_ = -1;
};

// The journal's spot records in order: (index, fraction id).
std::vector<std::pair<std::uint64_t, std::string>> spotRecords(const std::vector<messages::Frame>& journal) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  for (std::size_t i = 0; i < journal.size(); ++i) {
    auto d = messages::decode(journal[i]);
    if (d.ok() && d.value()->body().isSpotDelivered()) out.emplace_back(i, keyOf(d.value()->body()));
  }
  return out;
}

TEST_F(BrokerTest, DeliveredFractionIsInKafkaExactlyAsJournaled) {
  const fs::path journalDir = dir_ / "journal";
  auto delivered = run(bin("spotline") + " deliver " + SPOTLINE_SOURCE_DIR + "/examples/plans/small.json" +
                       " --room fixed-1 --seed 7 --journal " + quote(journalDir));
  ASSERT_EQ(delivered.code, 0) << delivered.text();
  auto bridged = run(bin("spotline") + " bridge --once --json --journal " + quote(journalDir) + " --brokers " +
                     address_ + " --topic-prefix " + prefix_);
  ASSERT_EQ(bridged.code, 0) << bridged.text();
  const auto journal = readJournal(journalDir);
  ASSERT_GT(journal.size(), 100u);
  auto summary = nlohmann::json::parse(bridged.out);
  EXPECT_EQ(summary["position"].get<std::uint64_t>(), journal.size());
  EXPECT_EQ(summary["delivered"].get<std::uint64_t>(), journal.size());

  // The project's reader: every record once, on its topic, bytes and key as journaled.
  expectExactlyOnce(journal, readTopics(address_, nullptr, prefix_), 0, prefix_);

  const auto spots = spotRecords(journal);
  ASSERT_GT(spots.size(), 50u);
  std::map<std::string, std::vector<std::uint64_t>> expected;  // per fraction, in journal order
  for (const auto& [index, fraction] : spots) expected[fraction].push_back(index);

  // kcat: key and the journal sequence header of every record of spotline.spots, per partition.
  auto kcat = run("kcat -C -b " + address_ + " -t " + prefix_ + "spots -e -q -f '%k %h\\n'");
  ASSERT_EQ(kcat.code, 0) << kcat.text();
  std::map<std::string, std::vector<std::uint64_t>> byKcat;
  std::istringstream lines(kcat.out);
  std::string key;
  std::string headers;
  while (lines >> key >> headers) {
    auto at = headers.find(std::string(kHeaderSequence) + "=");
    ASSERT_NE(at, std::string::npos) << headers;
    byKcat[key].push_back(std::stoull(headers.substr(at + std::strlen(kHeaderSequence) + 1)));
  }
  // kcat reads partition by partition; a fraction lives in one, so its order is journal order.
  EXPECT_EQ(byKcat, expected);

  // spotline kafka tail --json.
  auto tail =
      run(bin("spotline") + " kafka tail --brokers " + address_ + " --topic " + prefix_ + "spots --json --exit");
  ASSERT_EQ(tail.code, 0) << tail.text();
  std::map<std::string, std::vector<std::uint64_t>> byTail;
  std::istringstream tailLines(tail.out);
  std::string line;
  while (std::getline(tailLines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["body"], "spotDelivered");
    EXPECT_EQ(j["message"]["body"]["spotDelivered"]["fractionId"], j["key"]);
    byTail[j["key"].get<std::string>()].push_back(j["seq"].get<std::uint64_t>());
  }
  EXPECT_EQ(byTail, expected);

  // The reconciliation reads Kafka through the same interface as the journal: the same answer.
  auto fromJournal = run(bin("spotline") + " journal fractions --json " + quote(journalDir));
  auto fromKafka =
      run(bin("spotline") + " journal fractions --json --kafka " + address_ + " --topic-prefix " + prefix_);
  ASSERT_EQ(fromJournal.code, 0) << fromJournal.text();
  ASSERT_EQ(fromKafka.code, 0) << fromKafka.text();
  auto a = nlohmann::json::parse(fromJournal.out);
  auto b = nlohmann::json::parse(fromKafka.out);
  EXPECT_EQ(b["journal"], "kafka://" + address_);
  EXPECT_EQ(a["fractions"], b["fractions"]);
  const std::string fraction = a["fractions"][0]["fraction_id"];
  auto spotsJournal = run(bin("spotline") + " journal spots --fraction " + fraction + " " + quote(journalDir));
  auto spotsKafka = run(bin("spotline") + " journal spots --fraction " + fraction + " --kafka " + address_ +
                        " --topic-prefix " + prefix_);
  EXPECT_EQ(spotsKafka.code, 0) << spotsKafka.text();
  EXPECT_EQ(spotsJournal.out, spotsKafka.out);
}

TEST_F(BrokerTest, BrokerStoppedMidStreamThenStarted) {
  const fs::path journalDir = dir_ / "journal";
  auto journal = writeJournal(journalDir, 4, 20'000, 11);
  startBridge("--metrics-port 0");
  ASSERT_TRUE(waitPosition(journal.size())) << log();
  // The broker goes away while the journal keeps growing: the bridge tails it and waits.
  auto stopped = run(kafkaScript() + " stop --dir " + quote(brokerDir_));
  ASSERT_EQ(stopped.code, 0) << stopped.text();
  std::uint64_t first = 0;
  auto more = writeJournal(journalDir, 4, 20'000, 12, &first);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(position(), journal.size()) << "nothing can be confirmed without a broker";
  EXPECT_EQ(::kill(bridgePid_, 0), 0) << "the bridge must wait for the broker, not exit";
  auto started = run(kafkaScript() + " start --dir " + quote(brokerDir_));
  ASSERT_EQ(started.code, 0) << started.text();
  ASSERT_TRUE(waitPosition(journal.size() + more.size())) << log();
  ::kill(bridgePid_, SIGTERM);
  EXPECT_EQ(waitBridge(), 0) << log();
  journal.insert(journal.end(), more.begin(), more.end());
  expectExactlyOnce(journal, readTopics(address_, nullptr, prefix_), 0, prefix_);
}

TEST_F(BrokerTest, SigkilledAtRandomPointsStillExactlyOnce) {
  const fs::path journalDir = dir_ / "journal";
  std::vector<messages::Frame> journal;
  std::mt19937 rng(20261130);
  int killed = 0;
  for (int round = 0; round < 6; ++round) {
    auto more = writeJournal(journalDir, 3, 40'000, 100 + static_cast<std::uint64_t>(round));
    journal.insert(journal.end(), more.begin(), more.end());
    const std::uint64_t before = position();
    startBridge("--once");
    // The kill lands while records stream, not during start-up: wait until the bridge has stored
    // a new position (it stores one at most every 100 ms), then a random moment more.
    for (int i = 0; i < 1000 && position() == before && ::kill(bridgePid_, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
    ::kill(bridgePid_, SIGKILL);
    if (waitBridge() == -SIGKILL) ++killed;
  }
  // Most kills must land before the bridge finished its round (each round is 120,000 records).
  EXPECT_GE(killed, 4);
  std::cout << "[ note ] " << killed << " of 6 bridges SIGKILLed while streaming\n";
  startBridge("--once");
  EXPECT_EQ(waitBridge(), 0) << log();
  EXPECT_EQ(position(), journal.size());
  expectExactlyOnce(journal, readTopics(address_, nullptr, prefix_), 0, prefix_);
}

TEST_F(BrokerTest, BadInputGetsExitCodeTwoAndNamesIt) {
  auto missing = run(bin("spotline-bridge") + " --journal " + quote(dir_ / "nope") + " --brokers " + address_);
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("nope"), std::string::npos) << missing.err;
  fs::create_directories(dir_ / "journal");
  auto badProperty = run(bin("spotline-bridge") + " --journal " + quote(dir_ / "journal") + " --brokers " + address_ +
                         " -X no.such.property=1");
  EXPECT_EQ(badProperty.code, 2);
  EXPECT_NE(badProperty.err.find("no.such.property"), std::string::npos) << badProperty.err;
  auto noTopic = run(bin("spotline") + " kafka tail --brokers " + address_ + " --topic no.such.topic --exit");
  EXPECT_EQ(noTopic.code, 2);
  EXPECT_NE(noTopic.err.find("no.such.topic"), std::string::npos) << noTopic.err;
}

}  // namespace
}  // namespace spotline::bridge
