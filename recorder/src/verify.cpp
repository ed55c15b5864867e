#include <system_error>

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
  }
  return "unknown";
}

VerifyReport verifyJournal(const std::filesystem::path& dir) {
  VerifyReport report;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    report.damage = Damage::Io;
    report.message = "journal directory " + dir.string() + " does not exist" + (ec ? ": " + ec.message() : "");
    return report;
  }
  detail::JournalScanner scanner(dir, {.keepPayloads = false, .liveTail = false});
  auto outcome = scanner.next();
  while (outcome == detail::JournalScanner::Outcome::Record) outcome = scanner.next();

  report.records = scanner.nextIndex();
  report.segments = scanner.segmentsChecked();
  report.bytes = scanner.bytesChecked();
  if (scanner.haveJournalId()) report.lastHash = detail::hashHex(scanner.chainHash());
  if (outcome == detail::JournalScanner::Outcome::End) {
    report.ok = true;
    report.message =
        std::to_string(report.records) + " records in " + std::to_string(report.segments) + " segments verified";
    return report;
  }
  const auto& damage = scanner.damage();
  report.damage = damage.kind;
  report.segment = damage.segment;
  report.offset = damage.offset;
  report.index = damage.index;
  report.message = detail::describe(dir, damage);
  return report;
}

}  // namespace spotline::recorder
