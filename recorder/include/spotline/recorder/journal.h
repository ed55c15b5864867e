#pragma once
// The record-and-verify journal: an append-only, durable, tamper-evident log of opaque payloads.
// Records are length-prefixed, CRC32C-checksummed and SHA-256 hash-chained, spread over numbered
// segment files in one directory. The byte format is documented in recorder/README.md.
//
// The journal knows nothing about what it stores; the rv service decides what a payload is.

#include <array>
#include <chrono>
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

// An Ed25519 key that signs checkpoints: the facility's key, kept outside the journal. The public
// half is written beside the journal (journal.pub) so that verify can check signatures offline.
struct SigningKey {
  std::array<std::byte, 32> seed{};       // secret
  std::array<std::byte, 32> publicKey{};  // derived from the seed
};

// Reads a key file written by generateSigningKey(). Refuses (BadArgument, naming the file) a file
// that is not one, and one that others than its owner may read (mode & 077, as ssh does).
Result<SigningKey, JournalError> loadSigningKey(const std::filesystem::path& file);
// Draws a new key and writes it to `file` (mode 0600, refusing to overwrite) and its public half
// to `file` + ".pub".
Result<SigningKey, JournalError> generateSigningKey(const std::filesystem::path& file);
// Public keys in a journal.pub-style file: one "ed25519 <64 hex digits>" per line.
Result<std::vector<std::array<std::byte, 32>>, JournalError> loadPublicKeys(const std::filesystem::path& file);
std::string publicKeyHex(const std::array<std::byte, 32>& key);

struct JournalOptions {
  std::filesystem::path dir;
  // With a key: after a commit, sign a checkpoint (record count, chain head, time) into
  // dir/CHECKPOINTS when this many records or this much time have passed since the last one.
  std::optional<SigningKey> signingKey;
  std::uint64_t checkpointRecords = 100'000;
  std::chrono::steady_clock::duration checkpointInterval = std::chrono::seconds(10);
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
  // CHECKPOINTS ended in a line cut by a crash; it was removed (bytes dropped).
  bool truncatedCheckpoint = false;
  std::uint64_t checkpointBytesDropped = 0;
  std::uint64_t checkpoints = 0;  // checkpoints found and checked against the journal
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

  // Signs a checkpoint of the durable state now (when there is anything new since the last one).
  // Without a signing key it does nothing. rv calls it on a clean stop.
  virtual Result<std::uint64_t, JournalError> checkpoint() = 0;
  // Records covered by the last checkpoint written or found on open.
  virtual std::uint64_t checkpointedRecords() const = 0;

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
  // The chain hash after this record: it identifies the journal up to and including the record
  // (another journal, or one cut back and written again, has another one at the same index).
  std::array<std::byte, 32> chainHash{};
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
  // The same into `record`, whose payload buffer is reused (no allocation per record once it is
  // large enough): true for a record, false at the end.
  virtual Result<bool, JournalError> next(JournalRecord& record) = 0;
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
  Signature,       // a checkpoint's signature does not verify, or its key is not trusted
  Checkpoint,      // the journal does not match a checkpoint: another chain head there, ends
                   // before it, or checkpoints missing or out of order
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
  std::string lastHash;               // hex chain hash after the last intact record
  std::uint64_t checkpoints = 0;      // checkpoints whose signature and chain head checked out
  std::uint64_t signedRecords = 0;    // records covered by the last good checkpoint
  std::uint64_t unsignedRecords = 0;  // records after it: a clean cut there is not detectable
  std::string checkpointKey;          // hex public key of the last good checkpoint
};

struct VerifyOptions {
  // Trust only these keys. Empty: trust the keys in dir/journal.pub (which someone able to rewrite
  // the journal could also replace: give the facility's key for an audit).
  std::vector<std::array<std::byte, 32>> trustedKeys;
  // Fail when no checkpoint covers the journal (also implied by trustedKeys, and by a journal.pub
  // beside a journal that has records).
  bool requireCheckpoint = false;
};

// Checks a quiescent journal end to end and reports the first damage. Intended for
// `spotline journal verify`; run against a live writer it may see an in-flight tail as Truncated.
// Records after the last signed checkpoint can be cut off cleanly without verify seeing it; the
// report says how many there are.
VerifyReport verifyJournal(const std::filesystem::path& dir, const VerifyOptions& options = {});

// Operator repair of a journal that open() refuses. Everything from the first damaged record on
// (the rest of its segment, every later segment, and the checkpoints beyond the cut) is copied into
// dir/quarantine/<stamp>/ before the journal is cut back to its last intact record; nothing is
// deleted without a copy. The caller then journals the incident (the rv service's message) with
// an ordinary writer, which signs a new checkpoint.
struct RepairReport {
  bool repaired = false;  // false: the journal was intact (or only a torn tail, which open() repairs)
  Damage damage = Damage::None;
  std::string segment;
  std::uint64_t offset = 0;
  std::uint64_t index = 0;        // first record index removed from the journal
  std::uint64_t recordsKept = 0;  // records in the journal after the cut
  std::uint64_t bytesQuarantined = 0;
  std::uint64_t checkpointsRemoved = 0;
  std::filesystem::path quarantine;  // where the copies went
  std::string message;               // verify's description of the damage
};
Result<RepairReport, JournalError> repairJournal(const std::filesystem::path& dir, const VerifyOptions& options = {});

}  // namespace spotline::recorder
