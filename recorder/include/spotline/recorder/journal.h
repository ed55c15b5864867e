#pragma once
// The record-and-verify journal: an append-only, durable, tamper-evident log of opaque payloads.
// Records are length-prefixed, CRC32C-checksummed and SHA-256 hash-chained, spread over numbered
// segment files in one directory. The byte format is documented in recorder/README.md.
//
// The journal knows nothing about what it stores; the rv service decides what a payload is.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "spotline/core/result.h"

namespace spotline::recorder {

enum class JournalError {
  Io,           // the operating system refused a read, write, sync or open
  Corrupt,      // the journal on disk is damaged somewhere other than a recoverable torn tail
  Locked,       // another writer holds the journal's LOCK file
  BadArgument,  // the options make no sense (empty directory, segment too small)
};

std::string_view toString(JournalError error);

struct JournalOptions {
  std::filesystem::path dir;
  // A new segment starts when the current one would grow past this; a record larger than a whole
  // segment still goes into a segment of its own.
  std::size_t segmentBytes = std::size_t{64} << 20;
  // fdatasync on every commit (and fsync of the directory when a segment is created). Only tests
  // and benchmarks of the non-durable path turn this off.
  bool sync = true;
};

// What open() found and repaired. A torn tail is the last, incompletely written group of a writer
// that crashed before its commit returned; those records were never reported durable.
struct RecoveryReport {
  bool truncatedTail = false;
  std::string segment;       // file name of the segment that was cut (or removed)
  std::uint64_t offset = 0;  // where it was cut: the end of its last intact record
  std::uint64_t bytesDropped = 0;
  std::uint64_t records = 0;  // intact records in the journal after recovery
};

// Appends records to the journal in a directory it owns exclusively (an flock on dir/LOCK).
// Lifecycle: open() scans and, if needed, repairs the tail; then any number of append() and
// commit(); destruction closes the files and releases the lock without committing what is still
// buffered. Owned and used by one thread; not thread-safe.
// After a failed commit the writer refuses further commits: the state of the file and of the page
// cache is unknown, so the only safe way on is to destroy it and open() again, which recovers.
class JournalWriter {
 public:
  virtual ~JournalWriter() = default;

  static Result<std::unique_ptr<JournalWriter>, JournalError> open(const JournalOptions& options,
                                                                   RecoveryReport* report = nullptr);

  // Buffers one record in memory and returns its index (0-based, continuous over the whole
  // journal). Nothing reaches the disk until commit(). Throws std::length_error if the payload is
  // longer than 4 GiB - 1 (a bug in the caller, not an expected outcome).
  virtual std::uint64_t append(std::span<const std::byte> payload) = 0;

  // Writes every buffered record (one write per segment touched) and, with sync on, fdatasyncs
  // (group commit). Returns the number of durable records, i.e. the index of the next record.
  virtual Result<std::uint64_t, JournalError> commit() = 0;

  virtual std::uint64_t nextIndex() const = 0;
  virtual std::size_t pendingRecords() const = 0;
  virtual std::size_t pendingBytes() const = 0;  // encoded bytes waiting for commit()
  virtual std::uint64_t durableRecords() const = 0;
};

struct JournalRecord {
  std::uint64_t index = 0;
  std::vector<std::byte> payload;
  std::string segment;       // segment file name
  std::uint64_t offset = 0;  // byte offset of the record in that segment
};

// Reads the journal from the start, checking every header, checksum, index and chain link on the
// way. Memory stays flat however large the journal: only the current record is held.
// It takes no lock, so it may follow a live writer: an incomplete record at the very end of the
// last segment means "nothing more yet" (nullopt), and a later next() picks up what was added.
// Lifecycle: open(), next() until nullopt or an error; an error is sticky. One thread.
class JournalReader {
 public:
  virtual ~JournalReader() = default;

  static Result<std::unique_ptr<JournalReader>, JournalError> open(const std::filesystem::path& dir);

  // The next record, nullopt at the end, or Corrupt/Io with a message naming segment, offset and
  // record index.
  virtual Result<std::optional<JournalRecord>, JournalError> next() = 0;
};

enum class Damage {
  None,
  Checksum,        // a header or record CRC32C does not match
  Chain,           // a record's chain hash, or a segment's carried-in hash, does not follow
  Sequence,        // a record index or a segment's first index is not the expected one
  Truncated,       // the file ends inside a header or a record
  BadHeader,       // wrong magic, version, header size, header CRC, or segment number
  ForeignSegment,  // the segment carries another journal's id
  MissingSegment,  // a segment number is skipped, or there is no segment at all
  Io,              // a file could not be read
};

std::string_view toString(Damage damage);

struct VerifyReport {
  bool ok = false;
  std::uint64_t records = 0;   // intact records before the damage (all of them when ok)
  std::uint64_t segments = 0;  // segments checked
  std::uint64_t bytes = 0;     // bytes checked
  Damage damage = Damage::None;
  std::string segment;       // file name of the first damaged segment
  std::uint64_t offset = 0;  // byte offset of the first bad header or record in it
  std::uint64_t index = 0;   // the record index expected there
  std::string message;
  std::string lastHash;  // hex chain hash after the last intact record
};

// Checks a quiescent journal end to end and reports the first damage. Intended for
// `spotline journal verify`; run against a live writer it may see an in-flight tail as Truncated.
// Without signed checkpoints (a later issue) it cannot see records cut off cleanly at the end.
VerifyReport verifyJournal(const std::filesystem::path& dir);

}  // namespace spotline::recorder
