#pragma once
// Signed checkpoints: the file dir/CHECKPOINTS, one line per checkpoint, each an Ed25519 signature
// (libsodium) over the journal id, a record count, the chain head after that many records and the
// time. And the check that a journal matches them, shared by verifyJournal() and the writer's
// recovery. Internal to the recorder library; the format is in recorder/README.md.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "format.h"
#include "scanner.h"
#include "spotline/recorder/journal.h"

namespace spotline::recorder::detail {

inline constexpr const char* kCheckpointsFile = "CHECKPOINTS";
inline constexpr const char* kPublicKeysFile = "journal.pub";

using PublicKey = std::array<std::byte, 32>;
using Signature = std::array<std::byte, 64>;

struct Checkpoint {
  std::uint64_t records = 0;  // the checkpoint covers records [0, records)
  Hash chain{};               // chain hash after record records-1
  std::int64_t unixNs = 0;
  PublicKey key{};
  Signature signature{};
  std::uint64_t offset = 0;  // byte offset of its line in CHECKPOINTS
  std::uint64_t line = 0;    // 1-based
};

// One line, newline included.
std::string encodeCheckpoint(const JournalId& id, std::uint64_t records, const Hash& chain, std::int64_t unixNs,
                             const SigningKey& key);
bool signatureValid(const Checkpoint& cp, const JournalId& id);

struct CheckpointFile {
  std::vector<Checkpoint> checkpoints;
  bool exists = false;
  // A last line without its newline: a crash while appending it (the writer cuts it on open).
  bool tornLastLine = false;
  std::uint64_t goodBytes = 0;       // bytes up to the end of the last complete, well-formed line
  std::optional<ScanDamage> damage;  // a malformed complete line
};
CheckpointFile readCheckpoints(const std::filesystem::path& dir);

// Feeds the journal's progress, record by record, against the checkpoints. Damage is reported
// with segment "CHECKPOINTS", the line's byte offset and the checkpoint's record count as index.
class CheckpointCheck {
 public:
  CheckpointCheck(std::vector<Checkpoint> checkpoints, std::vector<PublicKey> trusted);

  // After each intact record: `records` = records so far, `chain` = chain hash after them.
  std::optional<ScanDamage> onRecords(std::uint64_t records, const Hash& chain, const JournalId& id);
  // At the end of the journal.
  std::optional<ScanDamage> atEnd(std::uint64_t records) const;

  std::uint64_t verified() const { return verified_; }
  std::uint64_t signedRecords() const { return signedRecords_; }
  const std::optional<PublicKey>& lastKey() const { return lastKey_; }

 private:
  std::vector<Checkpoint> checkpoints_;
  std::vector<PublicKey> trusted_;
  std::size_t next_ = 0;
  std::uint64_t verified_ = 0;
  std::uint64_t signedRecords_ = 0;
  std::optional<PublicKey> lastKey_;
};

}  // namespace spotline::recorder::detail
