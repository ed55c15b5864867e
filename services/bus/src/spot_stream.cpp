#include "spotline/bus/spot_stream.h"

#include <stdexcept>

namespace spotline::bus {

namespace {
std::string text(capnp::Text::Reader t) {
  return std::string(t.cStr(), t.size());
}
}  // namespace

SpotStreamSender::SpotStreamSender(Link& link, const WallClock& clock, StreamConfig config)
    : link_(link), clock_(clock), config_(config) {}

std::uint64_t SpotStreamSender::nextSequence(const std::string& fraction) const {
  auto it = boxes_.find(fraction);
  return it == boxes_.end() ? 1 : it->second.next;
}

void SpotStreamSender::beginFraction(const std::string& fraction, std::uint64_t next) {
  auto& box = boxes_[fraction];
  if (!box.pending.empty()) throw std::logic_error("fraction " + fraction + " still has unacknowledged events");
  box.next = next;
  box.ackedUpTo = next - 1;
}

std::uint64_t SpotStreamSender::acknowledgedUpTo(const std::string& fraction) const {
  auto it = boxes_.find(fraction);
  return it == boxes_.end() ? 0 : it->second.ackedUpTo;
}

void SpotStreamSender::endFraction(const std::string& fraction) {
  auto it = boxes_.find(fraction);
  if (it != boxes_.end() && it->second.pending.empty()) boxes_.erase(it);
}

void SpotStreamSender::send(const std::string& fraction, Frame frame) {
  auto& box = boxes_[fraction];
  std::uint64_t seq = box.next++;
  if (!link_.send(frame)) ++stats_.sendFailures;  // stays in the outbox; resent on timeout
  ++stats_.sent;
  box.pending.push_back(Pending{seq, std::move(frame), clock_.now()});
  ++unacked_;
}

void SpotStreamSender::resendFrom(Outbox& box, std::uint64_t seq) {
  auto now = clock_.now();
  for (auto& p : box.pending) {
    if (p.seq < seq) continue;
    if (!link_.send(p.frame)) {
      ++stats_.sendFailures;
      break;  // the link is down; the timeout brings us back here
    }
    p.sentAt = now;
    ++stats_.resent;
  }
}

void SpotStreamSender::handle(std::span<const std::byte> frame) {
  auto decoded = messages::decode(frame);
  if (!decoded) {
    ++stats_.badFrames;
    return;
  }
  auto body = decoded.value()->body();
  if (body.isAck()) {
    ++stats_.acks;
    auto ack = body.getAck();
    auto it = boxes_.find(text(ack.getFractionId()));
    if (it == boxes_.end()) return;
    auto& box = it->second;
    std::uint64_t upTo = std::min(ack.getUpTo(), box.next - 1);
    while (!box.pending.empty() && box.pending.front().seq <= upTo) {
      box.pending.pop_front();
      --unacked_;
    }
    box.ackedUpTo = std::max(box.ackedUpTo, upTo);
  } else if (body.isNack()) {
    ++stats_.nacks;
    auto nack = body.getNack();
    auto it = boxes_.find(text(nack.getFractionId()));
    if (it == boxes_.end()) return;
    resendFrom(it->second, nack.getExpected());
  } else {
    ++stats_.badFrames;
  }
}

void SpotStreamSender::poll() {
  while (auto frame = link_.receive()) handle(*frame);
  auto now = clock_.now();
  for (auto& [fraction, box] : boxes_) {
    if (!box.pending.empty() && now - box.pending.front().sentAt >= config_.retransmitAfter) {
      resendFrom(box, box.pending.front().seq);
    }
  }
}

SpotStreamReceiver::SpotStreamReceiver(LinkServer& server, std::string source, Accept accept)
    : server_(server), source_(std::move(source)), accept_(std::move(accept)) {}

void SpotStreamReceiver::setExpected(const std::string& fraction, std::uint64_t next) {
  auto& st = states_[fraction];
  st.expected = next;
  st.durableUpTo = next - 1;
}

std::uint64_t SpotStreamReceiver::expected(const std::string& fraction) const {
  auto it = states_.find(fraction);
  return it == states_.end() ? 1 : it->second.expected;
}

std::size_t SpotStreamReceiver::poll(std::size_t max) {
  std::size_t n = 0;
  while (n < max) {
    auto in = server_.receive();
    if (!in) break;
    ++n;
    auto decoded = messages::decode(in->frame);
    if (!decoded) {
      ++stats_.malformed;
      continue;
    }
    const auto& msg = *decoded.value();
    std::string_view fractionView = messages::fractionIdOf(msg.body());
    if (fractionView.empty()) {
      ++stats_.malformed;
      continue;
    }
    auto it = states_.find(fractionView);
    if (it == states_.end()) it = states_.emplace(std::string(fractionView), State{}).first;
    auto& st = it->second;
    std::uint64_t seq = msg.envelope().getSequence();
    if (seq == st.expected) {
      st.peer = in->peer;
      accept_(it->first, seq, in->frame, msg);
      ++st.expected;
      st.ackPending = true;
      ++stats_.accepted;
    } else if (seq < st.expected) {
      ++stats_.duplicates;
      // Already durable: say so again, the sender may have missed the ack.
      if (seq <= st.durableUpTo) sendAck(in->peer, it->first, st.durableUpTo);
    } else {
      ++stats_.gaps;
      if (st.nackedAt != st.expected) {
        sendNack(in->peer, it->first, st.expected);
        st.nackedAt = st.expected;
      }
    }
  }
  return n;
}

void SpotStreamReceiver::acknowledgeDurable() {
  for (auto& [fraction, st] : states_) {
    if (!st.ackPending) continue;
    st.durableUpTo = st.expected - 1;
    st.ackPending = false;
    st.nackedAt = 0;
    sendAck(st.peer, fraction, st.durableUpTo);
  }
}

void SpotStreamReceiver::sendAck(const PeerId& peer, const std::string& fraction, std::uint64_t upTo) {
  auto body = encoder_.start({.source = source_});
  auto ack = body.initAck();
  ack.setFractionId(fraction);
  ack.setUpTo(upTo);
  auto frame = encoder_.finish();
  if (server_.send(peer, frame)) ++stats_.acksSent;
}

void SpotStreamReceiver::sendNack(const PeerId& peer, const std::string& fraction, std::uint64_t expected) {
  auto body = encoder_.start({.source = source_});
  auto nack = body.initNack();
  nack.setFractionId(fraction);
  nack.setExpected(expected);
  server_.send(peer, encoder_.finish());
}

}  // namespace spotline::bus
