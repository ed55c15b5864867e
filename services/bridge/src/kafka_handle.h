#pragma once
// RAII for librdkafka's C handles, and the configuration steps the bridge and the readers share.

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "spotline/bridge/bridge.h"
#include "spotline/core/result.h"

namespace spotline::bridge::detail {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, KafkaDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter>;

// Sets every property in order (later ones win); the error names the property and librdkafka's reason.
Result<ConfPtr, BridgeError> makeConf(const std::map<std::string, std::string>& properties);

// A consumer for reading partitions by offset (assign, never subscribe: no group membership).
Result<KafkaPtr, BridgeError> makeReader(const std::string& brokers, const std::map<std::string, std::string>& extra);

// Partition counts of the topics that exist, from a metadata request; error on timeout.
Result<std::map<std::string, int>, BridgeError> partitionCounts(rd_kafka_t* rk, int timeoutMs);

// The value of header `name` of a message, if it has one.
bool headerValue(const rd_kafka_message_t* m, const char* name, std::string& out);

}  // namespace spotline::bridge::detail
