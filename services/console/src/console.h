#pragma once
// The `spotline` command: shared pieces of its subcommands.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace spotline::console {

// Exit codes, for every command (README "Exit codes").
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,
  kExitBadInput = 2,
  kExitIntegrity = 3,
  kExitIncomplete = 4,
};

// A subcommand's body; its return value is the process's exit code.
using Action = std::function<int()>;

// Registers `spotline <name> …`; each sets `action` when chosen.
void addPlanCommands(CLI::App& app, Action& action);
void addDeliverCommand(CLI::App& app, Action& action);
void addJournalCommands(CLI::App& app, Action& action);
void addFacilityCommands(CLI::App& app, Action& action);
void addBenchCommands(CLI::App& app, Action& action);
// `bridge` and `kafka tail` (kafka_cmd.cpp).
void addKafkaCommands(CLI::App& app, Action& action);
// `bench plan-read`, under the bench command (bench_plan_cmd.cpp).
void addPlanReadBench(CLI::App& bench, Action& action);
void addDeliveryBench(CLI::App& bench, Action& action);
void addKafkaBench(CLI::App& bench, Action& action);
void addDemoCommand(CLI::App& app, Action& action);

// Directory of the running executable: the service binaries live beside it.
std::filesystem::path executableDir();
// Where the example plans are: $SPOTLINE_EXAMPLES, else the source tree's examples/plans.
std::filesystem::path examplesDir();

void printJson(const nlohmann::json& j);
// "spotline <cmd>: <message>" on stderr; returns `code`.
int complain(const std::string& command, const std::string& message, int code);

}  // namespace spotline::console
