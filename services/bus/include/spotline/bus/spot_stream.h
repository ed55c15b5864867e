#pragma once
// The lossless, sequenced, acknowledged spot stream from delivery to rv (messages/README.md,
// "Spot stream rules"). Both ends are pure protocol logic over Link / LinkServer and an injected
// WallClock, so the same code runs over ZeroMQ and over the fault-injecting fake.
//
// Lifecycle: each end is owned and driven by one service thread.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>

#include "spotline/bus/link.h"
#include "spotline/core/clock.h"
#include "spotline/messages/codec.h"

namespace spotline::bus {

struct StreamConfig {
  std::size_t window = 8192;  // unacknowledged events at most
  WallClock::Duration retransmitAfter = std::chrono::milliseconds(250);
};

class SpotStreamSender {
 public:
  SpotStreamSender(Link& link, const WallClock& clock, StreamConfig config);

  // True while the outbox holds fewer than `window` events: delivery may put beam on the next spot.
  bool hasCredit() const { return unacked_ < config_.window; }
  // The sequence the next event of this fraction must carry in its envelope.
  std::uint64_t nextSequence(const std::string& fraction) const;
  // Starts a fraction's numbering at `next` (1 for a new fraction; rv's resume point otherwise).
  void beginFraction(const std::string& fraction, std::uint64_t next);
  // Keeps the frame until acknowledged and sends it. `frame.envelope.sequence` must equal
  // nextSequence(fraction).
  void send(const std::string& fraction, Frame frame);
  // Handles every acknowledgement waiting on the link, then resends on timeout.
  void poll();

  std::size_t unacknowledged() const { return unacked_; }
  std::uint64_t acknowledgedUpTo(const std::string& fraction) const;
  // Forgets a fraction once everything of it is acknowledged.
  void endFraction(const std::string& fraction);

  struct Stats {
    std::uint64_t sent = 0, resent = 0, acks = 0, nacks = 0, sendFailures = 0, badFrames = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Pending {
    std::uint64_t seq;
    Frame frame;
    WallClock::TimePoint sentAt;
  };
  struct Outbox {
    std::uint64_t next = 1;
    std::uint64_t ackedUpTo = 0;
    std::deque<Pending> pending;
  };
  void resendFrom(Outbox& box, std::uint64_t seq);
  void handle(std::span<const std::byte> frame);

  Link& link_;
  const WallClock& clock_;
  StreamConfig config_;
  std::map<std::string, Outbox> boxes_;
  std::size_t unacked_ = 0;
  Stats stats_;
};

class SpotStreamReceiver {
 public:
  // Called once per event, in sequence order, exactly once per (fraction, sequence) while this
  // receiver lives. The frame is the raw bytes to journal.
  using Accept = std::function<void(std::string_view fraction, std::uint64_t seq, std::span<const std::byte> frame,
                                    const messages::Decoded& decoded)>;

  SpotStreamReceiver(LinkServer& server, std::string source, Accept accept);

  // Recovery: the next sequence expected for a fraction (from the journal at start).
  void setExpected(const std::string& fraction, std::uint64_t next);
  std::uint64_t expected(const std::string& fraction) const;

  // Receives up to `max` frames; returns how many arrived.
  std::size_t poll(std::size_t max);
  // Everything accepted so far is durable: acknowledge it to its senders.
  void acknowledgeDurable();

  struct Stats {
    std::uint64_t accepted = 0, duplicates = 0, gaps = 0, malformed = 0, acksSent = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct State {
    std::uint64_t expected = 1;
    std::uint64_t durableUpTo = 0;
    std::uint64_t nackedAt = 0;  // one Nack per gap, not one per frame behind it
    PeerId peer;
    bool ackPending = false;
  };
  void sendAck(const PeerId& peer, const std::string& fraction, std::uint64_t upTo);
  void sendNack(const PeerId& peer, const std::string& fraction, std::uint64_t expected);

  LinkServer& server_;
  std::string source_;
  Accept accept_;
  messages::Encoder encoder_;
  std::map<std::string, State, std::less<>> states_;
  Stats stats_;
};

}  // namespace spotline::bus
