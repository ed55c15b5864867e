// spotline journal verify

#include <iostream>

#include "console.h"
#include "spotline/recorder/journal.h"

namespace spotline::console {

namespace {

struct JournalArgs {
  std::string dir;
  bool json = false;
};

int verify(const JournalArgs& a) {
  if (!std::filesystem::is_directory(a.dir)) {
    return complain("spotline journal verify", a.dir + ": not a directory", kExitBadInput);
  }
  auto r = recorder::verifyJournal(a.dir);
  if (a.json) {
    nlohmann::json j{
        {"ok", r.ok}, {"records", r.records}, {"segments", r.segments}, {"bytes", r.bytes}, {"last_hash", r.lastHash}};
    if (!r.ok) {
      j["damage"] = std::string(recorder::toString(r.damage));
      j["segment"] = r.segment;
      j["offset"] = r.offset;
      j["index"] = r.index;
      j["message"] = r.message;
    }
    printJson(j);
  } else if (r.ok) {
    std::cout << a.dir << ": ok, " << r.records << " records in " << r.segments << " segment(s), " << r.bytes
              << " bytes; chain head " << r.lastHash.substr(0, 16) << "\n";
  } else {
    std::cout << a.dir << ": DAMAGED (" << recorder::toString(r.damage) << ") in " << r.segment << " at offset "
              << r.offset << ", record " << r.index << ": " << r.message << "\n";
  }
  return r.ok ? kExitOk : kExitIntegrity;
}

}  // namespace

void addJournalCommands(CLI::App& app, Action& action) {
  auto args = std::make_shared<JournalArgs>();
  auto* journal = app.add_subcommand("journal", "Read and check the record-and-verify journal");
  journal->require_subcommand(1);
  auto* verifyCmd = journal->add_subcommand(
      "verify", "Check checksums, hash chain, sequence and segments; exit 3 naming the first bad record");
  verifyCmd->add_option("DIR", args->dir, "journal directory")->required();
  verifyCmd->add_flag("--json", args->json, "machine-readable output");
  verifyCmd->callback([&action, args] { action = [args] { return verify(*args); }; });
}

}  // namespace spotline::console
