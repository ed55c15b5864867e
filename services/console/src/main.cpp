// spotline: the console. Each subcommand is registered by its own file; main parses, runs the
// chosen action and turns anything unexpected into exit code 1 with a message.

#include <iostream>

#include "console.h"

int main(int argc, char** argv) {
  using namespace spotline::console;
  CLI::App app{
      "spotline — pencil-beam scanning delivery for a multi-ion synchrotron facility.\n"
      "Exit codes: 0 done; 1 internal error; 2 bad input or usage; 3 integrity or verification failure;\n"
      "4 delivery ended incomplete (interlock, abort)."};
  app.require_subcommand(1);
  Action action;
  addDemoCommand(app, action);
  addPlanCommands(app, action);
  addDeliverCommand(app, action);
  addJournalCommands(app, action);
  addFacilityCommands(app, action);
  addBenchCommands(app, action);
  addKafkaCommands(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitBadInput;
  }
  if (!action) return complain("spotline", "no command chosen (see --help)", kExitBadInput);
  try {
    return action();
  } catch (const std::exception& e) {
    return complain("spotline", std::string("internal error: ") + e.what(), kExitInternal);
  }
}
