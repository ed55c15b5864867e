#include "spotline/bus/heartbeat.h"

namespace spotline::bus {

void HeartbeatTracker::heard(const std::string& service, bool ready) {
  seen_[service] = Seen{clock_.now(), ready};
}

bool HeartbeatTracker::alive(const std::string& service, WallClock::Duration maxAge) const {
  auto it = seen_.find(service);
  return it != seen_.end() && it->second.ready && clock_.now() - it->second.at <= maxAge;
}

std::string HeartbeatTracker::firstMissing(const std::vector<std::string>& services, WallClock::Duration maxAge) const {
  for (const auto& s : services) {
    if (!alive(s, maxAge)) return s;
  }
  return {};
}

}  // namespace spotline::bus
