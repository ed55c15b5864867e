#pragma once
// Where the reconciliation and dashboard code reads a facility's journaled events from: the rv
// journal itself, or the Kafka topics the bridge feeds from it (spotline::bridge::openKafkaSource).
// Either way the events come in journal order, each with its journal sequence (record index), and
// the frames are the journal's bytes.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spotline/core/result.h"

namespace spotline::runtime {

enum class QueryError : std::uint8_t {
  BadInput,  // no such fraction (the message lists the known ones), no such directory, bad source
  Damaged,   // the journal or the event log is damaged or unreadable (the message names the record)
};

struct SourcedEvent {
  std::uint64_t sequence = 0;    // the record's index in the journal
  std::vector<std::byte> frame;  // one encoded wire::Message, as journaled
};

class EventSource {
 public:
  virtual ~EventSource() = default;
  // Names the source in answers and errors: the journal directory, or "kafka://BROKERS".
  virtual std::string describe() const = 0;
  // The next event in journal order, nullopt at the end.
  virtual Result<std::optional<SourcedEvent>, QueryError> next() = 0;
};

// Reads a journal from its start, every record checked (recorder::JournalReader).
Result<std::unique_ptr<EventSource>, QueryError> openJournalSource(const std::filesystem::path& dir);

}  // namespace spotline::runtime
