#include "scanner.h"

#include <algorithm>
#include <cerrno>

#include "spotline/core/hex.h"

namespace spotline::recorder::detail {

std::string describe(const std::filesystem::path& dir, const ScanDamage& damage) {
  return (dir / damage.segment).string() + " at byte offset " + std::to_string(damage.offset) + " (record index " +
         std::to_string(damage.index) + "): " + std::string(toString(damage.kind)) + ": " + damage.detail;
}

JournalScanner::JournalScanner(std::filesystem::path dir, Options options)
    : dir_(std::move(dir)), options_(options), scratch_(std::size_t{64} << 10) {}

JournalScanner::Outcome JournalScanner::damaged(Damage kind, std::uint64_t offset, std::string detail) {
  damage_.kind = kind;
  damage_.segmentNumber = fileNumber_;
  damage_.segment = segmentFileName(fileNumber_);
  damage_.offset = offset;
  damage_.index = nextIndex_;
  damage_.detail = std::move(detail);
  state_ = State::Failed;
  return Outcome::Damaged;
}

JournalScanner::Outcome JournalScanner::ioDamaged(std::uint64_t offset, const std::string& what, int err) {
  return damaged(Damage::Io, offset, what + ": " + errnoText(err));
}

std::optional<std::uint64_t> JournalScanner::segmentAfter(std::uint64_t number) {
  auto numbers = listSegments(dir_);
  if (!numbers) return std::nullopt;
  auto it = std::upper_bound(numbers.value().begin(), numbers.value().end(), number);
  if (it == numbers.value().end()) return std::nullopt;
  return *it;
}

JournalScanner::Outcome JournalScanner::truncated(std::uint64_t offset, std::string detail) {
  // A live writer publishes a header or record by extending the file; until the write is complete
  // the reader sees a prefix of it. Only the very end of the last segment can be in flight.
  if (options_.liveTail && isLastSegment(fileNumber_)) return Outcome::End;
  return damaged(Damage::Truncated, offset, std::move(detail));
}

JournalScanner::Outcome JournalScanner::next() {
  for (;;) {
    switch (state_) {
      case State::Failed: return Outcome::Damaged;

      case State::OpenNext: {
        // Only the first segment is opened from here; later ones are found at the end of the
        // previous one.
        fileNumber_ = 1;
        if (int err = file_.open(dir_ / segmentFileName(1)); err != 0) {
          if (err != ENOENT) return ioDamaged(0, "cannot open", err);
          auto first = segmentAfter(0);
          if (!first) return damaged(Damage::MissingSegment, 0, "no segment files in " + dir_.string());
          return damaged(Damage::MissingSegment, 0,
                         "the first segment is missing; the directory starts at " + segmentFileName(*first));
        }
        state_ = State::ReadHeader;
        break;
      }

      case State::ReadHeader:
        if (auto stop = readHeader()) return *stop;
        break;

      case State::ReadRecords: {
        if (offset_ < fileSize_) return readRecord();
        if (options_.liveTail) {
          auto size = file_.size();
          if (!size) return ioDamaged(offset_, "cannot stat", size.error().code);
          fileSize_ = size.value();
          if (offset_ < fileSize_) break;
        }
        const std::uint64_t following = fileNumber_ + 1;
        std::error_code ec;
        const bool exists = std::filesystem::exists(dir_ / segmentFileName(following), ec);
        if (ec)
          return damaged(Damage::Io, offset_, "cannot look for " + segmentFileName(following) + ": " + ec.message());
        if (!exists) {
          if (auto later = segmentAfter(following)) {
            const std::uint64_t previous = fileNumber_;
            fileNumber_ = following;
            return damaged(
                Damage::MissingSegment, 0,
                "segment missing: " + segmentFileName(previous) + " is followed by " + segmentFileName(*later));
          }
          return Outcome::End;
        }
        if (options_.liveTail) {
          // A writer finishes a segment before it creates the next one, so the size seen now is
          // final; it may still hold records added since the last look.
          auto size = file_.size();
          if (!size) return ioDamaged(offset_, "cannot stat", size.error().code);
          fileSize_ = size.value();
          if (offset_ < fileSize_) break;
        }
        fileNumber_ = following;
        if (int err = file_.open(dir_ / segmentFileName(following)); err != 0) {
          return ioDamaged(0, "cannot open", err);
        }
        state_ = State::ReadHeader;
        break;
      }
    }
  }
}

std::optional<JournalScanner::Outcome> JournalScanner::readHeader() {
  auto size = file_.size();
  if (!size) return ioDamaged(0, "cannot stat", size.error().code);
  fileSize_ = size.value();
  if (fileSize_ < kHeaderBytes) {
    return truncated(0, "segment is " + std::to_string(fileSize_) + " bytes long, shorter than its " +
                            std::to_string(kHeaderBytes) + "-byte header");
  }
  std::array<std::byte, kHeaderBytes> bytes{};
  auto got = file_.readAt(0, bytes);
  if (!got) return ioDamaged(0, "cannot read", got.error().code);
  if (got.value() < bytes.size()) return truncated(0, "segment ends inside its header");

  auto decoded = decodeHeader(bytes);
  if (!decoded) return damaged(decoded.error().code, 0, decoded.error().message);
  const SegmentHeader& header = decoded.value();

  if (!haveJournalId_) {
    haveJournalId_ = true;
    journalId_ = header.journalId;
    chain_ = chainStart(journalId_);
  } else if (header.journalId != journalId_) {
    return damaged(Damage::ForeignSegment, 0,
                   "journal id " + toHex(std::span<const std::byte>(header.journalId)) + " differs from " +
                       toHex(std::span<const std::byte>(journalId_)) + " of " + segmentFileName(1));
  }
  if (header.segmentNumber != fileNumber_) {
    return damaged(Damage::BadHeader, 0,
                   "header names segment " + std::to_string(header.segmentNumber) + " but the file is " +
                       segmentFileName(fileNumber_));
  }
  if (header.firstIndex != nextIndex_) {
    return damaged(Damage::Sequence, 0,
                   "segment starts at record index " + std::to_string(header.firstIndex) + ", expected " +
                       std::to_string(nextIndex_));
  }
  if (header.chainIn != chain_) {
    return damaged(Damage::Chain, 0,
                   "carried-in chain hash " + hashHex(header.chainIn) + " does not match " + hashHex(chain_) +
                       (nextIndex_ == 0 ? std::string(", the hash of the journal id")
                                        : ", the hash after record " + std::to_string(nextIndex_ - 1)));
  }
  segmentNumber_ = fileNumber_;
  segmentFirstIndex_ = header.firstIndex;
  offset_ = kHeaderBytes;
  ++segmentsChecked_;
  bytesChecked_ += kHeaderBytes;
  state_ = State::ReadRecords;
  return std::nullopt;
}

JournalScanner::Outcome JournalScanner::readRecord() {
  const std::uint64_t start = offset_;
  std::uint64_t remaining = fileSize_ - start;
  // The size was taken when the segment was opened; a live writer may have added to it since.
  auto fits = [&](std::uint64_t needed) {
    if (remaining >= needed) return true;
    if (!options_.liveTail) return false;
    if (auto size = file_.size()) fileSize_ = size.value();
    remaining = fileSize_ - start;
    return remaining >= needed;
  };
  if (!fits(kRecordOverheadBytes)) {
    return truncated(start, "only " + std::to_string(remaining) + " bytes follow the last record, less than the " +
                                std::to_string(kRecordOverheadBytes) + " of an empty record");
  }
  std::array<std::byte, kRecordPrefixBytes> prefix{};
  auto got = file_.readAt(start, prefix);
  if (!got) return ioDamaged(start, "cannot read", got.error().code);
  if (got.value() < prefix.size()) return truncated(start, "the file ends inside a record header");
  const std::uint64_t length = getU32(prefix.data());
  const std::uint64_t index = getU64(prefix.data() + 4);
  if (!fits(kRecordOverheadBytes + length)) {
    return truncated(start, "record length " + std::to_string(length) + " runs past the end of the file (" +
                                std::to_string(remaining) + " bytes remain)");
  }

  Crc32c crc;
  crc.update(prefix);
  sha_.reset();
  sha_.update(chain_);
  sha_.update(std::span(prefix).subspan(4, 8));

  std::uint64_t position = start + kRecordPrefixBytes;
  auto consume = [&](std::span<std::byte> chunk) -> bool {
    auto read = file_.readAt(position, chunk);
    if (!read || read.value() < chunk.size()) return false;
    crc.update(chunk);
    sha_.update(chunk);
    position += chunk.size();
    return true;
  };
  bool complete = true;
  if (options_.keepPayloads) {
    payload_.resize(static_cast<std::size_t>(length));
    complete = consume(payload_);
  } else {
    for (std::uint64_t left = length; complete && left > 0;) {
      auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, scratch_.size()));
      complete = consume(std::span(scratch_).first(n));
      left -= n;
    }
  }
  if (!complete) return damaged(Damage::Io, start, "short read inside a record the file size says is complete");

  std::array<std::byte, kRecordSuffixBytes> suffix{};
  got = file_.readAt(position, suffix);
  if (!got) return ioDamaged(start, "cannot read", got.error().code);
  if (got.value() < suffix.size()) return damaged(Damage::Io, start, "short read of a record's hash and CRC");
  crc.update(std::span(suffix).first(kHashBytes));

  const std::uint32_t storedCrc = getU32(suffix.data() + kHashBytes);
  if (storedCrc != crc.value()) {
    return damaged(Damage::Checksum, start,
                   "record CRC32C mismatch (stored " + std::to_string(storedCrc) + ", computed " +
                       std::to_string(crc.value()) + ")");
  }
  if (index != nextIndex_) {
    return damaged(Damage::Sequence, start,
                   "record carries index " + std::to_string(index) + ", expected " + std::to_string(nextIndex_));
  }
  const Hash computed = sha_.finish();
  if (!std::equal(computed.begin(), computed.end(), suffix.begin())) {
    return damaged(Damage::Chain, start,
                   "chain hash does not follow from the previous record (stored " +
                       toHex(std::span<const std::byte>(suffix).first(kHashBytes)) + ", computed " + hashHex(computed) +
                       ")");
  }
  chain_ = computed;
  recordOffset_ = start;
  offset_ = start + kRecordOverheadBytes + length;
  bytesChecked_ += kRecordOverheadBytes + length;
  ++nextIndex_;
  return Outcome::Record;
}

}  // namespace spotline::recorder::detail
