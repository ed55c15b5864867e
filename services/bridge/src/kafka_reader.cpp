#include "spotline/bridge/kafka_reader.h"

#include <algorithm>
#include <set>

#include "kafka_handle.h"
#include "spotline/bridge/topics.h"

namespace spotline::bridge {

using namespace detail;

namespace {

class Reader final : public KafkaReader {
 public:
  explicit Reader(KafkaReaderOptions options) : options_(std::move(options)) {}

  Result<bool, BridgeError> open() {
    if (options_.brokers.empty()) return fail(BridgeError::BadInput, "--brokers: no Kafka brokers given");
    if (options_.topics.empty()) return fail(BridgeError::BadInput, "--topic: no topic given");
    auto rk = makeReader(options_.brokers, options_.kafkaConfig);
    if (!rk) return rk.error();
    rk_ = std::move(rk).value();
    auto counts = partitionCounts(rk_.get(), static_cast<int>(options_.metadataTimeout.count()));
    if (!counts) return fail(BridgeError::Kafka, "kafka " + options_.brokers + ": " + counts.error().message);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(16);
    for (const auto& t : options_.topics) {
      auto it = counts.value().find(t);
      if (it == counts.value().end()) {
        rd_kafka_topic_partition_list_destroy(list);
        return fail(BridgeError::BadInput, "kafka " + options_.brokers + ": no topic " + t);
      }
      for (int p = 0; p < it->second; ++p) {
        rd_kafka_topic_partition_list_add(list, t.c_str(), p)->offset =
            options_.fromBeginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
        open_.insert({t, p});
      }
    }
    auto e = rd_kafka_assign(rk_.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
      return fail(BridgeError::Kafka, std::string("kafka assign: ") + rd_kafka_err2str(e));
    return true;
  }

  Result<std::optional<KafkaRecord>, BridgeError> next(std::chrono::milliseconds wait) override {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      if (options_.stopAtEnd && open_.empty()) return std::optional<KafkaRecord>{};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      MessagePtr m(rd_kafka_consumer_poll(rk_.get(), static_cast<int>(std::max<std::int64_t>(0, left.count()))));
      if (!m) {
        if (std::chrono::steady_clock::now() >= deadline) return std::optional<KafkaRecord>{};
        continue;
      }
      const std::string topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        open_.erase({topic, m->partition});
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // Transport errors are retried by librdkafka; what reaches here and is not transient ends the read.
        if (m->err == RD_KAFKA_RESP_ERR__TRANSPORT || m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
            m->err == RD_KAFKA_RESP_ERR__RESOLVE) {
          continue;
        }
        return fail(BridgeError::Kafka,
                    "reading " + topic + "/" + std::to_string(m->partition) + ": " + rd_kafka_message_errstr(m.get()));
      }
      KafkaRecord r;
      r.topic = topic;
      r.partition = m->partition;
      r.offset = m->offset;
      rd_kafka_timestamp_type_t type;
      r.timestampMs = rd_kafka_message_timestamp(m.get(), &type);
      if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      const auto* bytes = static_cast<const std::byte*>(m->payload);
      if (bytes != nullptr) r.value.assign(bytes, bytes + m->len);
      std::string h;
      try {
        if (headerValue(m.get(), kHeaderSequence, h)) r.sequence = std::stoull(h);
        if (headerValue(m.get(), kHeaderSchema, h)) r.schema = static_cast<std::uint16_t>(std::stoul(h));
      } catch (const std::exception&) {
      }
      return std::optional<KafkaRecord>{std::move(r)};
    }
  }

  bool atEnd() const override { return options_.stopAtEnd && open_.empty(); }
  bool caughtUp() const override { return open_.empty(); }

 private:
  KafkaReaderOptions options_;
  KafkaPtr rk_;
  std::set<std::pair<std::string, std::int32_t>> open_;  // partitions not yet read to their end
};

class KafkaSource final : public runtime::EventSource {
 public:
  KafkaSource(std::string brokers, std::vector<runtime::SourcedEvent> events)
      : brokers_(std::move(brokers)), events_(std::move(events)) {}
  std::string describe() const override { return "kafka://" + brokers_; }
  Result<std::optional<runtime::SourcedEvent>, runtime::QueryError> next() override {
    if (at_ >= events_.size()) return std::optional<runtime::SourcedEvent>{};
    return std::optional<runtime::SourcedEvent>{std::move(events_[at_++])};
  }

 private:
  std::string brokers_;
  std::vector<runtime::SourcedEvent> events_;
  std::size_t at_ = 0;
};

std::string where(const KafkaRecord& r) {
  return r.topic + "/" + std::to_string(r.partition) + "@" + std::to_string(r.offset);
}

}  // namespace

Result<std::unique_ptr<KafkaReader>, BridgeError> KafkaReader::open(const KafkaReaderOptions& options) {
  auto reader = std::make_unique<Reader>(options);
  if (auto r = reader->open(); !r) return r.error();
  return std::unique_ptr<KafkaReader>(std::move(reader));
}

Result<std::unique_ptr<runtime::EventSource>, runtime::QueryError> openKafkaSource(
    const std::string& brokers, const std::string& topicPrefix, const std::map<std::string, std::string>& kafkaConfig) {
  KafkaReaderOptions o{.brokers = brokers, .stopAtEnd = true, .kafkaConfig = kafkaConfig};
  for (Topic t : kTopics) o.topics.push_back(topicPrefix + std::string(topicSuffix(t)));
  auto reader = KafkaReader::open(o);
  if (!reader) {
    return fail(
        reader.error().code == BridgeError::BadInput ? runtime::QueryError::BadInput : runtime::QueryError::Damaged,
        reader.error().message);
  }
  // Journal order is a merge of the partitions by sequence; sorting the whole read is that merge.
  std::vector<runtime::SourcedEvent> events;
  std::map<std::uint64_t, std::string> seen;
  while (true) {
    auto r = reader.value()->next(std::chrono::seconds(30));
    if (!r) return fail(runtime::QueryError::Damaged, r.error().message);
    if (!r.value()) {
      if (reader.value()->atEnd()) break;
      return fail(runtime::QueryError::Damaged,
                  "kafka " + brokers + ": no records for 30 s before the end of the topics");
    }
    auto& rec = *r.value();
    if (!rec.sequence) {
      return fail(runtime::QueryError::Damaged, where(rec) + ": a record without the " + std::string(kHeaderSequence) +
                                                    " header (not written by the bridge)");
    }
    auto [it, fresh] = seen.emplace(*rec.sequence, where(rec));
    if (!fresh) {
      return fail(runtime::QueryError::Damaged, "journal sequence " + std::to_string(*rec.sequence) +
                                                    " is in Kafka twice: " + it->second + " and " + where(rec));
    }
    events.push_back(runtime::SourcedEvent{*rec.sequence, std::move(rec.value)});
  }
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  for (std::size_t i = 1; i < events.size(); ++i) {
    if (events[i].sequence != events[i - 1].sequence + 1) {
      return fail(runtime::QueryError::Damaged, "kafka " + brokers + ": journal sequences " +
                                                    std::to_string(events[i - 1].sequence + 1) + ".." +
                                                    std::to_string(events[i].sequence - 1) + " are missing");
    }
  }
  return std::unique_ptr<runtime::EventSource>(std::make_unique<KafkaSource>(brokers, std::move(events)));
}

}  // namespace spotline::bridge
