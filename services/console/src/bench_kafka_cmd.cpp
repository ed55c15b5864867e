// spotline bench kafka: the bridge's throughput and end-to-end lag against a running broker, beside
// a bare librdkafka producer sending the same bytes with the same settings, in the same run.
//
// Throughput: N spot records journaled first, then drained by the bridge (--once) and, separately,
// by the bare producer from memory. Lag: records journaled at a steady rate while the bridge tails
// the journal; a reader measures, per record, its arrival time minus the time it was journaled
// (the Kafka timestamp, which is the event's wall time). The bare producer is paced the same way.

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "console.h"
#include "spotline/bridge/bridge.h"
#include "spotline/bridge/kafka_reader.h"
#include "spotline/bridge/topics.h"
#include "spotline/messages/codec.h"
#include "spotline/recorder/journal.h"

namespace spotline::console {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct KafkaBenchArgs {
  std::string brokers;
  std::uint64_t records = 500'000;
  double rate = 10'000;  // spots/s journaled in the lag run
  double seconds = 5;
  bool json = false;
};

std::int64_t wallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

messages::Frame spotFrame(messages::Encoder& enc, std::uint64_t i, std::int64_t wallNs) {
  auto s = enc.start({.source = "delivery", .sequence = i + 1, .wallTimeNs = wallNs}).initSpotDelivered();
  s.setFractionId("F" + std::to_string(i % 8 + 1) + "-bench");
  s.setBeam(1);
  s.setLayer(static_cast<std::uint32_t>(i / 1000 % 60));
  s.setSpot(static_cast<std::uint32_t>(i % 1000));
  s.setPlanned(1.0);
  s.setDelivered(1.0);
  s.setSecondary(1.0);
  s.setXPlannedMm(1.5);
  s.setYPlannedMm(-2.5);
  s.setXMeasuredMm(1.49);
  s.setYMeasuredMm(-2.51);
  s.setEnergyMevPerU(250.0);
  return enc.finish();
}

std::string runPrefix(const char* what) {
  return "bench" + std::to_string(::getpid()) + "-" + std::to_string(wallNowNs() % 1'000'000) + "-" + what + ".";
}

// The bridge's producer settings, for the bare producer.
rd_kafka_t* bareProducer(const std::string& brokers) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  char err[256];
  for (const auto& [k, v] : bridge::producerProperties(brokers))
    rd_kafka_conf_set(c, k.c_str(), v.c_str(), err, sizeof err);
  return rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
}

void produceBare(rd_kafka_t* rk, const std::string& topic, const messages::Frame& frame, std::int64_t wallMs) {
  auto d = messages::decode(frame);
  const std::string key = d ? bridge::keyOf(d.value()->body()) : "";
  while (true) {
    std::array<rd_kafka_vu_t, 5> vu{};
    vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[0].u.cstr = topic.c_str();
    vu[1].vtype = RD_KAFKA_VTYPE_KEY;
    vu[1].u.mem = {const_cast<char*>(key.data()), key.size()};
    vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[2].u.mem = {const_cast<std::byte*>(frame.data()), frame.size()};
    vu[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[3].u.i = RD_KAFKA_MSG_F_COPY;
    vu[4].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
    vu[4].u.i64 = wallMs;
    rd_kafka_error_t* e = rd_kafka_produceva(rk, vu.data(), vu.size());
    if (e == nullptr) return;
    const bool full = rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__QUEUE_FULL;
    rd_kafka_error_destroy(e);
    if (!full) return;
    rd_kafka_poll(rk, 5);
  }
}

struct LagStats {
  std::uint64_t n = 0;
  double p50 = 0, p99 = 0, max = 0;
};

// Reads `topic` from its end and records arrival minus timestamp for `expect` records.
LagStats measureLag(const std::string& brokers, const std::string& topic, std::uint64_t expect,
                    const std::function<void()>& load) {
  bridge::KafkaReaderOptions o{.brokers = brokers, .topics = {topic}, .fromBeginning = true};
  o.kafkaConfig = {{"fetch.wait.max.ms", "5"}, {"fetch.error.backoff.ms", "5"}};
  auto reader = bridge::KafkaReader::open(o);
  std::vector<double> lags;
  if (!reader) return {};
  // The reader is fetching before the load starts, so the first records do not wait for its start.
  const auto ready = Clock::now() + std::chrono::seconds(30);
  while (!reader.value()->caughtUp() && Clock::now() < ready) {
    auto r = reader.value()->next(std::chrono::milliseconds(50));
    if (r && r.value() && expect > 0) --expect;  // from before the run (the bare topic's first): not measured
  }
  std::thread producer(load);
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (lags.size() < expect && Clock::now() < deadline) {
    auto r = reader.value()->next(std::chrono::milliseconds(100));
    if (!r || !r.value()) continue;
    lags.push_back(static_cast<double>(wallNowNs() / 1000 - r.value()->timestampMs * 1000) / 1000.0);
  }
  producer.join();
  std::sort(lags.begin(), lags.end());
  LagStats s;
  s.n = lags.size();
  if (!lags.empty()) {
    s.p50 = lags[lags.size() / 2];
    s.p99 = lags[lags.size() * 99 / 100];
    s.max = lags.back();
  }
  return s;
}

int benchKafka(const KafkaBenchArgs& a) {
  const std::string command = "spotline bench kafka";
  const fs::path dir = fs::temp_directory_path() / ("spotline-bench-kafka-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  messages::Encoder enc;

  // 1. Throughput: a journal of N spot records, drained by the bridge; the same frames by a bare producer.
  std::vector<messages::Frame> frames;
  frames.reserve(a.records);
  {
    recorder::JournalOptions jo{.dir = dir / "journal"};
    jo.sync = false;
    auto w = recorder::JournalWriter::open(jo);
    if (!w) return complain(command, w.error().message, kExitInternal);
    for (std::uint64_t i = 0; i < a.records; ++i) {
      frames.push_back(spotFrame(enc, i, wallNowNs()));
      w.value()->append(frames.back());
      if (w.value()->pendingRecords() >= 8192) (void)w.value()->commit();
    }
    (void)w.value()->commit();
  }
  bridge::BridgeOptions bo{.journalDir = dir / "journal", .brokers = a.brokers, .topicPrefix = runPrefix("bridge")};
  bo.once = true;
  auto b = bridge::Bridge::open(bo);
  if (!b) return complain(command, b.error().message, kExitBadInput);
  auto t0 = Clock::now();
  auto r = b.value()->run(std::stop_token{});
  const double bridgeSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r) return complain(command, r.error().message, kExitInternal);
  b.value().reset();

  rd_kafka_t* rk = bareProducer(a.brokers);
  const std::string bareTopic = runPrefix("bare") + "spots";
  // Metadata (and the topic) first, as the bridge has it before its clock starts.
  produceBare(rk, bareTopic, frames[0], wallNowNs() / 1'000'000);
  rd_kafka_flush(rk, 30'000);
  t0 = Clock::now();
  for (std::size_t i = 1; i < frames.size(); ++i) {
    produceBare(rk, bareTopic, frames[i], wallNowNs() / 1'000'000);
    if (i % 1024 == 0) rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 120'000);
  const double bareSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double bridgeRate = static_cast<double>(a.records) / bridgeSeconds;
  const double bareRate = static_cast<double>(a.records - 1) / bareSeconds;

  // 2. Lag at a steady rate: journal -> bridge -> Kafka -> reader, and bare producer -> reader.
  const auto total = static_cast<std::uint64_t>(a.rate * a.seconds);
  const fs::path lagJournal = dir / "lag-journal";
  recorder::JournalOptions jo{.dir = lagJournal};
  auto w = recorder::JournalWriter::open(jo);  // durable commits, as rv makes them
  if (!w) return complain(command, w.error().message, kExitInternal);
  bridge::BridgeOptions lo{.journalDir = lagJournal, .brokers = a.brokers, .topicPrefix = runPrefix("lag")};
  lo.idlePoll = std::chrono::milliseconds(1);
  auto lb = bridge::Bridge::open(lo);
  if (!lb) return complain(command, lb.error().message, kExitBadInput);
  std::stop_source stopBridge;
  std::jthread bridgeThread([&] { (void)lb.value()->run(stopBridge.get_token()); });
  // rv commits a group every few milliseconds: here, every 2 ms of records.
  const auto paced = [&](const std::function<void(std::uint64_t)>& each, const std::function<void()>& group) {
    const auto start = Clock::now();
    std::uint64_t sent = 0;
    while (sent < total) {
      const auto due = static_cast<std::uint64_t>(std::chrono::duration<double>(Clock::now() - start).count() * a.rate);
      for (; sent < std::min(due, total); ++sent) each(sent);
      group();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  const LagStats bridgeLag = measureLag(a.brokers, lo.topicPrefix + "spots", total, [&] {
    paced([&](std::uint64_t i) { w.value()->append(spotFrame(enc, i, wallNowNs())); },
          [&] { (void)w.value()->commit(); });
  });
  stopBridge.request_stop();
  bridgeThread.join();
  const std::string bareLagTopic = runPrefix("barelag") + "spots";
  produceBare(rk, bareLagTopic, frames[0], wallNowNs() / 1'000'000);
  rd_kafka_flush(rk, 30'000);
  messages::Encoder enc2;
  const LagStats bareLag = measureLag(a.brokers, bareLagTopic, total + 1, [&] {
    paced(
        [&](std::uint64_t i) {
          produceBare(rk, bareLagTopic, spotFrame(enc2, i, wallNowNs()), wallNowNs() / 1'000'000);
        },
        [&] { rd_kafka_poll(rk, 0); });
    rd_kafka_flush(rk, 30'000);
  });
  rd_kafka_destroy(rk);
  fs::remove_all(dir);

  nlohmann::json j{
      {"records", a.records},
      {"record_bytes", frames.empty() ? 0 : frames[0].size()},
      {"bridge_spots_per_s", bridgeRate},
      {"bare_producer_spots_per_s", bareRate},
      {"throughput_ratio", bridgeRate / bareRate},
      {"lag_rate_spots_per_s", a.rate},
      {"bridge_lag_ms", {{"n", bridgeLag.n}, {"p50", bridgeLag.p50}, {"p99", bridgeLag.p99}, {"max", bridgeLag.max}}},
      {"bare_lag_ms", {{"n", bareLag.n}, {"p50", bareLag.p50}, {"p99", bareLag.p99}, {"max", bareLag.max}}}};
  if (a.json) {
    printJson(j);
  } else {
    std::printf("throughput, %llu spot records of %zu bytes:\n", static_cast<unsigned long long>(a.records),
                frames.empty() ? std::size_t{0} : frames[0].size());
    std::printf("  bridge (journal -> Kafka)   %10.0f spots/s\n", bridgeRate);
    std::printf("  bare librdkafka producer    %10.0f spots/s\n", bareRate);
    std::printf("  ratio                       %10.2f\n", bridgeRate / bareRate);
    std::printf("end-to-end lag at %.0f spots/s for %.0f s (ms, p50 / p99 / max):\n", a.rate, a.seconds);
    std::printf("  journal -> bridge -> reader %8.1f / %8.1f / %8.1f\n", bridgeLag.p50, bridgeLag.p99, bridgeLag.max);
    std::printf("  bare producer -> reader     %8.1f / %8.1f / %8.1f\n", bareLag.p50, bareLag.p99, bareLag.max);
  }
  return kExitOk;
}

}  // namespace

void addKafkaBench(CLI::App& bench, Action& action) {
  auto args = std::make_shared<KafkaBenchArgs>();
  auto* k = bench.add_subcommand("kafka", "Bridge throughput and end-to-end lag vs a bare librdkafka producer");
  k->add_option("--brokers", args->brokers, "a running broker (scripts/kafka.sh start)")->required();
  k->add_option("--records", args->records, "spot records for the throughput run")
      ->check(CLI::Range(1000, 100'000'000));
  k->add_option("--rate", args->rate, "spots/s journaled in the lag run")->check(CLI::Range(1.0, 1e6));
  k->add_option("--seconds", args->seconds, "length of the lag run")->check(CLI::Range(0.5, 600.0));
  k->add_flag("--json", args->json, "machine-readable output");
  k->callback([&action, args] { action = [args] { return benchKafka(*args); }; });
}

}  // namespace spotline::console
