// The ZeroMQ adapters on real sockets: inproc:// and tcp://127.0.0.1:* (never a fixed port).
// Waits are bounded polls; timeouts given here are upper bounds, never timing assertions.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "spotline/bus/codec_helpers.h"
#include "spotline/bus/endpoints.h"
#include "spotline/bus/spot_stream.h"
#include "spotline/bus/zmq.h"
#include "spotline/core/clock.h"

namespace spotline::bus {
namespace {

using namespace std::chrono_literals;

Frame bytes(std::string_view s) {
  Frame f(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) f[i] = static_cast<std::byte>(s[i]);
  return f;
}
std::string string(const Frame& f) {
  return std::string(reinterpret_cast<const char*>(f.data()), f.size());
}

// A unique inproc name per test, so tests sharing a context never collide.
std::string inprocName(const std::string& what) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "inproc://" + std::string(info->test_suite_name()) + "." + info->name() + "." + what;
}

template <typename Get>
auto waitFor(zmq::socket_t& socket, Get get) -> decltype(get()) {
  for (int i = 0; i < 200; ++i) {  // bounded: 200 polls of at most 50 ms
    if (auto got = get()) return got;
    pollReadable({&socket}, 50ms);
  }
  return get();
}

struct Zmq : ::testing::Test {
  zmq::context_t ctx{1};
};

void dealerRouterRoundTrip(zmq::context_t& ctx, const std::string& bindAt, bool tcp) {
  ZmqRouter router(ctx, bindAt);
  std::string endpoint = router.boundEndpoint();
  if (tcp) {
    EXPECT_EQ(endpoint.rfind("tcp://127.0.0.1:", 0), 0u) << endpoint;
    EXPECT_NE(endpoint, bindAt);  // the wildcard was resolved to a port
    EXPECT_NE(endpoint.substr(endpoint.rfind(':') + 1), "0");
  }
  ZmqDealer dealer(ctx, endpoint, "delivery-1");
  ASSERT_TRUE(dealer.send(bytes("hello rv")));
  auto in = waitFor(router.socket(), [&] { return router.receive(); });
  ASSERT_TRUE(in);
  EXPECT_EQ(in->peer, "delivery-1");
  EXPECT_EQ(string(in->frame), "hello rv");
  ASSERT_TRUE(router.send(in->peer, bytes("hello delivery")));
  auto back = waitFor(dealer.socket(), [&] { return dealer.receive(); });
  ASSERT_TRUE(back);
  EXPECT_EQ(string(*back), "hello delivery");
  EXPECT_FALSE(dealer.receive());
  EXPECT_FALSE(router.receive());
  // router_mandatory: a peer that never connected is an error, not a silent loss.
  EXPECT_FALSE(router.send("nobody", bytes("x")));
}

TEST_F(Zmq, DealerRouterRoundTripInproc) {
  dealerRouterRoundTrip(ctx, inprocName("router"), false);
}
TEST_F(Zmq, DealerRouterRoundTripTcp) {
  dealerRouterRoundTrip(ctx, "tcp://127.0.0.1:*", true);
}

TEST_F(Zmq, PollReadableSaysWhetherSomethingArrived) {
  ZmqRouter router(ctx, inprocName("router"));
  ZmqDealer dealer(ctx, router.boundEndpoint(), "d");
  EXPECT_FALSE(pollReadable({&router.socket()}, 0ms));
  dealer.send(bytes("x"));
  EXPECT_TRUE(pollReadable({&router.socket(), &dealer.socket()}, 5000ms));
}

TEST_F(Zmq, SpotStreamOverInprocDeliversTenThousandEvents) {
  const std::uint64_t n = 10'000;
  ZmqRouter router(ctx, inprocName("rv.stream"));
  ZmqDealer dealer(ctx, router.boundEndpoint(), "delivery");
  SteadyClock clock;  // the real sockets run in real time; only the retransmission timer reads it
  SpotStreamSender sender(dealer, clock, StreamConfig{.window = 1024, .retransmitAfter = 250ms});
  std::vector<std::uint64_t> seen;
  std::uint64_t mismatches = 0;
  SpotStreamReceiver receiver(
      router, "rv",
      [&](std::string_view fraction, std::uint64_t seq, std::span<const std::byte>, const messages::Decoded& d) {
        seen.push_back(seq);
        if (fraction != "F-zmq" || d.body().getSpotDelivered().getSpot() != seq) ++mismatches;
      });
  messages::Encoder enc;
  std::uint64_t queued = 0;
  int rounds = 0;
  for (; rounds < 100'000 && (queued < n || sender.unacknowledged() > 0); ++rounds) {
    while (queued < n && sender.hasCredit()) {
      auto s = enc.start({.source = "delivery", .sequence = sender.nextSequence("F-zmq")}).initSpotDelivered();
      s.setFractionId("F-zmq");
      s.setSpot(static_cast<std::uint32_t>(sender.nextSequence("F-zmq")));
      sender.send("F-zmq", enc.finish());
      ++queued;
    }
    pollReadable({&router.socket()}, 10ms);
    receiver.poll(4096);
    receiver.acknowledgeDurable();
    pollReadable({&dealer.socket()}, 10ms);
    sender.poll();
  }
  ASSERT_EQ(sender.unacknowledged(), 0u) << "after " << rounds << " rounds";
  ASSERT_EQ(seen.size(), n);
  for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], i + 1);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(sender.acknowledgedUpTo("F-zmq"), n);
  EXPECT_EQ(receiver.stats().accepted, n);
  EXPECT_EQ(sender.stats().badFrames, 0u);
}

TEST_F(Zmq, PublisherProxySubscriberFiltersByTopicPrefix) {
  const auto xsub = inprocName("xsub");
  const auto xpub = inprocName("xpub");
  EventProxy proxy(ctx, xsub, xpub);
  Publisher pub(ctx, xsub);
  Subscriber sub(ctx, xpub);
  sub.subscribe("fraction.gantry-1");
  sub.subscribe("probe.");
  // Subscriptions travel to the publisher asynchronously: publish a probe until one comes through.
  bool through = false;
  std::uint64_t probes = 0;
  for (int i = 0; i < 200 && !through; ++i) {
    pub.publish("probe.start", bytes("p"));
    ++probes;
    if (pollReadable({&sub.socket()}, 20ms)) {
      while (auto ev = sub.receive()) through = through || ev->topic == "probe.start";
    }
  }
  ASSERT_TRUE(through) << "the subscription never reached the publisher";

  pub.publish("fraction.gantry-1", bytes("a"));
  pub.publish("fraction.gantry-2", bytes("not for us"));
  pub.publish("dose.F-1", bytes("not for us"));
  pub.publish("fraction.gantry-1x", bytes("b"));  // prefix match: ZeroMQ topics are prefixes
  pub.publish("hb.rv", bytes("not for us"));
  pub.publish("fraction.gantry-1", bytes("c"));
  pub.publish("probe.end", bytes("end"));
  std::vector<std::string> got;
  bool end = false;
  for (int i = 0; i < 200 && !end; ++i) {
    pollReadable({&sub.socket()}, 20ms);
    while (auto ev = sub.receive()) {
      if (ev->topic == "probe.end") {
        end = true;
        break;
      }
      if (ev->topic != "probe.start") got.push_back(ev->topic + "=" + string(ev->frame));
    }
  }
  ASSERT_TRUE(end);
  EXPECT_EQ(got, (std::vector<std::string>{"fraction.gantry-1=a", "fraction.gantry-1x=b", "fraction.gantry-1=c"}));
  EXPECT_EQ(pub.published(), probes + 7);
}

TEST_F(Zmq, EventsOverTcpLoopback) {
  // Ports come from the kernel (freeTcpPorts), never fixed; the proxy binds them on this thread.
  auto ports = freeTcpPorts(2);
  const auto xsub = "tcp://127.0.0.1:" + std::to_string(ports[0]);
  const auto xpub = "tcp://127.0.0.1:" + std::to_string(ports[1]);
  EventProxy proxy(ctx, xsub, xpub);
  Publisher pub(ctx, xsub);
  Subscriber sub(ctx, xpub);
  sub.subscribe("qa.");
  bool through = false;
  for (int i = 0; i < 200 && !through; ++i) {
    pub.publish("qa.probe", bytes("p"));
    if (pollReadable({&sub.socket()}, 20ms)) {
      while (auto ev = sub.receive()) through = through || ev->topic == "qa.probe";
    }
  }
  EXPECT_TRUE(through);
}

TEST_F(Zmq, RequestTimesOutAgainstASilentRouter) {
  ZmqRouter router(ctx, "tcp://127.0.0.1:*");
  RequestClient client(ctx, router.boundEndpoint(), "console");
  client.begin().initFractionQuery().setFractionId("F");
  auto reply = client.call(50ms);  // a bound on the wait, not a measurement
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, RequestError::Timeout);
  // The request did arrive: the router simply never answered.
  auto in = waitFor(router.socket(), [&] { return router.receive(); });
  ASSERT_TRUE(in);
  auto d = messages::decode(in->frame);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d.value()->body().isFractionQuery());
  EXPECT_EQ(view(d.value()->envelope().getSource()), "console");
  EXPECT_EQ(d.value()->envelope().getCorrelationId(), 1u);
}

Frame errorReply(std::uint64_t correlation, std::string_view what) {
  messages::Encoder enc;
  enc.start({.source = "rv", .correlationId = correlation}).initErrorReply().setWhat(text(what));
  return enc.finish();
}

TEST_F(Zmq, StaleRepliesAreIgnored) {
  ZmqRouter router(ctx, inprocName("rv.cmd"));
  RequestClient client(ctx, router.boundEndpoint(), "console");
  client.begin().initFractionQuery().setFractionId("F");
  ASSERT_EQ(client.call(50ms).error().code, RequestError::Timeout);
  auto first = waitFor(router.socket(), [&] { return router.receive(); });
  ASSERT_TRUE(first);
  // The late answer to request 1, then the answer to request 2 (its correlation id is known: 2).
  ASSERT_TRUE(router.send(first->peer, errorReply(1, "late")));
  ASSERT_TRUE(router.send(first->peer, errorReply(2, "current")));
  client.begin().initFractionQuery().setFractionId("F");
  auto reply = client.call(5000ms);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply.value().decoded->envelope().getCorrelationId(), 2u);
  ASSERT_TRUE(reply.value().body().isErrorReply());
  EXPECT_EQ(view(reply.value().body().getErrorReply().getWhat()), "current");
}

TEST_F(Zmq, OnlyAStaleReplyMeansTimeout) {
  ZmqRouter router(ctx, inprocName("rv.cmd"));
  RequestClient client(ctx, router.boundEndpoint(), "console");
  client.begin().initFractionQuery().setFractionId("F");
  ASSERT_EQ(client.call(50ms).error().code, RequestError::Timeout);
  auto first = waitFor(router.socket(), [&] { return router.receive(); });
  ASSERT_TRUE(first);
  ASSERT_TRUE(router.send(first->peer, errorReply(1, "late")));
  client.begin().initFractionQuery().setFractionId("F");
  auto reply = client.call(50ms);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, RequestError::Timeout);
}

TEST_F(Zmq, GarbageReplyIsBadReply) {
  ZmqRouter router(ctx, inprocName("rv.cmd"));
  RequestClient client(ctx, router.boundEndpoint(), "console");
  client.begin().initFractionQuery().setFractionId("F");
  ASSERT_EQ(client.call(50ms).error().code, RequestError::Timeout);
  auto first = waitFor(router.socket(), [&] { return router.receive(); });
  ASSERT_TRUE(first);
  ASSERT_TRUE(router.send(first->peer, Frame(24, std::byte{0xff})));
  client.begin().initFractionQuery().setFractionId("F");
  auto reply = client.call(5000ms);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, RequestError::BadReply);
}

// A responder on its own thread answering every request with its correlation id.
TEST_F(Zmq, RequestReplyWithAResponderThread) {
  ZmqRouter router(ctx, "tcp://127.0.0.1:*");
  const auto endpoint = router.boundEndpoint();
  std::atomic<int> answered{0};
  // Declared after the router: joined (stop requested) before the router is destroyed, even when
  // an assertion below returns early.
  std::jthread responder([&](std::stop_token stop) {
    try {
      messages::Encoder enc;
      while (!stop.stop_requested()) {
        if (!pollReadable({&router.socket()}, 20ms)) continue;
        while (auto in = router.receive()) {
          auto d = messages::decode(in->frame);
          if (!d.ok()) continue;
          auto corr = d.value()->envelope().getCorrelationId();
          // A stale answer first, then the real one.
          router.send(in->peer, errorReply(corr + 1000, "stale"));
          auto r = enc.start({.source = "rv", .correlationId = corr}).initFractionSummary();
          r.setFound(true);
          r.setFractionId(d.value()->body().getFractionQuery().getFractionId());
          r.setEventsRecorded(corr * 10);
          router.send(in->peer, enc.finish());
          ++answered;
        }
      }
    } catch (...) {
      // no exception may escape a thread; the assertions below notice the missing answers
    }
  });
  RequestClient client(ctx, endpoint, "console");
  for (std::uint64_t i = 1; i <= 3; ++i) {
    client.begin().initFractionQuery().setFractionId("F-" + std::to_string(i));
    auto reply = client.call(5000ms);
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    ASSERT_TRUE(reply.value().body().isFractionSummary());
    auto s = reply.value().body().getFractionSummary();
    EXPECT_EQ(view(s.getFractionId()), "F-" + std::to_string(i));
    EXPECT_EQ(s.getEventsRecorded(), i * 10);
  }
  responder.request_stop();
  responder.join();
  EXPECT_EQ(answered.load(), 3);
}

}  // namespace
}  // namespace spotline::bus
