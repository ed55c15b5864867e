#pragma once
// Walks a journal directory segment by segment and record by record, checking everything the
// format promises: header magic/version/CRC, journal id, segment numbering, index continuity,
// record CRCs and the hash chain. Shared by the writer's recovery, the reader and verifyJournal().
// Internal to the recorder library.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "file_io.h"
#include "format.h"
#include "spotline/recorder/journal.h"

namespace spotline::recorder::detail {

struct ScanDamage {
  Damage kind = Damage::None;
  std::uint64_t segmentNumber = 0;
  std::string segment;  // file name
  std::uint64_t offset = 0;
  std::uint64_t index = 0;  // the record index expected at `offset`
  std::string detail;
};

// Text naming where the damage is: path, offset, index, kind and what was seen.
std::string describe(const std::filesystem::path& dir, const ScanDamage& damage);

// Lifecycle: construct on a directory, call next() until End or Damaged. Damaged is sticky.
// Owned by one thread. Memory is one read buffer plus, with keepPayloads, the current payload.
class JournalScanner {
 public:
  enum class Outcome { Record, End, Damaged };

  struct Options {
    // Hand out each payload via payload(); otherwise payloads are only hashed, in chunks.
    bool keepPayloads = false;
    // Follow a live writer: an incomplete header or record at the very end of the last segment is
    // "End for now" and is retried by the next call, instead of Damage::Truncated.
    bool liveTail = false;
  };

  JournalScanner(std::filesystem::path dir, Options options);

  Outcome next();

  const ScanDamage& damage() const { return damage_; }

  // The last record returned by next().
  std::uint64_t recordIndex() const { return nextIndex_ - 1; }
  std::uint64_t recordOffset() const { return recordOffset_; }
  std::vector<std::byte>& payload() { return payload_; }

  // State after the last intact header or record.
  std::uint64_t nextIndex() const { return nextIndex_; }
  const Hash& chainHash() const { return chain_; }
  bool haveJournalId() const { return haveJournalId_; }
  const JournalId& journalId() const { return journalId_; }
  // The last segment whose header checked out (0 when none): its number, first index and the end
  // of its last intact record.
  std::uint64_t segmentNumber() const { return segmentNumber_; }
  std::uint64_t segmentFirstIndex() const { return segmentFirstIndex_; }
  std::uint64_t segmentEnd() const { return offset_; }
  std::uint64_t segmentsChecked() const { return segmentsChecked_; }
  std::uint64_t bytesChecked() const { return bytesChecked_; }

 private:
  enum class State { OpenNext, ReadHeader, ReadRecords, Failed };

  // nullopt when the header checked out and scanning carries on into the records.
  std::optional<Outcome> readHeader();
  Outcome readRecord();
  // The lowest segment number in the directory above `number`; nullopt when there is none (or
  // the directory cannot be listed, which the next open reports).
  std::optional<std::uint64_t> segmentAfter(std::uint64_t number);
  bool isLastSegment(std::uint64_t number) { return !segmentAfter(number); }
  Outcome damaged(Damage kind, std::uint64_t offset, std::string detail);
  Outcome ioDamaged(std::uint64_t offset, const std::string& what, int err);
  // A truncation where a live writer may simply not have finished yet.
  Outcome truncated(std::uint64_t offset, std::string detail);

  std::filesystem::path dir_;
  Options options_;
  State state_ = State::OpenNext;
  ScanDamage damage_;

  BufferedFile file_;
  std::uint64_t fileNumber_ = 0;  // the segment file currently open
  std::uint64_t fileSize_ = 0;

  bool haveJournalId_ = false;
  JournalId journalId_{};
  Hash chain_{};
  std::uint64_t nextIndex_ = 0;
  std::uint64_t segmentNumber_ = 0;
  std::uint64_t segmentFirstIndex_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t recordOffset_ = 0;
  std::uint64_t segmentsChecked_ = 0;
  std::uint64_t bytesChecked_ = 0;

  Sha256 sha_;
  std::vector<std::byte> payload_;
  std::vector<std::byte> scratch_;
};

}  // namespace spotline::recorder::detail
