#include <system_error>

#include "checkpoint.h"
#include "format.h"
#include "scanner.h"
#include "spotline/recorder/journal.h"

namespace spotline::recorder {

std::string_view toString(Damage damage) {
  switch (damage) {
    case Damage::None: return "none";
    case Damage::Checksum: return "checksum";
    case Damage::Chain: return "chain";
    case Damage::Sequence: return "sequence";
    case Damage::Truncated: return "truncated";
    case Damage::BadHeader: return "bad header";
    case Damage::ForeignSegment: return "foreign segment";
    case Damage::MissingSegment: return "missing segment";
    case Damage::Io: return "io";
    case Damage::Signature: return "signature";
    case Damage::Checkpoint: return "checkpoint";
  }
  return "unknown";
}

namespace {
Result<std::vector<detail::PublicKey>, JournalError> trustedKeys(const std::filesystem::path& dir,
                                                                 const VerifyOptions& options) {
  if (!options.trustedKeys.empty()) return options.trustedKeys;
  const auto pub = dir / detail::kPublicKeysFile;
  std::error_code ec;
  if (!std::filesystem::exists(pub, ec)) return std::vector<detail::PublicKey>{};
  auto keys = loadPublicKeys(pub);
  if (!keys) return keys.error();
  return keys.value();
}
}  // namespace

VerifyReport verifyJournal(const std::filesystem::path& dir, const VerifyOptions& options) {
  VerifyReport report;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    report.damage = Damage::Io;
    report.message = "journal directory " + dir.string() + " does not exist" + (ec ? ": " + ec.message() : "");
    return report;
  }
  auto keys = trustedKeys(dir, options);
  if (!keys) {
    report.damage = Damage::Signature;
    report.segment = detail::kPublicKeysFile;
    report.message = keys.error().message;
    return report;
  }
  auto file = detail::readCheckpoints(dir);
  const bool pubBeside = std::filesystem::exists(dir / detail::kPublicKeysFile, ec);
  detail::CheckpointCheck checks(file.checkpoints, keys.value());

  std::optional<detail::ScanDamage> damage;
  detail::JournalScanner scanner(dir, {.keepPayloads = false, .liveTail = false});
  auto outcome = scanner.next();
  while (outcome == detail::JournalScanner::Outcome::Record) {
    if (!damage) damage = checks.onRecords(scanner.nextIndex(), scanner.chainHash(), scanner.journalId());
    outcome = scanner.next();
  }
  report.records = scanner.nextIndex();
  report.segments = scanner.segmentsChecked();
  report.bytes = scanner.bytesChecked();
  if (scanner.haveJournalId()) report.lastHash = detail::hashHex(scanner.chainHash());
  report.checkpoints = checks.verified();
  report.signedRecords = checks.signedRecords();
  report.unsignedRecords = report.records - std::min(report.records, report.signedRecords);
  if (checks.lastKey()) report.checkpointKey = publicKeyHex(*checks.lastKey());

  // The first damage in the order a reader meets it: the journal's own before a checkpoint that
  // refers to records after it.
  if (outcome == detail::JournalScanner::Outcome::Damaged && (!damage || damage->index >= scanner.damage().index)) {
    damage = scanner.damage();
  }
  if (!damage) damage = checks.atEnd(report.records);
  if (!damage && file.damage) damage = file.damage;
  if (!damage && file.tornLastLine) {
    damage = detail::ScanDamage{
        Damage::Checkpoint,       0,
        detail::kCheckpointsFile, file.goodBytes,
        report.signedRecords,     "the last line is incomplete (a crash while writing it; the writer cuts it on open)"};
  }
  if (!damage && pubBeside && !file.exists && report.records > 0) {
    damage = detail::ScanDamage{Damage::Checkpoint,
                                0,
                                detail::kCheckpointsFile,
                                0,
                                0,
                                "journal.pub names a signing key but the CHECKPOINTS file is missing"};
  }
  const bool required = options.requireCheckpoint || !options.trustedKeys.empty();
  if (!damage && required && report.records > 0 && report.checkpoints == 0) {
    damage = detail::ScanDamage{Damage::Checkpoint,
                                0,
                                detail::kCheckpointsFile,
                                0,
                                0,
                                "no checkpoint signed by a trusted key covers the journal"};
  }
  if (!damage) {
    report.ok = true;
    report.message = std::to_string(report.records) + " records in " + std::to_string(report.segments) +
                     " segments verified; " + std::to_string(report.checkpoints) + " signed checkpoints cover " +
                     std::to_string(report.signedRecords) + " records";
    return report;
  }
  report.damage = damage->kind;
  report.segment = damage->segment;
  report.offset = damage->offset;
  report.index = damage->index;
  report.message = detail::describe(dir, *damage);
  return report;
}

}  // namespace spotline::recorder
