#pragma once
// The command lines of the bridge (`spotline-bridge`, `spotline bridge`) and of `spotline kafka
// tail`, shared by the service executable and the console.
//
// Exit codes: 0 done (with --once: everything journaled is confirmed in Kafka); 1 Kafka failed for
// good, or an internal error; 2 bad input (options, configuration, a state directory in use);
// 3 the journal is damaged, holds a record that does not decode, or is not the journal the stored
// position belongs to (cut back by a repair, or replaced); 4 stopped (SIGTERM) before done: with
// --once, before the journal was drained and confirmed.

#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

namespace spotline::bridge {

struct BridgeCliArgs {
  std::string journal;
  std::string brokers;
  std::string state;
  std::string topicPrefix = "spotline.";
  int partitions = 3;
  int replicationFactor = -1;
  std::vector<std::string> kafkaConfig;  // key=value
  bool once = false;
  bool json = false;
  int metricsPort = -1;
  std::string metricsAddress = "127.0.0.1";
  std::string log;
};

void addBridgeOptions(CLI::App& app, BridgeCliArgs& args);
// Runs the bridge until SIGTERM/SIGINT (or, with --once, until drained); prints a summary.
int runBridge(const BridgeCliArgs& args, const std::string& command);

struct TailArgs {
  std::string brokers;
  std::vector<std::string> topics;
  bool json = false;
  std::string from = "beginning";
  bool exitAtEnd = false;
  long long max = -1;
  std::vector<std::string> kafkaConfig;
};

void addTailOptions(CLI::App& app, TailArgs& args);
int runTail(const TailArgs& args, const std::string& command);

// "key=value" pairs; throws CLI::ValidationError naming the bad one.
std::map<std::string, std::string> parseProperties(const std::vector<std::string>& pairs);

}  // namespace spotline::bridge
