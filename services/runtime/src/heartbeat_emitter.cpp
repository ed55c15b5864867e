#include <unistd.h>

#include "spotline/runtime/service_context.h"

namespace spotline::runtime {

HeartbeatEmitter::HeartbeatEmitter(std::string service, const WallClock& clock)
    : service_(std::move(service)), clock_(clock), started_(clock.now()) {}

void HeartbeatEmitter::tick(bus::Publisher& publisher, bool ready) {
  auto now = clock_.now();
  if (sequence_ > 0 && now - last_ < bus::kHeartbeatPeriod) return;
  last_ = now;
  auto body = encoder_.start({.source = service_, .sequence = ++sequence_, .wallTimeNs = unixNanosNow()});
  auto hb = body.initHeartbeat();
  hb.setService(service_);
  hb.setPid(static_cast<std::uint32_t>(::getpid()));
  hb.setReady(ready);
  hb.setUptimeSeconds(std::chrono::duration<double>(now - started_).count());
  publisher.publish("hb." + service_, encoder_.finish());
}

}  // namespace spotline::runtime
