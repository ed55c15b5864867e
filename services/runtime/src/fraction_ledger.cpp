#include "spotline/runtime/fraction_ledger.h"

#include "spotline/bus/codec_helpers.h"

namespace spotline::runtime {

const std::vector<OverrideRecord>& FractionLedger::overridesOf(std::string_view fraction) const {
  static const std::vector<OverrideRecord> none;
  auto it = overrides_.find(fraction);
  return it == overrides_.end() ? none : it->second;
}

void FractionLedger::record(const messages::Decoded& msg) {
  auto body = msg.body();
  if (body.isVerifyBeamOn()) {
    auto v = body.getVerifyBeamOn();
    verifying_ = bus::str(v.getFractionId());
    asked_.clear();
    for (auto o : v.getOverrides()) {
      asked_.push_back(OverrideRecord{bus::str(o.getCheck()), bus::str(o.getReason()), bus::str(o.getUser()),
                                      static_cast<std::uint64_t>(msg.envelope().getWallTimeNs())});
    }
    return;
  }
  if (body.isVerifyReply()) {
    auto r = body.getVerifyReply();
    if (r.getPermitted() && !verifying_.empty()) {
      for (auto check : r.getOverridden()) {
        for (const auto& a : asked_) {
          if (a.check == bus::view(check)) overrides_[verifying_].push_back(a);
        }
      }
    }
    verifying_.clear();
    asked_.clear();
    return;
  }
  if (bus::view(msg.envelope().getSource()) != "delivery") return;
  auto fraction = messages::fractionIdOf(body);
  if (fraction.empty()) return;
  auto it = entries_.find(fraction);
  if (it == entries_.end()) it = entries_.emplace(std::string(fraction), FractionEntry{}).first;
  auto& e = it->second;
  e.lastSequence = std::max(e.lastSequence, msg.envelope().getSequence());
  ++e.events;
  if (body.isSpotDelivered()) {
    auto s = body.getSpotDelivered();
    const bool same =
        e.anySpot && e.lastBeam == s.getBeam() && e.lastLayer == s.getLayer() && e.lastSpot == s.getSpot();
    e.lastSpotDelivered = (same ? e.lastSpotDelivered : 0.0) + s.getDelivered();
    e.anySpot = true;
    e.lastBeam = s.getBeam();
    e.lastLayer = s.getLayer();
    e.lastSpot = s.getSpot();
    e.lastPartial = s.getPartial();
    if (!s.getPartial()) ++e.spots;
    e.meterset += s.getDelivered();
  } else if (body.isFractionStarted()) {
    auto f = body.getFractionStarted();
    ++e.sessions;
    e.ended = false;
    e.contentHash = bus::str(f.getContentHash());
    e.room = bus::str(f.getRoom());
  } else if (body.isBeamHold()) {
    ++e.holds;
  } else if (body.isFractionEnded()) {
    e.ended = true;
    e.outcome = body.getFractionEnded().getOutcome();
  }
}

const FractionEntry* FractionLedger::find(std::string_view fraction) const {
  auto it = entries_.find(fraction);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace spotline::runtime
