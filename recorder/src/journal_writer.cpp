#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include "checkpoint.h"
#include "file_io.h"
#include "format.h"
#include "scanner.h"
#include "spotline/recorder/journal.h"

namespace spotline::recorder {

std::string_view toString(JournalError error) {
  switch (error) {
    case JournalError::Io: return "io";
    case JournalError::Corrupt: return "corrupt";
    case JournalError::Locked: return "locked";
    case JournalError::BadArgument: return "bad argument";
  }
  return "unknown";
}

namespace {

using detail::Hash;
using detail::JournalId;
using detail::Status;
using detail::UniqueFd;

// Where appending continues after open(): the last segment and the end of its last intact record.
struct Tail {
  std::uint64_t segmentNumber = 0;
  std::uint64_t segmentEnd = 0;
  std::uint64_t segmentRecords = 0;
  std::uint64_t nextIndex = 0;
  Hash chain{};
  JournalId journalId{};
};

Failure<JournalError> ioFailure(const std::string& what, const std::filesystem::path& path, int err) {
  return fail(JournalError::Io, what + " " + path.string() + ": " + detail::errnoText(err));
}

// True when some complete record with a valid CRC starts at or after `from`, with an index no lower
// than `expectedIndex`. A torn write leaves only a prefix of records, none intact after the tear;
// finding one means the damage is not a torn tail (a flipped length byte, say) and cutting there
// would throw away records that were reported durable.
Result<bool, JournalError> intactRecordFollows(const std::filesystem::path& path, std::uint64_t from,
                                               std::uint64_t expectedIndex) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ioFailure("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ioFailure("cannot stat", path, errno);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < from + detail::kRecordOverheadBytes) return false;
  // Mapped rather than read: this runs once, on a damaged tail, and the page cache can drop clean
  // pages at will, so memory stays bounded whatever the segment size.
  void* map = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (map == MAP_FAILED) return ioFailure("cannot map", path, errno);
  const auto* bytes = static_cast<const std::byte*>(map);
  const std::uint64_t maxIndex = expectedIndex + (size - from) / detail::kRecordOverheadBytes + 1;
  bool found = false;
  for (std::uint64_t p = from; !found && p + detail::kRecordOverheadBytes <= size; ++p) {
    const std::uint64_t index = detail::getU64(bytes + p + 4);
    if (index < expectedIndex || index > maxIndex) continue;
    const std::uint64_t length = detail::getU32(bytes + p);
    if (length > size - p - detail::kRecordOverheadBytes) continue;
    const std::size_t covered = detail::kRecordPrefixBytes + static_cast<std::size_t>(length) + detail::kHashBytes;
    found = detail::crc32c(std::span(bytes + p, covered)) == detail::getU32(bytes + p + covered);
  }
  ::munmap(map, static_cast<std::size_t>(size));
  return found;
}

// A segment header that never fully reached the disk: the crash came while the segment was being
// created. Distinguished from a damaged header by the evidence a creation leaves: too short, all
// zeros, or a well-formed prefix whose CRC fails; and in every case no intact record after it.
Result<bool, JournalError> isTornHeader(const std::filesystem::path& path, std::uint64_t expectedIndex) {
  detail::BufferedFile file(detail::kHeaderBytes);
  if (int err = file.open(path); err != 0) return ioFailure("cannot open", path, err);
  auto size = file.size();
  if (!size) return ioFailure("cannot stat", path, size.error().code);
  if (size.value() < detail::kHeaderBytes) return true;
  std::array<std::byte, detail::kHeaderBytes> header{};
  auto got = file.readAt(0, header);
  if (!got || got.value() < header.size()) return ioFailure("cannot read", path, got ? EIO : got.error().code);
  const bool allZero = std::all_of(header.begin(), header.end(), [](std::byte b) { return b == std::byte{0}; });
  auto encodedAgain = detail::encodeHeader(detail::SegmentHeader{});
  const bool wellFormedPrefix =
      std::equal(header.begin(), header.begin() + 16, encodedAgain.begin()) &&  // magic, version, size
      detail::getU32(header.data() + detail::kHeaderCrcOffset) !=
          detail::crc32c(std::span(header).first(detail::kHeaderCrcOffset));
  if (!allZero && !wellFormedPrefix) return false;
  auto follows = intactRecordFollows(path, detail::kHeaderBytes, expectedIndex);
  if (!follows) return follows.error();
  return !follows.value();
}

Result<UniqueFd, JournalError> createSegment(const JournalOptions& options, const detail::SegmentHeader& header,
                                             std::span<const std::byte> records) {
  const auto path = options.dir / detail::segmentFileName(header.segmentNumber);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return ioFailure("cannot create segment", path, errno);
  const auto headerBytes = detail::encodeHeader(header);
  const std::span<const std::byte> parts[] = {headerBytes, records};
  if (auto written = detail::writeFully(fd.get(), 0, parts, path); !written) return written.error();
  if (options.sync) {
    if (auto synced = detail::syncData(fd.get(), path); !synced) return synced.error();
    // Without this the new name may vanish in a crash even though its data was synced.
    if (auto synced = detail::syncDirectory(options.dir); !synced) return synced.error();
  }
  return fd;
}

Result<Tail, JournalError> createJournal(const JournalOptions& options) {
  Tail tail;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(tail.journalId.data()), static_cast<int>(tail.journalId.size())) !=
      1) {
    return fail(JournalError::Io, "cannot draw a random journal id from OpenSSL");
  }
  tail.segmentNumber = 1;
  tail.segmentEnd = detail::kHeaderBytes;
  tail.chain = detail::chainStart(tail.journalId);
  auto fd = createSegment(options, detail::SegmentHeader{1, 0, tail.journalId, tail.chain}, {});
  if (!fd) return fd.error();
  return tail;
}

// Scans the whole journal; repairs a torn tail of the last segment; refuses anything else.
// Returns nullopt when the journal turned out to hold nothing at all and must be created afresh.
Result<std::optional<Tail>, JournalError> recover(const JournalOptions& options, RecoveryReport& report,
                                                  detail::CheckpointCheck& checks) {
  detail::JournalScanner scanner(options.dir, {.keepPayloads = false, .liveTail = false});
  auto outcome = scanner.next();
  while (outcome == detail::JournalScanner::Outcome::Record) {
    if (auto bad = checks.onRecords(scanner.nextIndex(), scanner.chainHash(), scanner.journalId())) {
      return fail(JournalError::Corrupt, "journal " + options.dir.string() +
                                             " does not match its signed checkpoints: " +
                                             detail::describe(options.dir, *bad) + "; run `spotline journal verify`");
    }
    outcome = scanner.next();
  }
  Tail tail;
  tail.chain = scanner.chainHash();
  tail.journalId = scanner.journalId();
  tail.nextIndex = scanner.nextIndex();
  if (outcome == detail::JournalScanner::Outcome::End) {
    tail.segmentNumber = scanner.segmentNumber();
    tail.segmentEnd = scanner.segmentEnd();
    tail.segmentRecords = scanner.nextIndex() - scanner.segmentFirstIndex();
    return std::optional<Tail>(tail);
  }

  const detail::ScanDamage& damage = scanner.damage();
  if (damage.kind == Damage::Io)
    return fail(JournalError::Io, "cannot read journal: " + detail::describe(options.dir, damage));
  auto refuse = [&] {
    return fail(JournalError::Corrupt, "journal " + options.dir.string() +
                                           " is damaged: " + detail::describe(options.dir, damage) +
                                           " (only a torn tail at the end of the last segment is repaired on open; run "
                                           "`spotline journal verify`, then `spotline journal repair`)");
  };
  auto numbers = detail::listSegments(options.dir);
  if (!numbers) return numbers.error();
  const bool inLastSegment = !numbers.value().empty() && numbers.value().back() == damage.segmentNumber;
  if (!inLastSegment) return refuse();
  const auto path = options.dir / damage.segment;

  if (damage.offset == 0 && (damage.kind == Damage::Truncated || damage.kind == Damage::BadHeader)) {
    auto torn = isTornHeader(path, scanner.nextIndex());
    if (!torn) return torn.error();
    if (!torn.value()) return refuse();
    std::error_code sizeError;
    const auto size = std::filesystem::file_size(path, sizeError);
    std::error_code ec;
    if (!std::filesystem::remove(path, ec) || ec) {
      return fail(JournalError::Io, "cannot remove torn segment " + path.string() + ": " + ec.message());
    }
    // Recovery syncs even with sync off: the repair must not be undone by a crash.
    if (auto synced = detail::syncDirectory(options.dir); !synced) return synced.error();
    report.truncatedTail = true;
    report.segment = damage.segment;
    report.offset = 0;
    report.bytesDropped = sizeError ? 0 : size;
    if (damage.segmentNumber == 1) return std::optional<Tail>();
    tail.segmentNumber = scanner.segmentNumber();
    tail.segmentEnd = scanner.segmentEnd();
    tail.segmentRecords = scanner.nextIndex() - scanner.segmentFirstIndex();
    return std::optional<Tail>(tail);
  }

  if (damage.offset >= detail::kHeaderBytes && (damage.kind == Damage::Truncated || damage.kind == Damage::Checksum)) {
    auto follows = intactRecordFollows(path, damage.offset + 1, scanner.nextIndex());
    if (!follows) return follows.error();
    if (follows.value()) return refuse();
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return ioFailure("cannot open", path, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return ioFailure("cannot stat", path, errno);
    if (::ftruncate(fd.get(), static_cast<off_t>(damage.offset)) != 0) return ioFailure("cannot truncate", path, errno);
    if (::fsync(fd.get()) != 0) return ioFailure("cannot fsync", path, errno);
    report.truncatedTail = true;
    report.segment = damage.segment;
    report.offset = damage.offset;
    report.bytesDropped = static_cast<std::uint64_t>(st.st_size) - damage.offset;
    tail.segmentNumber = damage.segmentNumber;
    tail.segmentEnd = damage.offset;
    tail.segmentRecords = scanner.nextIndex() - scanner.segmentFirstIndex();
    return std::optional<Tail>(tail);
  }
  return refuse();
}

// The file-backed writer. See JournalWriter for lifecycle and threading.
class FileJournalWriter final : public JournalWriter {
 public:
  FileJournalWriter(JournalOptions options, UniqueFd lock, UniqueFd segment, const Tail& tail,
                    std::uint64_t checkpointed)
      : options_(std::move(options)),
        checkpointed_(checkpointed),
        checkpointedAt_(std::chrono::steady_clock::now()),
        lock_(std::move(lock)),
        segment_(std::move(segment)),
        journalId_(tail.journalId),
        segmentNumber_(tail.segmentNumber),
        segmentEnd_(tail.segmentEnd),
        segmentRecords_(tail.segmentRecords),
        nextIndex_(tail.nextIndex),
        durable_(tail.nextIndex),
        chain_(tail.chain),
        durableChain_(tail.chain) {}

  std::uint64_t append(std::span<const std::byte> payload) override {
    if (payload.size() > detail::kMaxPayloadBytes) {
      throw std::length_error("journal payload of " + std::to_string(payload.size()) + " bytes exceeds 4 GiB - 1");
    }
    const std::uint64_t index = nextIndex_;
    std::array<std::byte, 8> indexBytes{};
    detail::putU64(indexBytes.data(), index);
    sha_.update(chain_);
    sha_.update(indexBytes);
    sha_.update(payload);
    chain_ = sha_.finish();
    detail::encodeRecord(pending_, index, payload, chain_);
    pendingEnds_.push_back(pending_.size());
    ++nextIndex_;
    return index;
  }

  Result<std::uint64_t, JournalError> commit() override {
    if (broken_) {
      return fail(JournalError::Io, "journal writer for " + options_.dir.string() +
                                        " stopped after an earlier failure (" + *broken_ +
                                        "); reopen the journal to recover");
    }
    const std::size_t count = pendingEnds_.size();
    std::size_t first = 0;
    while (first < count) {
      // Rotate when this record would overflow a segment that already holds records; a record
      // larger than a whole segment thus still gets one, alone.
      const bool rotate = segmentRecords_ > 0 && segmentEnd_ + recordBytes(first) > options_.segmentBytes;
      const std::uint64_t base = rotate ? detail::kHeaderBytes : segmentEnd_;
      std::size_t last = first + 1;
      std::uint64_t runBytes = recordBytes(first);
      while (last < count && base + runBytes + recordBytes(last) <= options_.segmentBytes) {
        runBytes += recordBytes(last);
        ++last;
      }
      const auto run =
          std::span<const std::byte>(pending_).subspan(recordStart(first), static_cast<std::size_t>(runBytes));
      Status written = rotate ? startSegment(first, run) : appendToSegment(run);
      if (!written) {
        broken_ = written.error().message;
        return written.error();
      }
      segmentRecords_ += last - first;
      first = last;
    }
    durable_ = nextIndex_;
    durableChain_ = chain_;
    pending_.clear();
    pendingEnds_.clear();
    // One huge group must not pin its buffer for the life of the writer.
    if (pending_.capacity() > (std::size_t{16} << 20)) {
      pending_.shrink_to_fit();
      pendingEnds_.shrink_to_fit();
    }
    if (options_.signingKey && durable_ > checkpointed_ &&
        (durable_ - checkpointed_ >= options_.checkpointRecords ||
         std::chrono::steady_clock::now() - checkpointedAt_ >= options_.checkpointInterval)) {
      if (auto signedNow = checkpoint(); !signedNow) return signedNow.error();
    }
    return durable_;
  }

  Result<std::uint64_t, JournalError> checkpoint() override {
    if (!options_.signingKey || durable_ == checkpointed_) return checkpointed_;
    if (broken_) return fail(JournalError::Io, "journal writer stopped after an earlier failure (" + *broken_ + ")");
    const auto unixNs =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const auto line = detail::encodeCheckpoint(journalId_, durable_, durableChain_, unixNs, *options_.signingKey);
    const auto path = options_.dir / detail::kCheckpointsFile;
    if (!checkpoints_.valid()) {
      checkpoints_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
      if (!checkpoints_.valid()) return ioFailure("cannot open", path, errno);
    }
    struct stat st {};
    if (::fstat(checkpoints_.get(), &st) != 0) return ioFailure("cannot stat", path, errno);
    const std::span<const std::byte> parts[] = {std::as_bytes(std::span(line))};
    Status written = detail::writeFully(checkpoints_.get(), static_cast<std::uint64_t>(st.st_size), parts, path);
    if (written && options_.sync) written = detail::syncData(checkpoints_.get(), path);
    if (!written) {
      broken_ = written.error().message;
      return written.error();
    }
    checkpointed_ = durable_;
    checkpointedAt_ = std::chrono::steady_clock::now();
    return checkpointed_;
  }

  std::uint64_t checkpointedRecords() const override { return checkpointed_; }

  std::uint64_t nextIndex() const override { return nextIndex_; }
  std::size_t pendingRecords() const override { return pendingEnds_.size(); }
  std::size_t pendingBytes() const override { return pending_.size(); }
  std::uint64_t durableRecords() const override { return durable_; }

 private:
  std::size_t recordStart(std::size_t i) const { return i == 0 ? 0 : pendingEnds_[i - 1]; }
  std::uint64_t recordBytes(std::size_t i) const { return pendingEnds_[i] - recordStart(i); }

  // The chain hash in force before pending record i: what a segment starting there carries in.
  Hash chainBefore(std::size_t i) const {
    if (i == 0) return durableChain_;
    Hash hash{};
    const std::byte* end = pending_.data() + pendingEnds_[i - 1];
    std::copy(end - detail::kRecordSuffixBytes, end - detail::kRecordSuffixBytes + detail::kHashBytes, hash.begin());
    return hash;
  }

  Status appendToSegment(std::span<const std::byte> run) {
    const auto path = options_.dir / detail::segmentFileName(segmentNumber_);
    const std::span<const std::byte> parts[] = {run};
    if (auto written = detail::writeFully(segment_.get(), segmentEnd_, parts, path); !written) return written;
    if (options_.sync) {
      if (auto synced = detail::syncData(segment_.get(), path); !synced) return synced;
    }
    segmentEnd_ += run.size();
    return detail::Done{};
  }

  Status startSegment(std::size_t first, std::span<const std::byte> run) {
    const detail::SegmentHeader header{segmentNumber_ + 1, durable_ + first, journalId_, chainBefore(first)};
    auto fd = createSegment(options_, header, run);
    if (!fd) return fd.error();
    segment_ = std::move(fd.value());
    segmentNumber_ = header.segmentNumber;
    segmentEnd_ = detail::kHeaderBytes + run.size();
    segmentRecords_ = 0;
    return detail::Done{};
  }

  JournalOptions options_;
  std::uint64_t checkpointed_;  // records covered by the last checkpoint
  std::chrono::steady_clock::time_point checkpointedAt_;
  UniqueFd checkpoints_;  // dir/CHECKPOINTS, opened on the first checkpoint
  UniqueFd lock_;         // held, never used: the flock lives as long as the descriptor
  UniqueFd segment_;
  JournalId journalId_;
  std::uint64_t segmentNumber_;
  std::uint64_t segmentEnd_;
  std::uint64_t segmentRecords_;
  std::uint64_t nextIndex_;
  std::uint64_t durable_;
  Hash chain_;         // after the last appended record, pending included
  Hash durableChain_;  // after the last committed record
  std::vector<std::byte> pending_;
  std::vector<std::size_t> pendingEnds_;  // end of each pending record in pending_
  detail::Sha256 sha_;
  std::optional<std::string> broken_;
};

}  // namespace

Result<std::unique_ptr<JournalWriter>, JournalError> JournalWriter::open(const JournalOptions& options,
                                                                         RecoveryReport* report) {
  if (options.dir.empty()) return fail(JournalError::BadArgument, "journal directory is empty");
  constexpr std::size_t minimum = detail::kHeaderBytes + detail::kRecordOverheadBytes;
  if (options.segmentBytes < minimum) {
    return fail(JournalError::BadArgument, "segmentBytes " + std::to_string(options.segmentBytes) +
                                               " is smaller than a segment header plus an empty record (" +
                                               std::to_string(minimum) + " bytes)");
  }
  std::error_code ec;
  const bool created = std::filesystem::create_directories(options.dir, ec);
  if (ec)
    return fail(JournalError::Io, "cannot create journal directory " + options.dir.string() + ": " + ec.message());
  if (created && options.sync) {
    auto parent = std::filesystem::absolute(options.dir, ec).parent_path();
    if (!ec) {
      if (auto synced = detail::syncDirectory(parent); !synced) return synced.error();
    }
  }

  const auto lockPath = options.dir / "LOCK";
  UniqueFd lock(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.valid()) return ioFailure("cannot open lock file", lockPath, errno);
  while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return fail(JournalError::Locked, "journal " + options.dir.string() + " is locked by another writer (flock on " +
                                            lockPath.string() + ")");
    }
    return ioFailure("cannot lock", lockPath, errno);
  }

  RecoveryReport localReport;
  RecoveryReport& rep = report != nullptr ? *report : localReport;
  rep = RecoveryReport{};

  auto numbers = detail::listSegments(options.dir);
  if (!numbers) return numbers.error();

  // Checkpoints: a line cut by a crash is removed; anything else wrong with them is damage.
  const auto checkpointsPath = options.dir / detail::kCheckpointsFile;
  const auto publicKeysPath = options.dir / detail::kPublicKeysFile;
  auto file = detail::readCheckpoints(options.dir);
  if (file.damage) {
    return fail(JournalError::Corrupt, "journal " + options.dir.string() +
                                           " has damaged checkpoints: " + detail::describe(options.dir, *file.damage) +
                                           "; run `spotline journal verify`");
  }
  if (file.tornLastLine) {
    UniqueFd fd(::open(checkpointsPath.c_str(), O_WRONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return ioFailure("cannot open", checkpointsPath, errno);
    if (::ftruncate(fd.get(), static_cast<off_t>(file.goodBytes)) != 0 || ::fsync(fd.get()) != 0) {
      return ioFailure("cannot cut the torn last line of", checkpointsPath, errno);
    }
    rep.truncatedCheckpoint = true;
    rep.checkpointBytesDropped = static_cast<std::uint64_t>(st.st_size) - file.goodBytes;
  }
  std::error_code existsError;
  const bool pubBeside = std::filesystem::exists(publicKeysPath, existsError);
  std::vector<detail::PublicKey> trusted;
  if (pubBeside) {
    auto keys = loadPublicKeys(publicKeysPath);
    if (!keys) return fail(JournalError::Corrupt, keys.error().message);
    trusted = keys.value();
  }
  if (options.signingKey) trusted.push_back(options.signingKey->publicKey);
  detail::CheckpointCheck checks(file.checkpoints, trusted);

  std::optional<Tail> tail;
  if (!numbers.value().empty()) {
    auto recovered = recover(options, rep, checks);
    if (!recovered) return recovered.error();
    tail = recovered.value();
  }
  if (tail) {
    if (auto bad = checks.atEnd(tail->nextIndex)) {
      return fail(JournalError::Corrupt, "journal " + options.dir.string() +
                                             " is shorter than its signed checkpoints: " +
                                             detail::describe(options.dir, *bad) + "; run `spotline journal verify`");
    }
    if (pubBeside && !file.exists && tail->nextIndex > 0) {
      return fail(JournalError::Corrupt, "journal " + options.dir.string() +
                                             " has a journal.pub but no CHECKPOINTS file: its checkpoints were "
                                             "removed; run `spotline journal verify`");
    }
  } else if (!file.checkpoints.empty()) {
    return fail(JournalError::Corrupt, "journal " + options.dir.string() + " has no segments, but CHECKPOINTS signs " +
                                           std::to_string(file.checkpoints.back().records) + " records");
  }
  if (!tail) {
    auto fresh = createJournal(options);
    if (!fresh) return fresh.error();
    tail = fresh.value();
  }
  rep.records = tail->nextIndex;
  rep.checkpoints = checks.verified();

  if (options.signingKey) {
    // The key's public half beside the journal (appended when a new key starts signing), and the
    // checkpoint file, created empty so that its later removal is visible.
    const auto keyLine = "ed25519 " + publicKeyHex(options.signingKey->publicKey);
    bool known = false;
    if (pubBeside) {
      std::ifstream in(publicKeysPath);
      for (std::string line; std::getline(in, line);) known |= line == keyLine;
    }
    for (const auto& [path, text, needed] :
         {std::tuple{publicKeysPath, keyLine + "\n", !known}, std::tuple{checkpointsPath, std::string(), true}}) {
      if (!needed) continue;
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
      if (!fd.valid()) return ioFailure("cannot open", path, errno);
      struct stat st {};
      if (::fstat(fd.get(), &st) != 0) return ioFailure("cannot stat", path, errno);
      const std::span<const std::byte> parts[] = {std::as_bytes(std::span(text))};
      if (auto w = detail::writeFully(fd.get(), static_cast<std::uint64_t>(st.st_size), parts, path); !w) {
        return w.error();
      }
      if (auto synced = detail::syncData(fd.get(), path); !synced) return synced.error();
    }
    if (auto synced = detail::syncDirectory(options.dir); !synced) return synced.error();
  }

  const auto path = options.dir / detail::segmentFileName(tail->segmentNumber);
  UniqueFd segment(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!segment.valid()) return ioFailure("cannot open segment", path, errno);
  const std::uint64_t checkpointed = file.checkpoints.empty() ? 0 : file.checkpoints.back().records;
  auto writer = std::make_unique<FileJournalWriter>(options, std::move(lock), std::move(segment), *tail, checkpointed);
  // Records a killed writer left unsigned are signed now: they are durable and chain-checked.
  if (auto signedNow = writer->checkpoint(); !signedNow) return signedNow.error();
  return std::unique_ptr<JournalWriter>(std::move(writer));
}

}  // namespace spotline::recorder
