#pragma once
// The bridge: tails the rv journal and produces every record to Kafka, exactly once.
//
// Each journal record becomes one Kafka record: the topic from topicOf(), the key from keyOf(), the
// value the journal's bytes (one Cap'n Proto wire::Message), headers spotline-seq (the record's
// journal index) and spotline-schema, the timestamp the event's wall time. The partition is chosen
// by the bridge with Kafka's own murmur2 hash of the key, so it is known before the send.
//
// Exactly once, through crashes and outages:
//   * the producer is idempotent (acks=all): retries inside one run never duplicate or reorder;
//   * the bridge's position (the first journal record not yet confirmed by a delivery report) is
//     stored durably, only after the reports, in STATE/position;
//   * on start, the bridge reads the last records of every partition: what a partition holds is a
//     prefix, in journal order, of what was sent to it, so a record from the position on whose
//     index is at or below its partition's last sequence is already there and is skipped.
//   A SIGKILL thus neither loses nor repeats a record, and a broker outage only delays them.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stop_token>
#include <string>

#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "spotline/core/result.h"

namespace spotline::bridge {

enum class BridgeError : std::uint8_t {
  BadInput,  // options, configuration, a locked or unreadable state directory
  Journal,   // the journal is damaged, or holds a record that does not decode
  Kafka,     // the producer failed for good (fatal error, a record refused)
  Io,        // the position could not be stored
  Stopped,   // stopped before it was done: with once, before the journal was drained and confirmed
};

struct BridgeOptions {
  std::filesystem::path journalDir;
  std::filesystem::path stateDir;  // empty: journalDir + ".bridge"
  std::string brokers;
  std::string topicPrefix = "spotline.";
  // Topics the bridge creates when they are missing (a facility's broker setup usually has them).
  int partitions = 3;
  int replicationFactor = -1;  // -1: the broker's default
  // librdkafka properties that override the bridge's defaults (`-X key=value`).
  std::map<std::string, std::string> kafkaConfig;
  bool once = false;                                // drain the journal, wait for every delivery report, and return
  std::chrono::milliseconds idlePoll{5};            // journal polling when there is nothing new
  std::chrono::milliseconds positionInterval{100};  // the most often the position is stored
  std::shared_ptr<prometheus::Registry> registry;   // metrics; may be null
  std::shared_ptr<spdlog::logger> log;              // may be null
};

struct BridgeStats {
  std::uint64_t position = 0;   // records confirmed in Kafka (stored position)
  std::uint64_t produced = 0;   // records sent in this run
  std::uint64_t delivered = 0;  // records confirmed by a delivery report in this run
  std::uint64_t skipped = 0;    // records found already in Kafka on start
  std::uint64_t errors = 0;     // producer errors reported (retried ones included)
  // Confirmed as a duplicate by the broker, without an offset: it says it holds the record already.
  std::uint64_t unverified = 0;
};

class Bridge {
 public:
  virtual ~Bridge() = default;
  // Takes STATE/LOCK, reads the stored position, connects, creates missing topics and reads the
  // last sequence of every partition.
  // Gives up (Stopped) when `stop` is requested while it waits for the brokers.
  static Result<std::unique_ptr<Bridge>, BridgeError> open(const BridgeOptions& options, std::stop_token stop = {});
  // Runs until stop is requested (or, with once, until the journal is drained and delivered). On a
  // stop it waits up to `drain` for outstanding reports, then stores the position.
  virtual Result<BridgeStats, BridgeError> run(std::stop_token stop,
                                               std::chrono::milliseconds drain = std::chrono::seconds(10)) = 0;
  virtual BridgeStats stats() const = 0;
};

// The bridge's producer settings (before -X overrides): idempotent, acks=all, gapless, no message
// timeout, lz4 batches. `spotline bench kafka` gives its bare producer the same.
std::map<std::string, std::string> producerProperties(const std::string& brokers);

// The stored position of a state directory (0 when none); for tests and `spotline bridge --status`.
Result<std::uint64_t, BridgeError> readPosition(const std::filesystem::path& stateDir);

}  // namespace spotline::bridge
