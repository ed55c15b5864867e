#pragma once
// ZeroMQ implementations of the bus patterns. The same classes serve inproc:// (embedded: every
// service a thread of one process, one shared zmq::context_t) and tcp:// (one process per service).
//
// Every socket belongs to the thread that made it (ZeroMQ sockets are not thread-safe); the
// context is owned by main and outlives every socket.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "spotline/bus/link.h"
#include "spotline/core/result.h"
#include "spotline/messages/codec.h"

namespace spotline::bus {

class ZmqDealer final : public Link {
 public:
  ZmqDealer(zmq::context_t& ctx, const std::string& endpoint, const std::string& identity);
  bool send(std::span<const std::byte> frame) override;
  std::optional<Frame> receive() override;
  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::socket_t socket_;
};

class ZmqRouter final : public LinkServer {
 public:
  ZmqRouter(zmq::context_t& ctx, const std::string& endpoint);
  bool send(const PeerId& peer, std::span<const std::byte> frame) override;
  std::optional<Inbound> receive() override;
  zmq::socket_t& socket() { return socket_; }
  // The endpoint actually bound (resolves tcp://127.0.0.1:* to a port).
  std::string boundEndpoint() const;

 private:
  zmq::socket_t socket_;
};

class Publisher {
 public:
  // Connects to the proxy's XSUB side.
  Publisher(zmq::context_t& ctx, const std::string& proxyXsub);
  void publish(std::string_view topic, std::span<const std::byte> frame);
  std::uint64_t published() const { return published_; }

 private:
  zmq::socket_t socket_;
  std::uint64_t published_ = 0;
};

struct Event {
  std::string topic;
  Frame frame;
};

class Subscriber {
 public:
  // Connects to the proxy's XPUB side.
  Subscriber(zmq::context_t& ctx, const std::string& proxyXpub);
  void subscribe(std::string_view prefix);
  std::optional<Event> receive();
  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::socket_t socket_;
};

// The XSUB/XPUB forwarder every publisher and subscriber meets at. Runs on its own thread until
// destroyed. Unbounded queues: no event is dropped for a slow subscriber (see messages/README.md).
class EventProxy {
 public:
  EventProxy(zmq::context_t& ctx, const std::string& xsubEndpoint, const std::string& xpubEndpoint);
  ~EventProxy();
  EventProxy(const EventProxy&) = delete;
  EventProxy& operator=(const EventProxy&) = delete;

 private:
  zmq::context_t& ctx_;
  std::string controlEndpoint_;
  std::jthread thread_;
};

// A reply together with the frame it decodes from (the decoded view may point into the frame).
struct Reply {
  Frame frame;
  std::unique_ptr<messages::Decoded> decoded;
  wire::Message::Body::Reader body() const { return decoded->body(); }
};

enum class RequestError : std::uint8_t { Timeout, SendFailed, BadReply };

// Request/reply over DEALER -> ROUTER with correlation ids; stale replies are discarded.
class RequestClient {
 public:
  RequestClient(zmq::context_t& ctx, const std::string& endpoint, std::string source);
  // Sends the message built in encoder() and waits up to `timeout` for the reply.
  messages::Encoder& encoder() { return encoder_; }
  wire::Message::Body::Builder begin();
  Result<Reply, RequestError> call(std::chrono::milliseconds timeout);

 private:
  std::string source_;
  std::uint64_t nextCorrelation_ = 1;
  std::uint64_t pendingCorrelation_ = 0;
  messages::Encoder encoder_;
  ZmqDealer dealer_;
};

// Waits until one of the sockets is readable or the timeout passes; true when readable.
bool pollReadable(const std::vector<zmq::socket_t*>& sockets, std::chrono::milliseconds timeout);

}  // namespace spotline::bus
