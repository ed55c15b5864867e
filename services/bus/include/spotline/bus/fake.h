#pragma once
// An in-memory network for unit tests: links and servers that implement the real interfaces, with
// fault hooks. Frames in flight are held with a delivery time on a ManualClock, so a test decides
// when they arrive; faults are drawn from a seeded generator, so a failing case replays exactly.
//
// Lifecycle: the FakeNetwork owns all queues and must outlive every FakeLink / FakeLinkServer made
// from it. Single-threaded: the test thread drives everything.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>

#include "spotline/bus/link.h"
#include "spotline/core/clock.h"

namespace spotline::bus {

struct FaultPlan {
  double drop = 0.0;             // probability a frame is lost
  double duplicate = 0.0;        // probability a frame arrives twice
  double reorder = 0.0;          // probability a frame is held back behind the next one
  WallClock::Duration delay{0};  // every frame arrives this much later
};

class FakeNetwork {
 public:
  FakeNetwork(ManualClock& clock, std::uint64_t seed);

  // A server reachable under `address`, and a client connected to it.
  std::unique_ptr<LinkServer> bind(const std::string& address);
  std::unique_ptr<Link> connect(const std::string& address, const PeerId& identity);

  // Faults per direction: toServer applies to client -> server frames, toClient to replies.
  void setFaults(const std::string& address, FaultPlan toServer, FaultPlan toClient);
  // While disconnected every send fails and every frame in flight is lost.
  void disconnect(const std::string& address);
  void reconnect(const std::string& address);

  struct Counters {
    std::uint64_t sent = 0, dropped = 0, duplicated = 0, reordered = 0, lostInDisconnect = 0;
  };
  const Counters& counters() const { return counters_; }

 private:
  friend class FakeLinkImpl;
  friend class FakeServerImpl;
  struct InFlight {
    WallClock::TimePoint due;
    std::uint64_t order;
    PeerId peer;
    Frame frame;
    bool heldBack = false;
  };
  struct Channel {
    FaultPlan toServer, toClient;
    bool connected = true;
    std::deque<InFlight> serverInbox;
    std::map<PeerId, std::deque<InFlight>> clientInbox;
  };
  bool transmit(Channel& ch, bool toServer, const PeerId& peer, std::span<const std::byte> frame);
  std::optional<InFlight> take(std::deque<InFlight>& q);

  ManualClock& clock_;
  std::mt19937_64 rng_;
  std::uint64_t order_ = 0;
  std::map<std::string, Channel> channels_;
  Counters counters_;
};

}  // namespace spotline::bus
