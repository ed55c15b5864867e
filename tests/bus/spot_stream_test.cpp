// The spot stream over the fault-injecting fake: whatever the network does, rv accepts every
// event of a fraction exactly once and in order, and delivery's outbox drains.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "spotline/bus/codec_helpers.h"
#include "spotline/bus/fake.h"
#include "spotline/bus/spot_stream.h"

namespace spotline::bus {
namespace {

using namespace std::chrono_literals;

constexpr const char* kAddress = "rv.stream";

Frame spotEvent(messages::Encoder& enc, const std::string& fraction, std::uint64_t seq) {
  auto s = enc.start({.source = "delivery", .sequence = seq}).initSpotDelivered();
  s.setFractionId(fraction);
  s.setSpot(static_cast<std::uint32_t>(seq));  // lets the receiver check the payload matches the sequence
  s.setPlanned(1000.0);
  s.setDelivered(1000.0 + static_cast<double>(seq));
  return enc.finish();
}

// Everything the receiver accepted, in the order it accepted it.
struct Accepted {
  std::vector<std::pair<std::string, std::uint64_t>> all;
  std::uint64_t payloadMismatches = 0;
  SpotStreamReceiver::Accept callback() {
    return [this](std::string_view fraction, std::uint64_t seq, std::span<const std::byte> frame,
                  const messages::Decoded& decoded) {
      all.emplace_back(std::string(fraction), seq);
      auto s = decoded.body().getSpotDelivered();
      if (s.getSpot() != seq || view(s.getFractionId()) != fraction || frame.empty()) ++payloadMismatches;
    };
  }
  std::vector<std::uint64_t> of(const std::string& fraction) const {
    std::vector<std::uint64_t> out;
    for (const auto& [f, s] : all) {
      if (f == fraction) out.push_back(s);
    }
    return out;
  }
};

std::vector<std::uint64_t> oneTo(std::uint64_t n) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

struct Mix {
  FaultPlan toServer;
  FaultPlan toClient;
  bool disconnect = false;
};

// Faults both ways, up to 30 % each, with and without delay and a disconnect in the middle.
Mix mixFor(std::uint64_t seed) {
  double p[] = {0.0, 0.1, 0.2, 0.3};
  Mix m;
  m.toServer = FaultPlan{.drop = p[seed % 4],
                         .duplicate = p[(seed / 4) % 4],
                         .reorder = p[(seed / 2) % 4],
                         .delay = std::chrono::milliseconds(seed % 3 * 4)};
  m.toClient = FaultPlan{.drop = p[(seed + 1) % 4],
                         .duplicate = p[(seed / 3) % 4],
                         .reorder = p[(seed + 2) % 4],
                         .delay = std::chrono::milliseconds(seed % 2 * 6)};
  m.disconnect = seed % 2 == 0;
  return m;
}

struct Outcome {
  bool finished = false;
  int ticks = 0;
};

// Drives sender and receiver over the fake until every event of every fraction is acknowledged.
// `fractions` are sent interleaved, one event of each in turn.
Outcome run(FakeNetwork& net, ManualClock& clock, SpotStreamSender& sender, SpotStreamReceiver& receiver,
            const std::vector<std::string>& fractions, std::uint64_t perFraction, bool disconnect) {
  messages::Encoder enc;
  std::uint64_t total = perFraction * fractions.size();
  std::uint64_t queued = 0;
  Outcome out;
  const int maxTicks = 200'000;
  bool disconnected = false;
  int reconnectAt = -1;
  for (; out.ticks < maxTicks; ++out.ticks) {
    // Up to 64 new events a tick while there is credit.
    for (int burst = 0; burst < 64 && queued < total && sender.hasCredit(); ++burst, ++queued) {
      const auto& fraction = fractions[queued % fractions.size()];
      sender.send(fraction, spotEvent(enc, fraction, sender.nextSequence(fraction)));
    }
    if (disconnect && !disconnected && queued >= total / 2) {
      net.disconnect(kAddress);
      disconnected = true;
      reconnectAt = out.ticks + 20;
    }
    if (out.ticks == reconnectAt) net.reconnect(kAddress);
    sender.poll();
    receiver.poll(1u << 20);
    receiver.acknowledgeDurable();
    clock.advance(5ms);
    if (queued == total && sender.unacknowledged() == 0) {
      out.finished = true;
      break;
    }
  }
  return out;
}

class SpotStreamUnderFaults : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(SpotStreamUnderFaults, EveryEventExactlyOnceInOrder) {
  const std::uint64_t seed = GetParam();
  const std::uint64_t n = 2000;
  Mix mix = mixFor(seed);
  ManualClock clock;
  FakeNetwork net(clock, seed);
  auto server = net.bind(kAddress);
  auto link = net.connect(kAddress, "delivery");
  net.setFaults(kAddress, mix.toServer, mix.toClient);
  SpotStreamSender sender(*link, clock, StreamConfig{.window = 32, .retransmitAfter = 40ms});
  Accepted accepted;
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());

  auto outcome = run(net, clock, sender, receiver, {"F-1"}, n, mix.disconnect);
  SCOPED_TRACE("seed " + std::to_string(seed));
  ASSERT_TRUE(outcome.finished) << "unacknowledged " << sender.unacknowledged();
  EXPECT_EQ(accepted.of("F-1"), oneTo(n));
  EXPECT_EQ(accepted.payloadMismatches, 0u);
  EXPECT_EQ(sender.unacknowledged(), 0u);
  EXPECT_EQ(sender.acknowledgedUpTo("F-1"), n);
  EXPECT_EQ(receiver.expected("F-1"), n + 1);
  EXPECT_EQ(receiver.stats().accepted, n);
  EXPECT_EQ(sender.stats().sent, n);
  if (mix.toServer.drop > 0 || mix.toClient.drop > 0 || mix.disconnect) {
    EXPECT_GT(sender.stats().resent, 0u);
  }
  if (mix.toServer.duplicate > 0) {
    EXPECT_GT(receiver.stats().duplicates, 0u);
  }
  if (mix.disconnect) {
    EXPECT_GT(net.counters().lostInDisconnect + sender.stats().sendFailures, 0u);
  }
  sender.endFraction("F-1");
  EXPECT_EQ(sender.nextSequence("F-1"), 1u);  // forgotten once fully acknowledged
}

class TwoFractionsUnderFaults : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(TwoFractionsUnderFaults, EachFractionExactlyOnceInOrder) {
  const std::uint64_t seed = GetParam();
  const std::uint64_t n = 1000;
  Mix mix = mixFor(seed + 1);
  ManualClock clock;
  FakeNetwork net(clock, seed * 31 + 1);
  auto server = net.bind(kAddress);
  auto link = net.connect(kAddress, "delivery");
  net.setFaults(kAddress, mix.toServer, mix.toClient);
  SpotStreamSender sender(*link, clock, StreamConfig{.window = 128, .retransmitAfter = 40ms});
  Accepted accepted;
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());

  auto outcome = run(net, clock, sender, receiver, {"F-A", "F-B"}, n, mix.disconnect);
  SCOPED_TRACE("seed " + std::to_string(seed));
  ASSERT_TRUE(outcome.finished);
  EXPECT_EQ(accepted.of("F-A"), oneTo(n));
  EXPECT_EQ(accepted.of("F-B"), oneTo(n));
  EXPECT_EQ(accepted.all.size(), 2 * n);
  EXPECT_EQ(accepted.payloadMismatches, 0u);
  EXPECT_EQ(sender.acknowledgedUpTo("F-A"), n);
  EXPECT_EQ(sender.acknowledgedUpTo("F-B"), n);
}

INSTANTIATE_TEST_SUITE_P(Seeds, SpotStreamUnderFaults, ::testing::Range<std::uint64_t>(1, 51));
INSTANTIATE_TEST_SUITE_P(Seeds, TwoFractionsUnderFaults, ::testing::Range<std::uint64_t>(100, 110));

struct Stream : ::testing::Test {
  ManualClock clock;
  FakeNetwork net{clock, 3};
  std::unique_ptr<LinkServer> server = net.bind(kAddress);
  std::unique_ptr<Link> link = net.connect(kAddress, "delivery");
  messages::Encoder enc;
  Accepted accepted;

  void sendNext(SpotStreamSender& sender, const std::string& fraction) {
    sender.send(fraction, spotEvent(enc, fraction, sender.nextSequence(fraction)));
  }
  // What the receiver sent back to the client: ("ack"|"nack", fraction, number).
  struct Reply {
    std::string kind;
    std::string fraction;
    std::uint64_t value;
    bool operator==(const Reply&) const = default;
  };
  std::vector<Reply> replies(Link& client) {
    std::vector<Reply> out;
    while (auto f = client.receive()) {
      auto d = messages::decode(*f);
      EXPECT_TRUE(d.ok());
      if (!d.ok()) continue;
      auto body = d.value()->body();
      EXPECT_EQ(view(d.value()->envelope().getSource()), "rv");
      if (body.isAck()) out.push_back({"ack", str(body.getAck().getFractionId()), body.getAck().getUpTo()});
      if (body.isNack()) out.push_back({"nack", str(body.getNack().getFractionId()), body.getNack().getExpected()});
    }
    return out;
  }
};

TEST_F(Stream, CreditRunsOutWithoutAcksAndReturnsWithThem) {
  const std::size_t window = 16;
  SpotStreamSender sender(*link, clock, StreamConfig{.window = window, .retransmitAfter = 20ms});
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());
  net.setFaults(kAddress, FaultPlan{}, FaultPlan{.drop = 1.0});
  std::size_t sent = 0;
  while (sender.hasCredit() && sent < 1000) {
    sendNext(sender, "F");
    ++sent;
  }
  EXPECT_EQ(sent, window);
  for (int tick = 0; tick < 100; ++tick) {
    sender.poll();
    receiver.poll(1000);
    receiver.acknowledgeDurable();
    EXPECT_FALSE(sender.hasCredit()) << tick;
    clock.advance(5ms);
  }
  EXPECT_EQ(sender.unacknowledged(), window);
  EXPECT_EQ(sender.acknowledgedUpTo("F"), 0u);
  EXPECT_EQ(accepted.of("F"), oneTo(window));  // rv has them all; only the acks are lost
  EXPECT_GT(sender.stats().resent, 0u);
  EXPECT_EQ(sender.stats().acks, 0u);

  net.setFaults(kAddress, FaultPlan{}, FaultPlan{});
  int ticks = 0;
  while (!sender.hasCredit() && ticks++ < 100) {
    sender.poll();
    receiver.poll(1000);
    receiver.acknowledgeDurable();
    clock.advance(5ms);
  }
  sender.poll();
  EXPECT_TRUE(sender.hasCredit());
  EXPECT_EQ(sender.unacknowledged(), 0u);
  EXPECT_EQ(sender.acknowledgedUpTo("F"), window);
  EXPECT_EQ(accepted.of("F"), oneTo(window));  // the retransmissions were duplicates, not new events
}

TEST_F(Stream, CreditCountsEveryFraction) {
  SpotStreamSender sender(*link, clock, StreamConfig{.window = 4, .retransmitAfter = 20ms});
  sendNext(sender, "A");
  sendNext(sender, "B");
  sendNext(sender, "A");
  EXPECT_TRUE(sender.hasCredit());
  sendNext(sender, "B");
  EXPECT_FALSE(sender.hasCredit());
  EXPECT_EQ(sender.nextSequence("A"), 3u);
  EXPECT_EQ(sender.nextSequence("B"), 3u);
  EXPECT_EQ(sender.nextSequence("C"), 1u);
}

TEST_F(Stream, RecoveredReceiverTreatsJournaledSequencesAsDuplicatesAndReAcksThem) {
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());
  receiver.setExpected("F", 6);  // the journal holds 1..5
  EXPECT_EQ(receiver.expected("F"), 6u);
  EXPECT_EQ(receiver.expected("other"), 1u);
  messages::Encoder e;
  for (std::uint64_t seq = 1; seq <= 7; ++seq) link->send(spotEvent(e, "F", seq));
  EXPECT_EQ(receiver.poll(100), 7u);
  EXPECT_EQ(accepted.of("F"), (std::vector<std::uint64_t>{6, 7}));
  EXPECT_EQ(receiver.stats().duplicates, 5u);
  // Each duplicate is acknowledged again at once with what is durable; the new ones wait for durability.
  auto before = replies(*link);
  ASSERT_EQ(before.size(), 5u);
  for (const auto& r : before) EXPECT_EQ(r, (Reply{"ack", "F", 5}));
  receiver.acknowledgeDurable();
  EXPECT_EQ(replies(*link), (std::vector<Reply>{{"ack", "F", 7}}));
}

TEST_F(Stream, SenderResumesAfterRecoveredReceiver) {
  // delivery still holds 1..8 unacknowledged; rv restarted with 1..5 journaled.
  SpotStreamSender sender(*link, clock, StreamConfig{.window = 64, .retransmitAfter = 20ms});
  net.disconnect(kAddress);
  for (int i = 0; i < 8; ++i) sendNext(sender, "F");
  EXPECT_EQ(sender.stats().sendFailures, 8u);
  net.reconnect(kAddress);
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());
  receiver.setExpected("F", 6);
  for (int tick = 0; tick < 50 && sender.unacknowledged() > 0; ++tick) {
    clock.advance(5ms);
    sender.poll();
    receiver.poll(1000);
    receiver.acknowledgeDurable();
  }
  sender.poll();
  EXPECT_EQ(sender.unacknowledged(), 0u);
  EXPECT_EQ(sender.acknowledgedUpTo("F"), 8u);
  EXPECT_EQ(accepted.of("F"), (std::vector<std::uint64_t>{6, 7, 8}));
}

TEST_F(Stream, DuplicateNotYetDurableIsNotAcknowledgedEarly) {
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());
  messages::Encoder e;
  link->send(spotEvent(e, "F", 1));
  link->send(spotEvent(e, "F", 1));
  receiver.poll(10);
  EXPECT_EQ(accepted.of("F"), std::vector<std::uint64_t>{1});
  EXPECT_EQ(receiver.stats().duplicates, 1u);
  // Seq 1 is accepted but not yet durable: no ack may claim it.
  EXPECT_TRUE(replies(*link).empty());
  receiver.acknowledgeDurable();
  EXPECT_EQ(replies(*link), (std::vector<Reply>{{"ack", "F", 1}}));
  receiver.acknowledgeDurable();  // nothing new: no second ack
  EXPECT_TRUE(replies(*link).empty());
}

TEST_F(Stream, OneNackPerGap) {
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());
  messages::Encoder e;
  for (std::uint64_t seq : {1, 3, 4, 5}) link->send(spotEvent(e, "F", seq));
  receiver.poll(10);
  EXPECT_EQ(accepted.of("F"), std::vector<std::uint64_t>{1});
  EXPECT_EQ(receiver.stats().gaps, 3u);
  EXPECT_EQ(replies(*link), (std::vector<Reply>{{"nack", "F", 2}}));
  // More frames behind the same gap: still no second Nack.
  link->send(spotEvent(e, "F", 6));
  receiver.poll(10);
  EXPECT_TRUE(replies(*link).empty());
  // The gap is filled; a new gap further on gets its own Nack.
  for (std::uint64_t seq : {2, 3, 4, 6}) link->send(spotEvent(e, "F", seq));
  receiver.poll(10);
  EXPECT_EQ(accepted.of("F"), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(replies(*link), (std::vector<Reply>{{"nack", "F", 5}}));
  receiver.acknowledgeDurable();
  EXPECT_EQ(replies(*link), (std::vector<Reply>{{"ack", "F", 4}}));
  // A gap in another fraction is its own gap.
  link->send(spotEvent(e, "G", 2));
  receiver.poll(10);
  EXPECT_EQ(replies(*link), (std::vector<Reply>{{"nack", "G", 1}}));
}

TEST_F(Stream, NackMakesTheSenderResendFromTheGapBeforeAnyTimeout) {
  SpotStreamSender sender(*link, clock, StreamConfig{.window = 64, .retransmitAfter = 1000ms});
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());
  sendNext(sender, "F");
  net.setFaults(kAddress, FaultPlan{.drop = 1.0}, FaultPlan{});
  sendNext(sender, "F");  // seq 2 is lost
  net.setFaults(kAddress, FaultPlan{}, FaultPlan{});
  for (int i = 0; i < 3; ++i) sendNext(sender, "F");  // 3, 4, 5
  receiver.poll(100);
  receiver.acknowledgeDurable();
  EXPECT_EQ(accepted.of("F"), std::vector<std::uint64_t>{1});
  sender.poll();  // Nack{2} and Ack{1}; no time has passed
  EXPECT_EQ(sender.stats().nacks, 1u);
  EXPECT_EQ(sender.stats().acks, 1u);
  EXPECT_EQ(sender.stats().resent, 4u);  // 2, 3, 4, 5 — not 1, which is acknowledged
  EXPECT_EQ(sender.acknowledgedUpTo("F"), 1u);
  receiver.poll(100);
  receiver.acknowledgeDurable();
  sender.poll();
  EXPECT_EQ(accepted.of("F"), oneTo(5));
  EXPECT_EQ(sender.unacknowledged(), 0u);
  EXPECT_EQ(sender.acknowledgedUpTo("F"), 5u);
}

TEST_F(Stream, TimeoutResendsEverythingUnacknowledged) {
  SpotStreamSender sender(*link, clock, StreamConfig{.window = 64, .retransmitAfter = 100ms});
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());
  net.setFaults(kAddress, FaultPlan{.drop = 1.0}, FaultPlan{});
  for (int i = 0; i < 3; ++i) sendNext(sender, "F");
  net.setFaults(kAddress, FaultPlan{}, FaultPlan{});
  clock.advance(99ms);
  sender.poll();
  EXPECT_EQ(sender.stats().resent, 0u);
  clock.advance(1ms);
  sender.poll();
  EXPECT_EQ(sender.stats().resent, 3u);
  receiver.poll(100);
  EXPECT_EQ(accepted.of("F"), oneTo(3));
  // Resent frames restart their timer.
  clock.advance(99ms);
  sender.poll();
  EXPECT_EQ(sender.stats().resent, 3u);
}

TEST_F(Stream, AckBeyondWhatWasSentIsClampedAndStaleAcksAreHarmless) {
  SpotStreamSender sender(*link, clock, StreamConfig{.window = 64, .retransmitAfter = 100ms});
  for (int i = 0; i < 3; ++i) sendNext(sender, "F");
  messages::Encoder e;
  auto ack = [&](std::uint64_t upTo) {
    auto a = e.start({.source = "rv"}).initAck();
    a.setFractionId("F");
    a.setUpTo(upTo);
    server->send("delivery", e.finish());
  };
  ack(2);
  ack(1);   // late, reordered
  ack(99);  // more than was ever sent
  sender.poll();
  EXPECT_EQ(sender.acknowledgedUpTo("F"), 3u);
  EXPECT_EQ(sender.unacknowledged(), 0u);
  EXPECT_EQ(sender.nextSequence("F"), 4u);
}

TEST_F(Stream, GarbageFramesAreCountedNotFatal) {
  SpotStreamSender sender(*link, clock, StreamConfig{});
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());
  Frame junk(16, std::byte{0xff});
  link->send(junk);
  messages::Encoder e;
  e.start({.source = "delivery"}).initHeartbeat();  // not a fraction event
  link->send(e.finish());
  receiver.poll(10);
  EXPECT_EQ(receiver.stats().malformed, 2u);
  EXPECT_TRUE(accepted.all.empty());
  server->send("delivery", junk);
  sender.poll();
  EXPECT_EQ(sender.stats().badFrames, 1u);
}

TEST_F(Stream, BeginFractionResumesNumbering) {
  SpotStreamSender sender(*link, clock, StreamConfig{});
  SpotStreamReceiver receiver(*server, "rv", accepted.callback());
  receiver.setExpected("F", 11);
  sender.beginFraction("F", 11);
  EXPECT_EQ(sender.nextSequence("F"), 11u);
  EXPECT_EQ(sender.acknowledgedUpTo("F"), 10u);
  sendNext(sender, "F");
  EXPECT_THROW(sender.beginFraction("F", 1), std::logic_error);  // still unacknowledged
  receiver.poll(10);
  receiver.acknowledgeDurable();
  sender.poll();
  EXPECT_EQ(accepted.of("F"), std::vector<std::uint64_t>{11});
  EXPECT_EQ(sender.acknowledgedUpTo("F"), 11u);
}

}  // namespace
}  // namespace spotline::bus
