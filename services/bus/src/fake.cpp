#include "spotline/bus/fake.h"

#include <algorithm>
#include <stdexcept>

namespace spotline::bus {

class FakeLinkImpl final : public Link {
 public:
  FakeLinkImpl(FakeNetwork& net, std::string address, PeerId id)
      : net_(net), address_(std::move(address)), id_(std::move(id)) {}
  bool send(std::span<const std::byte> frame) override {
    return net_.transmit(net_.channels_.at(address_), true, id_, frame);
  }
  std::optional<Frame> receive() override {
    auto& ch = net_.channels_.at(address_);
    auto got = net_.take(ch.clientInbox[id_]);
    if (!got) return std::nullopt;
    return std::move(got->frame);
  }

 private:
  FakeNetwork& net_;
  std::string address_;
  PeerId id_;
};

class FakeServerImpl final : public LinkServer {
 public:
  FakeServerImpl(FakeNetwork& net, std::string address) : net_(net), address_(std::move(address)) {}
  bool send(const PeerId& peer, std::span<const std::byte> frame) override {
    return net_.transmit(net_.channels_.at(address_), false, peer, frame);
  }
  std::optional<Inbound> receive() override {
    auto got = net_.take(net_.channels_.at(address_).serverInbox);
    if (!got) return std::nullopt;
    return Inbound{std::move(got->peer), std::move(got->frame)};
  }

 private:
  FakeNetwork& net_;
  std::string address_;
};

FakeNetwork::FakeNetwork(ManualClock& clock, std::uint64_t seed) : clock_(clock), rng_(seed) {}

std::unique_ptr<LinkServer> FakeNetwork::bind(const std::string& address) {
  if (!channels_.emplace(address, Channel{}).second) throw std::logic_error("address already bound: " + address);
  return std::make_unique<FakeServerImpl>(*this, address);
}

std::unique_ptr<Link> FakeNetwork::connect(const std::string& address, const PeerId& identity) {
  if (!channels_.contains(address)) throw std::logic_error("nothing bound at " + address);
  return std::make_unique<FakeLinkImpl>(*this, address, identity);
}

void FakeNetwork::setFaults(const std::string& address, FaultPlan toServer, FaultPlan toClient) {
  auto& ch = channels_.at(address);
  ch.toServer = toServer;
  ch.toClient = toClient;
}

void FakeNetwork::disconnect(const std::string& address) {
  auto& ch = channels_.at(address);
  ch.connected = false;
  counters_.lostInDisconnect += ch.serverInbox.size();
  ch.serverInbox.clear();
  for (auto& [peer, q] : ch.clientInbox) {
    counters_.lostInDisconnect += q.size();
    q.clear();
  }
}

void FakeNetwork::reconnect(const std::string& address) {
  channels_.at(address).connected = true;
}

bool FakeNetwork::transmit(Channel& ch, bool toServer, const PeerId& peer, std::span<const std::byte> frame) {
  if (!ch.connected) return false;
  ++counters_.sent;
  const FaultPlan& faults = toServer ? ch.toServer : ch.toClient;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (u(rng_) < faults.drop) {
    ++counters_.dropped;
    return true;  // a lost frame looks sent to the sender, as on a real network
  }
  auto& queue = toServer ? ch.serverInbox : ch.clientInbox[peer];
  int copies = 1;
  if (u(rng_) < faults.duplicate) {
    ++counters_.duplicated;
    copies = 2;
  }
  bool holdBack = u(rng_) < faults.reorder;
  for (int i = 0; i < copies; ++i) {
    // Frames held back earlier are overtaken by this one: they now go after it (in time too, as
    // take() orders by due time first).
    std::uint64_t order = order_++;
    auto due = clock_.now() + faults.delay;
    for (auto& f : queue) {
      if (f.heldBack) {
        f.heldBack = false;
        f.order = order_++;
        f.due = std::max(f.due, due);
      }
    }
    InFlight f{due, order, peer, Frame(frame.begin(), frame.end()), false};
    if (holdBack && i == 0) {
      ++counters_.reordered;
      f.heldBack = true;
    }
    queue.push_back(std::move(f));
  }
  return true;
}

std::optional<FakeNetwork::InFlight> FakeNetwork::take(std::deque<InFlight>& q) {
  auto now = clock_.now();
  auto pick = [&](bool allowHeld) {
    auto best = q.end();
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (it->due > now || (it->heldBack && !allowHeld)) continue;
      if (best == q.end() || std::tie(it->due, it->order) < std::tie(best->due, best->order)) best = it;
    }
    return best;
  };
  // A held-back frame waits for the frame sent after it, unless nothing else is left to deliver.
  auto best = pick(false);
  if (best == q.end()) best = pick(true);
  if (best == q.end()) return std::nullopt;
  InFlight out = std::move(*best);
  q.erase(best);
  return out;
}

}  // namespace spotline::bus
