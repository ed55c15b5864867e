#include "spotline/bridge/bridge.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "kafka_handle.h"
#include "spotline/bridge/topics.h"
#include "spotline/core/hex.h"
#include "spotline/messages/codec.h"
#include "spotline/recorder/journal.h"

namespace spotline::bridge {

namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr const char* kPositionMagic = "spotline-bridge-position 1";

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string errnoText(const std::string& what, const fs::path& file) {
  return what + " " + file.string() + ": " + std::strerror(errno);
}

// STATE/position: the magic line, the next record to confirm, and the partition count of every topic
// it was computed with (a topic repartitioned under the bridge would send keys elsewhere).
struct StoredPosition {
  std::uint64_t next = 0;
  std::string chain;  // hex chain hash of record next - 1 (empty when next is 0 or unknown)
  std::map<std::string, int> partitions;
};

Result<StoredPosition, BridgeError> loadPosition(const fs::path& stateDir) {
  const fs::path file = stateDir / "position";
  StoredPosition p;
  std::error_code ec;
  if (!fs::exists(file, ec)) return p;
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line) || line != kPositionMagic) {
    return fail(BridgeError::BadInput,
                file.string() + ": not a bridge position file (first line must be '" + kPositionMagic + "')");
  }
  std::string word;
  if (!(in >> word) || word != "next" || !(in >> p.next)) {
    return fail(BridgeError::BadInput, file.string() + ": line 2 must be 'next <record index>'");
  }
  while (in >> word) {
    if (word == "chain") {
      if (!(in >> p.chain) || p.chain.size() != 64) {
        return fail(BridgeError::BadInput, file.string() + ": a chain line must be 'chain <64 hex digits>'");
      }
      continue;
    }
    if (word != "topic") return fail(BridgeError::BadInput, file.string() + ": unexpected '" + word + "'");
    std::string topic;
    int count = 0;
    if (!(in >> topic >> count) || count <= 0) {
      return fail(BridgeError::BadInput, file.string() + ": a topic line must be 'topic <name> <partitions>'");
    }
    p.partitions[topic] = count;
  }
  return p;
}

// Written to a temporary file, fdatasynced, renamed over the old one, and the directory fsynced:
// after a crash the file is the old position or the new one, never a torn mix.
Result<bool, BridgeError> storePosition(const fs::path& stateDir, const StoredPosition& p) {
  std::ostringstream text;
  text << kPositionMagic << "\nnext " << p.next << "\n";
  if (!p.chain.empty()) text << "chain " << p.chain << "\n";
  for (const auto& [topic, count] : p.partitions) text << "topic " << topic << " " << count << "\n";
  const std::string data = text.str();
  const fs::path tmp = stateDir / "position.tmp";
  const fs::path file = stateDir / "position";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(BridgeError::Io, errnoText("cannot create", tmp));
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) && ::fdatasync(fd) == 0;
  std::string why = ok ? "" : errnoText("cannot write", tmp);
  ::close(fd);
  if (!ok) return fail(BridgeError::Io, why);
  if (::rename(tmp.c_str(), file.c_str()) != 0) return fail(BridgeError::Io, errnoText("cannot rename", tmp));
  int dfd = ::open(stateDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

struct Metrics {
  explicit Metrics(prometheus::Registry& r)
      : position(prometheus::BuildGauge()
                     .Name("spotline_bridge_position")
                     .Help("Journal records confirmed in Kafka (the stored position once written)")
                     .Register(r)
                     .Add({})),
        read(prometheus::BuildGauge()
                 .Name("spotline_bridge_journal_records")
                 .Help("Journal records the bridge has read")
                 .Register(r)
                 .Add({})),
        lagRecords(prometheus::BuildGauge()
                       .Name("spotline_bridge_lag_records")
                       .Help("Journal records read but not yet confirmed by Kafka")
                       .Register(r)
                       .Add({})),
        lagSeconds(prometheus::BuildGauge()
                       .Name("spotline_bridge_lag_seconds")
                       .Help("Age of the oldest journal record not yet confirmed by Kafka (0 when none)")
                       .Register(r)
                       .Add({})),
        producedFamily(prometheus::BuildCounter()
                           .Name("spotline_bridge_produced_total")
                           .Help("Records sent to Kafka, by topic")
                           .Register(r)),
        delivered(prometheus::BuildCounter()
                      .Name("spotline_bridge_delivered_total")
                      .Help("Records confirmed by a delivery report")
                      .Register(r)
                      .Add({})),
        skipped(prometheus::BuildCounter()
                    .Name("spotline_bridge_skipped_total")
                    .Help("Records found already in Kafka after a restart, not sent again")
                    .Register(r)
                    .Add({})),
        unverified(prometheus::BuildCounter()
                       .Name("spotline_bridge_unverified_total")
                       .Help("Records the broker confirmed as duplicates, without an offset")
                       .Register(r)
                       .Add({})),
        errorFamily(prometheus::BuildCounter()
                        .Name("spotline_bridge_errors_total")
                        .Help("Producer errors: delivery (a record refused), client (connection and broker "
                              "errors librdkafka retries), fatal")
                        .Register(r)) {}
  prometheus::Gauge& position;
  prometheus::Gauge& read;
  prometheus::Gauge& lagRecords;
  prometheus::Gauge& lagSeconds;
  prometheus::Family<prometheus::Counter>& producedFamily;
  prometheus::Counter& delivered;
  prometheus::Counter& skipped;
  prometheus::Counter& unverified;
  prometheus::Family<prometheus::Counter>& errorFamily;
};

class KafkaBridge final : public Bridge {
 public:
  explicit KafkaBridge(BridgeOptions options) : options_(std::move(options)) {
    if (options_.registry) metrics_ = std::make_unique<Metrics>(*options_.registry);
  }

  ~KafkaBridge() override {
    if (producer_) {
      // Whatever is still queued or in flight is dropped here; the stored position was not moved
      // past it, and the next start finds what reached the broker in the partitions' tails.
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(producer_.get(), 0);
    }
    topics_ = {};
    producer_.reset();
    if (lockFd_ >= 0) ::close(lockFd_);
  }

  Result<bool, BridgeError> open(std::stop_token stop) {
    stop_ = stop;
    if (options_.journalDir.empty()) return fail(BridgeError::BadInput, "--journal: no journal directory given");
    if (options_.brokers.empty()) return fail(BridgeError::BadInput, "--brokers: no Kafka brokers given");
    std::error_code ec;
    if (!fs::is_directory(options_.journalDir, ec)) {
      return fail(BridgeError::BadInput, "--journal " + options_.journalDir.string() + ": not a directory");
    }
    if (options_.stateDir.empty()) options_.stateDir = options_.journalDir.string() + ".bridge";
    fs::create_directories(options_.stateDir, ec);
    if (ec) return fail(BridgeError::BadInput, "--state " + options_.stateDir.string() + ": " + ec.message());
    const fs::path lock = options_.stateDir / "LOCK";
    lockFd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockFd_ < 0) return fail(BridgeError::BadInput, errnoText("cannot open", lock));
    if (::flock(lockFd_, LOCK_EX | LOCK_NB) != 0) {
      return fail(BridgeError::BadInput, lock.string() + ": another bridge holds this state directory");
    }
    auto stored = loadPosition(options_.stateDir);
    if (!stored) return stored.error();
    stored_ = stored.value();
    base_ = stored_.next;
    log("info", "bridge state " + options_.stateDir.string() + " position " + std::to_string(base_));

    auto props = producerProperties(options_.brokers);
    // Exactly-once rests on these: an override is refused rather than quietly weakening it.
    static const char* const kProtected[] = {"enable.idempotence",
                                             "acks",
                                             "request.required.acks",
                                             "message.timeout.ms",
                                             "delivery.timeout.ms",
                                             "enable.gapless.guarantee",
                                             "max.in.flight.requests.per.connection",
                                             "max.in.flight",
                                             "transactional.id"};
    for (const char* key : kProtected) {
      if (options_.kafkaConfig.contains(key)) {
        return fail(BridgeError::BadInput, std::string("-X ") + key +
                                               ": the bridge's exactly-once delivery depends on this property; it "
                                               "cannot be overridden");
      }
    }
    for (const auto& [k, v] : options_.kafkaConfig) props[k] = v;
    auto conf = makeConf(props);
    if (!conf) return conf.error();
    rd_kafka_conf_set_opaque(conf.value().get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &KafkaBridge::onDelivery);
    rd_kafka_conf_set_error_cb(conf.value().get(), &KafkaBridge::onError);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.value().get(), err, sizeof err);
    if (rk == nullptr) return fail(BridgeError::BadInput, std::string("kafka producer: ") + err);
    conf.value().release();
    producer_.reset(rk);

    if (auto r = prepareTopics(); !r) return r.error();
    if (auto r = readPartitionTails(); !r) return r.error();
    if (stored_.partitions.empty()) {
      stored_.partitions = currentPartitions();
      if (auto r = storePosition(options_.stateDir, stored_); !r) return r.error();
    }
    stats_.position = base_;
    return true;
  }

  Result<BridgeStats, BridgeError> run(std::stop_token stop, std::chrono::milliseconds drain) override {
    // rv creates the first segment when it starts: until then there is nothing to read (not damage).
    while (!hasSegment()) {
      if (options_.once) return stats();
      if (stop.stop_requested()) return stats();
      std::this_thread::sleep_for(options_.idlePoll * 20);
    }
    auto reader = recorder::JournalReader::open(options_.journalDir);
    if (!reader) return fail(BridgeError::Journal, options_.journalDir.string() + ": " + reader.error().message);
    auto lastStore = std::chrono::steady_clock::now();
    std::uint64_t nextRead = 0;
    // A damaged or undecodable record ends the run, but what was sent before it is still waited
    // for and its position stored.
    std::optional<Failure<BridgeError>> failure;
    recorder::JournalRecord record;  // reused: its payload buffer stays allocated
    bool drained = false;            // with once: the journal's end reached and all of it confirmed
    while (!stop.stop_requested() && !fatal_ && !failure) {
      std::size_t got = 0;
      bool atEnd = false;
      while (got < 4096) {
        auto more = reader.value()->next(record);
        if (!more) {
          failure =
              Failure<BridgeError>{BridgeError::Journal, options_.journalDir.string() + ": " + more.error().message};
          break;
        }
        if (!more.value()) {
          atEnd = true;
          if (nextRead < stored_.next) {
            failure = Failure<BridgeError>{BridgeError::Journal,
                                           journalMismatch("the journal ends at record " + std::to_string(nextRead))};
          }
          break;
        }
        nextRead = record.index + 1;
        if (record.index + 1 == stored_.next && !stored_.chain.empty() && toHex(record.chainHash) != stored_.chain) {
          failure = Failure<BridgeError>{
              BridgeError::Journal,
              journalMismatch("record " + std::to_string(record.index) + " has another chain hash")};
          break;
        }
        // Confirmed before the last stop, or handed to the producer by an earlier run().
        if (record.index < base_ + pending_.size()) continue;
        ++got;
        if (auto r = send(record, stop); !r) {
          failure = r.error();
          break;
        }
        if (fatal_ || stop.stop_requested()) break;
      }
      if (metrics_) metrics_->read.Set(static_cast<double>(nextRead));
      rd_kafka_poll(producer_.get(), 0);
      updateLag();
      if (std::chrono::steady_clock::now() - lastStore >= options_.positionInterval) {
        if (auto r = persist(); !r) return r.error();
        lastStore = std::chrono::steady_clock::now();
      }
      if (atEnd && !failure) {
        if (options_.once && pending_.empty()) {
          drained = true;
          break;
        }
        rd_kafka_poll(producer_.get(), static_cast<int>(options_.idlePoll.count()));
      }
    }
    // Wait for what is outstanding (bounded by `drain` on a stop; otherwise until it is confirmed).
    const auto deadline = std::chrono::steady_clock::now() + drain;
    while (!pending_.empty() && !fatal_) {
      if (stop.stop_requested() && std::chrono::steady_clock::now() >= deadline) break;
      rd_kafka_poll(producer_.get(), 50);
      updateLag();
      if (std::chrono::steady_clock::now() - lastStore >= options_.positionInterval) {
        if (auto r = persist(); !r) return r.error();
        lastStore = std::chrono::steady_clock::now();
      }
    }
    if (auto r = persist(); !r) return r.error();
    if (failure) return *failure;
    if (fatal_) return fail(BridgeError::Kafka, fatalMessage_);
    if (options_.once && !drained) {
      return fail(BridgeError::Stopped, "stopped before the journal was drained: " + std::to_string(base_) +
                                            " records confirmed in Kafka, " + std::to_string(pending_.size()) +
                                            " sent and not confirmed");
    }
    return stats();
  }

  BridgeStats stats() const override {
    BridgeStats s = stats_;
    s.position = base_;
    return s;
  }

 private:
  struct Pending {
    bool confirmed = false;
    std::int64_t wallMs = 0;
    std::array<std::byte, 32> chain{};
  };

  void log(const char* level, const std::string& text) const {
    if (!options_.log) return;
    options_.log->log(spdlog::level::from_str(level), text);
  }

  bool hasSegment() const {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(options_.journalDir, ec)) {
      if (entry.path().extension() == ".journal") return true;
    }
    return false;
  }

  std::string topicName(Topic t) const { return options_.topicPrefix + std::string(topicSuffix(t)); }

  std::map<std::string, int> currentPartitions() const {
    std::map<std::string, int> m;
    for (Topic t : kTopics) m[topicName(t)] = partitions_[static_cast<std::size_t>(t)];
    return m;
  }

  // Every topic exists (created when missing) and its partition count is known and the one the
  // stored position was computed with. Waits for the brokers as long as it is not stopped.
  Result<bool, BridgeError> prepareTopics() {
    std::map<std::string, int> counts;
    for (int attempt = 0;; ++attempt) {
      auto c = partitionCounts(producer_.get(), 10'000);
      if (c) {
        counts = c.value();
        std::vector<std::string> missing;
        for (Topic t : kTopics) {
          if (!counts.contains(topicName(t))) missing.push_back(topicName(t));
        }
        if (missing.empty()) break;
        if (auto r = createTopics(missing); !r) return r.error();
      } else {
        log("warn", "waiting for Kafka at " + options_.brokers + ": " + c.error().message);
      }
      if (stop_.stop_requested()) return fail(BridgeError::Stopped, "stopped while waiting for Kafka");
      if (attempt >= 30) {
        return fail(BridgeError::Kafka, "kafka " + options_.brokers + ": topics not available after 30 attempts");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    for (Topic t : kTopics) {
      const std::string name = topicName(t);
      partitions_[static_cast<std::size_t>(t)] = counts[name];
      topics_[static_cast<std::size_t>(t)].reset(rd_kafka_topic_new(producer_.get(), name.c_str(), nullptr));
      if (auto it = stored_.partitions.find(name); it != stored_.partitions.end() && it->second != counts[name]) {
        return fail(BridgeError::BadInput,
                    "topic " + name + " has " + std::to_string(counts[name]) + " partitions, but the position in " +
                        options_.stateDir.string() + " was stored with " + std::to_string(it->second) +
                        ": keys would move to other partitions and exactly-once could not be checked");
      }
    }
    return true;
  }

  Result<bool, BridgeError> createTopics(const std::vector<std::string>& names) {
    QueuePtr queue(rd_kafka_queue_new(producer_.get()));
    std::vector<rd_kafka_NewTopic_t*> news;
    char err[512];
    for (const auto& n : names) {
      auto* nt = rd_kafka_NewTopic_new(n.c_str(), options_.partitions, options_.replicationFactor, err, sizeof err);
      if (nt == nullptr) {
        for (auto* x : news) rd_kafka_NewTopic_destroy(x);
        return fail(BridgeError::BadInput, "topic " + n + ": " + err);
      }
      // The topics carry the record: kept until an operator decides otherwise. (Time-based retention
      // goes by the records' timestamps, the events' times: an old journal bridged late would be
      // deleted at once under the broker's default of 7 days.)
      rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
      news.push_back(nt);
    }
    rd_kafka_CreateTopics(producer_.get(), news.data(), news.size(), nullptr, queue.get());
    rd_kafka_NewTopic_destroy_array(news.data(), news.size());
    EventPtr ev(rd_kafka_queue_poll(queue.get(), 15'000));
    if (!ev) return true;  // no answer yet; the caller asks for metadata again
    const auto* res = rd_kafka_event_CreateTopics_result(ev.get());
    if (res == nullptr) return true;
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      auto e = rd_kafka_topic_result_error(results[i]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        log("info", std::string("created topic ") + rd_kafka_topic_result_name(results[i]));
        continue;
      }
      if (e == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS || e == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR ||
          e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR_POLICY_VIOLATION) {
        return fail(BridgeError::BadInput, std::string("cannot create topic ") +
                                               rd_kafka_topic_result_name(results[i]) + ": " + rd_kafka_err2str(e));
      }
      log("warn", std::string("creating topic ") + rd_kafka_topic_result_name(results[i]) + ": " + rd_kafka_err2str(e));
    }
    return true;
  }

  // The highest journal sequence in each partition (-1 when it holds none of ours). Reads the last
  // few records of each non-empty partition: the last one is ours unless something else writes there.
  Result<bool, BridgeError> readPartitionTails() {
    auto reader = makeReader(options_.brokers, options_.kafkaConfig);
    if (!reader) return reader.error();
    rd_kafka_t* rk = reader.value().get();
    std::uint64_t found = 0;
    for (Topic t : kTopics) {
      const auto ti = static_cast<std::size_t>(t);
      const std::string name = topicName(t);
      tails_[ti].assign(static_cast<std::size_t>(partitions_[ti]), -1);
      for (int p = 0; p < partitions_[ti]; ++p) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int attempt = 0; attempt < 60; ++attempt) {
          e = rd_kafka_query_watermark_offsets(rk, name.c_str(), p, &low, &high, 10'000);
          if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
          log("warn", "reading the end of " + name + "/" + std::to_string(p) + ": " + rd_kafka_err2str(e));
          if (stop_.stop_requested()) return fail(BridgeError::Stopped, "stopped while waiting for Kafka");
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
          return fail(BridgeError::Kafka,
                      "cannot read the end of " + name + "/" + std::to_string(p) + ": " + rd_kafka_err2str(e));
        }
        if (high <= low) continue;
        const std::int64_t from = std::max(low, high - 8);
        rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, name.c_str(), p)->offset = from;
        rd_kafka_assign(rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        std::int64_t last = -1;
        std::uint64_t read = 0;
        while (std::chrono::steady_clock::now() < deadline) {
          if (stop_.stop_requested()) return fail(BridgeError::Stopped, "stopped while reading Kafka");
          MessagePtr m(rd_kafka_consumer_poll(rk, 500));
          if (!m) continue;
          if (m->rkt == nullptr || name != rd_kafka_topic_name(m->rkt) || m->partition != p) continue;
          if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
          if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            log("warn", "reading " + name + "/" + std::to_string(p) + ": " + rd_kafka_message_errstr(m.get()));
            continue;
          }
          ++read;
          std::string seq;
          if (headerValue(m.get(), kHeaderSequence, seq)) {
            try {
              last = std::max<std::int64_t>(last, static_cast<std::int64_t>(std::stoull(seq)));
            } catch (const std::exception&) {
            }
          }
          if (m->offset >= high - 1) break;
        }
        rd_kafka_assign(rk, nullptr);
        if (std::chrono::steady_clock::now() >= deadline) {
          return fail(BridgeError::Kafka, "timed out reading the last records of " + name + "/" + std::to_string(p));
        }
        if (read == 0) {
          // The partition holds records but none came back (retention removed them meanwhile, or
          // the read fell to the end): not knowing its tail, the bridge must not guess.
          return fail(BridgeError::Kafka, "could not read the last records of " + name + "/" + std::to_string(p) +
                                              " (offsets " + std::to_string(from) + ".." + std::to_string(high - 1) +
                                              "); start again");
        }
        tails_[ti][static_cast<std::size_t>(p)] = last;
        if (last >= 0) found = std::max(found, static_cast<std::uint64_t>(last) + 1);
      }
    }
    if (found > base_) {
      log("info", "Kafka already holds records up to " + std::to_string(found - 1) + " (position " +
                      std::to_string(base_) + "); those are not sent again");
    }
    return true;
  }

  // A journal that no longer is the one the position was stored for: cut back by a repair, or
  // replaced. Going on would skip its new records as if Kafka had them.
  std::string journalMismatch(const std::string& what) const {
    return options_.journalDir.string() + ": " + what + ", but the bridge's position in " + options_.stateDir.string() +
           " is " + std::to_string(stored_.next) +
           ": the journal was cut back (journal repair?) or replaced. Kafka keeps what it had; start a new "
           "state directory and topics for this journal, or restore the journal";
  }

  struct Routed {
    Topic topic = Topic::Fractions;
    std::string key;
    std::int64_t wallNs = 0;
    std::uint16_t schema = 0;
    std::string_view bodyName;
  };

  // Topic, key and envelope of a journaled frame. The frame is read in place (a Cap'n Proto reader
  // on the stack, bounds-checked as it goes, with the bus's traversal limits) rather than through
  // messages::decode, whose copy and allocations cost more than the rest of a record's way.
  Result<Routed, BridgeError> route(const recorder::JournalRecord& rec) const {
    auto undecodable = [&](const std::string& why) {
      return fail(BridgeError::Journal, options_.journalDir.string() + ": record " + std::to_string(rec.index) + " (" +
                                            rec.segment + " offset " + std::to_string(rec.offset) +
                                            ") does not decode: " + why);
    };
    const auto* bytes = rec.payload.data();
    if (rec.payload.empty() || rec.payload.size() % sizeof(capnp::word) != 0 ||
        reinterpret_cast<std::uintptr_t>(bytes) % alignof(capnp::word) != 0) {
      return undecodable("not a whole number of aligned 8-byte words");
    }
    try {
      capnp::ReaderOptions limits;
      limits.traversalLimitInWords = messages::ReaderLimits{}.traversalWords;
      limits.nestingLimit = messages::ReaderLimits{}.nestingLimit;
      capnp::FlatArrayMessageReader reader(
          kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes), rec.payload.size() / sizeof(capnp::word)), limits);
      auto message = reader.getRoot<wire::Message>();
      auto envelope = message.getEnvelope();
      if (envelope.getSchemaVersion() != messages::kSchemaVersion) {
        return undecodable("schema version " + std::to_string(envelope.getSchemaVersion()) + ", this bridge reads " +
                           std::to_string(messages::kSchemaVersion));
      }
      auto body = message.getBody();
      Routed r{topicOf(body), keyOf(body), envelope.getWallTimeNs(), envelope.getSchemaVersion(),
               messages::bodyName(body.which())};
      return r;
    } catch (const kj::Exception& e) {
      return undecodable(e.getDescription().cStr());
    }
  }

  Result<bool, BridgeError> send(const recorder::JournalRecord& rec, const std::stop_token& stop) {
    auto routed = route(rec);
    if (!routed) return routed.error();
    const Topic topic = routed.value().topic;
    const auto ti = static_cast<std::size_t>(topic);
    const std::string& key = routed.value().key;
    // Keyless records (journal incidents) all go to partition 0: the partition is never left to
    // chance, or a restart could not tell whether the record is there.
    const std::int32_t partition = key.empty()
                                       ? 0
                                       : rd_kafka_msg_partitioner_murmur2(topics_[ti].get(), key.data(), key.size(),
                                                                          partitions_[ti], nullptr, nullptr);
    std::int64_t wall = routed.value().wallNs / 1'000'000;
    if (wall <= 0) wall = nowMs();
    pending_.push_back(Pending{false, wall, rec.chainHash});
    if (static_cast<std::int64_t>(rec.index) <= tails_[ti][static_cast<std::size_t>(partition)]) {
      confirm(rec.index, true);
      return true;
    }
    const std::string seq = std::to_string(rec.index);
    const std::string schema = std::to_string(routed.value().schema);
    const std::string_view bodyName = routed.value().bodyName;
    while (true) {
      std::array<rd_kafka_vu_t, 8> vu{};
      vu[0].vtype = RD_KAFKA_VTYPE_RKT;
      vu[0].u.rkt = topics_[ti].get();
      vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
      vu[1].u.i32 = partition;
      vu[2].vtype = RD_KAFKA_VTYPE_KEY;
      vu[2].u.mem = {key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()};
      vu[3].vtype = RD_KAFKA_VTYPE_VALUE;
      vu[3].u.mem = {const_cast<std::byte*>(rec.payload.data()), rec.payload.size()};
      vu[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
      vu[4].u.i = RD_KAFKA_MSG_F_COPY;
      vu[5].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
      vu[5].u.i64 = wall;
      vu[6].vtype = RD_KAFKA_VTYPE_OPAQUE;
      vu[6].u.ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(rec.index));
      vu[7].vtype = RD_KAFKA_VTYPE_HEADERS;
      rd_kafka_headers_t* headers = rd_kafka_headers_new(3);
      rd_kafka_header_add(headers, kHeaderSequence, -1, seq.data(), static_cast<ssize_t>(seq.size()));
      rd_kafka_header_add(headers, kHeaderSchema, -1, schema.data(), static_cast<ssize_t>(schema.size()));
      rd_kafka_header_add(headers, kHeaderBody, -1, bodyName.data(), static_cast<ssize_t>(bodyName.size()));
      vu[7].u.headers = headers;
      rd_kafka_error_t* error = rd_kafka_produceva(producer_.get(), vu.data(), vu.size());
      rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
      if (error != nullptr) {
        e = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        rd_kafka_headers_destroy(headers);  // not taken over when the send failed
      }
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        fatal_ = true;
        fatalMessage_ = "cannot send record " + seq + " to " + topicName(topic) + ": " + rd_kafka_err2str(e);
        return true;
      }
      // The local queue is full (a slow or absent broker): wait for reports, keep the lag current.
      rd_kafka_poll(producer_.get(), 10);
      updateLag();
      if (fatal_ || stop.stop_requested()) {
        pending_.pop_back();
        return true;
      }
    }
    ++stats_.produced;
    if (metrics_) metrics_->producedFamily.Add({{"topic", topicName(topic)}}).Increment();
    return true;
  }

  void confirm(std::uint64_t index, bool skipped) {
    if (index < base_ || index - base_ >= pending_.size()) return;
    pending_[index - base_].confirmed = true;
    if (skipped) {
      ++stats_.skipped;
      if (metrics_) metrics_->skipped.Increment();
    } else {
      ++stats_.delivered;
      if (metrics_) metrics_->delivered.Increment();
    }
    while (!pending_.empty() && pending_.front().confirmed) {
      baseChain_ = pending_.front().chain;
      haveBaseChain_ = true;
      pending_.pop_front();
      ++base_;
    }
  }

  void updateLag() {
    if (!metrics_) return;
    metrics_->position.Set(static_cast<double>(base_));
    metrics_->lagRecords.Set(static_cast<double>(pending_.size()));
    metrics_->lagSeconds.Set(pending_.empty() ? 0.0 : static_cast<double>(nowMs() - pending_.front().wallMs) / 1000.0);
  }

  Result<bool, BridgeError> persist() {
    if (base_ == stored_.next) return true;
    StoredPosition p = stored_;
    p.next = base_;
    p.chain = haveBaseChain_ ? toHex(baseChain_) : std::string();
    if (auto r = storePosition(options_.stateDir, p); !r) return r.error();
    stored_ = p;
    return true;
  }

  static void onDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaBridge*>(opaque);
    const auto index = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m->_private));
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->offset < 0) {
        // The broker answered "duplicate": it says it holds the record, at an offset it does not
        // tell. A real broker's producer state is replicated with the log, so this is trusted; it is
        // counted, because librdkafka's mock cluster answers so after leader moves without the record.
        ++self->stats_.unverified;
        if (self->metrics_) self->metrics_->unverified.Increment();
      }
      self->confirm(index, false);
      return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) return;
    // With idempotence and no message timeout, a failed record is a permanent refusal (too large,
    // not authorised) or a fatal producer state: stop, keep the position before it.
    ++self->stats_.errors;
    if (self->metrics_) self->metrics_->errorFamily.Add({{"kind", "delivery"}}).Increment();
    if (!self->fatal_) {
      self->fatal_ = true;
      self->fatalMessage_ = "Kafka refused record " + std::to_string(index) + ": " + rd_kafka_err2str(m->err);
    }
  }

  static void onError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaBridge*>(opaque);
    ++self->stats_.errors;
    const bool fatal = err == RD_KAFKA_RESP_ERR__FATAL;
    if (self->metrics_) self->metrics_->errorFamily.Add({{"kind", fatal ? "fatal" : "client"}}).Increment();
    if (fatal) {
      char buf[512];
      auto code = rd_kafka_fatal_error(rk, buf, sizeof buf);
      self->fatal_ = true;
      self->fatalMessage_ = std::string("fatal producer error ") + rd_kafka_err2name(code) + ": " + buf;
    }
    self->log("warn",
              std::string("kafka: ") + rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)) + ": " + reason);
  }

  BridgeOptions options_;
  std::stop_token stop_;  // of open()
  std::unique_ptr<Metrics> metrics_;
  int lockFd_ = -1;
  KafkaPtr producer_;
  std::array<TopicPtr, kTopicCount> topics_;
  std::array<int, kTopicCount> partitions_{};
  std::array<std::vector<std::int64_t>, kTopicCount> tails_;
  StoredPosition stored_;
  std::uint64_t base_ = 0;                 // first record not yet confirmed
  std::array<std::byte, 32> baseChain_{};  // chain hash of record base_ - 1, once seen
  bool haveBaseChain_ = false;
  std::deque<Pending> pending_;  // records base_, base_ + 1, ... read and not yet confirmed in order
  BridgeStats stats_;
  bool fatal_ = false;
  std::string fatalMessage_;
};

}  // namespace

Result<std::unique_ptr<Bridge>, BridgeError> Bridge::open(const BridgeOptions& options, std::stop_token stop) {
  auto bridge = std::make_unique<KafkaBridge>(options);
  if (auto r = bridge->open(stop); !r) return r.error();
  return std::unique_ptr<Bridge>(std::move(bridge));
}

std::map<std::string, std::string> producerProperties(const std::string& brokers) {
  return {
      {"bootstrap.servers", brokers},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"max.in.flight.requests.per.connection", "5"},
      // A record refused for good must stop the partition, not leave a gap that later records
      // step over (a restart would then take the gap for a record Kafka holds).
      {"enable.gapless.guarantee", "true"},
      // Never give a record up: an outage delays records, it must not drop one (a timed-out record
      // would leave a gap the position could not step over).
      {"message.timeout.ms", "0"},
      {"linger.ms", "5"},
      {"batch.num.messages", "10000"},
      {"batch.size", "1000000"},
      {"compression.type", "lz4"},
      {"queue.buffering.max.messages", "500000"},
      {"queue.buffering.max.kbytes", "524288"},
      {"partitioner", "murmur2"},
      {"log_level", "4"},
  };
}

Result<std::uint64_t, BridgeError> readPosition(const fs::path& stateDir) {
  auto p = loadPosition(stateDir);
  if (!p) return p.error();
  return p.value().next;
}

}  // namespace spotline::bridge
