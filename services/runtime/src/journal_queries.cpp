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

// Calls `each` with every journaled message, in order.
template <typename Each>
Result<bool, QueryError> forEachMessage(const std::filesystem::path& dir, Each&& each) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return fail(QueryError::BadInput, dir.string() + ": not a directory");
  auto reader = recorder::JournalReader::open(dir);
  if (!reader) return fail(QueryError::Damaged, dir.string() + ": " + reader.error().message);
  while (true) {
    auto rec = reader.value()->next();
    if (!rec) return fail(QueryError::Damaged, dir.string() + ": " + rec.error().message);
    if (!rec.value()) return true;
    auto decoded = messages::decode(rec.value()->payload);
    if (decoded) each(*decoded.value());
  }
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

Result<SpotsPage, QueryError> querySpots(const std::filesystem::path& dir, const std::string& fraction,
                                         std::uint64_t first, std::uint64_t max) {
  SpotsPage page;
  std::set<std::string> fractions;
  std::uint64_t index = 0;
  auto walked = forEachMessage(dir, [&](const messages::Decoded& m) {
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
    return fail(QueryError::BadInput, "no fraction " + fraction + " in " + dir.string() +
                                          (known.empty() ? " (it has none)" : " (it has " + known + ")"));
  }
  if (page.lines == 0) page.next = first;
  return page;
}

Result<nlohmann::json, QueryError> queryFractions(const std::filesystem::path& dir) {
  FractionLedger ledger;
  struct Planned {
    std::string planUid;
    std::uint32_t spots = 0;
    double meterset = 0.0;
    std::string unit;
  };
  std::map<std::string, Planned> planned;
  auto walked = forEachMessage(dir, [&](const messages::Decoded& m) {
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
  return nlohmann::json{{"journal", dir.string()}, {"fractions", list}};
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
