#include "spotline/bridge/cli.h"

#include <capnp/compat/json.h>
#include <kj/string.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "spotline/bridge/bridge.h"
#include "spotline/bridge/kafka_reader.h"
#include "spotline/messages/codec.h"
#include "spotline/monitoring/logging.h"
#include "spotline/monitoring/metrics.h"

namespace spotline::bridge {

namespace {

std::atomic<int> stopSignal{0};
extern "C" void onStopSignal(int sig) {
  stopSignal = sig;
}

int exitCodeOf(BridgeError e) {
  switch (e) {
    case BridgeError::BadInput: return 2;
    case BridgeError::Journal: return 3;
    case BridgeError::Kafka:
    case BridgeError::Io: return 1;
    case BridgeError::Stopped: return 4;
  }
  return 1;
}

int complain(const std::string& command, const std::string& message, int code) {
  std::cerr << command << ": " << message << "\n";
  return code;
}

}  // namespace

std::map<std::string, std::string> parseProperties(const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) throw CLI::ValidationError("-X", "'" + p + "' is not key=value");
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

void addBridgeOptions(CLI::App& app, BridgeCliArgs& a) {
  app.add_option("--journal", a.journal, "the rv journal directory to tail (read only)")->required();
  app.add_option("--brokers", a.brokers, "Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]")->required();
  app.add_option("--state", a.state, "directory of the bridge's durable position (default: JOURNAL.bridge)");
  app.add_option("--topic-prefix", a.topicPrefix, "topic names are PREFIX + plans|fractions|spots|dose|qa|interlocks");
  app.add_option("--partitions", a.partitions, "partitions of a topic the bridge has to create")
      ->check(CLI::Range(1, 10000));
  app.add_option("--replication-factor", a.replicationFactor, "replication of a created topic (-1: broker default)");
  app.add_option("-X", a.kafkaConfig, "librdkafka property key=value, overriding the bridge's (repeatable)");
  app.add_flag("--once", a.once, "drain the journal, wait until Kafka has confirmed all of it, and exit");
  app.add_flag("--json", a.json, "print the summary as JSON");
  app.add_option("--metrics-port", a.metricsPort, "serve Prometheus metrics on this port (0: any free port)");
  app.add_option("--metrics-address", a.metricsAddress, "address of the metrics endpoint (default 127.0.0.1)");
  app.add_option("--log", a.log, "append the log to this file (default: stderr)");
}

int runBridge(const BridgeCliArgs& a, const std::string& command) {
  BridgeOptions o;
  o.journalDir = a.journal;
  o.stateDir = a.state;
  o.brokers = a.brokers;
  o.topicPrefix = a.topicPrefix;
  o.partitions = a.partitions;
  o.replicationFactor = a.replicationFactor;
  o.once = a.once;
  try {
    o.kafkaConfig = parseProperties(a.kafkaConfig);
  } catch (const CLI::ValidationError& e) {
    return complain(command, e.what(), 2);
  }
  monitoring::LogOptions logOptions;
  if (!a.log.empty()) logOptions.file = a.log;
  o.log = monitoring::makeLogger("bridge", logOptions);
  o.registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<monitoring::MetricsEndpoint> metrics;
  if (a.metricsPort >= 0) {
    try {
      metrics = std::make_unique<monitoring::MetricsEndpoint>(a.metricsPort, a.metricsAddress);
    } catch (const std::exception& e) {
      return complain(command, "--metrics-port " + std::to_string(a.metricsPort) + ": " + e.what(), 2);
    }
    metrics->add(o.registry);
    o.log->info("metrics on {}:{}", a.metricsAddress, metrics->port());
  }
  std::signal(SIGTERM, onStopSignal);
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGPIPE, SIG_IGN);
  std::stop_source stop;
  std::jthread watcher([&stop](std::stop_token st) {
    while (!st.stop_requested() && stopSignal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (stopSignal != 0) stop.request_stop();
  });
  auto bridge = Bridge::open(o, stop.get_token());
  if (!bridge) {
    o.log->error("{}", bridge.error().message);
    return complain(command, bridge.error().message, exitCodeOf(bridge.error().code));
  }
  o.log->info("bridge up journal={} brokers={} position={}", a.journal, a.brokers, bridge.value()->stats().position);
  auto result = bridge.value()->run(stop.get_token());
  watcher.request_stop();
  if (!result) {
    o.log->error("{}", result.error().message);
    return complain(command, result.error().message, exitCodeOf(result.error().code));
  }
  const auto& s = result.value();
  o.log->info("bridge stopped position={} produced={} delivered={} skipped={} errors={}", s.position, s.produced,
              s.delivered, s.skipped, s.errors);
  if (a.json) {
    std::cout << nlohmann::json{{"position", s.position},
                                {"produced", s.produced},
                                {"delivered", s.delivered},
                                {"skipped", s.skipped},
                                {"errors", s.errors}}
                     .dump()
              << "\n";
  } else if (a.once) {
    std::cout << "bridged " << s.position << " journal records to Kafka (" << s.delivered << " sent now, " << s.skipped
              << " already there, " << s.errors << " producer errors)\n";
  }
  return 0;
}

void addTailOptions(CLI::App& app, TailArgs& a) {
  app.add_option("--brokers", a.brokers, "Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]")->required();
  app.add_option("--topic", a.topics, "topic to read, e.g. spotline.spots (repeatable)")->required();
  app.add_flag("--json", a.json, "one JSON object per record (for scripts)");
  app.add_option("--from", a.from, "beginning (default) or end")->check(CLI::IsMember({"beginning", "end"}));
  app.add_flag("-e,--exit", a.exitAtEnd, "exit once every partition is read to its end");
  app.add_option("--max", a.max, "exit after this many records");
  app.add_option("-X", a.kafkaConfig, "librdkafka property key=value (repeatable)");
}

int runTail(const TailArgs& a, const std::string& command) {
  KafkaReaderOptions o{
      .brokers = a.brokers, .topics = a.topics, .fromBeginning = a.from == "beginning", .stopAtEnd = a.exitAtEnd};
  try {
    o.kafkaConfig = parseProperties(a.kafkaConfig);
  } catch (const CLI::ValidationError& e) {
    return complain(command, e.what(), 2);
  }
  auto reader = KafkaReader::open(o);
  if (!reader) return complain(command, reader.error().message, exitCodeOf(reader.error().code));
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  capnp::JsonCodec codec;
  long long printed = 0;
  while (stopSignal == 0 && (a.max < 0 || printed < a.max)) {
    auto r = reader.value()->next(std::chrono::milliseconds(200));
    if (!r) return complain(command, r.error().message, 1);
    if (!r.value()) {
      if (reader.value()->atEnd()) break;
      continue;
    }
    const auto& rec = *r.value();
    auto decoded = messages::decode(rec.value);
    if (a.json) {
      nlohmann::json j{{"topic", rec.topic},
                       {"partition", rec.partition},
                       {"offset", rec.offset},
                       {"key", rec.key},
                       {"timestamp_ms", rec.timestampMs}};
      j["seq"] = rec.sequence ? nlohmann::json(*rec.sequence) : nlohmann::json(nullptr);
      j["schema"] = rec.schema ? nlohmann::json(*rec.schema) : nlohmann::json(nullptr);
      if (decoded) {
        j["body"] = std::string(messages::bodyName(decoded.value()->body().which()));
        kj::String text = codec.encode(decoded.value()->message());
        j["message"] = nlohmann::json::parse(text.cStr());
      } else {
        j["error"] = std::string(decoded.error().message);
      }
      std::cout << j.dump() << "\n";
    } else {
      std::cout << rec.topic << "/" << rec.partition << "@" << rec.offset
                << " seq=" << (rec.sequence ? std::to_string(*rec.sequence) : "-") << " key=" << rec.key << " ";
      if (decoded) {
        std::cout << messages::bodyName(decoded.value()->body().which()) << " "
                  << kj::str(decoded.value()->body()).cStr() << "\n";
      } else {
        std::cout << "undecodable: " << decoded.error().message << "\n";
      }
    }
    ++printed;
  }
  std::cout.flush();
  return 0;
}

}  // namespace spotline::bridge
