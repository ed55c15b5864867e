#pragma once
// The transport-neutral shape of a point-to-point connection. The spot stream and the command
// channel are written against these two interfaces; ZeroMQ (zmq.h) implements them over
// inproc:// and tcp://, and the in-memory fake (fake.h) implements them for unit tests with faults.
//
// Every implementation is used by one thread: the service loop that owns it.

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "spotline/messages/codec.h"

namespace spotline::bus {

using messages::Frame;
using PeerId = std::string;  // opaque routing identity of a connected client

// The connecting side (a ZeroMQ DEALER).
class Link {
 public:
  virtual ~Link() = default;
  // False when the frame cannot be queued now (peer gone, queue full); the caller decides.
  virtual bool send(std::span<const std::byte> frame) = 0;
  // Non-blocking: nullopt when nothing is waiting.
  virtual std::optional<Frame> receive() = 0;
};

struct Inbound {
  PeerId peer;
  Frame frame;
};

// The binding side (a ZeroMQ ROUTER): many clients, replies addressed by peer.
class LinkServer {
 public:
  virtual ~LinkServer() = default;
  virtual bool send(const PeerId& peer, std::span<const std::byte> frame) = 0;
  virtual std::optional<Inbound> receive() = 0;
};

}  // namespace spotline::bus
