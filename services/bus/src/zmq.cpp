#include "spotline/bus/zmq.h"

#include <atomic>

#include "spotline/core/clock.h"

namespace spotline::bus {

namespace {

void commonOptions(zmq::socket_t& s) {
  s.set(zmq::sockopt::linger, 0);
  // No high-water mark: the spot stream has its own credit window, and events must not be
  // dropped silently for a slow subscriber.
  s.set(zmq::sockopt::sndhwm, 0);
  s.set(zmq::sockopt::rcvhwm, 0);
}

std::optional<Frame> recvOne(zmq::socket_t& s, bool* more) {
  zmq::message_t msg;
  auto got = s.recv(msg, zmq::recv_flags::dontwait);
  if (!got) return std::nullopt;
  if (more) *more = msg.more();
  const auto* p = static_cast<const std::byte*>(msg.data());
  return Frame(p, p + msg.size());
}

void drainRest(zmq::socket_t& s, bool more) {
  while (more) {
    zmq::message_t skip;
    if (!s.recv(skip, zmq::recv_flags::dontwait)) return;
    more = skip.more();
  }
}

std::atomic<std::uint64_t> proxyCounter{0};

}  // namespace

ZmqDealer::ZmqDealer(zmq::context_t& ctx, const std::string& endpoint, const std::string& identity)
    : socket_(ctx, zmq::socket_type::dealer) {
  commonOptions(socket_);
  if (!identity.empty()) socket_.set(zmq::sockopt::routing_id, identity);
  socket_.set(zmq::sockopt::reconnect_ivl, 50);
  socket_.set(zmq::sockopt::reconnect_ivl_max, 500);
  socket_.connect(endpoint);
}

bool ZmqDealer::send(std::span<const std::byte> frame) {
  auto r = socket_.send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
  return r.has_value();
}

std::optional<Frame> ZmqDealer::receive() {
  bool more = false;
  auto f = recvOne(socket_, &more);
  if (f) drainRest(socket_, more);  // a peer's extra frames are not ours to trust
  return f;
}

ZmqRouter::ZmqRouter(zmq::context_t& ctx, const std::string& endpoint) : socket_(ctx, zmq::socket_type::router) {
  commonOptions(socket_);
  // Sending to a peer that is gone fails instead of vanishing silently.
  socket_.set(zmq::sockopt::router_mandatory, true);
  socket_.bind(endpoint);
}

std::string ZmqRouter::boundEndpoint() const {
  return socket_.get(zmq::sockopt::last_endpoint);
}

bool ZmqRouter::send(const PeerId& peer, std::span<const std::byte> frame) {
  try {
    if (!socket_.send(zmq::buffer(peer.data(), peer.size()), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return false;
    }
    return socket_.send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return false;
    throw;
  }
}

std::optional<Inbound> ZmqRouter::receive() {
  bool more = false;
  auto id = recvOne(socket_, &more);
  if (!id) return std::nullopt;
  if (!more) return std::nullopt;  // a routing id with no payload: nothing to do
  auto payload = recvOne(socket_, &more);
  if (!payload) return std::nullopt;
  drainRest(socket_, more);
  return Inbound{PeerId(reinterpret_cast<const char*>(id->data()), id->size()), std::move(*payload)};
}

Publisher::Publisher(zmq::context_t& ctx, const std::string& proxyXsub) : socket_(ctx, zmq::socket_type::pub) {
  commonOptions(socket_);
  socket_.connect(proxyXsub);
}

void Publisher::publish(std::string_view topic, std::span<const std::byte> frame) {
  socket_.send(zmq::buffer(topic.data(), topic.size()), zmq::send_flags::sndmore);
  socket_.send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::none);
  ++published_;
}

Subscriber::Subscriber(zmq::context_t& ctx, const std::string& proxyXpub) : socket_(ctx, zmq::socket_type::sub) {
  commonOptions(socket_);
  socket_.connect(proxyXpub);
}

void Subscriber::subscribe(std::string_view prefix) {
  socket_.set(zmq::sockopt::subscribe, prefix);
}

std::optional<Event> Subscriber::receive() {
  bool more = false;
  auto topic = recvOne(socket_, &more);
  if (!topic) return std::nullopt;
  if (!more) return std::nullopt;
  auto payload = recvOne(socket_, &more);
  if (!payload) return std::nullopt;
  drainRest(socket_, more);
  return Event{std::string(reinterpret_cast<const char*>(topic->data()), topic->size()), std::move(*payload)};
}

EventProxy::EventProxy(zmq::context_t& ctx, const std::string& xsubEndpoint, const std::string& xpubEndpoint)
    : ctx_(ctx), controlEndpoint_("inproc://spotline-proxy-control-" + std::to_string(proxyCounter++)) {
  // Bind on the caller's thread so that an address in use is reported here, not lost in the thread.
  auto xsub = std::make_shared<zmq::socket_t>(ctx, zmq::socket_type::xsub);
  auto xpub = std::make_shared<zmq::socket_t>(ctx, zmq::socket_type::xpub);
  auto control = std::make_shared<zmq::socket_t>(ctx, zmq::socket_type::pair);
  commonOptions(*xsub);
  commonOptions(*xpub);
  xsub->bind(xsubEndpoint);
  xpub->bind(xpubEndpoint);
  control->bind(controlEndpoint_);
  thread_ = std::jthread([xsub, xpub, control] {
    try {
      zmq::proxy_steerable(*xsub, *xpub, zmq::socket_ref(), *control);
    } catch (const zmq::error_t&) {
      // context terminated: nothing left to forward
    }
    xsub->close();
    xpub->close();
    control->close();
  });
}

EventProxy::~EventProxy() {
  try {
    zmq::socket_t control(ctx_, zmq::socket_type::pair);
    control.set(zmq::sockopt::linger, 0);
    control.connect(controlEndpoint_);
    control.send(zmq::str_buffer("TERMINATE"), zmq::send_flags::none);
  } catch (const zmq::error_t&) {
  }
  if (thread_.joinable()) thread_.join();
}

RequestClient::RequestClient(zmq::context_t& ctx, const std::string& endpoint, std::string source)
    : source_(std::move(source)), dealer_(ctx, endpoint, "") {}

wire::Message::Body::Builder RequestClient::begin() {
  pendingCorrelation_ = nextCorrelation_++;
  return encoder_.start({.source = source_, .correlationId = pendingCorrelation_, .wallTimeNs = unixNanosNow()});
}

Result<Reply, RequestError> RequestClient::call(std::chrono::milliseconds timeout) {
  auto frame = encoder_.finish();
  if (!dealer_.send(frame)) return fail(RequestError::SendFailed, "could not queue the request");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0)
      return fail(RequestError::Timeout, "no reply within " + std::to_string(timeout.count()) + " ms");
    if (!pollReadable({&dealer_.socket()}, left)) continue;
    while (auto got = dealer_.receive()) {
      Reply reply{std::move(*got), nullptr};
      auto decoded = messages::decode(reply.frame);
      if (!decoded) return fail(RequestError::BadReply, std::string(decoded.error().message));
      if (decoded.value()->envelope().getCorrelationId() != pendingCorrelation_) continue;  // stale
      reply.decoded = std::move(decoded).value();
      return reply;
    }
  }
}

bool pollReadable(const std::vector<zmq::socket_t*>& sockets, std::chrono::milliseconds timeout) {
  std::vector<zmq::pollitem_t> items;
  items.reserve(sockets.size());
  for (auto* s : sockets) items.push_back({s->handle(), 0, ZMQ_POLLIN, 0});
  return zmq::poll(items.data(), items.size(), timeout) > 0;
}

}  // namespace spotline::bus
