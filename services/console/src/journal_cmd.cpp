// spotline journal verify | repair | keygen | spots | fractions | export

#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "console.h"
#include "spotline/bridge/kafka_reader.h"
#include "spotline/bus/codec_helpers.h"
#include "spotline/bus/endpoints.h"
#include "spotline/bus/zmq.h"
#include "spotline/messages/codec.h"
#include "spotline/recorder/journal.h"
#include "spotline/runtime/delivery_service.h"
#include "spotline/runtime/fraction_ledger.h"
#include "spotline/runtime/journal_queries.h"
#include "spotline/runtime/treatment_record.h"

namespace spotline::console {

namespace {

struct JournalArgs {
  std::string dir;
  bool json = false;
  std::string fraction;
  bool csv = false;
  std::string publicKey;   // verify: trust only the keys in this file
  std::string signingKey;  // repair: sign a checkpoint after the incident record
  std::string user;
  std::string reason;
  std::string dicom;       // export: output file
  std::string facility;    // spots, fractions: ask the rv of this running facility over the bus
  std::uint32_t page = 0;  // spots over the bus: lines per request (0: rv's page size)
  std::string kafka;       // spots, fractions: read the Kafka topics the bridge feeds instead
  std::string topicPrefix = "spotline.";
};

// The journal DIR, or the Kafka topics with --kafka: the same queries either way.
Result<std::unique_ptr<runtime::EventSource>, runtime::QueryError> openSource(const JournalArgs& a) {
  if (!a.kafka.empty()) return bridge::openKafkaSource(a.kafka, a.topicPrefix);
  return runtime::openJournalSource(a.dir);
}

int queryFailed(const std::string& command, const Failure<runtime::QueryError>& e) {
  return complain(command, e.message, e.code == runtime::QueryError::BadInput ? kExitBadInput : kExitIntegrity);
}

// One JournalQuery to a running facility's rv (its query socket).
Result<messages::Frame, std::string> askRv(const JournalArgs& a, wire::JournalQueryKind kind, std::uint64_t first) {
  auto endpoints = bus::readEndpoints(std::filesystem::path(a.facility) / "endpoints.json");
  if (!endpoints) return fail(std::string("facility"), "--facility " + endpoints.error().message);
  static zmq::context_t zmq(1);
  static std::unique_ptr<bus::RequestClient> client;
  if (!client) client = std::make_unique<bus::RequestClient>(zmq, endpoints.value().rvQuery, "console");
  auto q = client->begin().initJournalQuery();
  q.setKind(kind);
  q.setFractionId(a.fraction);
  q.setFirstRecord(first);
  q.setMaxRecords(a.page);
  auto reply = client->call(std::chrono::milliseconds(30000));
  if (!reply) return fail(std::string("rv"), "rv did not answer on " + endpoints.value().rvQuery);
  return reply.value().frame;
}

int spotsFromRv(const JournalArgs& a) {
  const std::string command = "spotline journal spots";
  std::uint64_t first = 0;
  while (true) {
    auto frame = askRv(a, wire::JournalQueryKind::SPOTS, first);
    if (!frame) return complain(command, frame.error().message, kExitInternal);
    auto m = messages::decode(frame.value());
    if (!m || !m.value()->body().isJournalQueryReply())
      return complain(command, "rv sent no query reply", kExitInternal);
    auto r = m.value()->body().getJournalQueryReply();
    if (!r.getOk()) return complain(command, "rv: " + bus::str(r.getError()), kExitBadInput);
    if (first == 0) std::cout << runtime::kSpotsCsvHeader;
    std::cout << bus::view(r.getText());
    if (!r.getMore()) return kExitOk;
    first = r.getNextRecord();
  }
}

int spots(const JournalArgs& a) {
  if (!a.facility.empty()) return spotsFromRv(a);
  if (a.dir.empty() == a.kafka.empty()) {
    return complain("spotline journal spots", "give one of a journal DIR, --facility DIR or --kafka BROKERS",
                    kExitBadInput);
  }
  auto source = openSource(a);
  if (!source) return queryFailed("spotline journal spots", source.error());
  auto page = runtime::querySpots(*source.value(), a.fraction);
  if (!page) return queryFailed("spotline journal spots", page.error());
  std::cout << runtime::kSpotsCsvHeader << page.value().csv;
  return kExitOk;
}

int fractions(const JournalArgs& a) {
  const std::string command = "spotline journal fractions";
  nlohmann::json j;
  if (!a.facility.empty()) {
    auto frame = askRv(a, wire::JournalQueryKind::FRACTIONS, 0);
    if (!frame) return complain(command, frame.error().message, kExitInternal);
    auto m = messages::decode(frame.value());
    if (!m || !m.value()->body().isJournalQueryReply())
      return complain(command, "rv sent no query reply", kExitInternal);
    auto r = m.value()->body().getJournalQueryReply();
    if (!r.getOk()) return complain(command, "rv: " + bus::str(r.getError()), kExitIntegrity);
    j = nlohmann::json::parse(bus::view(r.getText()));
  } else {
    if (a.dir.empty() == a.kafka.empty()) {
      return complain(command, "give one of a journal DIR, --facility DIR or --kafka BROKERS", kExitBadInput);
    }
    auto source = openSource(a);
    if (!source) return queryFailed(command, source.error());
    auto result = runtime::queryFractions(*source.value());
    if (!result) return queryFailed(command, result.error());
    j = result.value();
  }
  if (a.json) {
    printJson(j);
    return kExitOk;
  }
  std::printf("%-17s %-9s %-11s %17s %8s %6s\n", "fraction", "room", "status", "spots delivered", "sessions", "holds");
  for (const auto& f : j["fractions"]) {
    std::printf("%-17s %-9s %-11s %8u / %6u %8u %6u\n", f["fraction_id"].get<std::string>().c_str(),
                f["room"].get<std::string>().c_str(), f["status"].get<std::string>().c_str(),
                f["spots_delivered"].get<unsigned>(), f["spots_planned"].get<unsigned>(), f["sessions"].get<unsigned>(),
                f["holds"].get<unsigned>());
  }
  return kExitOk;
}

// The journal's own incidents (torn tails cut by rv, operator repairs), for verify's report.
nlohmann::json incidents(const std::string& dir) {
  nlohmann::json list = nlohmann::json::array();
  auto reader = recorder::JournalReader::open(dir);
  if (!reader) return list;
  while (true) {
    auto rec = reader.value()->next();
    if (!rec || !rec.value()) break;
    auto decoded = messages::decode(rec.value()->payload);
    if (!decoded || !decoded.value()->body().isJournalIncident()) continue;
    auto i = decoded.value()->body().getJournalIncident();
    const char* kind = i.getKind() == wire::JournalIncidentKind::TORN_TAIL         ? "torn-tail"
                       : i.getKind() == wire::JournalIncidentKind::TORN_CHECKPOINT ? "torn-checkpoint"
                                                                                   : "operator-repair";
    list.push_back({{"record", rec.value()->index},
                    {"kind", kind},
                    {"segment", bus::str(i.getSegment())},
                    {"offset", i.getOffset()},
                    {"index", i.getIndex()},
                    {"bytes", i.getBytesDropped()},
                    {"damage", bus::str(i.getDamage())},
                    {"user", bus::str(i.getUser())},
                    {"reason", bus::str(i.getReason())},
                    {"quarantine", bus::str(i.getQuarantine())}});
  }
  return list;
}

Result<recorder::VerifyOptions, std::string> verifyOptions(const JournalArgs& a) {
  recorder::VerifyOptions options;
  if (a.publicKey.empty()) return options;
  auto keys = recorder::loadPublicKeys(a.publicKey);
  if (!keys) return fail(std::string("--public-key"), "--public-key " + keys.error().message);
  options.trustedKeys = keys.value();
  return options;
}

int verify(const JournalArgs& a) {
  const std::string command = "spotline journal verify";
  if (!std::filesystem::is_directory(a.dir)) return complain(command, a.dir + ": not a directory", kExitBadInput);
  auto options = verifyOptions(a);
  if (!options) return complain(command, options.error().message, kExitBadInput);
  auto r = recorder::verifyJournal(a.dir, options.value());
  if (a.json) {
    auto j = runtime::verifyReportJson(r);
    j["journal"] = a.dir;
    j["trusted_keys"] = a.publicKey.empty() ? "journal.pub" : a.publicKey;
    if (r.ok) j["incidents"] = incidents(a.dir);
    printJson(j);
  } else if (r.ok) {
    std::cout << a.dir << ": ok, " << r.records << " records in " << r.segments << " segment(s), " << r.bytes
              << " bytes; chain head " << r.lastHash.substr(0, 16) << "; " << r.checkpoints
              << " signed checkpoint(s) cover " << r.signedRecords << " records, " << r.unsignedRecords
              << " after the last\n";
    auto list = incidents(a.dir);
    for (const auto& i : list) {
      std::cout << "  incident at record " << i["record"] << ": " << i["kind"].get<std::string>() << " in "
                << i["segment"].get<std::string>() << " at offset " << i["offset"] << ", " << i["bytes"] << " bytes"
                << (i["user"].get<std::string>().empty() ? "" : " by " + i["user"].get<std::string>())
                << (i["reason"].get<std::string>().empty() ? "" : " (" + i["reason"].get<std::string>() + ")") << "\n";
    }
  } else {
    std::cout << a.dir << ": DAMAGED (" << recorder::toString(r.damage) << ") in " << r.segment << " at offset "
              << r.offset << ", record " << r.index << ": " << r.message << "\n";
  }
  return r.ok ? kExitOk : kExitIntegrity;
}

int repair(const JournalArgs& a) {
  const std::string command = "spotline journal repair";
  if (!std::filesystem::is_directory(a.dir)) return complain(command, a.dir + ": not a directory", kExitBadInput);
  if (a.user.empty() || a.reason.empty()) {
    return complain(command, "--user and --reason are required: the repair is journaled as an incident", kExitBadInput);
  }
  auto options = verifyOptions(a);
  if (!options) return complain(command, options.error().message, kExitBadInput);
  std::optional<recorder::SigningKey> key;
  if (!a.signingKey.empty()) {
    auto k = recorder::loadSigningKey(a.signingKey);
    if (!k) return complain(command, "--signing-key " + k.error().message, kExitBadInput);
    key = k.value();
  }
  nlohmann::json done = nlohmann::json::array();
  // One damage at a time: a journal may hold more than one (a bad record, then a bad checkpoint).
  for (int round = 0; round < 16; ++round) {
    auto repaired = recorder::repairJournal(a.dir, options.value());
    if (!repaired) {
      return complain(command, a.dir + ": " + repaired.error().message,
                      repaired.error().code == recorder::JournalError::Locked ? kExitIntegrity : kExitInternal);
    }
    const auto& r = repaired.value();
    if (!r.repaired) break;
    // The incident goes into the journal it describes, with an ordinary writer (which signs).
    recorder::JournalOptions jo{.dir = a.dir, .signingKey = key};
    auto writer = recorder::JournalWriter::open(jo);
    if (!writer) return complain(command, a.dir + ": after the cut: " + writer.error().message, kExitIntegrity);
    messages::Encoder encoder;
    auto m = encoder.start({.source = "console", .wallTimeNs = unixNanosNow()}).initJournalIncident();
    m.setKind(wire::JournalIncidentKind::OPERATOR_REPAIR);
    m.setSegment(r.segment);
    m.setOffset(r.offset);
    m.setIndex(r.index);
    m.setBytesDropped(r.bytesQuarantined);
    m.setDamage(std::string(recorder::toString(r.damage)));
    m.setDetail(r.message);
    m.setUser(a.user);
    m.setReason(a.reason);
    m.setQuarantine(r.quarantine.string());
    m.setRecordsKept(r.recordsKept);
    m.setCheckpointsRemoved(static_cast<std::uint32_t>(r.checkpointsRemoved));
    const auto incidentIndex = writer.value()->append(encoder.finish());
    auto committed = writer.value()->commit();
    if (!committed)
      return complain(command, a.dir + ": cannot journal the incident: " + committed.error().message, kExitInternal);
    if (auto cp = writer.value()->checkpoint(); !cp) {
      return complain(command, a.dir + ": cannot sign a checkpoint: " + cp.error().message, kExitInternal);
    }
    done.push_back({{"damage", std::string(recorder::toString(r.damage))},
                    {"segment", r.segment},
                    {"offset", r.offset},
                    {"first_record_removed", r.index},
                    {"records_kept", r.recordsKept},
                    {"bytes_quarantined", r.bytesQuarantined},
                    {"checkpoints_removed", r.checkpointsRemoved},
                    {"quarantine", r.quarantine.string()},
                    {"incident_record", incidentIndex},
                    {"message", r.message}});
  }
  auto after = recorder::verifyJournal(a.dir, options.value());
  if (a.json) {
    printJson(nlohmann::json{{"journal", a.dir}, {"repairs", done}, {"ok", after.ok}, {"records", after.records}});
  } else if (done.empty()) {
    std::cout << a.dir << ": nothing to repair (" << after.message << ")\n";
  } else {
    for (const auto& d : done) {
      std::cout << a.dir << ": " << d["damage"].get<std::string>() << " in " << d["segment"].get<std::string>()
                << " at offset " << d["offset"] << ": records from " << d["first_record_removed"] << " on and "
                << d["checkpoints_removed"] << " checkpoint(s) moved to " << d["quarantine"].get<std::string>()
                << "; incident journaled as record " << d["incident_record"] << "\n";
    }
  }
  if (!after.ok) return complain(command, a.dir + ": still damaged after repair: " + after.message, kExitIntegrity);
  return kExitOk;
}

int exportRecord(const JournalArgs& a) {
  const std::string command = "spotline journal export";
  if (!std::filesystem::is_directory(a.dir)) return complain(command, a.dir + ": not a directory", kExitBadInput);
  auto r = runtime::exportTreatmentRecord(a.dir, a.fraction, a.dicom, plan::builtInFacility());
  if (!r) {
    const int code = r.error().code == runtime::RecordError::NotFound ? kExitBadInput
                     : r.error().code == runtime::RecordError::Write  ? kExitInternal
                                                                      : kExitIntegrity;
    return complain(command, r.error().message, code);
  }
  const auto& s = r.value();
  if (a.json) {
    printJson(nlohmann::json{{"file", a.dicom},
                             {"fraction_id", a.fraction},
                             {"sop_instance_uid", s.sopInstanceUid},
                             {"termination_status", s.termination},
                             {"verification_status", s.verification},
                             {"beams", s.beams},
                             {"control_points", s.controlPoints},
                             {"spots", s.spots},
                             {"spot_records", s.spotRecords},
                             {"meterset_delivered", s.metersetDelivered},
                             {"overrides", s.overrides},
                             {"sessions", s.sessions},
                             {"holds", s.holds}});
  } else {
    std::cout << a.dicom << ": RT Ion Beams Treatment Record of " << a.fraction << ", " << s.beams << " beam(s), "
              << s.controlPoints << " control points, " << s.spots << " spots from " << s.spotRecords
              << " spot records; termination " << s.termination << ", " << s.verification << "\n";
  }
  return kExitOk;
}

int keygen(const JournalArgs& a) {
  auto key = recorder::generateSigningKey(a.signingKey);
  if (!key) return complain("spotline journal keygen", key.error().message, kExitBadInput);
  std::cout << "signing key " << a.signingKey << " (mode 600); public key " << a.signingKey << ".pub: ed25519 "
            << recorder::publicKeyHex(key.value().publicKey) << "\n";
  return kExitOk;
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
  verifyCmd->add_option("--public-key", args->publicKey,
                        "trust only the keys in this file (the facility's), not journal.pub beside the journal");
  verifyCmd->callback([&action, args] { action = [args] { return verify(*args); }; });
  auto* spotsCmd = journal->add_subcommand(
      "spots", "One CSV line per journaled spot record of a fraction (a spot a hold cut has two or more)");
  spotsCmd->add_option("DIR", args->dir, "journal directory (or --facility)");
  spotsCmd->add_option("--facility", args->facility, "ask the rv service of this running facility instead");
  spotsCmd->add_option("--page", args->page, "with --facility: lines per request to rv");
  spotsCmd->add_option("--kafka", args->kafka, "read the spotline.* Kafka topics at these brokers instead");
  spotsCmd->add_option("--topic-prefix", args->topicPrefix, "with --kafka: the bridge's topic prefix");
  spotsCmd->add_option("--fraction", args->fraction, "fraction id, e.g. F1-379f67221943")->required();
  spotsCmd->add_flag("--csv", args->csv, "CSV with a header line (the only format)");
  spotsCmd->callback([&action, args] { action = [args] { return spots(*args); }; });
  auto* repairCmd = journal->add_subcommand(
      "repair", "Quarantine everything from the first damage on, cut the journal back, journal the incident");
  repairCmd->add_option("DIR", args->dir, "journal directory (the rv service must be stopped)")->required();
  repairCmd->add_option("--user", args->user, "who repairs (journaled)")->required();
  repairCmd->add_option("--reason", args->reason, "why (journaled)")->required();
  repairCmd->add_option("--signing-key", args->signingKey, "sign a checkpoint after the incident record");
  repairCmd->add_option("--public-key", args->publicKey, "trust only the keys in this file");
  repairCmd->add_flag("--json", args->json, "machine-readable output");
  repairCmd->callback([&action, args] { action = [args] { return repair(*args); }; });
  auto* keygenCmd = journal->add_subcommand("keygen", "Create an Ed25519 key that signs journal checkpoints");
  keygenCmd->add_option("FILE", args->signingKey, "key file to create (mode 600); FILE.pub gets the public key")
      ->required();
  keygenCmd->callback([&action, args] { action = [args] { return keygen(*args); }; });
  auto* exportCmd = journal->add_subcommand(
      "export", "Write a fraction's DICOM RT Ion Beams Treatment Record from the journal alone");
  exportCmd->add_option("DIR", args->dir, "journal directory")->required();
  exportCmd->add_option("--fraction", args->fraction, "fraction id, e.g. F1-379f67221943")->required();
  exportCmd->add_option("--dicom", args->dicom, "output file (.dcm)")->required();
  exportCmd->add_flag("--json", args->json, "machine-readable summary");
  exportCmd->callback([&action, args] { action = [args] { return exportRecord(*args); }; });
  auto* fractionsCmd = journal->add_subcommand("fractions", "Every journaled fraction with its status and totals");
  fractionsCmd->add_option("DIR", args->dir, "journal directory (or --facility)");
  fractionsCmd->add_option("--facility", args->facility, "ask the rv service of this running facility instead");
  fractionsCmd->add_option("--kafka", args->kafka, "read the spotline.* Kafka topics at these brokers instead");
  fractionsCmd->add_option("--topic-prefix", args->topicPrefix, "with --kafka: the bridge's topic prefix");
  fractionsCmd->add_flag("--json", args->json, "machine-readable output");
  fractionsCmd->callback([&action, args] { action = [args] { return fractions(*args); }; });
}

}  // namespace spotline::console
