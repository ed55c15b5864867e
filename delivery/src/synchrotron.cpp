#include "spotline/delivery/synchrotron.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace spotline::delivery {
namespace {

// Rounded to the nanosecond with llround, which is exact and the same everywhere.
SimDuration fromSeconds(double seconds) {
  return SimDuration(std::llround(seconds * 1e9));
}

// The first deliverable spot at or after p: skips setup beams, empty layers and a layer whose
// spots are all done; {beams.size(), 0, 0} when nothing is left.
ResumePoint normalise(const plan::Plan& plan, ResumePoint p) {
  while (p.beamIndex < plan.beams.size()) {
    const plan::Beam& beam = plan.beams[p.beamIndex];
    if (beam.treatment && p.layerIndex < beam.layers.size()) {
      if (p.spotIndex < beam.layers[p.layerIndex].spots.size()) return p;
      ++p.layerIndex;
      p.spotIndex = 0;
      p.spotDelivered = 0.0;
      continue;
    }
    ++p.beamIndex;
    p.layerIndex = 0;
    p.spotIndex = 0;
    p.spotDelivered = 0.0;
  }
  return ResumePoint{static_cast<std::uint32_t>(plan.beams.size()), 0, 0, 0.0};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RasterScanner

RasterScanner::RasterScanner(const plan::Plan& plan, MachineParameters params, std::uint64_t seed, ResumePoint from,
                             std::vector<FaultSpec> faults)
    : plan_(plan),
      params_(params),
      normal_(seed),
      unit_(particlesPerUnit(plan.metersetUnit, params)),
      faults_(std::move(faults)),
      fired_(faults_.size(), false) {
  validate(params_);
  std::uint64_t spots = 0;
  std::uint64_t layers = 0;
  for (const plan::Beam& beam : plan_.beams) {
    spotBase_.emplace_back();
    layerOrdinal_.emplace_back();
    for (const plan::Layer& layer : beam.layers) {
      spotBase_.back().push_back(spots);
      layerOrdinal_.back().push_back(beam.treatment ? ++layers : 0);
      if (beam.treatment) spots += layer.spots.size();
    }
  }
  cursor_ = normalise(plan_, from);
  if (cursor_.beamIndex == from.beamIndex && cursor_.layerIndex == from.layerIndex &&
      cursor_.spotIndex == from.spotIndex) {
    cursorRecorded_ = std::max(0.0, from.spotDelivered);
  }
}

const plan::IonSpecies& RasterScanner::ion() const {
  const std::uint32_t b = std::min<std::uint32_t>(cursor_.beamIndex, plan_.beams.size() - 1);
  return plan_.beams.empty() ? plan::kCarbon : plan_.beams[b].ion;
}

void RasterScanner::start(SimDuration at) {
  started_ = true;
  startedAt_ = at;
  now_ = at;
  requestedAt_ = at;
  for (std::size_t i = 0; i < faults_.size(); ++i) {
    if (faults_[i].kind == FaultKind::DoorOpen && faults_[i].trigger == FaultTrigger::Time) {
      doors_.push_back(at + faults_[i].after);
    }
  }
  std::sort(doors_.begin(), doors_.end());
  if (normalise(plan_, cursor_).beamIndex >= plan_.beams.size()) {
    done_ = true;
    pending_.push_back(FractionCompleted{now_});
  }
}

const plan::Layer& RasterScanner::layer() const {
  return plan_.beams[cursor_.beamIndex].layers[cursor_.layerIndex];
}

double RasterScanner::remainingTarget() const {
  const double planned = std::max(0.0, layer().spots[cursor_.spotIndex].meterset);
  return std::max(0.0, planned - cursorRecorded_);
}

void RasterScanner::trigger(FaultSpec& f, SimDuration at) {
  pending_.push_back(FaultTriggered{f.text, at});
  switch (f.kind) {
    case FaultKind::PositionDrift: driftX_ = Millimetres(params_.faultDriftMm); break;
    case FaultKind::Monitor2Fail: monitor2Failed_ = true; break;
    default: break;  // the others act where they are checked
  }
}

void RasterScanner::grant(const Spill& spill, std::uint32_t others, const std::string& lastOther) {
  if (!wantsBeam()) throw std::logic_error("RasterScanner::grant: the room did not ask for beam");
  spill_ = spill;
  ++spillsReceived_;
  spillUsed_ = 0.0;
  measuredRate_ = 0.0;
  magnetsReady_ = true;  // the magnets reach the next spot during the gap
  abortAt_.reset();
  if (door() && *door() <= spill.start) {
    // The door opened while the room waited: the beam was off; the spill is given back unused. A
    // spot that the last spill's end interrupted is recorded as partial.
    const SimDuration at = std::max(now_, *door());
    now_ = at;
    flushPartial();
    hold(at, at, HoldCause::DoorOpen);  // no beam to switch off: no latency
    return;
  }
  pending_.push_back(WaitingForSpill{spill.number, requestedAt_, spill.start, others, lastOther});
  now_ = std::max(now_, spill.start);
  if (abortNextSpill_) {
    abortNextSpill_ = false;
    abortAt_ = spill.start + params_.faultSpillAbortAfter;
  }
  for (std::size_t i = 0; i < faults_.size(); ++i) {
    if (!fired_[i] && faults_[i].trigger == FaultTrigger::Spill && faults_[i].ordinal == spillsReceived_) {
      fired_[i] = true;
      trigger(faults_[i], spill.start);
      if (faults_[i].kind == FaultKind::SpillAbort) abortAt_ = spill.start + params_.faultSpillAbortAfter;
    }
  }
}

void RasterScanner::flushPartial() {
  if (!spotInProgress_) return;
  if (spotTrue_ > 0.0) {
    pending_.push_back(record(true));
  } else {
    spotInProgress_ = false;  // nothing reached the patient: the spot starts afresh
  }
}

std::optional<SimDuration> RasterScanner::takeRelease() {
  auto r = released_;
  released_.reset();
  return r;
}

void RasterScanner::releaseSpill(SimDuration at) {
  if (!spill_) return;
  released_ = std::min(std::max(at, spill_->start), spill_->end);
  spill_.reset();
  abortAt_.reset();
  requestedAt_ = std::max(at, now_);
}

void RasterScanner::hold(SimDuration requestedAt, SimDuration off, HoldCause cause) {
  held_ = true;
  if (cause == HoldCause::DoorOpen && !doors_.empty()) doors_.erase(doors_.begin());
  now_ = std::max(now_, off);
  pending_.push_back(BeamHeld{cause, requestedAt, off});
  releaseSpill(now_);
}

std::vector<SimEvent> RasterScanner::holdNow(SimDuration at, HoldCause cause) {
  std::vector<SimEvent> out;
  while (!pending_.empty()) {
    out.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  if (done_ || held_) return out;
  now_ = std::max(now_, at);
  // Between spots the beam is already off. A spot that a spill end interrupted has particles
  // that were extracted but not yet recorded: they are recorded now as a partial spot.
  flushPartial();
  hold(now_, now_, cause);
  while (!pending_.empty()) {
    out.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  return out;
}

void RasterScanner::resume(SimDuration at) {
  if (!held_) return;
  held_ = false;
  now_ = std::max(now_, at);
  requestedAt_ = now_;
  // The interrupted layer is re-opened (LayerStarted again) and its intensity chosen anew, also
  // for what remains of the interrupted spot. A layer whose last spot was done only needs its
  // LayerCompleted: it stays open.
  if (layerOpen_ && cursor_.beamIndex < plan_.beams.size() && cursor_.spotIndex < layer().spots.size()) {
    layerOpen_ = false;
  }
}

ResumePoint RasterScanner::position() const {
  ResumePoint p = normalise(plan_, cursor_);
  if (p.beamIndex == cursor_.beamIndex && p.layerIndex == cursor_.layerIndex && p.spotIndex == cursor_.spotIndex) {
    p.spotDelivered = cursorRecorded_;
  }
  return p;
}

std::optional<SimEvent> RasterScanner::step() {
  if (!pending_.empty()) {
    SimEvent e = std::move(pending_.front());
    pending_.pop_front();
    return e;
  }
  if (done_ || held_ || !spill_) return std::nullopt;
  if (!layerOpen_) return openLayer();
  if (spotInProgress_) return continueSpot();
  if (cursor_.spotIndex >= layer().spots.size()) return finishLayer();
  return startSpot();
}

std::optional<SimEvent> RasterScanner::openLayer() {
  cursor_ = normalise(plan_, cursor_);
  if (cursor_.beamIndex >= plan_.beams.size()) {
    done_ = true;
    releaseSpill(now_);
    return FractionCompleted{now_};
  }
  const plan::Beam& beam = plan_.beams[cursor_.beamIndex];
  const plan::Layer& l = layer();
  for (std::size_t i = 0; i < faults_.size(); ++i) {
    if (!fired_[i] && faults_[i].trigger == FaultTrigger::Layer &&
        faults_[i].ordinal <= layerOrdinal_[cursor_.beamIndex][cursor_.layerIndex]) {
      fired_[i] = true;
      trigger(faults_[i], now_);
    }
  }
  // The intensity level is set for the smallest spot still to deliver in the layer (a resumed
  // spot counts with what remains of it), so that its overshoot stays small.
  double smallest = std::numeric_limits<double>::infinity();
  for (std::size_t s = cursor_.spotIndex; s < l.spots.size(); ++s) {
    double m = s == cursor_.spotIndex ? remainingTarget() : l.spots[s].meterset;
    if (m > 0.0) smallest = std::min(smallest, m * unit_);
  }
  layerIntensity_ = chooseIntensity(smallest, beam.ion, params_);
  layerOpen_ = true;
  layerDelivered_ = 0.0;
  magnetsReady_ = true;
  pending_.push_back(LayerStarted{cursor_.beamIndex, cursor_.layerIndex, beam.number, l.energy,
                                  static_cast<std::uint32_t>(l.spots.size()), spill_->number, layerIntensity_, now_});
  return step();
}

std::optional<SimEvent> RasterScanner::finishLayer() {
  const plan::Beam& beam = plan_.beams[cursor_.beamIndex];
  LayerCompleted done{cursor_.beamIndex, cursor_.layerIndex, beam.number, layerDelivered_, now_};
  const MeVPerNucleon energy = layer().energy;
  layerOpen_ = false;
  cursor_ = normalise(plan_, ResumePoint{cursor_.beamIndex, cursor_.layerIndex + 1, 0, 0.0});
  cursorRecorded_ = 0.0;
  // One energy per spill, unless multi-energy extraction lets the next, lower energy of the same
  // beam follow in this spill.
  const bool sameBeam = cursor_.beamIndex == done.beamIndex && cursor_.beamIndex < plan_.beams.size();
  const bool fits = now_ + params_.energyStep < spill_->end && spill_->particles - spillUsed_ >= 1.0 &&
                    !(abortAt_ && *abortAt_ <= now_ + params_.energyStep) &&
                    !(door() && *door() <= now_ + params_.energyStep);
  if (params_.multiEnergyExtraction && sameBeam && fits && layer().energy < energy) {
    now_ += params_.energyStep;
    measuredRate_ = 0.0;
  } else if (cursor_.beamIndex >= plan_.beams.size()) {
    done_ = true;
    releaseSpill(now_);
    pending_.push_back(FractionCompleted{now_});
  } else {
    // A spill-abort due in a spill the room finished early moves to the room's next spill.
    if (abortAt_) abortNextSpill_ = true;
    releaseSpill(now_);
  }
  return done;
}

RasterScanner::Cut RasterScanner::nextCut() const {
  Cut cut{spill_->end, Cut::Kind::SpillEnd};
  if (abortAt_ && *abortAt_ < cut.at) cut = Cut{*abortAt_, Cut::Kind::Abort};
  if (door() && *door() < cut.at) cut = Cut{std::max(*door(), now_), Cut::Kind::Door};
  return cut;
}

void RasterScanner::fireSpotFaults(std::uint64_t ordinal) {
  for (std::size_t i = 0; i < faults_.size(); ++i) {
    if (fired_[i] || faults_[i].trigger != FaultTrigger::Spot) continue;
    // Drift and a failed monitor persist from their spot on (also when a resume starts later);
    // the one-shot faults act on their own spot only.
    const bool persistent = faults_[i].kind == FaultKind::PositionDrift || faults_[i].kind == FaultKind::Monitor2Fail;
    if (persistent ? faults_[i].ordinal > ordinal : faults_[i].ordinal != ordinal) continue;
    fired_[i] = true;
    trigger(faults_[i], now_);
    if (faults_[i].kind == FaultKind::DoorOpen) doors_.insert(doors_.begin(), now_);
    if (faults_[i].kind == FaultKind::Overshoot) spotExtra_ = -1.0;  // marks this spot
  }
}

std::optional<SimEvent> RasterScanner::startSpot() {
  const plan::Spot& spot = layer().spots[cursor_.spotIndex];
  const std::uint64_t ordinal = spotBase_[cursor_.beamIndex][cursor_.layerIndex] + cursor_.spotIndex + 1;
  spotExtra_ = 0.0;
  fireSpotFaults(ordinal);
  const double target = remainingTarget();
  const double planned = std::max(0.0, spot.meterset);
  if (planned <= 0.0) {
    // A zero-meterset spot needs no beam: the scanner skips it, the monitors read nothing and the
    // position monitor has no beam to see, so the planned position is reported.
    const plan::Layer& l = layer();
    pending_.push_back(SpotDelivered{cursor_.beamIndex, cursor_.layerIndex, cursor_.spotIndex,
                                     plan_.beams[cursor_.beamIndex].number, spot.meterset, 0.0, 0.0, 0.0, spot.x,
                                     spot.y, spot.x, spot.y, l.energy, spill_->number, now_, now_, false});
    ++cursor_.spotIndex;
    cursorRecorded_ = 0.0;
    return step();
  }
  // What remains of a resumed spot is not delivered when it is too small to deliver within
  // tolerance: below resumeSkipFraction of the plan, or below half the overshoot of the lowest
  // intensity level (the beam cannot be switched on for less).
  const double lowestOvershoot =
      intensityLevels(plan_.beams[cursor_.beamIndex].ion, params_).front() * toSeconds(params_.beamOffReaction);
  if (cursorRecorded_ > 0.0 &&
      (target <= params_.resumeSkipFraction * planned || target * unit_ <= 0.5 * lowestOvershoot)) {
    // The spot is complete within tolerance: a closing record without beam says so.
    const plan::Layer& l = layer();
    pending_.push_back(SpotDelivered{cursor_.beamIndex, cursor_.layerIndex, cursor_.spotIndex,
                                     plan_.beams[cursor_.beamIndex].number, spot.meterset, target, 0.0, 0.0, spot.x,
                                     spot.y, spot.x, spot.y, l.energy, spill_->number, now_, now_, false});
    ++cursor_.spotIndex;
    cursorRecorded_ = 0.0;
    return step();
  }
  // x and y have their own magnets and move at the same time: the longer axis sets the time.
  const double distance = std::max(std::abs((spot.x - lastX_).value()), std::abs((spot.y - lastY_).value()));
  const SimDuration move = magnetsReady_ ? SimDuration{0} : fromSeconds(distance / params_.scanSpeedMmPerS);
  const Cut cut = nextCut();
  if (now_ + move >= cut.at || spill_->particles - spillUsed_ < 1.0) {
    // No beam for this spot in this spill.
    switch (cut.kind) {
      case Cut::Kind::Door: hold(cut.at, std::max(now_, cut.at), HoldCause::DoorOpen); break;
      case Cut::Kind::Abort: hold(cut.at, std::max(now_, cut.at), HoldCause::SpillAborted); break;
      default: releaseSpill(now_);
    }
    magnetsReady_ = true;
    return step();
  }
  now_ += move;
  magnetsReady_ = false;
  lastX_ = spot.x;
  lastY_ = spot.y;
  // The extracted intensity ripples from spot to spot; the machine can only predict the
  // overshoot from the intensity it measured on the previous spot.
  const double ripple = normal_.next();
  spotRate_ = layerIntensity_ * std::max(0.2, 1.0 + params_.intensityRipple * ripple);
  const double targetParticles = target * unit_;
  const double estimate = measuredRate_ > 0.0 ? measuredRate_ : layerIntensity_;
  spotThreshold_ = params_.overshootCorrection
                       ? std::max(0.0, targetParticles - estimate * toSeconds(params_.beamOffReaction))
                       : targetParticles;
  if (spotExtra_ < 0.0) spotExtra_ = params_.faultOvershootFraction * targetParticles;
  // A spill-abort due after the room's last spot in this spill would never happen: the spill is
  // lost halfway through that spot instead, so that the fault always leads to its interlock.
  if (abortAt_ && cursor_.spotIndex + 1 == layer().spots.size() && !params_.multiEnergyExtraction) {
    const SimDuration expectedEnd = now_ + fromSeconds((spotThreshold_ + spotExtra_) / spotRate_);
    if (*abortAt_ >= expectedEnd) abortAt_ = now_ + fromSeconds(0.5 * (spotThreshold_ + spotExtra_) / spotRate_);
  }
  spotExtracted_ = 0.0;
  spotTrue_ = 0.0;
  spotStart_ = now_;
  spotInProgress_ = true;
  return continueSpot();
}

std::optional<SimEvent> RasterScanner::continueSpot() {
  if (!pending_.empty()) return step();
  const double rate = spotRate_;
  const Cut cut = nextCut();
  const double particlesLeft = spill_->particles - spillUsed_;
  // When the spill's particles run out at this rate.
  const SimDuration emptyAt = now_ + fromSeconds(particlesLeft / rate);
  const double toThreshold = std::max(0.0, spotThreshold_ - spotExtracted_) + spotExtra_;
  const SimDuration request = now_ + fromSeconds(toThreshold / rate);

  if (request <= cut.at && request <= emptyAt) {
    // The primary reaches the threshold: beam-off request, then the beam keeps coming for the
    // reaction time, unless the spill, its particles or an abort end it first.
    const double before = toThreshold;
    spotExtracted_ += before;
    spotTrue_ += before;
    spillUsed_ += before;
    SimDuration physicalEnd = std::min(spill_->end, emptyAt);
    if (abortAt_) physicalEnd = std::min(physicalEnd, *abortAt_);
    const SimDuration overshootTime = std::clamp(physicalEnd - request, SimDuration{0}, params_.beamOffReaction);
    const double overshoot = std::max(0.0, std::min(rate * toSeconds(overshootTime), spill_->particles - spillUsed_));
    spotTrue_ += overshoot;
    spillUsed_ += overshoot;
    now_ = request + params_.beamOffReaction;
    measuredRate_ = rate;
    spotExtra_ = 0.0;
    SpotDelivered r = record(false);
    ++cursor_.spotIndex;
    cursorRecorded_ = 0.0;
    return r;
  }

  const SimDuration stop = std::min(cut.at, emptyAt);
  const double got = std::max(0.0, rate * toSeconds(stop - now_));
  spotExtracted_ += got;
  spotTrue_ += got;
  spillUsed_ += got;
  now_ = stop;
  if (emptyAt <= cut.at || cut.kind == Cut::Kind::SpillEnd) {
    // The spill is over inside the spot: extraction simply stops and the spot's count carries on
    // in the room's next spill.
    releaseSpill(now_);
    return std::nullopt;
  }
  if (cut.kind == Cut::Kind::Door) {
    // Beam-off request at the door signal; the beam keeps coming for the reaction time.
    const double overshoot = std::min(rate * toSeconds(params_.beamOffReaction), spill_->particles - spillUsed_);
    spotTrue_ += std::max(0.0, overshoot);
    spillUsed_ += std::max(0.0, overshoot);
    now_ = stop + params_.beamOffReaction;
    pending_.push_back(record(true));
    hold(stop, now_, HoldCause::DoorOpen);
  } else {
    // The accelerator lost the spill: extraction stops at once.
    pending_.push_back(record(true));
    hold(stop, now_, HoldCause::SpillAborted);
  }
  return step();
}

SpotDelivered RasterScanner::record(bool partial) {
  const plan::Beam& beam = plan_.beams[cursor_.beamIndex];
  const plan::Layer& l = layer();
  const plan::Spot& spot = l.spots[cursor_.spotIndex];
  // Draw order is fixed (primary, secondary, x, y): it is part of the reproducibility contract.
  const double primaryNoise = normal_.next();
  const double secondaryNoise = normal_.next();
  const double xNoise = normal_.next();
  const double yNoise = normal_.next();
  const double primary = spotTrue_ * (1.0 + params_.primaryNoise * primaryNoise) / unit_;
  const double secondary = monitor2Failed_ ? 0.0
                                           : spotTrue_ * params_.secondaryCalibration *
                                                 (1.0 + params_.secondaryNoise * secondaryNoise) / unit_;
  SpotDelivered r{cursor_.beamIndex,
                  cursor_.layerIndex,
                  cursor_.spotIndex,
                  beam.number,
                  spot.meterset,
                  remainingTarget(),
                  primary,
                  secondary,
                  spot.x,
                  spot.y,
                  spot.x + driftX_ + Millimetres(params_.positionNoiseMm * xNoise),
                  spot.y + Millimetres(params_.positionNoiseMm * yNoise),
                  l.energy,
                  spill_ ? spill_->number : 0,
                  spotStart_,
                  now_,
                  partial};
  layerDelivered_ += primary;
  spotInProgress_ = false;
  spotTrue_ = 0.0;
  spotExtracted_ = 0.0;
  if (partial) cursorRecorded_ += primary;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Synchrotron

Synchrotron::Synchrotron(MachineParameters params)
    : params_(params),
      allocator_(
          AllocatorParameters{params.spillLength, params.spillGap, params.ageingPerSecond, params.leaseTimeout}) {
  validate(params_);
}

void Synchrotron::attach(const std::string& room, RasterScanner& scanner, int priority, SimDuration at) {
  if (rooms_.contains(room)) throw std::logic_error("Synchrotron::attach: room " + room + " is already attached");
  rooms_[room] = Room{&scanner, priority, 0, {}};
  scanner.start(std::max(now_, at));
}

void Synchrotron::detach(const std::string& room) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return;
  if (allocator_.lease() && allocator_.lease()->room == room) allocator_.release(room, it->second.scanner->now());
  allocator_.withdraw(room);
  rooms_.erase(it);
}

void Synchrotron::requestBeam() {
  for (auto& [name, room] : rooms_) {
    if (room.scanner->wantsBeam()) {
      allocator_.request(name, room.priority, room.scanner->requestedAt());
    } else {
      allocator_.withdraw(name);
    }
  }
}

std::optional<RoomEvent> Synchrotron::step() {
  for (;;) {
    if (const auto& lease = allocator_.lease()) {
      const std::string holder = lease->room;
      Room& room = rooms_.at(holder);
      auto ev = room.scanner->step();
      if (ev) {
        if (const auto* spot = std::get_if<SpotDelivered>(&*ev); spot && spot->delivered > 0.0) {
          // The beam line goes to the lease holder only: beam for a spot that ends outside the
          // holder's lease is a bug. (A spot that spans spills started in an earlier lease.)
          const auto& l = allocator_.lease();
          if (!l || l->room != holder || spot->end < l->start) {
            throw std::logic_error("Synchrotron: beam in room " + holder + " outside its lease");
          }
          allocator_.markUsed(l->start);
        }
      }
      if (auto at = room.scanner->takeRelease()) {
        allocator_.release(holder, *at);
      } else if (!ev) {
        // The room cannot use the beam now: the lease ends.
        allocator_.release(holder, room.scanner->now());
      }
      if (ev) {
        now_ = std::max(now_, timeOf(*ev));
        return RoomEvent{holder, std::move(*ev)};
      }
      continue;
    }
    // Events of rooms without beam (a hold, completion) come first.
    for (auto& [name, room] : rooms_) {
      if (!room.scanner->hasSpill() && !room.scanner->wantsBeam()) {
        if (auto ev = room.scanner->step()) {
          now_ = std::max(now_, timeOf(*ev));
          return RoomEvent{name, std::move(*ev)};
        }
      }
    }
    requestBeam();
    auto lease = allocator_.grant();
    if (!lease) return std::nullopt;
    Room& room = rooms_.at(lease->room);
    for (auto& [name, other] : rooms_) {
      if (name != lease->room && allocator_.waiting(name)) {
        ++other.others;
        other.lastOther = lease->room;
      }
    }
    Spill spill{lease->spill, lease->room, lease->start, lease->end,
                params_.particlesPerSpill * ionScale(room.scanner->ion())};
    room.scanner->grant(spill, room.others, room.lastOther);
    room.others = 0;
    room.lastOther.clear();
  }
}

std::vector<SimEvent> Synchrotron::hold(const std::string& room, HoldCause cause) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return {};
  auto events = it->second.scanner->holdNow(now_, cause);
  if (auto at = it->second.scanner->takeRelease()) allocator_.release(room, *at);
  allocator_.withdraw(room);
  for (const auto& e : events) now_ = std::max(now_, timeOf(e));
  return events;
}

void Synchrotron::resume(const std::string& room) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return;
  it->second.scanner->resume(now_);
}

void Synchrotron::advanceTo(SimDuration t) {
  if (!allocator_.lease()) now_ = std::max(now_, t);
}

}  // namespace spotline::delivery
