// spotline journal verify | spots | fractions

#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "console.h"
#include "spotline/bus/codec_helpers.h"
#include "spotline/messages/codec.h"
#include "spotline/recorder/journal.h"
#include "spotline/runtime/delivery_service.h"
#include "spotline/runtime/fraction_ledger.h"

namespace spotline::console {

namespace {

struct JournalArgs {
  std::string dir;
  bool json = false;
  std::string fraction;
  bool csv = false;
};

// Calls `each` with every journaled message, in order. Returns an exit code: the journal must be
// a directory and readable to its end; a damaged record stops with exit 3 naming it.
template <typename Each>
int forEachMessage(const std::string& command, const std::string& dir, Each&& each) {
  if (!std::filesystem::is_directory(dir)) return complain(command, dir + ": not a directory", kExitBadInput);
  auto reader = recorder::JournalReader::open(dir);
  if (!reader) return complain(command, dir + ": " + reader.error().message, kExitIntegrity);
  while (true) {
    auto rec = reader.value()->next();
    if (!rec) return complain(command, dir + ": " + rec.error().message, kExitIntegrity);
    if (!rec.value()) return kExitOk;
    auto decoded = messages::decode(rec.value()->payload);
    if (decoded) each(*decoded.value());
  }
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

int spots(const JournalArgs& a) {
  const std::string command = "spotline journal spots";
  std::vector<std::string> rows;
  std::set<std::string> fractions;
  int code = forEachMessage(command, a.dir, [&](const messages::Decoded& m) {
    auto body = m.body();
    if (bus::view(m.envelope().getSource()) != "delivery") return;
    auto fraction = messages::fractionIdOf(body);
    if (!fraction.empty()) fractions.insert(std::string(fraction));
    if (!body.isSpotDelivered() || fraction != a.fraction) return;
    auto sd = body.getSpotDelivered();
    rows.push_back(std::to_string(m.envelope().getSequence()) + "," + std::to_string(sd.getBeam()) + "," +
                   std::to_string(sd.getLayer()) + "," + std::to_string(sd.getSpot()) + "," + number(sd.getPlanned()) +
                   "," + number(sd.getDelivered()) + "," +
                   (sd.getMetersetUnit() == wire::MetersetUnit::MU ? "MU" : "NP") + "," + number(sd.getXPlannedMm()) +
                   "," + number(sd.getYPlannedMm()) + "," + number(sd.getXMeasuredMm()) + "," +
                   number(sd.getYMeasuredMm()));
  });
  if (code != kExitOk) return code;
  if (!fractions.contains(a.fraction)) {
    std::string known;
    for (const auto& f : fractions) known += (known.empty() ? "" : ", ") + f;
    return complain(command,
                    "--fraction " + a.fraction + ": no such fraction in " + a.dir +
                        (known.empty() ? " (it has none)" : " (it has " + known + ")"),
                    kExitBadInput);
  }
  std::cout << "seq,beam,layer,spot,planned,delivered,unit,x_planned,y_planned,x_measured,y_measured\n";
  for (const auto& r : rows) std::cout << r << "\n";
  return kExitOk;
}

int fractions(const JournalArgs& a) {
  runtime::FractionLedger ledger;
  struct Planned {
    std::string planUid;
    std::uint32_t spots = 0;
    double meterset = 0.0;
    std::string unit;
  };
  std::map<std::string, Planned> planned;
  int code = forEachMessage("spotline journal fractions", a.dir, [&](const messages::Decoded& m) {
    ledger.record(m);
    auto body = m.body();
    if (body.isFractionStarted() && bus::view(m.envelope().getSource()) == "delivery") {
      auto f = body.getFractionStarted();
      planned[bus::str(f.getFractionId())] =
          Planned{bus::str(f.getPlanUid()), f.getSpotsPlanned(), f.getMetersetPlanned(),
                  f.getMetersetUnit() == wire::MetersetUnit::MU ? "MU" : "NP"};
    }
  });
  if (code != kExitOk) return code;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [id, e] : ledger.all()) {
    const auto& p = planned[id];
    list.push_back({{"fraction_id", id},
                    {"room", e.room},
                    {"plan_uid", p.planUid},
                    {"content_hash", e.contentHash},
                    {"status", e.ended ? std::string(runtime::toString(e.outcome)) : std::string("open")},
                    {"spots_planned", p.spots},
                    {"spots_delivered", e.spots},
                    {"meterset_planned", p.meterset},
                    {"meterset_delivered", e.meterset},
                    {"meterset_unit", p.unit},
                    {"sessions", e.sessions},
                    {"holds", e.holds},
                    {"events", e.events}});
  }
  if (a.json) {
    printJson(nlohmann::json{{"journal", a.dir}, {"fractions", list}});
    return kExitOk;
  }
  std::printf("%-17s %-9s %-11s %17s %8s %6s\n", "fraction", "room", "status", "spots delivered", "sessions", "holds");
  for (const auto& f : list) {
    std::printf("%-17s %-9s %-11s %8u / %6u %8u %6u\n", f["fraction_id"].get<std::string>().c_str(),
                f["room"].get<std::string>().c_str(), f["status"].get<std::string>().c_str(),
                f["spots_delivered"].get<unsigned>(), f["spots_planned"].get<unsigned>(), f["sessions"].get<unsigned>(),
                f["holds"].get<unsigned>());
  }
  return kExitOk;
}

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
  auto* spotsCmd = journal->add_subcommand(
      "spots", "One CSV line per journaled spot record of a fraction (a spot a hold cut has two or more)");
  spotsCmd->add_option("DIR", args->dir, "journal directory")->required();
  spotsCmd->add_option("--fraction", args->fraction, "fraction id, e.g. F1-379f67221943")->required();
  spotsCmd->add_flag("--csv", args->csv, "CSV with a header line (the only format)");
  spotsCmd->callback([&action, args] { action = [args] { return spots(*args); }; });
  auto* fractionsCmd = journal->add_subcommand("fractions", "Every journaled fraction with its status and totals");
  fractionsCmd->add_option("DIR", args->dir, "journal directory")->required();
  fractionsCmd->add_flag("--json", args->json, "machine-readable output");
  fractionsCmd->callback([&action, args] { action = [args] { return fractions(*args); }; });
}

}  // namespace spotline::console
