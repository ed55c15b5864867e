#pragma once
// The on-disk format of journal segments (see recorder/README.md for the byte layout) and the
// checksum and hash primitives it is built from. Internal to the recorder library.

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "spotline/core/result.h"
#include "spotline/recorder/journal.h"

namespace spotline::recorder::detail {

inline constexpr std::array<char, 8> kMagic{'S', 'P', 'O', 'T', 'J', 'R', 'N', 'L'};
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::size_t kHashBytes = 32;
inline constexpr std::size_t kJournalIdBytes = 16;
inline constexpr std::size_t kHeaderBytes = 84;
inline constexpr std::size_t kHeaderCrcOffset = kHeaderBytes - 4;
inline constexpr std::size_t kRecordPrefixBytes = 12;  // u32 payload length, u64 index
inline constexpr std::size_t kRecordSuffixBytes = 36;  // chain hash, u32 CRC32C
inline constexpr std::size_t kRecordOverheadBytes = kRecordPrefixBytes + kRecordSuffixBytes;
inline constexpr std::uint64_t kMaxPayloadBytes = 0xFFFF'FFFFu;

using Hash = std::array<std::byte, kHashBytes>;
using JournalId = std::array<std::byte, kJournalIdBytes>;

void putU32(std::byte* out, std::uint32_t value);
void putU64(std::byte* out, std::uint64_t value);
std::uint32_t getU32(const std::byte* in);
std::uint64_t getU64(const std::byte* in);

// CRC32C (Castagnoli), reflected, init and final xor 0xFFFFFFFF: the iSCSI/ext4 variant. Uses the
// SSE4.2 crc32 instruction where the CPU has it (about ten times a byte table), else a byte table.
class Crc32c {
 public:
  void update(std::span<const std::byte> bytes);
  std::uint32_t value() const { return ~state_; }

 private:
  std::uint32_t state_ = 0xFFFFFFFFu;
};

std::uint32_t crc32c(std::span<const std::byte> bytes);

// Incremental SHA-256 over OpenSSL's EVP interface. The digest is fetched once per object because
// OpenSSL 3 would otherwise look it up again on every record. Owned by one thread.
// Throws std::runtime_error if OpenSSL cannot allocate: that is logistics, not a journal outcome.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void reset();
  void update(std::span<const std::byte> bytes);
  Hash finish();

 private:
  EVP_MD* md_ = nullptr;
  EVP_MD_CTX* ctx_ = nullptr;
};

// The chain starts from SHA-256(journal id), so two journals never share a chain.
Hash chainStart(const JournalId& id);

struct SegmentHeader {
  std::uint64_t segmentNumber = 0;
  std::uint64_t firstIndex = 0;
  JournalId journalId{};
  Hash chainIn{};
};

std::array<std::byte, kHeaderBytes> encodeHeader(const SegmentHeader& header);
// Checks magic, version, header size and CRC; the failure says which (Damage::BadHeader).
Result<SegmentHeader, Damage> decodeHeader(std::span<const std::byte, kHeaderBytes> bytes);

// Appends one encoded record; `hash` is its chain hash, already computed by the caller.
void encodeRecord(std::vector<std::byte>& out, std::uint64_t index, std::span<const std::byte> payload,
                  const Hash& hash);

std::string segmentFileName(std::uint64_t number);
// Only the canonical spelling counts, so one number can never name two files.
std::optional<std::uint64_t> parseSegmentFileName(std::string_view name);
// Segment numbers present in `dir`, ascending; other files are ignored.
Result<std::vector<std::uint64_t>, JournalError> listSegments(const std::filesystem::path& dir);

std::string hashHex(const Hash& hash);

}  // namespace spotline::recorder::detail
