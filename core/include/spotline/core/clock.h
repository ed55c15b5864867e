#pragma once
// Wall-time sources. Only mains construct SteadyClock; tests move a ManualClock by hand.
// Liveness (heartbeats, retransmission, timeouts) runs on a WallClock; physics runs on
// simulated time owned by the delivery model.

#include <atomic>
#include <chrono>

namespace spotline {

class WallClock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;
  virtual ~WallClock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public WallClock {
 public:
  TimePoint now() const override;
};

// A clock that only moves when told to. Thread-safe so a test thread can advance it
// while a service thread reads it.
class ManualClock final : public WallClock {
 public:
  TimePoint now() const override;
  void advance(Duration d);

 private:
  std::atomic<std::int64_t> nanos_{1'000'000'000};
};

// Wall-clock timestamp in nanoseconds since the Unix epoch, for envelopes and logs.
std::int64_t unixNanosNow();

}  // namespace spotline
