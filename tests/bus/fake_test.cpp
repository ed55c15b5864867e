// The in-memory network: each fault behaves as fake.h documents, and a seed replays exactly.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <vector>

#include "spotline/bus/fake.h"

namespace spotline::bus {
namespace {

using namespace std::chrono_literals;

// Frames here are opaque to the network: a 4-byte little-endian counter is enough.
Frame numbered(std::uint32_t n) {
  Frame f(4);
  for (int i = 0; i < 4; ++i) f[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xffu);
  return f;
}
std::uint32_t number(const Frame& f) {
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(f[static_cast<std::size_t>(i)]) << (8 * i);
  return n;
}

std::vector<std::uint32_t> drainServer(LinkServer& server) {
  std::vector<std::uint32_t> out;
  while (auto in = server.receive()) out.push_back(number(in->frame));
  return out;
}
std::vector<std::uint32_t> drainClient(Link& link) {
  std::vector<std::uint32_t> out;
  while (auto f = link.receive()) out.push_back(number(*f));
  return out;
}
std::vector<std::uint32_t> iota(std::uint32_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

struct Net : ::testing::Test {
  ManualClock clock;
  FakeNetwork net{clock, 7};
  std::unique_ptr<LinkServer> server = net.bind("rv.stream");
  std::unique_ptr<Link> client = net.connect("rv.stream", "delivery");
};

TEST_F(Net, WithoutFaultsFramesArriveInOrderWithThePeer) {
  for (std::uint32_t i = 0; i < 100; ++i) EXPECT_TRUE(client->send(numbered(i)));
  auto first = server->receive();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->peer, "delivery");
  EXPECT_EQ(number(first->frame), 0u);
  auto rest = drainServer(*server);
  ASSERT_EQ(rest.size(), 99u);
  for (std::uint32_t i = 0; i < 99; ++i) EXPECT_EQ(rest[i], i + 1);
  EXPECT_EQ(net.counters().sent, 100u);
  EXPECT_EQ(net.counters().dropped, 0u);
}

TEST_F(Net, RepliesReachOnlyTheAddressedClient) {
  auto other = net.connect("rv.stream", "other");
  EXPECT_TRUE(server->send("delivery", numbered(1)));
  EXPECT_TRUE(server->send("other", numbered(2)));
  EXPECT_TRUE(server->send("delivery", numbered(3)));
  EXPECT_EQ(drainClient(*client), (std::vector<std::uint32_t>{1, 3}));
  EXPECT_EQ(drainClient(*other), (std::vector<std::uint32_t>{2}));
}

TEST_F(Net, BindAndConnectErrors) {
  EXPECT_THROW(net.bind("rv.stream"), std::logic_error);
  EXPECT_THROW(net.connect("nowhere", "x"), std::logic_error);
}

TEST_F(Net, DropAllLosesEveryFrameButLooksSent) {
  net.setFaults("rv.stream", FaultPlan{.drop = 1.0}, FaultPlan{});
  for (std::uint32_t i = 0; i < 50; ++i) EXPECT_TRUE(client->send(numbered(i)));
  EXPECT_TRUE(drainServer(*server).empty());
  EXPECT_EQ(net.counters().sent, 50u);
  EXPECT_EQ(net.counters().dropped, 50u);
  // The other direction is unaffected.
  EXPECT_TRUE(server->send("delivery", numbered(9)));
  EXPECT_EQ(drainClient(*client), std::vector<std::uint32_t>{9});
}

TEST_F(Net, PartialDropKeepsOrderOfSurvivors) {
  net.setFaults("rv.stream", FaultPlan{.drop = 0.3}, FaultPlan{});
  for (std::uint32_t i = 0; i < 2000; ++i) client->send(numbered(i));
  auto got = drainServer(*server);
  EXPECT_EQ(got.size() + net.counters().dropped, 2000u);
  EXPECT_GT(net.counters().dropped, 450u);  // ~600 expected
  EXPECT_LT(net.counters().dropped, 750u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end());
}

TEST_F(Net, DuplicateAllDeliversEachFrameTwiceAdjacent) {
  net.setFaults("rv.stream", FaultPlan{}, FaultPlan{.duplicate = 1.0});
  for (std::uint32_t i = 0; i < 20; ++i) server->send("delivery", numbered(i));
  auto got = drainClient(*client);
  ASSERT_EQ(got.size(), 40u);
  for (std::uint32_t i = 0; i < 20; ++i) {
    EXPECT_EQ(got[2 * i], i);
    EXPECT_EQ(got[2 * i + 1], i);
  }
  EXPECT_EQ(net.counters().duplicated, 20u);
}

TEST_F(Net, HeldBackFrameGoesBehindTheNextOne) {
  net.setFaults("rv.stream", FaultPlan{.reorder = 1.0}, FaultPlan{});
  client->send(numbered(1));
  net.setFaults("rv.stream", FaultPlan{}, FaultPlan{});
  client->send(numbered(2));
  client->send(numbered(3));
  EXPECT_EQ(drainServer(*server), (std::vector<std::uint32_t>{2, 1, 3}));
  EXPECT_EQ(net.counters().reordered, 1u);
}

TEST_F(Net, HeldBackFrameIsDeliveredWhenNothingFollows) {
  net.setFaults("rv.stream", FaultPlan{.reorder = 1.0}, FaultPlan{});
  client->send(numbered(1));
  EXPECT_EQ(drainServer(*server), std::vector<std::uint32_t>{1});
}

// The next frame may be sent at a later time than the held-back one: it must still overtake it.
TEST_F(Net, HeldBackFrameGoesBehindANextOneSentLater) {
  net.setFaults("rv.stream", FaultPlan{.reorder = 1.0}, FaultPlan{});
  client->send(numbered(1));
  clock.advance(1ms);
  net.setFaults("rv.stream", FaultPlan{}, FaultPlan{});
  client->send(numbered(2));
  EXPECT_EQ(drainServer(*server), (std::vector<std::uint32_t>{2, 1}));
}

TEST_F(Net, HeldBackFrameGoesBehindANextOneSentLaterWithDelay) {
  net.setFaults("rv.stream", FaultPlan{.reorder = 1.0, .delay = 10ms}, FaultPlan{});
  client->send(numbered(1));
  clock.advance(4ms);
  net.setFaults("rv.stream", FaultPlan{.delay = 10ms}, FaultPlan{});
  client->send(numbered(2));
  clock.advance(6ms);  // frame 1 is due, frame 2 is not: frame 1 still waits for it
  EXPECT_TRUE(drainServer(*server).empty());
  clock.advance(4ms);
  EXPECT_EQ(drainServer(*server), (std::vector<std::uint32_t>{2, 1}));
}

TEST_F(Net, PartialReorderOnlySwapsNeighbours) {
  net.setFaults("rv.stream", FaultPlan{.reorder = 0.3}, FaultPlan{});
  const std::uint32_t n = 2000;
  for (std::uint32_t i = 0; i < n; ++i) client->send(numbered(i));
  auto got = drainServer(*server);
  ASSERT_EQ(got.size(), n);
  auto sorted = got;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, iota(n));  // nothing lost, nothing duplicated
  EXPECT_GT(net.counters().reordered, 400u);
  std::size_t displaced = 0;
  for (std::uint32_t pos = 0; pos < n; ++pos) {
    auto d = static_cast<long>(got[pos]) - static_cast<long>(pos);
    EXPECT_LE(std::abs(d), 1) << "frame " << got[pos] << " at " << pos;
    if (d != 0) ++displaced;
  }
  EXPECT_GT(displaced, 200u);
}

TEST_F(Net, DelayHoldsFramesUntilDue) {
  net.setFaults("rv.stream", FaultPlan{.delay = 10ms}, FaultPlan{.delay = 3ms});
  client->send(numbered(1));
  clock.advance(5ms);
  client->send(numbered(2));
  server->send("delivery", numbered(3));
  EXPECT_FALSE(server->receive());
  clock.advance(3ms);  // t = 8 ms: the reply (due 8 ms) has arrived, the requests not
  EXPECT_EQ(drainClient(*client), std::vector<std::uint32_t>{3});
  EXPECT_FALSE(server->receive());
  clock.advance(2ms);  // t = 10 ms
  EXPECT_EQ(drainServer(*server), std::vector<std::uint32_t>{1});
  clock.advance(4ms);  // t = 14 ms
  EXPECT_FALSE(server->receive());
  clock.advance(1ms);  // t = 15 ms
  EXPECT_EQ(drainServer(*server), std::vector<std::uint32_t>{2});
}

TEST_F(Net, DisconnectLosesFramesInFlightAndFailsSends) {
  net.setFaults("rv.stream", FaultPlan{.delay = 5ms}, FaultPlan{.delay = 5ms});
  client->send(numbered(1));
  client->send(numbered(2));
  server->send("delivery", numbered(3));
  net.disconnect("rv.stream");
  EXPECT_EQ(net.counters().lostInDisconnect, 3u);
  EXPECT_FALSE(client->send(numbered(4)));
  EXPECT_FALSE(server->send("delivery", numbered(5)));
  EXPECT_EQ(net.counters().sent, 3u);  // failed sends are not counted as sent
  clock.advance(10ms);
  EXPECT_TRUE(drainServer(*server).empty());
  EXPECT_TRUE(drainClient(*client).empty());
  net.reconnect("rv.stream");
  EXPECT_TRUE(client->send(numbered(6)));
  clock.advance(5ms);
  EXPECT_EQ(drainServer(*server), std::vector<std::uint32_t>{6});
}

std::vector<std::uint32_t> runFaulty(std::uint64_t seed, FakeNetwork::Counters* counters) {
  ManualClock clock;
  FakeNetwork net(clock, seed);
  auto server = net.bind("a");
  auto client = net.connect("a", "c");
  net.setFaults("a", FaultPlan{.drop = 0.2, .duplicate = 0.2, .reorder = 0.2, .delay = 1ms}, FaultPlan{});
  std::vector<std::uint32_t> got;
  for (std::uint32_t i = 0; i < 500; ++i) {
    client->send(numbered(i));
    if (i % 7 == 0) clock.advance(1ms);
    if (i % 11 == 0) {
      auto part = drainServer(*server);
      got.insert(got.end(), part.begin(), part.end());
    }
  }
  clock.advance(10ms);
  auto part = drainServer(*server);
  got.insert(got.end(), part.begin(), part.end());
  *counters = net.counters();
  return got;
}

TEST(FakeNetworkDeterminism, SameSeedSameOutcomeOtherSeedOtherOutcome) {
  FakeNetwork::Counters a, b, c;
  auto runA = runFaulty(11, &a);
  auto runB = runFaulty(11, &b);
  auto runC = runFaulty(12, &c);
  EXPECT_EQ(runA, runB);
  EXPECT_EQ(a.dropped, b.dropped);
  EXPECT_EQ(a.duplicated, b.duplicated);
  EXPECT_EQ(a.reordered, b.reordered);
  EXPECT_NE(runA, runC);
  EXPECT_GT(a.dropped, 0u);
  EXPECT_GT(a.duplicated, 0u);
  EXPECT_GT(a.reordered, 0u);
  EXPECT_EQ(runA.size(), 500u - a.dropped + a.duplicated);
}

}  // namespace
}  // namespace spotline::bus
