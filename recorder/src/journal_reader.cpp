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
    switch (scanner_.next()) {
      case detail::JournalScanner::Outcome::Record: {
        JournalRecord record;
        record.index = scanner_.recordIndex();
        record.payload = std::move(scanner_.payload());
        record.segment = detail::segmentFileName(scanner_.segmentNumber());
        record.offset = scanner_.recordOffset();
        return std::optional<JournalRecord>(std::move(record));
      }
      case detail::JournalScanner::Outcome::End: return std::optional<JournalRecord>();
      case detail::JournalScanner::Outcome::Damaged: break;
    }
    const auto& damage = scanner_.damage();
    const auto code = damage.kind == Damage::Io ? JournalError::Io : JournalError::Corrupt;
    return fail(code, "journal " + dir_.string() + " cannot be read past " + detail::describe(dir_, damage));
  }

 private:
  std::filesystem::path dir_;
  detail::JournalScanner scanner_;
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
