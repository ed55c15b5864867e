#include <optional>
#include <system_error>

#include "format.h"
#include "scanner.h"
#include "spotline/recorder/journal.h"

namespace spotline::recorder {

namespace {

// The file-backed reader: a scanner that keeps payloads and follows a live tail.
class FileJournalReader final : public JournalReader {
 public:
  explicit FileJournalReader(const std::filesystem::path& dir)
      : dir_(dir), scanner_(dir, {.keepPayloads = true, .liveTail = true}) {}

  Result<std::optional<JournalRecord>, JournalError> next() override {
    JournalRecord record;
    auto r = next(record);
    if (!r) return r.error();
    if (!r.value()) return std::optional<JournalRecord>();
    return std::optional<JournalRecord>(std::move(record));
  }

  Result<bool, JournalError> next(JournalRecord& record) override {
    switch (scanner_.next()) {
      case detail::JournalScanner::Outcome::Record: {
        record.index = scanner_.recordIndex();
        // The caller's old buffer goes back to the scanner for the next record.
        std::swap(record.payload, scanner_.payload());
        if (segmentName_.empty() || scanner_.segmentNumber() != segment_) {
          segment_ = scanner_.segmentNumber();
          segmentName_ = detail::segmentFileName(segment_);
        }
        record.segment.assign(segmentName_);  // within the string's capacity: no allocation
        record.offset = scanner_.recordOffset();
        record.chainHash = scanner_.chainHash();
        return true;
      }
      case detail::JournalScanner::Outcome::End: return false;
      case detail::JournalScanner::Outcome::Damaged: break;
    }
    const auto& damage = scanner_.damage();
    const auto code = damage.kind == Damage::Io ? JournalError::Io : JournalError::Corrupt;
    return fail(code, "journal " + dir_.string() + " cannot be read past " + detail::describe(dir_, damage));
  }

 private:
  std::filesystem::path dir_;
  detail::JournalScanner scanner_;
  std::uint64_t segment_ = 0;
  std::string segmentName_;
};

}  // namespace

Result<std::unique_ptr<JournalReader>, JournalError> JournalReader::open(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return fail(JournalError::Io,
                "journal directory " + dir.string() + " does not exist" + (ec ? ": " + ec.message() : std::string()));
  }
  return std::unique_ptr<JournalReader>(std::make_unique<FileJournalReader>(dir));
}

}  // namespace spotline::recorder
