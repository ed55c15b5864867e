// Operator repair of a damaged journal: quarantine, then cut back to the last trustworthy record.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "checkpoint.h"
#include "file_io.h"
#include "format.h"
#include "scanner.h"
#include "spotline/recorder/journal.h"

namespace spotline::recorder {

namespace {

using detail::Status;
using detail::UniqueFd;

Failure<JournalError> io(const std::string& what, const std::filesystem::path& path, const std::string& why) {
  return fail(JournalError::Io, what + " " + path.string() + ": " + why);
}

std::string stamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

Status copyDurably(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, ec);
  if (ec) return io("cannot copy to quarantine", from, ec.message());
  UniqueFd fd(::open(to.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return io("cannot sync", to, detail::errnoText(errno));
  return detail::Done{};
}

// Where record `index` starts: its segment and offset (the end of the journal when index is the
// record count).
struct Place {
  std::uint64_t segmentNumber = 0;
  std::uint64_t offset = 0;
};
std::optional<Place> placeOf(const std::filesystem::path& dir, std::uint64_t index) {
  detail::JournalScanner scanner(dir, {.keepPayloads = false, .liveTail = false});
  while (scanner.next() == detail::JournalScanner::Outcome::Record) {
    if (scanner.recordIndex() == index) return Place{scanner.segmentNumber(), scanner.recordOffset()};
  }
  return std::nullopt;
}

}  // namespace

Result<RepairReport, JournalError> repairJournal(const std::filesystem::path& dir, const VerifyOptions& options) {
  // The same lock as a writer: no rv may be appending while the journal is cut.
  const auto lockPath = dir / "LOCK";
  UniqueFd lock(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.valid()) return io("cannot open lock file", lockPath, detail::errnoText(errno));
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return fail(JournalError::Locked, "journal " + dir.string() + " is in use (flock on " + lockPath.string() +
                                          "); stop the rv service before repairing");
  }

  RepairReport report;
  const VerifyReport verified = verifyJournal(dir, options);
  report.damage = verified.damage;
  report.segment = verified.segment;
  report.offset = verified.offset;
  report.index = verified.index;
  report.message = verified.message;
  if (verified.ok) {
    report.recordsKept = verified.records;
    return report;
  }
  if (verified.damage == Damage::Io) return fail(JournalError::Io, verified.message);

  // What to cut. Damage in a segment: everything from the damaged record on. A checkpoint that
  // the journal contradicts (another chain head, wrong order): every record after the last good
  // checkpoint, since they are not the records that were signed. A checkpoint line that is
  // malformed, badly signed, or signs records the journal no longer holds: the records stay (their
  // chain is intact), the checkpoints from that line on go.
  std::optional<Place> cut;
  std::uint64_t keepCheckpointBytes = 0;
  const bool inCheckpoints = verified.segment == detail::kCheckpointsFile;
  auto file = detail::readCheckpoints(dir);
  if (!inCheckpoints) {
    auto number = detail::parseSegmentFileName(verified.segment);
    if (!number) return fail(JournalError::Corrupt, "cannot locate the damage: " + verified.message);
    cut = Place{*number, verified.offset};
    report.index = verified.records;
    // Keep exactly the lines whose checkpoint lies within the kept records.
    keepCheckpointBytes = 0;
    for (std::size_t i = 0; i < file.checkpoints.size() && file.checkpoints[i].records <= verified.records; ++i) {
      keepCheckpointBytes = i + 1 < file.checkpoints.size() ? file.checkpoints[i + 1].offset : file.goodBytes;
    }
  } else {
    keepCheckpointBytes = verified.offset;
    const bool contradicts = verified.damage == Damage::Checkpoint && verified.index <= verified.records &&
                             verified.index > 0 && file.exists;
    if (contradicts && verified.signedRecords < verified.records) {
      cut = placeOf(dir, verified.signedRecords);
      if (!cut) return fail(JournalError::Corrupt, "cannot locate record " + std::to_string(verified.signedRecords));
      report.index = verified.signedRecords;
    } else {
      report.index = verified.records;
    }
  }
  report.recordsKept = report.index;

  // Quarantine first: copies of everything that changes, synced, before anything is cut.
  report.quarantine = dir / "quarantine" / stamp();
  std::error_code ec;
  std::filesystem::create_directories(report.quarantine, ec);
  if (ec) return io("cannot create", report.quarantine, ec.message());
  auto segments = detail::listSegments(dir);
  if (!segments) return segments.error();
  std::vector<std::uint64_t> affected;
  if (cut) {
    for (auto n : segments.value()) {
      if (n >= cut->segmentNumber) affected.push_back(n);
    }
  }
  for (auto n : affected) {
    if (auto c = copyDurably(dir / detail::segmentFileName(n), report.quarantine / detail::segmentFileName(n)); !c) {
      return c.error();
    }
  }
  if (file.exists) {
    if (auto c = copyDurably(dir / detail::kCheckpointsFile, report.quarantine / detail::kCheckpointsFile); !c) {
      return c.error();
    }
  }
  if (auto s = detail::syncDirectory(report.quarantine); !s) return s.error();
  if (auto s = detail::syncDirectory(report.quarantine.parent_path()); !s) return s.error();

  // Cut the journal.
  for (auto n : affected) {
    const auto path = dir / detail::segmentFileName(n);
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return io("cannot stat", path, ec.message());
    if (n == cut->segmentNumber && cut->offset >= detail::kHeaderBytes) {
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(cut->offset)) != 0 || ::fsync(fd.get()) != 0) {
        return io("cannot cut", path, detail::errnoText(errno));
      }
      report.bytesQuarantined += size - cut->offset;
    } else {
      if (!std::filesystem::remove(path, ec) || ec) return io("cannot remove", path, ec.message());
      report.bytesQuarantined += size;
    }
  }
  // Keep the checkpoints that still hold; rewrite the file by a synced rename.
  if (file.exists || inCheckpoints) {
    std::string kept;
    if (file.exists) {
      std::ifstream in(dir / detail::kCheckpointsFile, std::ios::binary);
      kept.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      kept.resize(std::min<std::size_t>(kept.size(), keepCheckpointBytes));
    }
    for (const auto& cp : file.checkpoints) report.checkpointsRemoved += cp.offset >= kept.size() ? 1 : 0;
    const auto tmp = dir / "CHECKPOINTS.repair";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return io("cannot create", tmp, detail::errnoText(errno));
    const std::span<const std::byte> parts[] = {std::as_bytes(std::span(kept))};
    if (auto w = detail::writeFully(fd.get(), 0, parts, tmp); !w) return w.error();
    if (auto s = detail::syncData(fd.get(), tmp); !s) return s.error();
    std::filesystem::rename(tmp, dir / detail::kCheckpointsFile, ec);
    if (ec) return io("cannot replace", dir / detail::kCheckpointsFile, ec.message());
  }
  if (auto s = detail::syncDirectory(dir); !s) return s.error();
  report.repaired = true;
  return report;
}

}  // namespace spotline::recorder
