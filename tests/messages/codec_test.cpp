// The codec: envelope and body round trips, alignment handling, and every refusal of decode().

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "spotline/messages/codec.h"

namespace spotline::messages {
namespace {

using W = wire::Message::Body::Which;

Frame spotFrame(Encoder& enc, std::uint64_t seq) {
  auto s = enc.start({.source = "delivery", .sequence = seq, .correlationId = 77, .simTimeNs = -5, .wallTimeNs = 123})
               .initSpotDelivered();
  s.setFractionId("F-1");
  s.setBeam(2);
  s.setLayer(3);
  s.setSpot(4);
  s.setPlanned(1.5e6);
  s.setDelivered(1.49e6);
  s.setSecondary(1.48e6);
  s.setXPlannedMm(-12.5);
  s.setYPlannedMm(7.25);
  s.setXMeasuredMm(-12.4);
  s.setYMeasuredMm(7.3);
  s.setEnergyMevPerU(250.12);
  s.setSpill(9);
  s.setMetersetUnit(wire::MetersetUnit::NP);
  return enc.finish();
}

// A frame built with Cap'n Proto directly, bypassing the Encoder's version stamp.
Frame rawFrame(capnp::MessageBuilder& builder) {
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  Frame out(bytes.size());
  std::memcpy(out.data(), bytes.begin(), bytes.size());
  return out;
}

TEST(Codec, EnvelopeAndSpotDeliveredRoundTrip) {
  Encoder enc;
  Frame frame = spotFrame(enc, 42);
  ASSERT_EQ(frame.size() % 8, 0u);
  auto d = decode(frame);
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto env = d.value()->envelope();
  EXPECT_EQ(env.getSchemaVersion(), kSchemaVersion);
  EXPECT_EQ(kSchemaVersion, 1);
  EXPECT_EQ(std::string(env.getSource().cStr()), "delivery");
  EXPECT_EQ(env.getSequence(), 42u);
  EXPECT_EQ(env.getCorrelationId(), 77u);
  EXPECT_EQ(env.getSimTimeNs(), -5);
  EXPECT_EQ(env.getWallTimeNs(), 123);
  auto body = d.value()->body();
  ASSERT_EQ(body.which(), W::SPOT_DELIVERED);
  auto s = body.getSpotDelivered();
  EXPECT_EQ(std::string(s.getFractionId().cStr()), "F-1");
  EXPECT_EQ(s.getBeam(), 2u);
  EXPECT_EQ(s.getLayer(), 3u);
  EXPECT_EQ(s.getSpot(), 4u);
  EXPECT_EQ(s.getPlanned(), 1.5e6);
  EXPECT_EQ(s.getDelivered(), 1.49e6);
  EXPECT_EQ(s.getSecondary(), 1.48e6);
  EXPECT_EQ(s.getXPlannedMm(), -12.5);
  EXPECT_EQ(s.getYPlannedMm(), 7.25);
  EXPECT_EQ(s.getXMeasuredMm(), -12.4);
  EXPECT_EQ(s.getYMeasuredMm(), 7.3);
  EXPECT_EQ(s.getEnergyMevPerU(), 250.12);
  EXPECT_EQ(s.getSpill(), 9u);
  EXPECT_EQ(s.getMetersetUnit(), wire::MetersetUnit::NP);
  EXPECT_EQ(fractionIdOf(body), "F-1");
  EXPECT_EQ(bodyName(body.which()), "spotDelivered");
}

TEST(Codec, FractionEndedRoundTrip) {
  Encoder enc;
  auto e = enc.start({.source = "delivery", .sequence = 9}).initFractionEnded();
  e.setFractionId("F-ended");
  e.setOutcome(wire::FractionOutcome::ABORTED);
  e.setTermination(wire::TerminationStatus::OPERATOR);
  e.setCode("ABORT-1");
  e.setSpotsDelivered(1234);
  e.setMetersetDelivered(5.5e8);
  e.setSimulatedSeconds(61.25);
  Frame frame = enc.finish();
  auto d = decode(frame);
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto body = d.value()->body();
  ASSERT_TRUE(body.isFractionEnded());
  auto f = body.getFractionEnded();
  EXPECT_EQ(f.getOutcome(), wire::FractionOutcome::ABORTED);
  EXPECT_EQ(f.getTermination(), wire::TerminationStatus::OPERATOR);
  EXPECT_EQ(std::string(f.getCode().cStr()), "ABORT-1");
  EXPECT_EQ(f.getSpotsDelivered(), 1234u);
  EXPECT_EQ(f.getMetersetDelivered(), 5.5e8);
  EXPECT_EQ(f.getSimulatedSeconds(), 61.25);
  EXPECT_EQ(fractionIdOf(body), "F-ended");
  EXPECT_EQ(bodyName(body.which()), "fractionEnded");
  EXPECT_EQ(d.value()->envelope().getSequence(), 9u);
}

TEST(Codec, HeartbeatRoundTripHasNoFraction) {
  Encoder enc;
  auto h = enc.start({.source = "qa", .wallTimeNs = 1'700'000'000'000'000'000}).initHeartbeat();
  h.setService("qa");
  h.setPid(4242);
  h.setReady(true);
  h.setUptimeSeconds(3.5);
  Frame frame = enc.finish();
  auto d = decode(frame);
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto body = d.value()->body();
  ASSERT_TRUE(body.isHeartbeat());
  EXPECT_EQ(std::string(body.getHeartbeat().getService().cStr()), "qa");
  EXPECT_EQ(body.getHeartbeat().getPid(), 4242u);
  EXPECT_TRUE(body.getHeartbeat().getReady());
  EXPECT_EQ(body.getHeartbeat().getUptimeSeconds(), 3.5);
  EXPECT_EQ(d.value()->envelope().getWallTimeNs(), 1'700'000'000'000'000'000);
  EXPECT_EQ(std::string(d.value()->envelope().getSource().cStr()), "qa");
  EXPECT_TRUE(fractionIdOf(body).empty());
  EXPECT_EQ(bodyName(body.which()), "heartbeat");
}

// One Encoder makes many messages; a later, smaller message must not carry bytes of an earlier one.
TEST(Codec, EncoderReuseDoesNotLeakPreviousMessage) {
  Encoder enc;
  {
    auto p = enc.start({.source = "plan"}).initPlanRejected();
    p.setPlanUid(std::string(3000, 'x'));  // larger than the 2 KiB scratch segment
    p.setReason("too big");
  }
  Frame big = enc.finish();
  auto a = enc.start({.source = "rv", .sequence = 3}).initAck();
  a.setFractionId("F-2");
  a.setUpTo(17);
  Frame small = enc.finish();
  EXPECT_LT(small.size(), big.size());
  auto d = decode(small);
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_TRUE(d.value()->body().isAck());
  EXPECT_EQ(std::string(d.value()->body().getAck().getFractionId().cStr()), "F-2");
  EXPECT_EQ(d.value()->body().getAck().getUpTo(), 17u);
  EXPECT_EQ(d.value()->envelope().getSequence(), 3u);
  EXPECT_EQ(d.value()->envelope().getCorrelationId(), 0u);
  // The big frame is still intact after the encoder moved on.
  auto db = decode(big);
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_EQ(db.value()->body().getPlanRejected().getPlanUid().size(), 3000u);
}

TEST(Codec, AlignedFrameIsNotCopied) {
  Encoder enc;
  Frame frame = spotFrame(enc, 1);
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(capnp::word), 0u);
  auto d = decode(frame);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_FALSE(d.value()->copied());
  // It reads the caller's bytes in place.
  auto env = d.value()->message().getEnvelope();
  const auto* begin = reinterpret_cast<const std::byte*>(frame.data());
  const auto* src = reinterpret_cast<const std::byte*>(env.getSource().begin());
  EXPECT_TRUE(src >= begin && src < begin + frame.size());
}

TEST(Codec, UnalignedFrameIsCopiedAndDecodesTheSame) {
  Encoder enc;
  Frame frame = spotFrame(enc, 31);
  std::vector<std::byte> buffer(frame.size() + 1);
  std::copy(frame.begin(), frame.end(), buffer.begin() + 1);
  std::span<const std::byte> shifted(buffer.data() + 1, frame.size());
  ASSERT_NE(reinterpret_cast<std::uintptr_t>(shifted.data()) % alignof(capnp::word), 0u);
  auto d = decode(shifted);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d.value()->copied());
  // Overwrite the caller's buffer: the decoded message must not depend on it.
  std::memset(buffer.data(), 0, buffer.size());
  EXPECT_EQ(d.value()->envelope().getSequence(), 31u);
  EXPECT_EQ(d.value()->envelope().getCorrelationId(), 77u);
  EXPECT_EQ(std::string(d.value()->envelope().getSource().cStr()), "delivery");
  auto s = d.value()->body().getSpotDelivered();
  EXPECT_EQ(std::string(s.getFractionId().cStr()), "F-1");
  EXPECT_EQ(s.getDelivered(), 1.49e6);
  EXPECT_EQ(s.getYMeasuredMm(), 7.3);
}

TEST(Codec, EmptyFrameIsRefused) {
  auto d = decode(std::span<const std::byte>{});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, DecodeError::Empty);
}

TEST(Codec, FrameNotWholeWordsIsRefused) {
  Encoder enc;
  Frame frame = spotFrame(enc, 1);
  for (std::size_t cut : {1u, 3u, 7u}) {
    auto d = decode(std::span<const std::byte>(frame.data(), frame.size() - cut));
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, DecodeError::NotWordSized) << cut;
    EXPECT_NE(d.error().message.find(std::to_string(frame.size() - cut)), std::string::npos) << d.error().message;
  }
  std::vector<std::byte> five(5, std::byte{0});
  auto d = decode(five);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, DecodeError::NotWordSized);
}

TEST(Codec, TruncatedFrameIsMalformed) {
  Encoder enc;
  Frame frame = spotFrame(enc, 1);
  ASSERT_GT(frame.size(), 16u);
  for (std::size_t keep = 8; keep < frame.size(); keep += 8) {
    auto d = decode(std::span<const std::byte>(frame.data(), keep));
    ASSERT_FALSE(d.ok()) << keep;
    EXPECT_EQ(d.error().code, DecodeError::Malformed) << keep;
  }
}

TEST(Codec, GarbageIsMalformed) {
  std::vector<std::byte> ones(64, std::byte{0xff});
  auto d1 = decode(ones);
  ASSERT_FALSE(d1.ok());
  EXPECT_EQ(d1.error().code, DecodeError::Malformed);

  // A well-formed segment table (1 segment of 7 words) followed by junk pointers.
  std::vector<std::byte> junk(64);
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<std::byte>(0x5a ^ (i * 37));
  junk[0] = junk[1] = junk[2] = junk[3] = std::byte{0};  // segment count - 1 = 0
  junk[4] = std::byte{7};
  junk[5] = junk[6] = junk[7] = std::byte{0};
  auto d2 = decode(junk);
  ASSERT_FALSE(d2.ok());
  EXPECT_EQ(d2.error().code, DecodeError::Malformed);

  // A valid message whose envelope pointer is null.
  capnp::MallocMessageBuilder b;
  b.initRoot<wire::Message>().getBody().initHeartbeat();
  Frame noEnvelope = rawFrame(b);
  auto d3 = decode(noEnvelope);
  ASSERT_FALSE(d3.ok());
  EXPECT_EQ(d3.error().code, DecodeError::Malformed);
}

TEST(Codec, OtherSchemaVersionIsRefused) {
  capnp::MallocMessageBuilder b;
  auto msg = b.initRoot<wire::Message>();
  auto env = msg.initEnvelope();
  env.setSchemaVersion(2);
  env.setSource("delivery");
  msg.getBody().initHeartbeat().setService("x");
  Frame frame = rawFrame(b);
  auto d = decode(frame);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, DecodeError::UnsupportedVersion);
  EXPECT_NE(d.error().message.find('2'), std::string::npos) << d.error().message;

  env.setSchemaVersion(0);  // absent version (an old or foreign peer)
  Frame zero = rawFrame(b);
  auto dz = decode(zero);
  ASSERT_FALSE(dz.ok());
  EXPECT_EQ(dz.error().code, DecodeError::UnsupportedVersion);

  env.setSchemaVersion(1);
  Frame one = rawFrame(b);
  EXPECT_TRUE(decode(one).ok());
}

TEST(Codec, UnknownUnionMemberIsRefused) {
  capnp::MallocMessageBuilder b;
  auto msg = b.initRoot<wire::Message>();
  msg.initEnvelope().setSchemaVersion(kSchemaVersion);
  msg.getBody().initSpotDelivered().setFractionId("F");
  // The body's discriminant is Message's only data field: the first 16 bits of its data section.
  auto data = capnp::toAny(msg).getDataSection();
  ASSERT_GE(data.size(), 2u);
  std::uint16_t tag = 0;
  std::memcpy(&tag, data.begin(), 2);
  ASSERT_EQ(tag, static_cast<std::uint16_t>(W::SPOT_DELIVERED));  // the layout assumption holds
  tag = static_cast<std::uint16_t>(W::JOURNAL_QUERY_REPLY) + 1;   // a member a newer schema might add
  std::memcpy(data.begin(), &tag, 2);
  Frame frame = rawFrame(b);
  auto d = decode(frame);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, DecodeError::UnknownBody);

  tag = static_cast<std::uint16_t>(W::JOURNAL_QUERY_REPLY);  // the last known member is accepted
  std::memcpy(data.begin(), &tag, 2);
  Frame last = rawFrame(b);
  EXPECT_TRUE(decode(last).ok());
}

TEST(Codec, TraversalLimitIsEnforced) {
  Encoder enc;
  Frame frame = spotFrame(enc, 1);
  std::uint64_t words = frame.size() / 8;
  auto tiny = decode(frame, ReaderLimits{.traversalWords = 4, .nestingLimit = 32});
  ASSERT_FALSE(tiny.ok());
  EXPECT_EQ(tiny.error().code, DecodeError::Malformed);
  // The same frame passes with a limit that covers it.
  auto enough = decode(frame, ReaderLimits{.traversalWords = words, .nestingLimit = 32});
  EXPECT_TRUE(enough.ok()) << enough.error().message;
}

TEST(Codec, NestingLimitIsEnforced) {
  Encoder enc;
  auto lp = enc.start({.source = "console"}).initLoadPlan();
  lp.initPlan().initBeams(1)[0].initLayers(1)[0].initSpots(1)[0].setMeterset(1.0);
  Frame frame = enc.finish();
  // Message -> body.loadPlan -> plan -> beams -> beam -> layers -> layer -> spots: deeper than 2.
  auto shallow = decode(frame, ReaderLimits{.traversalWords = 1u << 20, .nestingLimit = 2});
  ASSERT_FALSE(shallow.ok());
  EXPECT_EQ(shallow.error().code, DecodeError::Malformed);
  EXPECT_TRUE(decode(frame).ok());
}

TEST(Codec, FractionIdOfCoversEveryFractionEvent) {
  Encoder enc;
  auto check = [&](auto init, W which) {
    auto body = enc.start({.source = "delivery"});
    init(body);
    Frame f = enc.finish();
    auto d = decode(f);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d.value()->body().which(), which);
    EXPECT_EQ(fractionIdOf(d.value()->body()), "FR-" + std::string(bodyName(which))) << bodyName(which);
  };
  auto id = [](W w) { return "FR-" + std::string(bodyName(w)); };
  check([&](auto b) { b.initFractionStarted().setFractionId(id(W::FRACTION_STARTED)); }, W::FRACTION_STARTED);
  check([&](auto b) { b.initLayerStarted().setFractionId(id(W::LAYER_STARTED)); }, W::LAYER_STARTED);
  check([&](auto b) { b.initSpotDelivered().setFractionId(id(W::SPOT_DELIVERED)); }, W::SPOT_DELIVERED);
  check([&](auto b) { b.initLayerCompleted().setFractionId(id(W::LAYER_COMPLETED)); }, W::LAYER_COMPLETED);
  check([&](auto b) { b.initWaitingForBeam().setFractionId(id(W::WAITING_FOR_BEAM)); }, W::WAITING_FOR_BEAM);
  check([&](auto b) { b.initBeamHold().setFractionId(id(W::BEAM_HOLD)); }, W::BEAM_HOLD);
  check([&](auto b) { b.initBeamResumed().setFractionId(id(W::BEAM_RESUMED)); }, W::BEAM_RESUMED);
  check([&](auto b) { b.initFractionEnded().setFractionId(id(W::FRACTION_ENDED)); }, W::FRACTION_ENDED);
  check([&](auto b) { b.initDoseRecorded().setFractionId(id(W::DOSE_RECORDED)); }, W::DOSE_RECORDED);
  check([&](auto b) { b.initQaEvent().setFractionId(id(W::QA_EVENT)); }, W::QA_EVENT);

  // Bodies that name a fraction but are not fraction events do not count.
  for (auto init : {+[](wire::Message::Body::Builder b) { b.initAck().setFractionId("F"); },
                    +[](wire::Message::Body::Builder b) { b.initNack().setFractionId("F"); },
                    +[](wire::Message::Body::Builder b) { b.initVerifyBeamOn().setFractionId("F"); },
                    +[](wire::Message::Body::Builder b) { b.initFractionQuery().setFractionId("F"); },
                    +[](wire::Message::Body::Builder b) { b.initHoldRequest().setFractionId("F"); }}) {
    init(enc.start({.source = "rv"}));
    Frame f = enc.finish();
    auto d = decode(f);
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(fractionIdOf(d.value()->body()).empty()) << bodyName(d.value()->body().which());
  }
}

TEST(Codec, BodyNamesAreDistinctAndKnown) {
  std::vector<std::string> names;
  for (unsigned w = 0; w <= static_cast<unsigned>(W::JOURNAL_QUERY_REPLY); ++w) {
    auto name = bodyName(static_cast<W>(w));
    EXPECT_NE(name, "unknown") << w;
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_EQ(bodyName(W::HEARTBEAT), "heartbeat");
  EXPECT_EQ(bodyName(W::ACK), "ack");
  EXPECT_EQ(bodyName(W::NACK), "nack");
  EXPECT_EQ(bodyName(W::LOAD_PLAN), "loadPlan");
  EXPECT_EQ(bodyName(W::BEAM_HOLD), "beamHold");
  EXPECT_EQ(bodyName(W::DOSE_RECORDED), "doseRecorded");
  EXPECT_EQ(bodyName(W::JOURNAL_QUERY_REPLY), "journalQueryReply");
  EXPECT_EQ(bodyName(static_cast<W>(static_cast<unsigned>(W::JOURNAL_QUERY_REPLY) + 1)), "unknown");
}

TEST(Codec, ErrorNamesAreDistinct) {
  EXPECT_EQ(toString(DecodeError::Empty), "empty frame");
  EXPECT_NE(toString(DecodeError::Malformed), toString(DecodeError::UnknownBody));
  EXPECT_NE(toString(DecodeError::UnsupportedVersion), toString(DecodeError::NotWordSized));
}

}  // namespace
}  // namespace spotline::messages
