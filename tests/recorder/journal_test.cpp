#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <boost/crc.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "spotline/core/hex.h"
#include "spotline/recorder/journal.h"

namespace spotline::recorder {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::byte>;

constexpr std::size_t kHeaderBytes = 84;  // per recorder/README.md
constexpr std::size_t kRecordOverhead = 48;

// A unique directory under the system temp dir, removed with everything in it at scope end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("spotline-recorder-test-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter++) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string segmentName(int number) {
  char name[40];
  std::snprintf(name, sizeof name, "segment-%08d.journal", number);
  return name;
}

// Payloads of varying length (0..199 bytes) whose content depends on the index, so that a record
// read back in the wrong place or with the wrong contents is noticed.
Bytes payloadFor(std::uint64_t i) {
  Bytes out((i * 37) % 200);
  for (std::size_t k = 0; k < out.size(); ++k) out[k] = static_cast<std::byte>((i * 131 + k * 7) & 0xFF);
  return out;
}

Bytes readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes out(chars.size());
  std::transform(chars.begin(), chars.end(), out.begin(), [](char c) { return static_cast<std::byte>(c); });
  return out;
}

void writeFile(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

// Overwrites one byte in place. Rewriting the whole file instead would truncate it first, which
// ext4 answers with a flush on close: thousands of those make the test crawl.
void patchByte(const fs::path& path, std::uint64_t offset, std::byte value) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  file.seekp(static_cast<std::streamoff>(offset));
  const char c = static_cast<char>(value);
  file.write(&c, 1);
  ASSERT_TRUE(file.good());
}

JournalOptions optionsFor(const fs::path& dir, std::size_t segmentBytes = 1024, bool sync = false) {
  JournalOptions options;
  options.dir = dir;
  options.segmentBytes = segmentBytes;
  options.sync = sync;
  return options;
}

std::unique_ptr<JournalWriter> openWriter(const JournalOptions& options, RecoveryReport* report = nullptr) {
  auto writer = JournalWriter::open(options, report);
  EXPECT_TRUE(writer.ok()) << (writer.ok() ? "" : writer.error().message);
  return writer.ok() ? std::move(writer).value() : nullptr;
}

// Appends records [from, from + count) in commit groups of `group`.
void appendRecords(JournalWriter& writer, std::uint64_t from, std::uint64_t count, std::uint64_t group = 7) {
  for (std::uint64_t i = from; i < from + count; ++i) {
    auto payload = payloadFor(i);
    ASSERT_EQ(writer.append(payload), i);
    if ((i - from + 1) % group == 0) {
      ASSERT_TRUE(writer.commit().ok());
    }
  }
  auto committed = writer.commit();
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  ASSERT_EQ(committed.value(), from + count);
}

void writeJournal(const fs::path& dir, std::uint64_t count, std::size_t segmentBytes = 1024) {
  auto writer = openWriter(optionsFor(dir, segmentBytes));
  ASSERT_NE(writer, nullptr);
  appendRecords(*writer, 0, count);
}

std::vector<JournalRecord> readAll(const fs::path& dir) {
  std::vector<JournalRecord> records;
  auto reader = JournalReader::open(dir);
  EXPECT_TRUE(reader.ok());
  if (!reader.ok()) return records;
  for (;;) {
    auto next = reader.value()->next();
    EXPECT_TRUE(next.ok()) << (next.ok() ? "" : next.error().message);
    if (!next.ok() || !next.value()) break;
    records.push_back(std::move(*next.value()));
  }
  return records;
}

std::uint64_t recordBytes(const JournalRecord& record) {
  return kRecordOverhead + record.payload.size();
}

std::size_t countSegments(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".journal") ++n;
  }
  return n;
}

// Recomputes a record's CRC32C in place: what a forger who knows the format would do.
void fixRecordCrc(Bytes& file, std::uint64_t offset, std::size_t payloadSize) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  const std::size_t covered = 12 + payloadSize + 32;
  crc.process_bytes(file.data() + offset, covered);
  std::uint32_t value = crc.checksum();
  for (int i = 0; i < 4; ++i) file[offset + covered + i] = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
}

// ---------------------------------------------------------------------------------------------
// Writing and reading back

TEST(Journal, AppendCommitAndReadBackAcrossRotation) {
  TempDir dir;
  constexpr std::uint64_t kCount = 600;
  writeJournal(dir.path(), kCount, 1024);
  ASSERT_GT(countSegments(dir.path()), 20u);

  auto records = readAll(dir.path());
  ASSERT_EQ(records.size(), kCount);
  std::string previousSegment;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    EXPECT_EQ(records[i].index, i);
    EXPECT_EQ(records[i].payload, payloadFor(i)) << "record " << i;
    EXPECT_GE(records[i].segment, previousSegment);
    previousSegment = records[i].segment;
  }
  // Segments respect the size limit; consecutive records are packed back to back.
  for (std::size_t n = 1; n <= countSegments(dir.path()); ++n) {
    EXPECT_LE(fs::file_size(dir / segmentName(static_cast<int>(n))), 1024u);
  }
  for (std::uint64_t i = 1; i < kCount; ++i) {
    if (records[i].segment == records[i - 1].segment) {
      EXPECT_EQ(records[i].offset, records[i - 1].offset + recordBytes(records[i - 1]));
    } else {
      EXPECT_EQ(records[i].offset, kHeaderBytes);
    }
  }

  auto report = verifyJournal(dir.path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, kCount);
  EXPECT_EQ(report.segments, countSegments(dir.path()));
  std::uint64_t totalBytes = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".journal") totalBytes += entry.file_size();
  }
  EXPECT_EQ(report.bytes, totalBytes);
  EXPECT_EQ(report.lastHash.size(), 64u);
  EXPECT_EQ(report.damage, Damage::None);
}

// next(record) hands the caller's buffer back to the reader: the records must still be exactly
// what next() returns, payload, index, segment and offset, whatever the sizes before them.
TEST(Journal, ReadingIntoOneRecordMatchesReadingCopies) {
  TempDir dir;
  constexpr std::uint64_t kCount = 600;
  writeJournal(dir.path(), kCount, 1024);
  auto copies = readAll(dir.path());
  ASSERT_EQ(copies.size(), kCount);
  auto reader = JournalReader::open(dir.path());
  ASSERT_TRUE(reader.ok());
  JournalRecord record;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto more = reader.value()->next(record);
    ASSERT_TRUE(more.ok());
    ASSERT_TRUE(more.value()) << "record " << i;
    EXPECT_EQ(record.index, copies[i].index);
    EXPECT_EQ(record.payload, copies[i].payload) << "record " << i;
    EXPECT_EQ(record.segment, copies[i].segment);
    EXPECT_EQ(record.offset, copies[i].offset);
  }
  auto end = reader.value()->next(record);
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end.value());
}

TEST(Journal, CommitIsAGroupAndCountsDurableRecords) {
  TempDir dir;
  auto writer = openWriter(optionsFor(dir.path(), 1 << 20, true));
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->nextIndex(), 0u);
  Bytes payload(100, std::byte{0x5A});
  for (int i = 0; i < 5; ++i) writer->append(payload);
  EXPECT_EQ(writer->pendingRecords(), 5u);
  EXPECT_EQ(writer->pendingBytes(), 5u * (kRecordOverhead + 100));
  EXPECT_EQ(writer->durableRecords(), 0u);
  EXPECT_EQ(fs::file_size(dir / segmentName(1)), kHeaderBytes) << "append must not write";

  auto committed = writer->commit();
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(committed.value(), 5u);
  EXPECT_EQ(writer->durableRecords(), 5u);
  EXPECT_EQ(writer->pendingRecords(), 0u);
  EXPECT_EQ(writer->pendingBytes(), 0u);
  EXPECT_EQ(fs::file_size(dir / segmentName(1)), kHeaderBytes + 5 * (kRecordOverhead + 100));
  // An empty commit is harmless.
  ASSERT_TRUE(writer->commit().ok());
  EXPECT_EQ(writer->durableRecords(), 5u);
}

TEST(Journal, UncommittedRecordsAreNotWrittenAndIndicesResume) {
  TempDir dir;
  {
    auto writer = openWriter(optionsFor(dir.path()));
    ASSERT_NE(writer, nullptr);
    appendRecords(*writer, 0, 10);
    writer->append(payloadFor(10));  // never committed
  }
  auto writer = openWriter(optionsFor(dir.path()));
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->nextIndex(), 10u);
  EXPECT_EQ(readAll(dir.path()).size(), 10u);
}

TEST(Journal, IndicesAndChainContinueAcrossReopen) {
  TempDir dir;
  const auto options = optionsFor(dir.path(), 700);
  std::uint64_t next = 0;
  for (int session = 0; session < 6; ++session) {
    RecoveryReport report;
    auto writer = openWriter(options, &report);
    ASSERT_NE(writer, nullptr);
    EXPECT_FALSE(report.truncatedTail);
    EXPECT_EQ(report.records, next);
    EXPECT_EQ(writer->nextIndex(), next);
    EXPECT_EQ(writer->durableRecords(), next);
    appendRecords(*writer, next, 17 + static_cast<std::uint64_t>(session) * 5, 4);
    next = writer->nextIndex();
  }
  auto records = readAll(dir.path());
  ASSERT_EQ(records.size(), next);
  for (std::uint64_t i = 0; i < next; ++i) {
    EXPECT_EQ(records[i].index, i);
    EXPECT_EQ(records[i].payload, payloadFor(i));
  }
  auto report = verifyJournal(dir.path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, next);
}

TEST(Journal, FailedCommitStopsTheWriterAndReopenRecovers) {
  TempDir dir;
  auto writer = openWriter(optionsFor(dir.path(), 1 << 20, true));
  ASSERT_NE(writer, nullptr);
  appendRecords(*writer, 0, 10);
  const auto goodSize = fs::file_size(dir / segmentName(1));
  for (std::uint64_t i = 10; i < 20; ++i) writer->append(payloadFor(i));

  // Inject a real write failure part way through the group: a file size limit lets the first
  // 100 bytes through, then pwritev fails with EFBIG (SIGXFSZ ignored for the moment).
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit tight = saved;
  tight.rlim_cur = goodSize + 100;
  auto previousHandler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
  auto failed = writer->commit();
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previousHandler);

  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, JournalError::Io);
  EXPECT_NE(failed.error().message.find(segmentName(1)), std::string::npos) << failed.error().message;
  EXPECT_EQ(writer->durableRecords(), 10u);
  EXPECT_EQ(fs::file_size(dir / segmentName(1)), goodSize + 100) << "a torn group is on disk";
  // The writer no longer trusts its file: it refuses until reopened.
  auto again = writer->commit();
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("earlier failure"), std::string::npos) << again.error().message;
  writer.reset();

  RecoveryReport report;
  writer = openWriter(optionsFor(dir.path(), 1 << 20, true), &report);
  ASSERT_NE(writer, nullptr);
  EXPECT_TRUE(report.truncatedTail);
  EXPECT_EQ(report.offset, goodSize);
  EXPECT_EQ(report.bytesDropped, 100u);
  EXPECT_EQ(report.records, 10u);
  appendRecords(*writer, 10, 10);
  auto records = readAll(dir.path());
  ASSERT_EQ(records.size(), 20u);
  for (std::uint64_t i = 0; i < 20; ++i) EXPECT_EQ(records[i].payload, payloadFor(i));
}

TEST(Journal, RecordLargerThanASegmentGoesInAlone) {
  TempDir dir;
  auto writer = openWriter(optionsFor(dir.path(), 512));
  ASSERT_NE(writer, nullptr);
  Bytes small(10, std::byte{1});
  Bytes big(2000, std::byte{2});
  writer->append(small);
  writer->append(big);
  writer->append(small);
  writer->append(big);
  writer->append(big);
  ASSERT_TRUE(writer->commit().ok());
  writer.reset();

  auto records = readAll(dir.path());
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[1].payload, big);
  std::vector<std::string> segments;
  for (const auto& r : records) segments.push_back(r.segment);
  EXPECT_EQ(segments,
            (std::vector<std::string>{segmentName(1), segmentName(2), segmentName(3), segmentName(4), segmentName(5)}));
  EXPECT_TRUE(verifyJournal(dir.path()).ok);
}

TEST(Journal, OneCommitSpanningManySegments) {
  TempDir dir;
  auto writer = openWriter(optionsFor(dir.path(), 400));
  ASSERT_NE(writer, nullptr);
  appendRecords(*writer, 0, 300, 1000);  // a single group
  writer.reset();
  EXPECT_GT(countSegments(dir.path()), 30u);
  auto report = verifyJournal(dir.path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 300u);
}

TEST(Journal, EmptyAndZeroLengthPayloads) {
  TempDir dir;
  {
    auto writer = openWriter(optionsFor(dir.path()));
    ASSERT_NE(writer, nullptr);
  }
  auto empty = verifyJournal(dir.path());
  EXPECT_TRUE(empty.ok) << empty.message;
  EXPECT_EQ(empty.records, 0u);
  EXPECT_EQ(empty.segments, 1u);
  EXPECT_TRUE(readAll(dir.path()).empty());

  auto writer = openWriter(optionsFor(dir.path()));
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->append({}), 0u);
  ASSERT_TRUE(writer->commit().ok());
  auto records = readAll(dir.path());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].payload.empty());
}

TEST(Journal, SyncOffStillReadsBack) {
  TempDir dir;
  auto writer = openWriter(optionsFor(dir.path(), 2048, false));
  ASSERT_NE(writer, nullptr);
  appendRecords(*writer, 0, 200, 50);
  auto records = readAll(dir.path());
  ASSERT_EQ(records.size(), 200u);
  EXPECT_EQ(records[199].payload, payloadFor(199));
  EXPECT_TRUE(verifyJournal(dir.path()).ok);
}

TEST(Journal, SyncOnReadsBack) {
  TempDir dir;
  auto writer = openWriter(optionsFor(dir.path(), 2048, true));
  ASSERT_NE(writer, nullptr);
  appendRecords(*writer, 0, 60, 8);
  auto records = readAll(dir.path());
  ASSERT_EQ(records.size(), 60u);
  EXPECT_EQ(records[59].payload, payloadFor(59));
}

TEST(Journal, ReaderFollowsALiveWriter) {
  TempDir dir;
  auto writer = openWriter(optionsFor(dir.path(), 600));
  ASSERT_NE(writer, nullptr);
  auto opened = JournalReader::open(dir.path());
  ASSERT_TRUE(opened.ok());
  auto& reader = *opened.value();

  std::uint64_t expected = 0;
  for (int round = 0; round < 5; ++round) {
    appendRecords(*writer, writer->nextIndex(), 13, 13);
    for (;;) {
      auto next = reader.next();
      ASSERT_TRUE(next.ok()) << next.error().message;
      if (!next.value()) break;
      EXPECT_EQ(next.value()->index, expected);
      EXPECT_EQ(next.value()->payload, payloadFor(expected));
      ++expected;
    }
    EXPECT_EQ(expected, writer->nextIndex());
  }
  EXPECT_GT(countSegments(dir.path()), 3u);
}

TEST(Journal, ReaderTreatsAnIncompleteTailAsNotYetWritten) {
  TempDir dir;
  writeJournal(dir.path(), 5, 1 << 20);
  auto path = dir / segmentName(1);
  auto full = readFile(path);
  auto records = readAll(dir.path());
  const auto lastEnd = records.back().offset + recordBytes(records.back());
  ASSERT_EQ(lastEnd, full.size());
  // Show the reader only part of the last record, as a concurrent write would.
  writeFile(path, Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(lastEnd - 10)));
  auto opened = JournalReader::open(dir.path());
  ASSERT_TRUE(opened.ok());
  auto& reader = *opened.value();
  for (int i = 0; i < 4; ++i) {
    auto next = reader.next();
    ASSERT_TRUE(next.ok() && next.value());
  }
  auto atTail = reader.next();
  ASSERT_TRUE(atTail.ok());
  EXPECT_FALSE(atTail.value().has_value());
  // The rest of the write lands; the reader picks it up.
  writeFile(path, full);
  auto last = reader.next();
  ASSERT_TRUE(last.ok() && last.value());
  EXPECT_EQ(last.value()->index, 4u);
}

TEST(Journal, ReaderReportsDamageWithSegmentOffsetAndIndex) {
  TempDir dir;
  writeJournal(dir.path(), 100, 1024);
  auto records = readAll(dir.path());
  const auto& victim = records[40];
  auto path = dir / victim.segment;
  auto bytes = readFile(path);
  bytes[victim.offset + 14] ^= std::byte{0x01};
  writeFile(path, bytes);

  auto opened = JournalReader::open(dir.path());
  ASSERT_TRUE(opened.ok());
  std::uint64_t good = 0;
  for (;;) {
    auto next = opened.value()->next();
    if (!next.ok()) {
      EXPECT_EQ(next.error().code, JournalError::Corrupt);
      EXPECT_NE(next.error().message.find(victim.segment), std::string::npos) << next.error().message;
      EXPECT_NE(next.error().message.find("offset " + std::to_string(victim.offset)), std::string::npos)
          << next.error().message;
      EXPECT_NE(next.error().message.find("record index 40"), std::string::npos) << next.error().message;
      // The error is sticky.
      EXPECT_FALSE(opened.value()->next().ok());
      break;
    }
    ASSERT_TRUE(next.value().has_value()) << "damage not noticed";
    ++good;
  }
  EXPECT_EQ(good, 40u);
}

TEST(Journal, ReaderOnMissingDirectoryFails) {
  auto reader = JournalReader::open(fs::temp_directory_path() / "spotline-recorder-test-does-not-exist");
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.error().code, JournalError::Io);
}

// ---------------------------------------------------------------------------------------------
// Opening: arguments, the lock, recovery

TEST(Journal, BadArgumentsAreRefused) {
  auto noDir = JournalWriter::open(JournalOptions{});
  ASSERT_FALSE(noDir.ok());
  EXPECT_EQ(noDir.error().code, JournalError::BadArgument);
  TempDir dir;
  auto tiny = JournalWriter::open(optionsFor(dir.path(), 100));
  ASSERT_FALSE(tiny.ok());
  EXPECT_EQ(tiny.error().code, JournalError::BadArgument);
}

TEST(Journal, CreatesMissingDirectories) {
  TempDir dir;
  auto nested = dir / "a" / "b";
  auto writer = openWriter(optionsFor(nested));
  ASSERT_NE(writer, nullptr);
  EXPECT_TRUE(fs::exists(nested / segmentName(1)));
}

TEST(Journal, SecondWriterIsLockedOut) {
  TempDir dir;
  auto first = openWriter(optionsFor(dir.path()));
  ASSERT_NE(first, nullptr);
  auto second = JournalWriter::open(optionsFor(dir.path()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, JournalError::Locked);
  EXPECT_NE(second.error().message.find(dir.path().string()), std::string::npos) << second.error().message;
  first.reset();
  auto third = JournalWriter::open(optionsFor(dir.path()));
  EXPECT_TRUE(third.ok()) << "the lock must be released with the writer";
}

TEST(Journal, TornTailIsCutAtTheLastGoodRecord) {
  TempDir dir;
  writeJournal(dir.path(), 90, 1024);
  auto records = readAll(dir.path());
  const auto& last = records.back();
  auto path = dir / last.segment;
  const auto size = fs::file_size(path);
  ASSERT_EQ(size, last.offset + recordBytes(last));
  fs::resize_file(path, last.offset + recordBytes(last) / 2);  // cut mid-record

  RecoveryReport report;
  auto writer = openWriter(optionsFor(dir.path(), 1024), &report);
  ASSERT_NE(writer, nullptr);
  EXPECT_TRUE(report.truncatedTail);
  EXPECT_EQ(report.segment, last.segment);
  EXPECT_EQ(report.offset, last.offset);
  EXPECT_EQ(report.bytesDropped, recordBytes(last) / 2);
  EXPECT_EQ(report.records, 89u);
  EXPECT_EQ(fs::file_size(path), last.offset);
  EXPECT_EQ(writer->nextIndex(), 89u);

  // Earlier records are intact and the journal carries on from there.
  appendRecords(*writer, 89, 20);
  writer.reset();
  auto after = readAll(dir.path());
  ASSERT_EQ(after.size(), 109u);
  for (std::uint64_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].payload, payloadFor(i));
  EXPECT_TRUE(verifyJournal(dir.path()).ok);
}

TEST(Journal, TornTailShorterThanARecordHeader) {
  TempDir dir;
  writeJournal(dir.path(), 10, 1 << 20);
  auto path = dir / segmentName(1);
  auto bytes = readFile(path);
  const auto goodSize = bytes.size();
  bytes.insert(bytes.end(), {std::byte{0x20}, std::byte{0}, std::byte{0}});
  writeFile(path, bytes);
  RecoveryReport report;
  auto writer = openWriter(optionsFor(dir.path(), 1 << 20), &report);
  ASSERT_NE(writer, nullptr);
  EXPECT_TRUE(report.truncatedTail);
  EXPECT_EQ(report.offset, goodSize);
  EXPECT_EQ(report.bytesDropped, 3u);
  EXPECT_EQ(writer->nextIndex(), 10u);
}

TEST(Journal, FinalRecordWithBadChecksumAndNothingAfterIsATornTail) {
  TempDir dir;
  writeJournal(dir.path(), 30, 1 << 20);
  auto records = readAll(dir.path());
  const auto& last = records.back();
  auto path = dir / last.segment;
  auto bytes = readFile(path);
  // Zeros where the end of the record should be: a page that never reached the disk.
  std::fill(bytes.end() - 20, bytes.end(), std::byte{0});
  writeFile(path, bytes);
  RecoveryReport report;
  auto writer = openWriter(optionsFor(dir.path(), 1 << 20), &report);
  ASSERT_NE(writer, nullptr);
  EXPECT_TRUE(report.truncatedTail);
  EXPECT_EQ(report.offset, last.offset);
  EXPECT_EQ(writer->nextIndex(), 29u);
}

TEST(Journal, TornSegmentHeaderIsRemoved) {
  TempDir dir;
  writeJournal(dir.path(), 50, 1024);
  const auto segments = static_cast<int>(countSegments(dir.path()));
  // The crash came while the next segment was being created.
  writeFile(dir / segmentName(segments + 1), Bytes(30, std::byte{0x53}));
  RecoveryReport report;
  {
    auto writer = openWriter(optionsFor(dir.path(), 1024), &report);
    ASSERT_NE(writer, nullptr);
    EXPECT_TRUE(report.truncatedTail);
    EXPECT_EQ(report.segment, segmentName(segments + 1));
    EXPECT_EQ(report.bytesDropped, 30u);
    EXPECT_FALSE(fs::exists(dir / segmentName(segments + 1)));
    EXPECT_EQ(writer->nextIndex(), 50u);
    appendRecords(*writer, 50, 30);
  }
  // A header that never reached the disk at all reads as zeros.
  const auto now = static_cast<int>(countSegments(dir.path()));
  writeFile(dir / segmentName(now + 1), Bytes(kHeaderBytes + 100, std::byte{0}));
  {
    auto writer = openWriter(optionsFor(dir.path(), 1024), &report);
    ASSERT_NE(writer, nullptr);
    EXPECT_TRUE(report.truncatedTail);
    EXPECT_EQ(writer->nextIndex(), 80u);
  }
  auto verified = verifyJournal(dir.path());
  EXPECT_TRUE(verified.ok) << verified.message;
  EXPECT_EQ(verified.records, 80u);
}

TEST(Journal, TornFirstSegmentStartsAFreshJournal) {
  TempDir dir;
  writeFile(dir / segmentName(1), Bytes(12, std::byte{0x53}));
  RecoveryReport report;
  auto writer = openWriter(optionsFor(dir.path()), &report);
  ASSERT_NE(writer, nullptr);
  EXPECT_TRUE(report.truncatedTail);
  EXPECT_EQ(writer->nextIndex(), 0u);
  appendRecords(*writer, 0, 3);
  EXPECT_TRUE(verifyJournal(dir.path()).ok);
}

TEST(Journal, DamagedMiddleRecordRefusesOpen) {
  TempDir dir;
  writeJournal(dir.path(), 200, 1024);
  auto records = readAll(dir.path());
  const auto& victim = records[77];
  ASSERT_NE(victim.segment, records.back().segment);
  auto path = dir / victim.segment;
  auto bytes = readFile(path);
  bytes[victim.offset + 12] ^= std::byte{0x80};
  writeFile(path, bytes);

  auto writer = JournalWriter::open(optionsFor(dir.path(), 1024));
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.error().code, JournalError::Corrupt);
  const auto& message = writer.error().message;
  EXPECT_NE(message.find(victim.segment), std::string::npos) << message;
  EXPECT_NE(message.find("offset " + std::to_string(victim.offset)), std::string::npos) << message;
  EXPECT_NE(message.find("record index 77"), std::string::npos) << message;
  // Nothing was repaired or cut.
  EXPECT_EQ(readFile(path), bytes);
}

TEST(Journal, DamageInTheLastSegmentWithIntactRecordsAfterItIsNotATornTail) {
  TempDir dir;
  writeJournal(dir.path(), 20, 1 << 20);
  auto records = readAll(dir.path());
  auto path = dir / segmentName(1);
  auto bytes = readFile(path);
  const auto before = bytes;
  // A flipped high byte in record 10's length now "runs past the end of the file"; a naive
  // torn-tail rule would throw away records 10..19, which were committed.
  bytes[records[10].offset + 3] ^= std::byte{0x40};
  writeFile(path, bytes);
  auto writer = JournalWriter::open(optionsFor(dir.path(), 1 << 20));
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.error().code, JournalError::Corrupt);
  EXPECT_NE(writer.error().message.find("record index 10"), std::string::npos) << writer.error().message;

  // Same with a bad checksum in the middle of the last segment.
  bytes = before;
  bytes[records[15].offset + 20] ^= std::byte{0x01};
  writeFile(path, bytes);
  writer = JournalWriter::open(optionsFor(dir.path(), 1 << 20));
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.error().code, JournalError::Corrupt);
  EXPECT_EQ(fs::file_size(path), before.size());
}

TEST(Journal, DamagedHeaderOfAnEarlierSegmentRefusesOpen) {
  TempDir dir;
  writeJournal(dir.path(), 100, 1024);
  auto path = dir / segmentName(2);
  auto bytes = readFile(path);
  bytes[20] ^= std::byte{0x01};
  writeFile(path, bytes);
  auto writer = JournalWriter::open(optionsFor(dir.path(), 1024));
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.error().code, JournalError::Corrupt);
  EXPECT_NE(writer.error().message.find(segmentName(2)), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// verifyJournal: every kind of tampering is found, and found where it is

class VerifyJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    writeJournal(dir_.path(), kCount, 900);
    records_ = readAll(dir_.path());
    ASSERT_EQ(records_.size(), kCount);
    segments_ = static_cast<int>(countSegments(dir_.path()));
    ASSERT_GE(segments_, 4);
    auto clean = verifyJournal(dir_.path());
    ASSERT_TRUE(clean.ok) << clean.message;
  }

  // The records of one segment, in order.
  std::vector<JournalRecord> inSegment(int number) const {
    std::vector<JournalRecord> out;
    for (const auto& r : records_) {
      if (r.segment == segmentName(number)) out.push_back(r);
    }
    return out;
  }

  void expectDamage(const VerifyReport& report, Damage kind, const std::string& segment, std::uint64_t offset,
                    std::uint64_t index) {
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.damage, kind) << toString(report.damage) << ": " << report.message;
    EXPECT_EQ(report.segment, segment) << report.message;
    EXPECT_EQ(report.offset, offset) << report.message;
    EXPECT_EQ(report.index, index) << report.message;
    EXPECT_EQ(report.records, index) << "records before the damage";
    EXPECT_FALSE(report.message.empty());
  }

  static constexpr std::uint64_t kCount = 120;
  TempDir dir_;
  std::vector<JournalRecord> records_;
  int segments_ = 0;
};

TEST_F(VerifyJournal, FindsAFlippedByteAnywhere) {
  // Every byte of the first, second, a middle and the last segment: headers and each field of
  // each record, in the first segment (which defines the journal id) and in the open tail.
  std::size_t checked = 0;
  std::size_t expectedChecks = 0;
  for (int number : {1, 2, segments_ / 2 + 1, segments_}) {
    const auto path = dir_ / segmentName(number);
    const auto original = readFile(path);
    expectedChecks += original.size();
    const auto records = inSegment(number);
    const std::uint64_t firstIndex = records.empty() ? 0 : records.front().index;
    for (std::size_t at = 0; at < original.size(); ++at) {
      patchByte(path, at, original[at] ^ std::byte{static_cast<unsigned char>(1u << (at % 8))});
      auto report = verifyJournal(dir_.path());
      patchByte(path, at, original[at]);
      SCOPED_TRACE("segment " + std::to_string(number) + " byte " + std::to_string(at));
      if (at < kHeaderBytes) {
        expectDamage(report, Damage::BadHeader, segmentName(number), 0, firstIndex);
      } else {
        auto it = std::find_if(records.begin(), records.end(), [&](const JournalRecord& r) {
          return at >= r.offset && at < r.offset + recordBytes(r);
        });
        ASSERT_NE(it, records.end());
        const bool inLength = at < it->offset + 4;
        const Damage expected = inLength && report.damage == Damage::Truncated ? Damage::Truncated : Damage::Checksum;
        expectDamage(report, expected, segmentName(number), it->offset, it->index);
      }
      ++checked;
    }
    ASSERT_EQ(readFile(path), original);
  }
  EXPECT_EQ(checked, expectedChecks);
  EXPECT_GT(checked, 2000u);
  EXPECT_TRUE(verifyJournal(dir_.path()).ok);
}

TEST_F(VerifyJournal, FindsARemovedRecord) {
  const auto records = inSegment(2);
  ASSERT_GE(records.size(), 3u);
  const auto& victim = records[1];
  auto path = dir_ / segmentName(2);
  auto bytes = readFile(path);
  bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(victim.offset),
              bytes.begin() + static_cast<std::ptrdiff_t>(victim.offset + recordBytes(victim)));
  writeFile(path, bytes);
  expectDamage(verifyJournal(dir_.path()), Damage::Sequence, segmentName(2), victim.offset, victim.index);
}

TEST_F(VerifyJournal, FindsTheLastRecordOfASegmentRemoved) {
  const auto records = inSegment(2);
  const auto& victim = records.back();
  fs::resize_file(dir_ / segmentName(2), victim.offset);
  // Segment 2 now ends cleanly; segment 3's header no longer follows on.
  expectDamage(verifyJournal(dir_.path()), Damage::Sequence, segmentName(3), 0, victim.index);
}

TEST_F(VerifyJournal, FindsADuplicatedRecord) {
  const auto records = inSegment(3);
  const auto& victim = records[1];
  auto path = dir_ / segmentName(3);
  auto bytes = readFile(path);
  const auto begin = bytes.begin() + static_cast<std::ptrdiff_t>(victim.offset);
  Bytes copy(begin, begin + static_cast<std::ptrdiff_t>(recordBytes(victim)));
  bytes.insert(begin + static_cast<std::ptrdiff_t>(recordBytes(victim)), copy.begin(), copy.end());
  writeFile(path, bytes);
  expectDamage(verifyJournal(dir_.path()), Damage::Sequence, segmentName(3), victim.offset + recordBytes(victim),
               victim.index + 1);
}

TEST_F(VerifyJournal, FindsSwappedRecords) {
  const auto records = inSegment(2);
  const auto& a = records[1];
  const auto& b = records[2];
  auto path = dir_ / segmentName(2);
  auto bytes = readFile(path);
  Bytes swapped(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(a.offset));
  auto at = [&](const JournalRecord& r) { return bytes.begin() + static_cast<std::ptrdiff_t>(r.offset); };
  swapped.insert(swapped.end(), at(b), at(b) + static_cast<std::ptrdiff_t>(recordBytes(b)));
  swapped.insert(swapped.end(), at(a), at(a) + static_cast<std::ptrdiff_t>(recordBytes(a)));
  swapped.insert(swapped.end(), at(b) + static_cast<std::ptrdiff_t>(recordBytes(b)), bytes.end());
  ASSERT_EQ(swapped.size(), bytes.size());
  writeFile(path, swapped);
  expectDamage(verifyJournal(dir_.path()), Damage::Sequence, segmentName(2), a.offset, a.index);
}

TEST_F(VerifyJournal, FindsAForgedRecordEvenWithItsChecksumRecomputed) {
  const auto records = inSegment(2);
  const auto& victim = records[2];
  ASSERT_FALSE(victim.payload.empty());
  auto path = dir_ / segmentName(2);
  auto bytes = readFile(path);
  bytes[victim.offset + 12] ^= std::byte{0x10};  // a changed spot value
  fixRecordCrc(bytes, victim.offset, victim.payload.size());
  writeFile(path, bytes);
  expectDamage(verifyJournal(dir_.path()), Damage::Chain, segmentName(2), victim.offset, victim.index);
}

TEST_F(VerifyJournal, FindsSwappedRecordsWithIndicesAndChecksumsForged) {
  const auto records = inSegment(2);
  const auto& a = records[0];
  const auto& b = records[1];
  auto path = dir_ / segmentName(2);
  auto bytes = readFile(path);
  auto at = [&](const JournalRecord& r) { return bytes.begin() + static_cast<std::ptrdiff_t>(r.offset); };
  Bytes recA(at(a), at(a) + static_cast<std::ptrdiff_t>(recordBytes(a)));
  Bytes recB(at(b), at(b) + static_cast<std::ptrdiff_t>(recordBytes(b)));
  Bytes forged(bytes.begin(), at(a));
  const auto firstOffset = forged.size();
  forged.insert(forged.end(), recB.begin(), recB.end());
  forged.insert(forged.end(), recA.begin(), recA.end());
  forged.insert(forged.end(), at(b) + static_cast<std::ptrdiff_t>(recordBytes(b)), bytes.end());
  // Give each its new position's index and a fresh CRC.
  auto setIndex = [&](std::uint64_t offset, std::uint64_t index, std::size_t payloadSize) {
    for (int i = 0; i < 8; ++i) forged[offset + 4 + i] = static_cast<std::byte>((index >> (8 * i)) & 0xFF);
    fixRecordCrc(forged, offset, payloadSize);
  };
  setIndex(firstOffset, a.index, b.payload.size());
  setIndex(firstOffset + recB.size(), b.index, a.payload.size());
  writeFile(path, forged);
  expectDamage(verifyJournal(dir_.path()), Damage::Chain, segmentName(2), a.offset, a.index);
}

TEST_F(VerifyJournal, FindsATruncationMidRecord) {
  const auto records = inSegment(2);
  const auto& victim = records[2];
  fs::resize_file(dir_ / segmentName(2), victim.offset + 30);
  expectDamage(verifyJournal(dir_.path()), Damage::Truncated, segmentName(2), victim.offset, victim.index);

  // In the last segment too: verify never "repairs", it reports.
  const auto last = inSegment(segments_);
  ASSERT_FALSE(last.empty());
  TempDir other;
  writeJournal(other.path(), kCount, 900);
  auto lastPath = other / segmentName(segments_);
  fs::resize_file(lastPath, fs::file_size(lastPath) - 5);
  expectDamage(verifyJournal(other.path()), Damage::Truncated, segmentName(segments_), last.back().offset,
               last.back().index);
}

TEST_F(VerifyJournal, FindsATruncatedSegmentHeader) {
  fs::resize_file(dir_ / segmentName(3), 40);
  expectDamage(verifyJournal(dir_.path()), Damage::Truncated, segmentName(3), 0, inSegment(3).front().index);
}

TEST_F(VerifyJournal, FindsAForeignSegment) {
  // Another journal written with exactly the same records: only the journal id differs.
  TempDir other;
  writeJournal(other.path(), kCount, 900);
  ASSERT_EQ(readFile(other / segmentName(4)).size(), readFile(dir_ / segmentName(4)).size());
  fs::copy_file(other / segmentName(4), dir_ / segmentName(4), fs::copy_options::overwrite_existing);
  expectDamage(verifyJournal(dir_.path()), Damage::ForeignSegment, segmentName(4), 0, inSegment(4).front().index);
}

TEST_F(VerifyJournal, FindsAMissingMiddleSegment) {
  fs::remove(dir_ / segmentName(2));
  expectDamage(verifyJournal(dir_.path()), Damage::MissingSegment, segmentName(2), 0, inSegment(2).front().index);
  auto writer = JournalWriter::open(optionsFor(dir_.path(), 900));
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.error().code, JournalError::Corrupt);
  EXPECT_NE(writer.error().message.find(segmentName(2)), std::string::npos);
}

TEST_F(VerifyJournal, FindsAMissingFirstSegment) {
  fs::remove(dir_ / segmentName(1));
  expectDamage(verifyJournal(dir_.path()), Damage::MissingSegment, segmentName(1), 0, 0);
}

TEST_F(VerifyJournal, FindsASegmentRenamedIntoAGap) {
  // Hide a removed segment by renaming the next one into its place.
  fs::remove(dir_ / segmentName(2));
  fs::rename(dir_ / segmentName(3), dir_ / segmentName(2));
  auto report = verifyJournal(dir_.path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.segment, segmentName(2));
  EXPECT_EQ(report.damage, Damage::BadHeader) << report.message;
}

TEST_F(VerifyJournal, FindsAnEmptyDirectory) {
  TempDir empty;
  auto report = verifyJournal(empty.path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.damage, Damage::MissingSegment);
  auto missing = verifyJournal(empty / "nope");
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.damage, Damage::Io);
}

TEST_F(VerifyJournal, LastHashIsTheChainHead) {
  auto first = verifyJournal(dir_.path());
  ASSERT_TRUE(first.ok);
  {
    auto writer = openWriter(optionsFor(dir_.path(), 900));
    ASSERT_NE(writer, nullptr);
    appendRecords(*writer, kCount, 1);
  }
  auto second = verifyJournal(dir_.path());
  ASSERT_TRUE(second.ok);
  EXPECT_NE(second.lastHash, first.lastHash);
  EXPECT_EQ(second.records, kCount + 1);
  // SHA-256(previous hash || u64le index || payload), per the README.
  auto previous = fromHex(first.lastHash);
  ASSERT_TRUE(previous.has_value());
  Bytes input = *previous;
  for (int i = 0; i < 8; ++i) input.push_back(static_cast<std::byte>((kCount >> (8 * i)) & 0xFF));
  auto payload = payloadFor(kCount);
  input.insert(input.end(), payload.begin(), payload.end());
  unsigned char digest[32];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  std::string hex;
  for (unsigned char c : digest) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", c);
    hex += two;
  }
  EXPECT_EQ(second.lastHash, hex);
}

// ---------------------------------------------------------------------------------------------
// Signed checkpoints

class SignedJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = generateSigningKey(keys_ / "facility.key");
    ASSERT_TRUE(key.ok()) << key.error().message;
    key_ = key.value();
    options_ = optionsFor(dir_.path(), 900);
    options_.signingKey = key_;
    options_.checkpointRecords = 25;
    options_.checkpointInterval = std::chrono::hours(1);  // by count only: deterministic
    auto writer = openWriter(options_);
    ASSERT_NE(writer, nullptr);
    appendRecords(*writer, 0, kCount, 10);
    ASSERT_TRUE(writer->checkpoint().ok());
    EXPECT_EQ(writer->checkpointedRecords(), kCount);
  }

  std::vector<std::string> checkpointLines() const {
    std::ifstream in(dir_ / "CHECKPOINTS");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  void writeLines(const std::vector<std::string>& lines) const {
    std::ofstream out(dir_ / "CHECKPOINTS", std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
  }
  // A forger who knows the format but not the key: with the checkpoints put aside, the journal is
  // cut at `from` and rewritten with other records by an ordinary writer (every CRC and chain hash
  // right), then the checkpoints are put back.
  void rewriteFrom(std::uint64_t from) {
    cutAfter(from);
    {
      auto writer = openWriter(optionsFor(dir_.path(), 900));
      ASSERT_NE(writer, nullptr);
      for (std::uint64_t i = from; i < kCount; ++i) {
        auto p = payloadFor(i);
        p.push_back(std::byte{0x42});
        writer->append(p);
      }
      ASSERT_TRUE(writer->commit().ok());
    }
    fs::rename(keys_ / "saved", dir_ / "CHECKPOINTS");
    fs::rename(keys_ / "saved.pub", dir_ / "journal.pub");
  }

  // Cuts the journal cleanly after `records` records: whole records and whole segments go.
  void cutAfter(std::uint64_t records) {
    auto all = readAll(dir_.path());
    ASSERT_LT(records, all.size());
    const auto& first = all[records];
    fs::resize_file(dir_ / first.segment, first.offset);
    for (const auto& r : all) {
      if (r.index > records && r.segment != first.segment) fs::remove(dir_ / r.segment);
    }
  }

  static constexpr std::uint64_t kCount = 130;
  TempDir dir_;
  TempDir keys_;
  SigningKey key_;
  JournalOptions options_;
};

TEST_F(SignedJournal, CheckpointsEveryNRecordsVerify) {
  // Commits come in groups of 10: a checkpoint at the first commit at or past each 25 records.
  const auto lines = checkpointLines();
  ASSERT_EQ(lines.size(), 5u);  // at 30, 60, 90, 120 and the explicit one at 130
  EXPECT_TRUE(lines[0].starts_with("v1 30 "));
  EXPECT_TRUE(lines.back().starts_with("v1 130 "));
  auto report = verifyJournal(dir_.path());
  ASSERT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.checkpoints, 5u);
  EXPECT_EQ(report.signedRecords, kCount);
  EXPECT_EQ(report.unsignedRecords, 0u);
  EXPECT_EQ(report.checkpointKey, publicKeyHex(key_.publicKey));
  // The public key beside the journal is the key's.
  std::ifstream pub(dir_ / "journal.pub");
  std::string line;
  std::getline(pub, line);
  EXPECT_EQ(line, "ed25519 " + publicKeyHex(key_.publicKey));
  // Verified against the facility's key given explicitly, too.
  VerifyOptions trusted;
  trusted.trustedKeys = {key_.publicKey};
  EXPECT_TRUE(verifyJournal(dir_.path(), trusted).ok);
}

TEST_F(SignedJournal, RecordsCutCleanlyBeforeTheLastCheckpointAreFound) {
  cutAfter(100);  // whole records removed from the end, every CRC and hash still fine
  auto report = verifyJournal(dir_.path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.damage, Damage::Checkpoint) << report.message;
  EXPECT_EQ(report.segment, "CHECKPOINTS");
  EXPECT_EQ(report.index, 120u);  // the first checkpoint the journal no longer reaches
  EXPECT_EQ(report.records, 100u);
  EXPECT_NE(report.message.find("removed from the end"), std::string::npos) << report.message;
  // And rv will not append to it.
  auto writer = JournalWriter::open(options_);
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.error().code, JournalError::Corrupt);
}

TEST_F(SignedJournal, RecordsAfterTheLastCheckpointAreCountedAsUnsigned) {
  {
    auto writer = openWriter(options_);
    ASSERT_NE(writer, nullptr);
    appendRecords(*writer, kCount, 7, 7);  // fewer than checkpointRecords: not signed yet
  }
  auto report = verifyJournal(dir_.path());
  ASSERT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.signedRecords, kCount);
  EXPECT_EQ(report.unsignedRecords, 7u);
  // The next writer signs what the last one left unsigned, at open.
  RecoveryReport rep;
  auto writer = openWriter(options_, &rep);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->checkpointedRecords(), kCount + 7);
  EXPECT_EQ(rep.checkpoints, 5u) << "found and checked at open";
}

TEST_F(SignedJournal, AJournalRewrittenWithEveryHashRecomputedIsFound) {
  // A forger who knows the format but not the key: cut at 70, write different records with an
  // ordinary writer (every CRC and chain hash right), then put the checkpoints back.
  fs::rename(dir_ / "CHECKPOINTS", keys_ / "saved");
  fs::rename(dir_ / "journal.pub", keys_ / "saved.pub");
  cutAfter(70);
  {
    auto writer = openWriter(optionsFor(dir_.path(), 900));
    ASSERT_NE(writer, nullptr);
    appendRecords(*writer, 70, kCount - 70, 10);
    // Different contents at the same indices.
    EXPECT_EQ(readAll(dir_.path()).size(), kCount);
  }
  auto unchanged = verifyJournal(dir_.path());
  EXPECT_TRUE(unchanged.ok) << "identical records: " << unchanged.message;
  // Now really different: flip one record's contents by rewriting from 70 again with new payloads.
  rewriteFrom(70);
  auto report = verifyJournal(dir_.path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.damage, Damage::Checkpoint) << report.message;
  EXPECT_EQ(report.index, 90u) << "the first checkpoint after the rewrite point";
  EXPECT_EQ(report.signedRecords, 60u);
}

TEST_F(SignedJournal, AChangedCheckpointIsFound) {
  auto lines = checkpointLines();
  // The record count, the chain head, the time and the signature are all covered.
  for (std::size_t field : {1u, 2u, 3u, 5u}) {
    auto changed = lines;
    std::vector<std::string> parts;
    std::istringstream in(changed[2]);
    for (std::string p; in >> p;) parts.push_back(p);
    ASSERT_EQ(parts.size(), 6u);
    auto& f = parts[field];
    f.back() = f.back() == '1' ? '2' : '1';
    changed[2] = parts[0] + " " + parts[1] + " " + parts[2] + " " + parts[3] + " " + parts[4] + " " + parts[5];
    writeLines(changed);
    auto report = verifyJournal(dir_.path());
    SCOPED_TRACE("field " + std::to_string(field));
    EXPECT_FALSE(report.ok);
    EXPECT_TRUE(report.damage == Damage::Signature || report.damage == Damage::Checkpoint)
        << toString(report.damage) << ": " << report.message;
    EXPECT_EQ(report.segment, "CHECKPOINTS");
  }
  writeLines(lines);
  EXPECT_TRUE(verifyJournal(dir_.path()).ok);
}

TEST_F(SignedJournal, ACheckpointSignedByAnotherKeyIsNotTrusted) {
  auto other = generateSigningKey(keys_ / "other.key");
  ASSERT_TRUE(other.ok());
  VerifyOptions trusted;
  trusted.trustedKeys = {other.value().publicKey};
  auto report = verifyJournal(dir_.path(), trusted);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.damage, Damage::Signature);
  EXPECT_NE(report.message.find("not trusted"), std::string::npos) << report.message;
}

TEST_F(SignedJournal, RemovedOrReorderedCheckpointsAreFound) {
  auto lines = checkpointLines();
  fs::remove(dir_ / "CHECKPOINTS");
  auto removed = verifyJournal(dir_.path());
  EXPECT_EQ(removed.damage, Damage::Checkpoint) << removed.message;
  auto refused = JournalWriter::open(options_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, JournalError::Corrupt);

  std::swap(lines[1], lines[2]);
  writeLines(lines);
  auto reordered = verifyJournal(dir_.path());
  EXPECT_EQ(reordered.damage, Damage::Checkpoint) << reordered.message;
  // An explicit audit key with no checkpoints at all fails too.
  writeLines({});
  VerifyOptions trusted;
  trusted.trustedKeys = {key_.publicKey};
  EXPECT_EQ(verifyJournal(dir_.path(), trusted).damage, Damage::Checkpoint);
}

TEST_F(SignedJournal, ATornCheckpointLineIsCutOnOpen) {
  auto lines = checkpointLines();
  {
    std::ofstream out(dir_ / "CHECKPOINTS", std::ios::app);
    out << lines.back().substr(0, 40);  // a crash in the middle of the next line
  }
  EXPECT_EQ(verifyJournal(dir_.path()).damage, Damage::Checkpoint);
  RecoveryReport rep;
  auto writer = openWriter(options_, &rep);
  ASSERT_NE(writer, nullptr);
  EXPECT_TRUE(rep.truncatedCheckpoint);
  EXPECT_EQ(rep.checkpointBytesDropped, 40u);
  writer.reset();
  EXPECT_TRUE(verifyJournal(dir_.path()).ok);
}

TEST(SigningKeys, RoundTripAndRefusals) {
  TempDir dir;
  auto key = generateSigningKey(dir / "k");
  ASSERT_TRUE(key.ok());
  auto again = loadSigningKey(dir / "k");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value().publicKey, key.value().publicKey);
  auto pubs = loadPublicKeys(dir / "k.pub");
  ASSERT_TRUE(pubs.ok());
  EXPECT_EQ(pubs.value().at(0), key.value().publicKey);
  EXPECT_FALSE(generateSigningKey(dir / "k").ok()) << "never overwrites a key";
  fs::permissions(dir / "k", fs::perms::group_read, fs::perm_options::add);
  auto open = loadSigningKey(dir / "k");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().message.find("chmod 600"), std::string::npos) << open.error().message;
  std::ofstream(dir / "bad") << "ed25519-seed 12zz\n";
  fs::permissions(dir / "bad", fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  auto bad = loadSigningKey(dir / "bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 1"), std::string::npos) << bad.error().message;
}

// ---------------------------------------------------------------------------------------------
// Operator repair

TEST_F(SignedJournal, RepairQuarantinesFromTheDamageAndTheJournalOpensAgain) {
  auto records = readAll(dir_.path());
  const auto& victim = records[75];
  const auto segmentPath = dir_ / victim.segment;
  const auto original = readFile(segmentPath);
  patchByte(segmentPath, victim.offset + 20, original[victim.offset + 20] ^ std::byte{0x01});
  auto refused = JournalWriter::open(options_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, JournalError::Corrupt);
  EXPECT_NE(refused.error().message.find("journal repair"), std::string::npos) << refused.error().message;

  auto repaired = repairJournal(dir_.path());
  ASSERT_TRUE(repaired.ok()) << repaired.error().message;
  const auto& r = repaired.value();
  EXPECT_TRUE(r.repaired);
  EXPECT_EQ(r.damage, Damage::Checksum);
  EXPECT_EQ(r.segment, victim.segment);
  EXPECT_EQ(r.offset, victim.offset);
  EXPECT_EQ(r.index, 75u);
  EXPECT_EQ(r.recordsKept, 75u);
  EXPECT_EQ(r.checkpointsRemoved, 3u);  // 90, 120, 130
  EXPECT_GT(r.bytesQuarantined, 0u);
  // Nothing is lost: the quarantine holds the damaged segment as it was, and the checkpoints.
  auto copy = readFile(r.quarantine / victim.segment);
  ASSERT_EQ(copy.size(), original.size());
  EXPECT_NE(copy, original) << "the copy is of the damaged file";
  EXPECT_TRUE(fs::exists(r.quarantine / "CHECKPOINTS"));
  // The journal verifies, opens, and continues from record 75.
  auto report = verifyJournal(dir_.path());
  ASSERT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 75u);
  EXPECT_EQ(report.signedRecords, 60u);
  auto writer = openWriter(options_);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->nextIndex(), 75u);
  EXPECT_EQ(writer->checkpointedRecords(), 75u);
}

TEST_F(SignedJournal, RepairOfAnIntactJournalChangesNothing) {
  auto r = repairJournal(dir_.path());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().repaired);
  EXPECT_EQ(r.value().recordsKept, kCount);
  EXPECT_FALSE(fs::exists(dir_ / "quarantine"));
}

TEST_F(SignedJournal, RepairIsRefusedWhileAWriterHoldsTheJournal) {
  auto writer = openWriter(options_);
  ASSERT_NE(writer, nullptr);
  auto r = repairJournal(dir_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, JournalError::Locked);
}

TEST_F(SignedJournal, RepairOfARewrittenTailCutsBackToTheLastGoodCheckpoint) {
  fs::rename(dir_ / "CHECKPOINTS", keys_ / "saved");
  fs::rename(dir_ / "journal.pub", keys_ / "saved.pub");
  rewriteFrom(70);
  auto r = repairJournal(dir_.path());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().recordsKept, 60u) << "the records after the last checkpoint that holds are suspect";
  auto report = verifyJournal(dir_.path());
  ASSERT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 60u);
  EXPECT_EQ(report.checkpoints, 2u);
}

TEST(JournalNames, DamageKindsHaveNames) {
  EXPECT_EQ(toString(Damage::Checksum), "checksum");
  EXPECT_EQ(toString(Damage::MissingSegment), "missing segment");
  EXPECT_EQ(toString(JournalError::Locked), "locked");
  EXPECT_EQ(toString(Damage::Signature), "signature");
  EXPECT_EQ(toString(Damage::Checkpoint), "checkpoint");
}

}  // namespace
}  // namespace spotline::recorder
