#include "spotline/delivery/allocator.h"

#include <algorithm>
#include <stdexcept>

namespace spotline::delivery {

BeamAllocator::BeamAllocator(AllocatorParameters params) : params_(params) {
  if (params_.spillLength.count() <= 0) throw std::invalid_argument("BeamAllocator: spillLength must be positive");
  if (params_.spillGap.count() < 0) throw std::invalid_argument("BeamAllocator: spillGap must not be negative");
  if (!(params_.ageingPerSecond >= 0.0)) {
    throw std::invalid_argument("BeamAllocator: ageingPerSecond must not be negative");
  }
}

void BeamAllocator::request(const std::string& room, int priority, SimDuration since) {
  auto it = requests_.find(room);
  if (it == requests_.end()) {
    requests_.emplace(room, Request{priority, since});
  } else {
    it->second.priority = priority;
    it->second.since = std::min(it->second.since, since);
  }
}

void BeamAllocator::withdraw(const std::string& room) {
  requests_.erase(room);
}

bool BeamAllocator::waiting(const std::string& room) const {
  return requests_.contains(room);
}

std::optional<Lease> BeamAllocator::grant() {
  if (lease_ || requests_.empty()) return std::nullopt;
  SimDuration earliest = requests_.begin()->second.since;
  for (const auto& [room, r] : requests_) earliest = std::min(earliest, r.since);
  const SimDuration decision = std::max(freeAt_, earliest);
  // Only requests made by the decision time compete; ties go to the longer wait, then the name.
  const std::string* best = nullptr;
  double bestScore = 0.0;
  SimDuration bestSince{0};
  for (const auto& [room, r] : requests_) {
    if (r.since > decision) continue;
    const double score = r.priority + params_.ageingPerSecond * toSeconds(decision - r.since);
    if (best == nullptr || score > bestScore || (score == bestScore && r.since < bestSince)) {
      best = &room;
      bestScore = score;
      bestSince = r.since;
    }
  }
  Lease lease;
  lease.room = *best;
  lease.spill = ++spill_;
  lease.decidedAt = decision;
  lease.start = decision + params_.spillGap;
  lease.end = lease.start + params_.spillLength;
  requests_.erase(lease.room);
  lease_ = lease;
  return lease;
}

void BeamAllocator::markUsed(SimDuration at) {
  if (lease_ && at >= lease_->start && at <= lease_->end) lease_->used = true;
}

void BeamAllocator::release(const std::string& room, SimDuration at) {
  if (!lease_ || lease_->room != room) return;
  close(std::clamp(at, lease_->start, lease_->end),
        at >= lease_->end ? LeaseRecord::End::SpillOver : LeaseRecord::End::Released);
}

bool BeamAllocator::expire(SimDuration now) {
  if (!lease_) return false;
  if (now >= lease_->end) {
    close(lease_->end, LeaseRecord::End::SpillOver);
    return true;
  }
  if (!lease_->used && now >= lease_->start + params_.leaseTimeout) {
    close(lease_->start + params_.leaseTimeout, LeaseRecord::End::TimedOut);
    return true;
  }
  return false;
}

bool BeamAllocator::pathIsFor(const std::string& room, SimDuration at) const {
  return lease_ && lease_->room == room && at >= lease_->start && at <= lease_->end;
}

void BeamAllocator::close(SimDuration at, LeaseRecord::End how) {
  history_.push_back(LeaseRecord{lease_->room, lease_->spill, lease_->start, at, how});
  freeAt_ = at;
  lease_.reset();
}

}  // namespace spotline::delivery
