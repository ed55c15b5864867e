// spotline bridge | kafka tail: the Kafka event log, from the console (spotline/bridge/cli.h).

#include <memory>

#include "console.h"
#include "spotline/bridge/cli.h"

namespace spotline::console {

void addKafkaCommands(CLI::App& app, Action& action) {
  auto bridgeArgs = std::make_shared<bridge::BridgeCliArgs>();
  auto* bridgeCmd = app.add_subcommand("bridge", "Feed the rv journal to Kafka (topics spotline.*), exactly once");
  bridge::addBridgeOptions(*bridgeCmd, *bridgeArgs);
  bridgeCmd->callback(
      [&action, bridgeArgs] { action = [bridgeArgs] { return bridge::runBridge(*bridgeArgs, "spotline bridge"); }; });

  auto* kafka = app.add_subcommand("kafka", "Read the facility's Kafka event log");
  kafka->require_subcommand(1);
  auto tailArgs = std::make_shared<bridge::TailArgs>();
  auto* tail = kafka->add_subcommand("tail", "Print the decoded events of a topic, one per line");
  bridge::addTailOptions(*tail, *tailArgs);
  tail->callback(
      [&action, tailArgs] { action = [tailArgs] { return bridge::runTail(*tailArgs, "spotline kafka tail"); }; });
}

}  // namespace spotline::console
