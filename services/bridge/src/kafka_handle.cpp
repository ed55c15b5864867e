#include "kafka_handle.h"

namespace spotline::bridge::detail {

Result<ConfPtr, BridgeError> makeConf(const std::map<std::string, std::string>& properties) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return fail(BridgeError::BadInput, std::string("kafka property ") + key + "=" + value + ": " + err);
    }
  }
  return conf;
}

Result<KafkaPtr, BridgeError> makeReader(const std::string& brokers, const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> p{{"bootstrap.servers", brokers},
                                       {"group.id", "spotline-reader"},
                                       {"enable.auto.commit", "false"},
                                       {"enable.auto.offset.store", "false"},
                                       {"enable.partition.eof", "true"},
                                       // An offset retention removed: read from the earliest there is,
                                       // never jump to the end.
                                       {"auto.offset.reset", "earliest"},
                                       {"log_level", "3"}};
  for (const auto& [k, v] : extra) p[k] = v;
  auto conf = makeConf(p);
  if (!conf) return conf.error();
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.value().get(), err, sizeof err);
  if (rk == nullptr) return fail(BridgeError::BadInput, std::string("kafka consumer: ") + err);
  conf.value().release();  // owned by rk now
  return KafkaPtr(rk);
}

Result<std::map<std::string, int>, BridgeError> partitionCounts(rd_kafka_t* rk, int timeoutMs) {
  const rd_kafka_metadata_t* md = nullptr;
  auto err = rd_kafka_metadata(rk, 1, nullptr, &md, timeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return fail(BridgeError::Kafka, std::string("kafka metadata: ") + rd_kafka_err2str(err));
  MetadataPtr owned(md);
  std::map<std::string, int> counts;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0) counts[t.topic] = t.partition_cnt;
  }
  return counts;
}

bool headerValue(const rd_kafka_message_t* m, const char* name, std::string& out) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR || headers == nullptr) return false;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  out.assign(static_cast<const char*>(value), size);
  return true;
}

}  // namespace spotline::bridge::detail
