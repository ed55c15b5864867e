#pragma once
// What rv knows of every fraction, kept from the delivery events it journals: how far the stream
// got, how many spots and how much meterset were recorded, and how the fraction ended. Rebuilt
// from the journal at start, so it survives a restart of rv.

#include <map>
#include <string>

#include "spotline/messages/codec.h"

namespace spotline::runtime {

struct FractionEntry {
  std::uint64_t lastSequence = 0;  // highest stream sequence journaled
  std::uint64_t events = 0;
  std::uint32_t spots = 0;
  double meterset = 0.0;
  bool ended = false;
  wire::FractionOutcome outcome = wire::FractionOutcome::INTERRUPTED;
};

class FractionLedger {
 public:
  // Records one journaled frame; ignores anything that is not a delivery event of a fraction.
  void record(const messages::Decoded& msg);
  const FractionEntry* find(std::string_view fraction) const;
  const std::map<std::string, FractionEntry, std::less<>>& all() const { return entries_; }

 private:
  std::map<std::string, FractionEntry, std::less<>> entries_;
};

}  // namespace spotline::runtime
