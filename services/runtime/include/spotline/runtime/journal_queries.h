#pragma once
// Queries of a journal, shared by the console (`spotline journal spots|fractions|verify`) and by rv,
// which answers them over the bus (JournalQuery on its query socket). They read the events from
// the start of an EventSource: the journal (a JournalReader, which checks every record) or the
// Kafka topics fed from it. Memory stays bounded by the answer.

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "spotline/core/result.h"
#include "spotline/recorder/journal.h"
#include "spotline/runtime/event_source.h"

namespace spotline::runtime {

inline constexpr const char* kSpotsCsvHeader =
    "seq,beam,layer,spot,planned,delivered,unit,x_planned,y_planned,x_measured,y_measured\n";

struct SpotsPage {
  std::string csv;          // lines, without the header
  std::uint64_t lines = 0;  // lines in csv
  std::uint64_t next = 0;   // the first record of the next page
  bool more = false;
};

// One fraction's spot records as CSV lines (see kSpotsCsvHeader), from record `first` (0-based
// among the fraction's spot records), at most `max` of them.
Result<SpotsPage, QueryError> querySpots(const std::filesystem::path& dir, const std::string& fraction,
                                         std::uint64_t first = 0,
                                         std::uint64_t max = std::numeric_limits<std::uint64_t>::max());
Result<SpotsPage, QueryError> querySpots(EventSource& source, const std::string& fraction, std::uint64_t first = 0,
                                         std::uint64_t max = std::numeric_limits<std::uint64_t>::max());

// Every fraction with room, plan, status, planned and delivered totals, sessions, holds, overrides.
Result<nlohmann::json, QueryError> queryFractions(const std::filesystem::path& dir);
Result<nlohmann::json, QueryError> queryFractions(EventSource& source);

// The verification report as JSON (the fields `spotline journal verify --json` prints).
nlohmann::json verifyReportJson(const recorder::VerifyReport& report);

}  // namespace spotline::runtime
