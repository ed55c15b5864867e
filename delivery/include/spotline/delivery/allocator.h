#pragma once
// Beam allocation among the rooms sharing one synchrotron. A room holds the beam for one spill at
// a time, an exclusive lease; the beam line is switched to the lease holder's room and to no other.
// Requests queue by priority with ageing: a request's score is its priority plus ageingPerSecond
// times the seconds it has waited, so a low-priority room is served once it has waited long enough
// and no room starves. A lease ends when the holder releases it, at the end of its spill at the
// latest, or when the holder has not started extraction within leaseTimeout of the spill's start.
//
// Lifecycle: owned by the Synchrotron (or a test); simulated time only; not thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "spotline/core/units.h"

namespace spotline::delivery {

struct AllocatorParameters {
  SimDuration spillLength = std::chrono::seconds(4);
  SimDuration spillGap = std::chrono::milliseconds(1500);
  double ageingPerSecond = 0.5;
  SimDuration leaseTimeout = std::chrono::milliseconds(500);
};

struct Lease {
  std::string room;
  std::uint32_t spill = 0;
  SimDuration decidedAt{0};  // when the synchrotron started to prepare the spill for the room
  SimDuration start{0}, end{0};
  bool used = false;  // extraction has started
};

struct LeaseRecord {
  std::string room;
  std::uint32_t spill = 0;
  SimDuration start{0};
  SimDuration releasedAt{0};
  enum class End : std::uint8_t { Released, SpillOver, TimedOut } how = End::Released;
};

class BeamAllocator {
 public:
  explicit BeamAllocator(AllocatorParameters params);

  // A room asks for beam from `since` on (again: keeps the earlier `since`). Higher priority first.
  void request(const std::string& room, int priority, SimDuration since);
  void withdraw(const std::string& room);
  bool waiting(const std::string& room) const;

  // When nobody holds the beam: picks the best request and leases it the next spill. The
  // synchrotron decides at max(free, earliest request) and the spill starts one spillGap later.
  // nullopt when there is no request or the beam is leased.
  std::optional<Lease> grant();

  // The holder has started extracting (it has the beam on its own path).
  void markUsed(SimDuration at);
  // The holder is done with the beam at `at` (at most the spill's end).
  void release(const std::string& room, SimDuration at);
  // Ends a lease whose spill is over, or that the holder has not used within leaseTimeout.
  // Returns true when it ended one.
  bool expire(SimDuration now);

  // True when the beam line is switched to `room` at `at`: `room` holds a lease covering `at`.
  bool pathIsFor(const std::string& room, SimDuration at) const;

  const std::optional<Lease>& lease() const { return lease_; }
  SimDuration freeAt() const { return freeAt_; }
  const std::vector<LeaseRecord>& history() const { return history_; }
  std::uint32_t spillsGranted() const { return spill_; }

 private:
  struct Request {
    int priority = 0;
    SimDuration since{0};
  };
  void close(SimDuration at, LeaseRecord::End how);

  AllocatorParameters params_;
  std::map<std::string, Request> requests_;
  std::optional<Lease> lease_;
  SimDuration freeAt_{0};
  std::uint32_t spill_ = 0;
  std::vector<LeaseRecord> history_;
};

}  // namespace spotline::delivery
