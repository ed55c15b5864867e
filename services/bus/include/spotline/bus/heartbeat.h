#pragma once
// Liveness on wall time: who was heard from, when, and whether they said they were ready.

#include <map>
#include <string>
#include <vector>

#include "spotline/core/clock.h"

namespace spotline::bus {

inline constexpr auto kHeartbeatPeriod = std::chrono::milliseconds(200);
inline constexpr auto kHeartbeatTimeout = std::chrono::milliseconds(1000);

class HeartbeatTracker {
 public:
  explicit HeartbeatTracker(const WallClock& clock) : clock_(clock) {}
  void heard(const std::string& service, bool ready);
  // Heard within `maxAge` and ready.
  bool alive(const std::string& service, WallClock::Duration maxAge = kHeartbeatTimeout) const;
  // Heard at least once.
  bool known(const std::string& service) const { return seen_.contains(service); }
  // The first of `services` that is not alive, or empty when all are.
  std::string firstMissing(const std::vector<std::string>& services,
                           WallClock::Duration maxAge = kHeartbeatTimeout) const;

 private:
  struct Seen {
    WallClock::TimePoint at;
    bool ready;
  };
  const WallClock& clock_;
  std::map<std::string, Seen> seen_;
};

}  // namespace spotline::bus
