// FractionLedger: what rv knows of each fraction from the delivery events it journals.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "spotline/runtime/fraction_ledger.h"

namespace spotline::runtime {
namespace {

using Init = std::function<void(wire::Message::Body::Builder)>;

// Frames and their decoded views, kept alive together.
struct Events {
  messages::Encoder enc;
  std::vector<std::unique_ptr<messages::Frame>> frames;
  std::vector<std::unique_ptr<messages::Decoded>> decoded;

  const messages::Decoded& make(std::string_view source, std::uint64_t seq, const Init& init) {
    init(enc.start({.source = source, .sequence = seq}));
    frames.push_back(std::make_unique<messages::Frame>(enc.finish()));
    auto d = messages::decode(*frames.back());
    EXPECT_TRUE(d.ok());
    decoded.push_back(std::move(d).value());
    return *decoded.back();
  }
};

Init started(const std::string& f) {
  return [f](wire::Message::Body::Builder b) { b.initFractionStarted().setFractionId(f); };
}
Init spot(const std::string& f, double delivered) {
  return [f, delivered](wire::Message::Body::Builder b) {
    auto s = b.initSpotDelivered();
    s.setFractionId(f);
    s.setPlanned(100.0);
    s.setDelivered(delivered);
  };
}
Init layerDone(const std::string& f) {
  return [f](wire::Message::Body::Builder b) { b.initLayerCompleted().setFractionId(f); };
}
Init ended(const std::string& f, wire::FractionOutcome outcome) {
  return [f, outcome](wire::Message::Body::Builder b) {
    auto e = b.initFractionEnded();
    e.setFractionId(f);
    e.setOutcome(outcome);
  };
}

TEST(FractionLedger, CountsSpotsMetersetEventsAndOutcome) {
  Events ev;
  FractionLedger ledger;
  ledger.record(ev.make("delivery", 1, started("F1")));
  ledger.record(ev.make("delivery", 2, spot("F1", 99.5)));
  ledger.record(ev.make("delivery", 3, spot("F1", 101.0)));
  ledger.record(ev.make("delivery", 4, layerDone("F1")));
  ledger.record(ev.make("delivery", 5, spot("F1", 50.25)));
  const FractionEntry* e = ledger.find("F1");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->spots, 3u);
  EXPECT_DOUBLE_EQ(e->meterset, 250.75);
  EXPECT_EQ(e->events, 5u);
  EXPECT_EQ(e->lastSequence, 5u);
  EXPECT_FALSE(e->ended);
  EXPECT_EQ(e->outcome, wire::FractionOutcome::INTERRUPTED);  // until it says otherwise

  ledger.record(ev.make("delivery", 6, ended("F1", wire::FractionOutcome::COMPLETED)));
  e = ledger.find("F1");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->ended);
  EXPECT_EQ(e->outcome, wire::FractionOutcome::COMPLETED);
  EXPECT_EQ(e->events, 6u);
  EXPECT_EQ(e->lastSequence, 6u);
  EXPECT_EQ(e->spots, 3u);
}

TEST(FractionLedger, IgnoresEventsNotFromDelivery) {
  Events ev;
  FractionLedger ledger;
  ledger.record(ev.make("delivery", 1, spot("F1", 10.0)));
  ledger.record(ev.make("dose", 2, spot("F1", 1000.0)));
  ledger.record(ev.make("qa", 3, ended("F1", wire::FractionOutcome::ABORTED)));
  ledger.record(ev.make("deliveryX", 4, spot("F1", 1000.0)));
  ledger.record(ev.make("", 5, spot("F1", 1000.0)));
  ledger.record(ev.make("rv", 1, spot("F-other", 1.0)));
  const FractionEntry* e = ledger.find("F1");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->spots, 1u);
  EXPECT_DOUBLE_EQ(e->meterset, 10.0);
  EXPECT_EQ(e->events, 1u);
  EXPECT_EQ(e->lastSequence, 1u);
  EXPECT_FALSE(e->ended);
  EXPECT_EQ(ledger.find("F-other"), nullptr);
  EXPECT_EQ(ledger.all().size(), 1u);
}

TEST(FractionLedger, IgnoresBodiesWithoutAFraction) {
  Events ev;
  FractionLedger ledger;
  ledger.record(
      ev.make("delivery", 1, [](wire::Message::Body::Builder b) { b.initHeartbeat().setService("delivery"); }));
  ledger.record(ev.make("delivery", 2, [](wire::Message::Body::Builder b) { b.initAck().setFractionId("F1"); }));
  EXPECT_TRUE(ledger.all().empty());
}

TEST(FractionLedger, KeepsFractionsApartAndTheHighestSequence) {
  Events ev;
  FractionLedger ledger;
  ledger.record(ev.make("delivery", 1, spot("A", 1.0)));
  ledger.record(ev.make("delivery", 1, spot("B", 2.0)));
  ledger.record(ev.make("delivery", 3, spot("A", 4.0)));
  ledger.record(ev.make("delivery", 2, spot("A", 8.0)));  // journaled out of order (replay)
  ledger.record(ev.make("delivery", 2, ended("B", wire::FractionOutcome::ABORTED)));
  const auto* a = ledger.find("A");
  const auto* b = ledger.find("B");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->lastSequence, 3u);
  EXPECT_EQ(a->spots, 3u);
  EXPECT_DOUBLE_EQ(a->meterset, 13.0);
  EXPECT_FALSE(a->ended);
  EXPECT_EQ(b->lastSequence, 2u);
  EXPECT_EQ(b->spots, 1u);
  EXPECT_TRUE(b->ended);
  EXPECT_EQ(b->outcome, wire::FractionOutcome::ABORTED);
  EXPECT_EQ(ledger.find("C"), nullptr);
  EXPECT_EQ(ledger.all().size(), 2u);
}

}  // namespace
}  // namespace spotline::runtime
