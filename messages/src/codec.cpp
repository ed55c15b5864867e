#include "spotline/messages/codec.h"

#include <capnp/serialize.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <cstring>

namespace spotline::messages {

namespace {
constexpr std::size_t kScratchWords = 256;  // 2 KiB: every event but a plan fits without malloc
constexpr auto kLastKnownBody = wire::Message::Body::JOURNAL_QUERY_REPLY;
}  // namespace

std::string_view toString(DecodeError e) {
  switch (e) {
    case DecodeError::Empty: return "empty frame";
    case DecodeError::NotWordSized: return "frame size is not a multiple of 8 bytes";
    case DecodeError::Malformed: return "malformed Cap'n Proto message";
    case DecodeError::UnsupportedVersion: return "unsupported schema version";
    case DecodeError::UnknownBody: return "unknown message body";
  }
  return "unknown decode error";
}

Encoder::Encoder() : scratch_(kScratchWords) {}

wire::Message::Body::Builder Encoder::start(const EnvelopeFields& envelope) {
  builder_.reset();
  std::memset(scratch_.data(), 0, scratch_.size() * sizeof(capnp::word));
  builder_ = std::make_unique<capnp::MallocMessageBuilder>(kj::ArrayPtr<capnp::word>(scratch_.data(), scratch_.size()));
  auto msg = builder_->initRoot<wire::Message>();
  auto env = msg.initEnvelope();
  env.setSchemaVersion(kSchemaVersion);
  env.setSource(capnp::Text::Reader(envelope.source.data(), envelope.source.size()));
  env.setSequence(envelope.sequence);
  env.setCorrelationId(envelope.correlationId);
  env.setSimTimeNs(envelope.simTimeNs);
  env.setWallTimeNs(envelope.wallTimeNs);
  return msg.getBody();
}

wire::Message::Builder Encoder::root() {
  return builder_->getRoot<wire::Message>();
}

Frame Encoder::finish() {
  auto words = capnp::computeSerializedSizeInWords(*builder_);
  Frame out(words * sizeof(capnp::word));
  kj::ArrayOutputStream stream(kj::ArrayPtr<kj::byte>(reinterpret_cast<kj::byte*>(out.data()), out.size()));
  capnp::writeMessage(stream, *builder_);
  return out;
}

Decoded::~Decoded() = default;

Result<std::unique_ptr<Decoded>, DecodeError> decode(std::span<const std::byte> frame, ReaderLimits limits) {
  if (frame.empty()) return fail(DecodeError::Empty, "empty frame");
  if (frame.size() % sizeof(capnp::word) != 0) {
    return fail(DecodeError::NotWordSized,
                "frame of " + std::to_string(frame.size()) + " bytes is not a whole number of words");
  }
  std::unique_ptr<Decoded> out(new Decoded());
  const capnp::word* words = reinterpret_cast<const capnp::word*>(frame.data());
  std::size_t count = frame.size() / sizeof(capnp::word);
  if (reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(capnp::word) != 0) {
    out->copy_.resize(count);
    std::memcpy(out->copy_.data(), frame.data(), frame.size());
    words = out->copy_.data();
  }
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits.traversalWords;
  options.nestingLimit = limits.nestingLimit;
  try {
    out->reader_ =
        std::make_unique<capnp::FlatArrayMessageReader>(kj::ArrayPtr<const capnp::word>(words, count), options);
    auto root = out->reader_->getRoot<wire::Message>();
    // One full traversal validates every pointer now, within the limits, instead of at first use.
    (void)root.totalSize();
    if (!root.hasEnvelope()) return fail(DecodeError::Malformed, "message has no envelope");
    auto version = root.getEnvelope().getSchemaVersion();
    if (version != kSchemaVersion) {
      return fail(DecodeError::UnsupportedVersion, "schema version " + std::to_string(version) +
                                                       ", this build speaks " + std::to_string(kSchemaVersion));
    }
    if (static_cast<unsigned>(root.getBody().which()) > static_cast<unsigned>(kLastKnownBody)) {
      return fail(DecodeError::UnknownBody,
                  "body tag " + std::to_string(static_cast<unsigned>(root.getBody().which())) + " is unknown");
    }
    out->root_ = root;
  } catch (const kj::Exception& e) {
    return fail(DecodeError::Malformed, std::string("malformed message: ") + e.getDescription().cStr());
  }
  return out;
}

}  // namespace spotline::messages
