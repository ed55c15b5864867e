#pragma once
// What rv knows of every fraction, kept from the delivery events it journals: how far the stream
// got, how many spots and how much meterset were recorded, and how the fraction ended. Rebuilt
// from the journal at start, so it survives a restart of rv.

#include <map>
#include <string>
#include <vector>

#include "spotline/messages/codec.h"

namespace spotline::runtime {

struct FractionEntry {
  std::uint64_t lastSequence = 0;  // highest stream sequence journaled
  std::uint64_t events = 0;
  std::uint32_t spots = 0;  // spots completed (a spot cut by a hold counts once it is complete)
  double meterset = 0.0;
  bool ended = false;
  wire::FractionOutcome outcome = wire::FractionOutcome::INTERRUPTED;
  std::string contentHash;  // of the plan the fraction started with
  std::string room;
  std::uint32_t sessions = 0;  // FractionStarted events: 1 + resumes
  std::uint32_t holds = 0;
  // The last spot record: where a resume continues.
  bool anySpot = false;
  std::uint32_t lastBeam = 0, lastLayer = 0, lastSpot = 0;
  bool lastPartial = false;
  double lastSpotDelivered = 0.0;  // all records of that spot
};

// A check of rv's verification that an authorised person overrode (journaled with the request).
struct OverrideRecord {
  std::string check;
  std::string reason;
  std::string user;
  std::uint64_t wallTimeNs = 0;
};

class FractionLedger {
 public:
  // Overrides granted for a fraction: from a VerifyBeamOn and the VerifyReply that follows it.
  const std::vector<OverrideRecord>& overridesOf(std::string_view fraction) const;
  // Records one journaled frame; ignores anything that is not a delivery event of a fraction.
  void record(const messages::Decoded& msg);
  const FractionEntry* find(std::string_view fraction) const;
  const std::map<std::string, FractionEntry, std::less<>>& all() const { return entries_; }

 private:
  std::map<std::string, FractionEntry, std::less<>> entries_;
  std::map<std::string, std::vector<OverrideRecord>, std::less<>> overrides_;
  // The last verification request, until its reply: fraction and the overrides it asked for.
  std::string verifying_;
  std::vector<OverrideRecord> asked_;
};

}  // namespace spotline::runtime
