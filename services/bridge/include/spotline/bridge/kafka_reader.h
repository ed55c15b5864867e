#pragma once
// Reading what the bridge wrote: records of the spotline.* topics with their journal sequence, for
// `spotline kafka tail`, the tests, and the reconciliation queries (openKafkaSource).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spotline/bridge/bridge.h"
#include "spotline/core/result.h"
#include "spotline/runtime/event_source.h"

namespace spotline::bridge {

struct KafkaRecord {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestampMs = 0;
  std::string key;
  std::optional<std::uint64_t> sequence;  // spotline-seq header
  std::optional<std::uint16_t> schema;    // spotline-schema header
  std::vector<std::byte> value;
};

struct KafkaReaderOptions {
  std::string brokers;
  std::vector<std::string> topics;  // every partition of each is read
  bool fromBeginning = true;        // else only records produced after open
  bool stopAtEnd = false;           // next() reports the end once every partition has been read to its end
  std::map<std::string, std::string> kafkaConfig;  // librdkafka properties (-X)
  std::chrono::milliseconds metadataTimeout{10'000};
};

// Reads partitions by offset (no consumer group, nothing committed). Per partition the records come
// in offset order, which is journal order for the bridge's topics.
class KafkaReader {
 public:
  virtual ~KafkaReader() = default;
  static Result<std::unique_ptr<KafkaReader>, BridgeError> open(const KafkaReaderOptions& options);
  // A record; nullopt when nothing arrived within `wait`, or at the end (then atEnd() is true).
  virtual Result<std::optional<KafkaRecord>, BridgeError> next(std::chrono::milliseconds wait) = 0;
  virtual bool atEnd() const = 0;
  // Every partition has been read to its end at least once (also without stopAtEnd).
  virtual bool caughtUp() const = 0;
};

// The reconciliation's event source over Kafka: reads the six topics to their end and hands the
// records out in journal order. A sequence found twice, a gap inside the sequences, or a record
// without the bridge's headers is reported as damage, naming topic, partition and offset.
Result<std::unique_ptr<runtime::EventSource>, runtime::QueryError> openKafkaSource(
    const std::string& brokers, const std::string& topicPrefix = "spotline.",
    const std::map<std::string, std::string>& kafkaConfig = {});

}  // namespace spotline::bridge
