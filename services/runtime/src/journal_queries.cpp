#include "spotline/runtime/journal_queries.h"

#include <cstdio>
#include <map>
#include <set>

#include "spotline/bus/codec_helpers.h"
#include "spotline/messages/codec.h"
#include "spotline/runtime/delivery_service.h"
#include "spotline/runtime/fraction_ledger.h"

namespace spotline::runtime {

namespace {

class JournalSource final : public EventSource {
 public:
  JournalSource(std::filesystem::path dir, std::unique_ptr<recorder::JournalReader> reader)
      : dir_(std::move(dir)), reader_(std::move(reader)) {}
  std::string describe() const override { return dir_.string(); }
  Result<std::optional<SourcedEvent>, QueryError> next() override {
    auto rec = reader_->next();
    if (!rec) return fail(QueryError::Damaged, dir_.string() + ": " + rec.error().message);
    if (!rec.value()) return std::optional<SourcedEvent>{};
    return std::optional<SourcedEvent>{SourcedEvent{rec.value()->index, std::move(rec.value()->payload)}};
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<recorder::JournalReader> reader_;
};

// Calls `each` with every event's decoded message, in journal order.
template <typename Each>
Result<bool, QueryError> forEachMessage(EventSource& source, Each&& each) {
  while (true) {
    auto event = source.next();
    if (!event) return event.error();
    if (!event.value()) return true;
    auto decoded = messages::decode(event.value()->frame);
    if (decoded) each(*decoded.value());
  }
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

Result<std::unique_ptr<EventSource>, QueryError> openJournalSource(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return fail(QueryError::BadInput, dir.string() + ": not a directory");
  auto reader = recorder::JournalReader::open(dir);
  if (!reader) return fail(QueryError::Damaged, dir.string() + ": " + reader.error().message);
  return std::unique_ptr<EventSource>(std::make_unique<JournalSource>(dir, std::move(reader).value()));
}

Result<SpotsPage, QueryError> querySpots(const std::filesystem::path& dir, const std::string& fraction,
                                         std::uint64_t first, std::uint64_t max) {
  auto source = openJournalSource(dir);
  if (!source) return source.error();
  return querySpots(*source.value(), fraction, first, max);
}

Result<nlohmann::json, QueryError> queryFractions(const std::filesystem::path& dir) {
  auto source = openJournalSource(dir);
  if (!source) return source.error();
  return queryFractions(*source.value());
}

Result<SpotsPage, QueryError> querySpots(EventSource& source, const std::string& fraction, std::uint64_t first,
                                         std::uint64_t max) {
  SpotsPage page;
  std::set<std::string> fractions;
  std::uint64_t index = 0;
  auto walked = forEachMessage(source, [&](const messages::Decoded& m) {
    auto body = m.body();
    if (bus::view(m.envelope().getSource()) != "delivery") return;
    auto id = messages::fractionIdOf(body);
    if (!id.empty()) fractions.insert(std::string(id));
    if (!body.isSpotDelivered() || id != fraction) return;
    const std::uint64_t at = index++;
    if (at < first) return;
    if (page.lines >= max) {
      page.more = true;
      return;
    }
    auto sd = body.getSpotDelivered();
    page.csv += std::to_string(m.envelope().getSequence()) + "," + std::to_string(sd.getBeam()) + "," +
                std::to_string(sd.getLayer()) + "," + std::to_string(sd.getSpot()) + "," + number(sd.getPlanned()) +
                "," + number(sd.getDelivered()) + "," + (sd.getMetersetUnit() == wire::MetersetUnit::MU ? "MU" : "NP") +
                "," + number(sd.getXPlannedMm()) + "," + number(sd.getYPlannedMm()) + "," +
                number(sd.getXMeasuredMm()) + "," + number(sd.getYMeasuredMm()) + "\n";
    ++page.lines;
    page.next = at + 1;
  });
  if (!walked) return walked.error();
  if (!fractions.contains(fraction)) {
    std::string known;
    for (const auto& f : fractions) known += (known.empty() ? "" : ", ") + f;
    return fail(QueryError::BadInput, "no fraction " + fraction + " in " + source.describe() +
                                          (known.empty() ? " (it has none)" : " (it has " + known + ")"));
  }
  if (page.lines == 0) page.next = first;
  return page;
}

Result<nlohmann::json, QueryError> queryFractions(EventSource& source) {
  FractionLedger ledger;
  struct Planned {
    std::string planUid;
    std::uint32_t spots = 0;
    double meterset = 0.0;
    std::string unit;
  };
  std::map<std::string, Planned> planned;
  auto walked = forEachMessage(source, [&](const messages::Decoded& m) {
    ledger.record(m);
    auto body = m.body();
    if (body.isFractionStarted() && bus::view(m.envelope().getSource()) == "delivery") {
      auto f = body.getFractionStarted();
      planned[bus::str(f.getFractionId())] =
          Planned{bus::str(f.getPlanUid()), f.getSpotsPlanned(), f.getMetersetPlanned(),
                  f.getMetersetUnit() == wire::MetersetUnit::MU ? "MU" : "NP"};
    }
  });
  if (!walked) return walked.error();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [id, e] : ledger.all()) {
    const auto& p = planned[id];
    nlohmann::json overrides = nlohmann::json::array();
    for (const auto& r : ledger.overridesOf(id)) {
      overrides.push_back({{"check", r.check}, {"reason", r.reason}, {"user", r.user}});
    }
    list.push_back({{"fraction_id", id},
                    {"room", e.room},
                    {"plan_uid", p.planUid},
                    {"content_hash", e.contentHash},
                    {"status", e.ended ? std::string(toString(e.outcome)) : std::string("open")},
                    {"spots_planned", p.spots},
                    {"spots_delivered", e.spots},
                    {"meterset_planned", p.meterset},
                    {"meterset_delivered", e.meterset},
                    {"meterset_unit", p.unit},
                    {"sessions", e.sessions},
                    {"overrides", overrides},
                    {"holds", e.holds},
                    {"events", e.events}});
  }
  return nlohmann::json{{"journal", source.describe()}, {"fractions", list}};
}

nlohmann::json verifyReportJson(const recorder::VerifyReport& r) {
  nlohmann::json j{{"ok", r.ok},
                   {"records", r.records},
                   {"segments", r.segments},
                   {"bytes", r.bytes},
                   {"last_hash", r.lastHash},
                   {"checkpoints", r.checkpoints},
                   {"signed_records", r.signedRecords},
                   {"unsigned_records", r.unsignedRecords},
                   {"checkpoint_key", r.checkpointKey}};
  if (!r.ok) {
    j["damage"] = std::string(recorder::toString(r.damage));
    j["segment"] = r.segment;
    j["offset"] = r.offset;
    j["index"] = r.index;
    j["message"] = r.message;
  }
  return j;
}

}  // namespace spotline::runtime
