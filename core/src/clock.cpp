#include "spotline/core/clock.h"

namespace spotline {

WallClock::TimePoint SteadyClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

WallClock::TimePoint ManualClock::now() const {
  return TimePoint(Duration(nanos_.load(std::memory_order_acquire)));
}

void ManualClock::advance(Duration d) {
  nanos_.fetch_add(d.count(), std::memory_order_acq_rel);
}

std::int64_t unixNanosNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace spotline
