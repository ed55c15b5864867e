// spotline-bridge: the facility-wide event log's feeder, as a service process. Tails the rv journal
// and produces it to Kafka exactly once (see spotline/bridge/bridge.h); `spotline bridge` is the same.

#include <CLI/CLI.hpp>

#include "spotline/bridge/cli.h"

int main(int argc, char** argv) {
  CLI::App app{
      "spotline-bridge: feeds the rv journal to Kafka (topics spotline.*), exactly once.\n"
      "Exit codes: 0 done; 1 Kafka failed or internal error; 2 bad input; 3 journal damaged or not the\n"
      "position's journal; 4 stopped before done (--once: before the journal was drained)."};
  spotline::bridge::BridgeCliArgs args;
  spotline::bridge::addBridgeOptions(app, args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return spotline::bridge::runBridge(args, "spotline-bridge");
}
