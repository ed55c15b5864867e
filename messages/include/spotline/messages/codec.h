#pragma once
// Encoding and decoding of bus frames. A frame is one serialized wire::Message (envelope + body).
//
// Decoding never trusts the peer: the frame is copied into a word-aligned buffer when it is not
// aligned, the reader has traversal and nesting limits, the whole message is traversed once so a
// malformed pointer is found here and not later, and the envelope's schema version is checked.

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "spotline/core/result.h"
#include "spotline/wire/envelope.capnp.h"

namespace spotline::messages {

using Frame = std::vector<std::byte>;

inline constexpr std::uint16_t kSchemaVersion = wire::SCHEMA_VERSION;

struct ReaderLimits {
  std::uint64_t traversalWords = 8u << 20;  // 64 MiB: a 100,000-spot plan fits many times over
  int nestingLimit = 32;
};

enum class DecodeError : std::uint8_t { Empty, NotWordSized, Malformed, UnsupportedVersion, UnknownBody };

std::string_view toString(DecodeError e);

struct EnvelopeFields {
  std::string_view source;
  std::uint64_t sequence = 0;
  std::uint64_t correlationId = 0;
  std::int64_t simTimeNs = 0;
  std::int64_t wallTimeNs = 0;
};

// Builds one message. Reuses its first segment between messages: keep one per sending thread.
class Encoder {
 public:
  Encoder();
  // Starts a new message; the previous builder is invalidated.
  wire::Message::Body::Builder start(const EnvelopeFields& envelope);
  Frame finish();
  wire::Message::Builder root();

 private:
  std::vector<capnp::word> scratch_;
  std::unique_ptr<capnp::MallocMessageBuilder> builder_;
};

// A decoded message. Holds its own aligned copy of the frame when one was needed, otherwise it
// points into the caller's frame, which must then outlive it.
class Decoded {
 public:
  Decoded(const Decoded&) = delete;
  Decoded& operator=(const Decoded&) = delete;
  ~Decoded();

  wire::Message::Reader message() const { return root_; }
  wire::Envelope::Reader envelope() const { return root_.getEnvelope(); }
  wire::Message::Body::Reader body() const { return root_.getBody(); }
  bool copied() const { return !copy_.empty(); }

 private:
  friend Result<std::unique_ptr<Decoded>, DecodeError> decode(std::span<const std::byte>, ReaderLimits);
  Decoded() = default;
  std::vector<capnp::word> copy_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
  wire::Message::Reader root_;
};

Result<std::unique_ptr<Decoded>, DecodeError> decode(std::span<const std::byte> frame, ReaderLimits limits = {});

// Name of the body's union member ("spotDelivered", "heartbeat", …) for logs and journal listings.
std::string_view bodyName(wire::Message::Body::Which which);

}  // namespace spotline::messages

namespace spotline::messages {
// The fraction a delivery, dose or QA event belongs to; empty for bodies without one.
std::string_view fractionIdOf(wire::Message::Body::Reader body);
}  // namespace spotline::messages
