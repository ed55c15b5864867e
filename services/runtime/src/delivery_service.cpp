#include "spotline/runtime/delivery_service.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "spotline/plan/hash.h"
#include "spotline/plan/validate.h"
#include "spotline/runtime/plan_wire.h"

namespace spotline::runtime {

namespace {

std::int64_t simNs(SimDuration d) {
  return d.count();
}

wire::HoldReason fromFinding(delivery::InterlockReason r) {
  switch (r) {
    case delivery::InterlockReason::PositionOutOfTolerance: return wire::HoldReason::POSITION_OUT_OF_TOLERANCE;
    case delivery::InterlockReason::MonitorDisagreement: return wire::HoldReason::MONITOR_DISAGREEMENT;
    case delivery::InterlockReason::SpotOvershoot: return wire::HoldReason::SPOT_OVERSHOOT;
  }
  return wire::HoldReason::POSITION_OUT_OF_TOLERANCE;
}
}  // namespace

std::string_view toString(wire::HoldReason reason) {
  switch (reason) {
    case wire::HoldReason::OPERATOR_PAUSE: return "operator-pause";
    case wire::HoldReason::CREDIT_WINDOW: return "credit-window";
    case wire::HoldReason::QA_REQUEST: return "qa-request";
    case wire::HoldReason::POSITION_OUT_OF_TOLERANCE: return "position-out-of-tolerance";
    case wire::HoldReason::MONITOR_DISAGREEMENT: return "monitor-disagreement";
    case wire::HoldReason::SPOT_OVERSHOOT: return "spot-overshoot";
    case wire::HoldReason::HEARTBEAT_LOST: return "heartbeat-lost";
    case wire::HoldReason::DOOR_OPEN: return "door-open";
    case wire::HoldReason::SPILL_ABORTED: return "spill-aborted";
  }
  return "unknown";
}

std::string_view toString(wire::FractionOutcome outcome) {
  switch (outcome) {
    case wire::FractionOutcome::COMPLETED: return "completed";
    case wire::FractionOutcome::INTERRUPTED: return "interrupted";
    case wire::FractionOutcome::ABORTED: return "aborted";
    case wire::FractionOutcome::REFUSED: return "refused";
  }
  return "unknown";
}

DeliveryService::DeliveryService(ServiceContext ctx, plan::Facility facility, DeliveryOptions options)
    : ctx_(std::move(ctx)),
      facility_(std::move(facility)),
      options_(std::move(options)),
      commands_(ctx_.zmq, ctx_.endpoints.deliveryCommand),
      streamLink_(ctx_.zmq, ctx_.endpoints.rvStream, "delivery"),
      sender_(streamLink_, ctx_.clock, options_.stream),
      publisher_(ctx_.zmq, ctx_.endpoints.busXsub),
      subscriber_(ctx_.zmq, ctx_.endpoints.busXpub),
      planClient_(ctx_.zmq, ctx_.endpoints.planCommand, "delivery"),
      rvClient_(ctx_.zmq, ctx_.endpoints.rvCommand, "delivery"),
      peers_(ctx_.clock),
      heartbeat_("delivery", ctx_.clock),
      spots_(serviceCounter(*ctx_.registry, "delivery", "spotline_delivery_spots_total", "Spots delivered")),
      fractions_(serviceCounter(*ctx_.registry, "delivery", "spotline_delivery_fractions_total", "Fractions started")),
      interlocks_(
          serviceCounter(*ctx_.registry, "delivery", "spotline_delivery_interlocks_total", "Beam holds by interlock")),
      refusals_(
          serviceCounter(*ctx_.registry, "delivery", "spotline_delivery_refusals_total", "Start commands refused")),
      unacked_(prometheus::BuildGauge()
                   .Name("spotline_delivery_unacknowledged_events")
                   .Help("Spot stream events not yet durable at rv")
                   .Register(*ctx_.registry)
                   .Add({{"service", "delivery"}})),
      synchrotron_(options_.machine),
      epoch_(ctx_.clock.now()) {
  subscriber_.subscribe("hb.");
  openOutbox();
}

void DeliveryService::openOutbox() {
  replayed_ = true;
  if (options_.outboxDir.empty()) return;
  recorder::RecoveryReport report;
  auto writer = recorder::JournalWriter::open(recorder::JournalOptions{.dir = options_.outboxDir}, &report);
  if (!writer) {
    throw std::runtime_error("delivery outbox " + options_.outboxDir.string() + ": " + writer.error().message);
  }
  outbox_ = std::move(writer).value();
  if (report.truncatedTail) {
    ctx_.log->warn("outbox torn tail cut segment={} offset={} bytes={} (events of a turn that never completed)",
                   report.segment, report.offset, report.bytesDropped);
  }
  auto reader = recorder::JournalReader::open(options_.outboxDir);
  if (!reader) throw std::runtime_error("delivery outbox: " + reader.error().message);
  std::size_t events = 0;
  while (true) {
    auto rec = reader.value()->next();
    if (!rec) throw std::runtime_error("delivery outbox: " + rec.error().message);
    if (!rec.value()) break;
    auto decoded = messages::decode(rec.value()->payload);
    if (!decoded) continue;
    auto fraction = std::string(messages::fractionIdOf(decoded.value()->body()));
    if (fraction.empty()) continue;
    replay_[fraction].push_back(std::move(rec.value()->payload));
    ++events;
  }
  if (!replay_.empty()) {
    replayed_ = false;
    ctx_.log->warn("outbox holds {} events of {} fraction(s) from before a restart; handing rv what it lacks", events,
                   replay_.size());
  } else {
    resetOutboxIfIdle();
  }
}

void DeliveryService::replayOutbox() {
  if (replayed_) return;
  for (auto& [fraction, frames] : replay_) {
    if (replayUpTo_.contains(fraction)) continue;
    rvClient_.begin().initFractionQuery().setFractionId(fraction);
    auto reply = rvClient_.call(std::chrono::milliseconds(1000));
    if (!reply || !reply.value().body().isFractionSummary()) return;  // rv not there yet: next turn
    const std::uint64_t next = reply.value().body().getFractionSummary().getNextSequence();
    sender_.beginFraction(fraction, next);
    std::uint64_t last = next - 1;
    std::size_t handed = 0;
    for (auto& frame : frames) {
      auto decoded = messages::decode(frame);
      if (!decoded) continue;
      const auto seq = decoded.value()->envelope().getSequence();
      if (seq < next) continue;
      if (seq != last + 1) break;  // the stream is gapless; what follows a gap never reached the outbox whole
      sender_.send(fraction, frame);
      last = seq;
      ++handed;
    }
    replayUpTo_[fraction] = last;
    ctx_.log->warn("fraction={} outbox: rv had events up to {}; handed it {} more (up to {})", fraction, next - 1,
                   handed, last);
  }
  for (auto it = replay_.begin(); it != replay_.end();) {
    auto upTo = replayUpTo_.find(it->first);
    if (upTo != replayUpTo_.end() && sender_.acknowledgedUpTo(it->first) >= upTo->second) {
      sender_.endFraction(it->first);
      replayUpTo_.erase(upTo);
      it = replay_.erase(it);
    } else {
      ++it;
    }
  }
  if (replay_.empty()) {
    replayed_ = true;
    ctx_.log->info("outbox handed over: everything it held is durable at rv");
    resetOutboxIfIdle();
  }
}

void DeliveryService::commitOutbox() {
  if (!outbox_ || outbox_->pendingRecords() == 0) return;
  auto r = outbox_->commit();
  if (r) return;
  ctx_.log->critical("delivery outbox commit failed: {}", r.error().message);
  for (auto& [room, f] : rooms_) {
    if (f.state == State::Running) {
      interlock(f, wire::HoldReason::CREDIT_WINDOW, 0, 0, "delivery cannot make its outbox durable");
    }
  }
  // The writer refuses further commits; reopening recovers what reached the disk.
  outbox_.reset();
  try {
    auto writer = recorder::JournalWriter::open(recorder::JournalOptions{.dir = options_.outboxDir});
    if (writer) outbox_ = std::move(writer).value();
  } catch (const std::exception& e) {
    ctx_.log->critical("delivery outbox reopen failed: {}", e.what());
  }
}

void DeliveryService::resetOutboxIfIdle() {
  if (!outbox_ || !rooms_.empty() || !replay_.empty() || sender_.unacknowledged() != 0) return;
  if (outbox_->nextIndex() == 0) return;
  // Everything in it is durable at rv: start an empty outbox so that it never grows without end.
  outbox_.reset();
  std::error_code ec;
  std::filesystem::remove_all(options_.outboxDir, ec);
  auto writer = recorder::JournalWriter::open(recorder::JournalOptions{.dir = options_.outboxDir});
  if (!writer || ec) {
    ctx_.log->critical("delivery outbox {} cannot be renewed: {}", options_.outboxDir.string(),
                       ec ? ec.message() : writer.error().message);
    return;
  }
  outbox_ = std::move(writer).value();
}

DeliveryService::~DeliveryService() = default;

DeliveryService::Fraction* DeliveryService::find(std::string_view fractionId) {
  for (auto& [room, f] : rooms_) {
    if (f.id == fractionId) return &f;
  }
  return nullptr;
}

SimDuration DeliveryService::wallSim() const {
  return std::chrono::duration_cast<SimDuration>(ctx_.clock.now() - epoch_);
}

template <typename Fill>
void DeliveryService::emit(Fraction& f, Fill&& fill) {
  std::uint64_t seq = sender_.nextSequence(f.id);
  auto body = encoder_.start(
      {.source = "delivery", .sequence = seq, .simTimeNs = simNs(f.simLast), .wallTimeNs = unixNanosNow()});
  fill(body);
  auto frame = encoder_.finish();
  if (outbox_) outbox_->append(frame);
  publisher_.publish("fraction." + f.room, frame);
  sender_.send(f.id, std::move(frame));
  f.lastSequence = seq;
  f.unacked.emplace_back(seq, f.simLast);
}

bool DeliveryService::hasCredit() {
  if (!sender_.hasCredit()) {
    creditValue_ = static_cast<double>(sender_.unacknowledged());
    creditLimit_ = static_cast<double>(options_.stream.window);
    creditWhat_ = "events";
    return false;
  }
  for (auto& [room, f] : rooms_) {
    const auto acked = sender_.acknowledgedUpTo(f.id);
    while (!f.unacked.empty() && f.unacked.front().first <= acked) f.unacked.pop_front();
    if (!f.unacked.empty() && synchrotron_.now() - f.unacked.front().second > options_.maxUnacknowledgedBeam) {
      creditValue_ = toSeconds(synchrotron_.now() - f.unacked.front().second);
      creditLimit_ = toSeconds(options_.maxUnacknowledgedBeam);
      creditWhat_ = "s of beam";
      return false;
    }
  }
  return true;
}

void DeliveryService::run(std::stop_token stop) {
  ctx_.log->info("delivery service up commands={} time={}", ctx_.endpoints.deliveryCommand,
                 options_.realtime ? "realtime" : "simulated");
  while (!stop.stop_requested()) {
    heartbeat_.tick(publisher_, ready_);
    bool busy = false;
    for (auto& [room, f] : rooms_) busy |= f.state == State::Running;
    // Waiting for fractions started together, the machine is not busy: do not spin.
    if (!options_.realtime && lastStart_ && ctx_.clock.now() - *lastStart_ < options_.startTogether) busy = false;
    bus::pollReadable({&commands_.socket(), &subscriber_.socket(), &streamLink_.socket()},
                      std::chrono::milliseconds(busy && !options_.realtime ? 0 : (busy ? 1 : 20)));
    hearPeers();
    sender_.poll();
    unacked_.Set(static_cast<double>(sender_.unacknowledged()));
    while (auto in = commands_.receive()) handleCommand(*in);

    auto missing = peers_.firstMissing(options_.criticalServices);
    for (auto& [room, f] : rooms_) {
      if (f.state == State::Running && !missing.empty()) {
        interlock(f, wire::HoldReason::HEARTBEAT_LOST, 0.0,
                  std::chrono::duration<double>(bus::kHeartbeatTimeout).count(),
                  missing + " has not been heard from within the heartbeat timeout");
      }
    }
    replayOutbox();
    stepMachine();
    // One fdatasync for the turn's events before the machine takes its next turn.
    commitOutbox();
    releaseDurable();
  }
  commitOutbox();
  resetOutboxIfIdle();
  ctx_.log->info("delivery service stopping");
}

void DeliveryService::hearPeers() {
  while (auto ev = subscriber_.receive()) {
    ready_ = true;
    auto decoded = messages::decode(ev->frame);
    if (decoded && decoded.value()->body().isHeartbeat()) {
      auto hb = decoded.value()->body().getHeartbeat();
      peers_.heard(bus::str(hb.getService()), hb.getReady());
    }
  }
}

void DeliveryService::releaseDurable() {
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    auto& f = it->second;
    if (f.state == State::Ending && sender_.acknowledgedUpTo(f.id) >= f.lastSequence) {
      ctx_.log->info("fraction={} room={} all events durable at rv", f.id, f.room);
      sender_.endFraction(f.id);
      it = rooms_.erase(it);
      resetOutboxIfIdle();
    } else {
      ++it;
    }
  }
}

void DeliveryService::stepMachine() {
  if (options_.realtime) synchrotron_.advanceTo(wallSim());
  if (!options_.realtime && lastStart_ && ctx_.clock.now() - *lastStart_ < options_.startTogether) return;
  for (std::size_t i = 0; i < options_.stepsPerTurn; ++i) {
    if (!hasCredit()) {
      // The beam stays off between spots while rv catches up; too long and it is an interlock.
      auto now = ctx_.clock.now();
      if (!creditWaitSince_) creditWaitSince_ = now;
      if (now - *creditWaitSince_ > options_.creditTimeout) {
        for (auto& [room, f] : rooms_) {
          if (f.state != State::Running) continue;
          interlock(f, wire::HoldReason::CREDIT_WINDOW, creditValue_, creditLimit_,
                    "rv has not made the last " + creditWhat_ + " durable within the credit timeout");
        }
        creditWaitSince_.reset();
      }
      return;
    }
    creditWaitSince_.reset();
    // Real time: the machine does not run ahead of the wall clock.
    if (options_.realtime && synchrotron_.now() > wallSim()) return;
    auto ev = synchrotron_.step();
    if (!ev) return;
    auto it = rooms_.find(ev->room);
    if (it == rooms_.end()) continue;
    dispatch(it->second, ev->event);
  }
}

void DeliveryService::emitSpot(Fraction& f, const delivery::SpotDelivered& sd) {
  if (!sd.partial) ++f.spotsDelivered;
  f.meterset += sd.delivered;
  spots_.Increment();
  f.at = delivery::ResumePoint{sd.beamIndex, sd.layerIndex, sd.spotIndex, 0.0};
  f.beam = sd.beam;
  emit(f, [&](wire::Message::Body::Builder b) {
    auto m = b.initSpotDelivered();
    m.setFractionId(f.id);
    m.setBeam(sd.beam.value());
    m.setLayer(sd.layerIndex);
    m.setSpot(sd.spotIndex);
    m.setPlanned(sd.planned);
    m.setTarget(sd.target);
    m.setDelivered(sd.delivered);
    m.setSecondary(sd.secondary);
    m.setXPlannedMm(sd.xPlanned.value());
    m.setYPlannedMm(sd.yPlanned.value());
    m.setXMeasuredMm(sd.xMeasured.value());
    m.setYMeasuredMm(sd.yMeasured.value());
    m.setEnergyMevPerU(sd.energy.value());
    m.setSpill(sd.spill);
    m.setMetersetUnit(toWire(f.plan->metersetUnit));
    m.setPartial(sd.partial);
  });
}

void DeliveryService::dispatch(Fraction& f, const delivery::SimEvent& ev) {
  f.simLast = std::max(f.simLast, delivery::timeOf(ev));
  if (const auto* ls = std::get_if<delivery::LayerStarted>(&ev)) {
    f.beam = ls->beam;
    emit(f, [&](wire::Message::Body::Builder b) {
      auto m = b.initLayerStarted();
      m.setFractionId(f.id);
      m.setBeam(ls->beam.value());
      m.setLayer(ls->layerIndex);
      m.setEnergyMevPerU(ls->energy.value());
      m.setSpots(ls->spots);
      m.setSpill(ls->spill);
      m.setIntensity(ls->intensity);
    });
  } else if (const auto* sd = std::get_if<delivery::SpotDelivered>(&ev)) {
    emitSpot(f, *sd);
    if (f.state != State::Running) return;
    if (auto finding = delivery::checkSpot(*sd, *f.roomModel)) {
      // The spot's readings are complete when its beam is off: the next spot does not start.
      interlock(f, fromFinding(finding->reason), finding->value, finding->limit, "delivery spot check");
    }
  } else if (const auto* lc = std::get_if<delivery::LayerCompleted>(&ev)) {
    emit(f, [&](wire::Message::Body::Builder b) {
      auto m = b.initLayerCompleted();
      m.setFractionId(f.id);
      m.setBeam(lc->beam.value());
      m.setLayer(lc->layerIndex);
      m.setMeterset(lc->meterset);
    });
  } else if (const auto* ws = std::get_if<delivery::WaitingForSpill>(&ev)) {
    emit(f, [&](wire::Message::Body::Builder b) {
      auto m = b.initWaitingForBeam();
      m.setFractionId(f.id);
      m.setNextSpill(ws->nextSpill);
      m.setWaitSeconds(toSeconds(ws->until - ws->from));
      m.setSpillsToOtherRooms(ws->spillsToOtherRooms);
      m.setLastOtherRoom(ws->lastOtherRoom);
    });
  } else if (const auto* bh = std::get_if<delivery::BeamHeld>(&ev)) {
    // A hold the machine itself raised (door, lost spill); service holds are emitted by interlock().
    if (bh->cause == delivery::HoldCause::External) return;
    const auto reason =
        bh->cause == delivery::HoldCause::DoorOpen ? wire::HoldReason::DOOR_OPEN : wire::HoldReason::SPILL_ABORTED;
    const double latency = toSeconds(bh->at - bh->requestedAt);
    emitHold(f, reason, latency, toSeconds(options_.machine.beamOffReaction),
             bh->cause == delivery::HoldCause::DoorOpen ? "room door opened; beam off after the reaction time"
                                                        : "the accelerator lost the spill; extraction stopped",
             bh->requestedAt, bh->at);
    synchrotron_.hold(f.room);  // already off; keeps the room out of the allocation
  } else if (const auto* ft = std::get_if<delivery::FaultTriggered>(&ev)) {
    ctx_.log->warn("fraction={} room={} injected fault {} at t={} s", f.id, f.room, ft->spec, toSeconds(ft->at));
    for (const auto& spec : f.faults) {
      if (spec.text == ft->spec && spec.processFault() && options_.processFault) {
        // This process dies at the start of the spot: what the machine did before is in the outbox
        // (a real crash may come anywhere in a turn; the outbox then lacks at most that turn).
        if (spec.victim() == "delivery") commitOutbox();
        options_.processFault(std::string(spec.victim()));
      }
    }
  } else if (std::holds_alternative<delivery::FractionCompleted>(ev)) {
    end(f, wire::FractionOutcome::COMPLETED, wire::TerminationStatus::NORMAL, "");
  }
}

void DeliveryService::emitHold(Fraction& f, wire::HoldReason reason, double value, double limit,
                               const std::string& detail, SimDuration requested, SimDuration off) {
  interlocks_.Increment();
  f.state = State::Held;
  f.lastHold = reason;
  ctx_.log->warn("fraction={} room={} beam hold reason={} beam={} layer={} spot={} value={} limit={} ({})", f.id,
                 f.room, toString(reason), f.beam.value(), f.at.layerIndex, f.at.spotIndex, value, limit, detail);
  emit(f, [&](wire::Message::Body::Builder b) {
    auto m = b.initBeamHold();
    m.setFractionId(f.id);
    m.setReason(reason);
    m.setBeam(f.beam.value());
    m.setLayer(f.at.layerIndex);
    m.setSpot(f.at.spotIndex);
    m.setValue(value);
    m.setLimit(limit);
    m.setDetail(detail);
    m.setRequestedSimNs(simNs(requested));
    m.setBeamOffSimNs(simNs(off));
  });
}

void DeliveryService::interlock(Fraction& f, wire::HoldReason reason, double value, double limit,
                                const std::string& detail) {
  // Beam off now: a spot under way (one a spill end interrupted) is recorded as partial. Events the
  // machine had already produced come first: a fraction that completed is not held, and a hold the
  // machine raised itself (door, lost spill) is the one reported.
  SimDuration requested = std::max(f.simLast, synchrotron_.now());
  SimDuration off = requested;
  bool machineHold = false;
  for (const auto& ev : synchrotron_.hold(f.room)) {
    const auto* bh = std::get_if<delivery::BeamHeld>(&ev);
    if (const auto* sd = std::get_if<delivery::SpotDelivered>(&ev)) {
      emitSpot(f, *sd);
    } else if (bh != nullptr && bh->cause == delivery::HoldCause::External) {
      off = bh->at;
    } else {
      machineHold |= bh != nullptr;
      dispatch(f, ev);
    }
  }
  if (f.state == State::Ending || machineHold) return;
  f.simLast = std::max(f.simLast, off);
  emitHold(f, reason, value, limit, detail, requested, off);
}

void DeliveryService::end(Fraction& f, wire::FractionOutcome outcome, wire::TerminationStatus status,
                          const std::string& code) {
  synchrotron_.detach(f.room);
  emit(f, [&](wire::Message::Body::Builder b) {
    auto m = b.initFractionEnded();
    m.setFractionId(f.id);
    m.setOutcome(outcome);
    m.setTermination(status);
    m.setCode(code);
    m.setSpotsDelivered(f.spotsDelivered);
    m.setMetersetDelivered(f.meterset);
    m.setSimulatedSeconds(toSeconds(f.simLast - f.simStart));
  });
  f.state = State::Ending;
  ctx_.log->info("fraction={} room={} ended outcome={} spots={} meterset={} simulated_s={}", f.id, f.room,
                 toString(outcome), f.spotsDelivered, f.meterset, toSeconds(f.simLast - f.simStart));
}

std::string DeliveryService::start(wire::StartFraction::Reader cmd, std::string& fractionId) {
  auto room = bus::str(cmd.getRoom());
  auto planUid = bus::str(cmd.getPlanUid());
  const auto* roomModel = facility_.room(room);
  if (roomModel == nullptr) return "unknown room " + room;
  std::vector<std::string> faultTexts;
  for (auto t : cmd.getFaults()) faultTexts.push_back(bus::str(t));
  auto faults = delivery::parseFaults(faultTexts);
  if (!faults) return faults.error().message;
  for (const auto& spec : faults.value()) {
    if (spec.processFault() && !options_.processFault) {
      return "fault '" + spec.text +
             "' stops a service process; this delivery service cannot (use an embedded facility)";
    }
  }
  const auto resumeId = bus::str(cmd.getResumeFractionId());
  // What a crashed predecessor left in the outbox goes to rv first: a resume starts from there.
  const auto replayDeadline = ctx_.clock.now() + std::chrono::seconds(5);
  while (!replayed_ && ctx_.clock.now() < replayDeadline) {
    bus::pollReadable({&streamLink_.socket()}, std::chrono::milliseconds(10));
    sender_.poll();
    replayOutbox();
  }
  if (!replayed_) {
    return "delivery is still handing rv " + std::to_string(replay_.size()) +
           " fraction(s) of events from before its restart; rv has not acknowledged them";
  }
  // A fraction that just ended frees its room once rv has acknowledged all of it: give rv's last
  // acknowledgement a moment (its group commit) before calling the room busy.
  const auto ackDeadline = ctx_.clock.now() + std::chrono::seconds(2);
  sender_.poll();
  releaseDurable();
  auto ending = [&] {
    const Fraction* resumed = resumeId.empty() ? nullptr : find(resumeId);
    return (rooms_.contains(room) && rooms_.at(room).state == State::Ending) ||
           (resumed != nullptr && resumed->state == State::Ending);
  };
  while (ending() && ctx_.clock.now() < ackDeadline) {
    bus::pollReadable({&streamLink_.socket()}, std::chrono::milliseconds(10));
    sender_.poll();
    releaseDurable();
  }
  if (!resumeId.empty() && find(resumeId) != nullptr) {
    return "fraction " + resumeId + " is still open in this delivery service; resume it with ResumeFraction";
  }
  if (auto it = rooms_.find(room); it != rooms_.end()) {
    return "room " + room + " is busy with fraction " + it->second.id;
  }
  // A service that just came up may not have been heard yet: give it one heartbeat timeout.
  const auto hbDeadline = ctx_.clock.now() + bus::kHeartbeatTimeout;
  while (!peers_.firstMissing(options_.criticalServices).empty() && ctx_.clock.now() < hbDeadline) {
    bus::pollReadable({&subscriber_.socket()}, std::chrono::milliseconds(20));
    hearPeers();
  }
  auto missing = peers_.firstMissing(options_.criticalServices);
  if (!missing.empty()) return missing + " is not running or not ready; beam-on needs it";

  planClient_.begin().initGetPlan().setPlanUid(planUid);
  auto reply = planClient_.call(std::chrono::milliseconds(3000));
  if (!reply) return "plan service did not answer: " + reply.error().message;
  if (!reply.value().body().isPlanReply()) return "plan service answered GetPlan with something else";
  if (!reply.value().body().getPlanReply().getOk()) {
    return "plan service: " + bus::str(reply.value().body().getPlanReply().getError());
  }
  auto plan = std::make_unique<plan::Plan>(fromWire(reply.value().body().getPlanReply().getPlan()));
  auto hash = plan::contentHash(*plan);
  auto wanted = bus::str(cmd.getContentHash());
  if (hash != wanted) {
    return "the plan held for UID " + planUid + " has content hash " + hash.substr(0, 16) + "…, not the selected " +
           wanted.substr(0, 16) + "…";
  }
  fractionId = "F" + std::to_string(cmd.getFractionNumber()) + "-" + hash.substr(0, 12);
  if (!resumeId.empty() && resumeId != fractionId) {
    return "fraction " + resumeId + " is not fraction " + std::to_string(cmd.getFractionNumber()) + " of plan " +
           planUid + " (that is " + fractionId + ")";
  }
  const plan::Beam* firstBeam = nullptr;
  for (const auto& b : plan->beams) {
    if (b.treatment) {
      firstBeam = &b;
      break;
    }
  }
  if (firstBeam == nullptr) return "plan " + planUid + " has no treatment beam";

  auto v = rvClient_.begin().initVerifyBeamOn();
  v.setFractionId(fractionId);
  v.setPlanUid(planUid);
  v.setContentHash(hash);
  v.setRoom(room);
  v.setPatientId(cmd.getPatientId());
  v.setFractionNumber(cmd.getFractionNumber());
  v.setResume(!resumeId.empty());
  v.setOverrides(cmd.getOverrides());
  auto ion = v.initIon();
  ion.setZ(static_cast<std::uint8_t>(firstBeam->ion.z));
  ion.setA(static_cast<std::uint16_t>(firstBeam->ion.a));
  ion.setCharge(static_cast<std::int8_t>(firstBeam->ion.charge));
  auto verdict = rvClient_.call(std::chrono::milliseconds(5000));
  if (!verdict) return "rv did not answer the verification: " + verdict.error().message;
  if (!verdict.value().body().isVerifyReply()) return "rv answered the verification with something else";
  auto vr = verdict.value().body().getVerifyReply();
  if (!vr.getPermitted()) {
    return "rv refused beam-on [" + bus::str(vr.getCode()) + "]: " + bus::str(vr.getReason()) +
           (vr.getOverridable() ? " (an authorised person may override this check: --override " +
                                      bus::str(vr.getCode()) + " --override-reason TEXT --user NAME)"
                                : "");
  }
  for (auto check : vr.getOverridden()) {
    ctx_.log->warn("fraction={} check {} overridden (journaled by rv)", fractionId, bus::view(check));
  }

  // Where to continue: the first spot rv has not journaled as complete, with what it has of it.
  delivery::ResumePoint from;
  const bool resumed = !resumeId.empty();
  if (resumed && vr.getHasResumePoint()) {
    bool found = false;
    for (std::uint32_t b = 0; b < plan->beams.size(); ++b) {
      if (plan->beams[b].number.value() != vr.getResumeBeam()) continue;
      found = true;
      from = delivery::ResumePoint{b, vr.getResumeLayer(), vr.getResumeSpot(), vr.getResumeSpotDelivered()};
      if (vr.getResumeAfterSpot()) from = delivery::ResumePoint{b, vr.getResumeLayer(), vr.getResumeSpot() + 1, 0.0};
    }
    if (!found) return "rv's resume point names beam " + std::to_string(vr.getResumeBeam()) + ", which the plan lacks";
  }

  Fraction f;
  f.id = fractionId;
  f.room = room;
  f.roomModel = roomModel;
  f.plan = std::move(plan);
  f.faults = faults.value();
  std::vector<delivery::FaultSpec> machineFaults;
  for (const auto& spec : f.faults) machineFaults.push_back(spec);
  // Each delivery session of a fraction draws its own noise.
  const std::uint64_t seed = cmd.getSeed() + 0x9E3779B97F4A7C15ULL * vr.getSessions();
  try {
    f.scanner = std::make_unique<delivery::RasterScanner>(*f.plan, options_.machine, seed, from, machineFaults);
  } catch (const std::exception& e) {
    return std::string("machine model: ") + e.what();
  }
  if (resumed) {
    f.spotsDelivered = vr.getSpotsRecorded();
    f.meterset = vr.getMetersetRecorded();
  }
  sender_.beginFraction(f.id, vr.getResumeFrom());
  auto t = plan::totals(*f.plan);
  auto& placed = rooms_.emplace(room, std::move(f)).first->second;
  synchrotron_.attach(room, *placed.scanner, cmd.getPriority(), options_.realtime ? wallSim() : SimDuration{0});
  placed.simStart = placed.scanner->now();
  placed.simLast = placed.simStart;
  emit(placed, [&](wire::Message::Body::Builder b) {
    auto m = b.initFractionStarted();
    m.setFractionId(placed.id);
    m.setPlanUid(planUid);
    m.setContentHash(hash);
    m.setRoom(room);
    m.setFractionNumber(cmd.getFractionNumber());
    m.setPatientId(placed.plan->patient.value());
    m.setSeed(cmd.getSeed());
    m.setSpotsPlanned(static_cast<std::uint32_t>(t.spots));
    m.setLayersPlanned(static_cast<std::uint32_t>(t.layers));
    m.setMetersetPlanned(t.meterset);
    m.setMetersetUnit(toWire(placed.plan->metersetUnit));
    m.setPriority(cmd.getPriority());
    m.setResumed(resumed);
    if (resumed) {
      m.setResumeBeam(from.beamIndex < placed.plan->beams.size() ? placed.plan->beams[from.beamIndex].number.value()
                                                                 : 0);
      m.setResumeLayer(from.layerIndex);
      m.setResumeSpot(from.spotIndex);
      m.setResumeSpotDelivered(from.spotDelivered);
      m.setPriorSpots(placed.spotsDelivered);
      m.setPriorMeterset(placed.meterset);
    }
  });
  fractions_.Increment();
  lastStart_ = ctx_.clock.now();
  ctx_.log->info("fraction={} plan={} room={} {} spots={} seed={} faults={}", placed.id, planUid, room,
                 resumed ? "resumed" : "started", t.spots, cmd.getSeed(), faultTexts.size());
  return {};
}

void DeliveryService::handleCommand(const bus::Inbound& in) {
  auto decoded = messages::decode(in.frame);
  if (!decoded) {
    ctx_.log->warn("refused command frame: {}", decoded.error().message);
    return;
  }
  const auto& msg = *decoded.value();
  auto body = msg.body();
  std::string refusal;
  std::string fractionId;
  using W = wire::Message::Body::Which;
  switch (body.which()) {
    case W::START_FRACTION:
      refusal = start(body.getStartFraction(), fractionId);
      if (!refusal.empty()) {
        refusals_.Increment();
        ctx_.log->warn("start refused plan={} room={}: {}", bus::view(body.getStartFraction().getPlanUid()),
                       bus::view(body.getStartFraction().getRoom()), refusal);
      }
      break;
    case W::PAUSE_FRACTION: {
      fractionId = bus::str(body.getPauseFraction().getFractionId());
      auto* f = find(fractionId);
      if (f == nullptr || f->state != State::Running) {
        refusal = "fraction " + fractionId + " is not running";
      } else {
        interlock(*f, wire::HoldReason::OPERATOR_PAUSE, 0, 0, "operator pause");
      }
      break;
    }
    case W::RESUME_FRACTION: {
      fractionId = bus::str(body.getResumeFraction().getFractionId());
      auto* f = find(fractionId);
      auto missing = peers_.firstMissing(options_.criticalServices);
      if (f == nullptr || f->state != State::Held) {
        refusal = "fraction " + fractionId + " is not held";
      } else if (!missing.empty()) {
        refusal = "cannot resume: " + missing + " is not running or not ready";
      } else {
        f->state = State::Running;
        synchrotron_.resume(f->room);
        emit(*f, [&](wire::Message::Body::Builder b) { b.initBeamResumed().setFractionId(f->id); });
      }
      break;
    }
    case W::ABORT_FRACTION: {
      auto a = body.getAbortFraction();
      fractionId = bus::str(a.getFractionId());
      auto* f = find(fractionId);
      if (f == nullptr || f->state == State::Ending) {
        refusal = "fraction " + fractionId + " is not in progress";
      } else if (a.getInterrupt()) {
        if (f->state != State::Held) {
          refusal = "fraction " + fractionId + " is not held; only a held fraction is closed as interrupted";
        } else {
          const bool byOperator = f->lastHold == wire::HoldReason::OPERATOR_PAUSE;
          end(*f, wire::FractionOutcome::INTERRUPTED,
              byOperator ? wire::TerminationStatus::OPERATOR : wire::TerminationStatus::MACHINE,
              std::string(toString(f->lastHold.value_or(wire::HoldReason::OPERATOR_PAUSE))));
        }
      } else {
        // Beam off first: what the machine delivered until now is recorded before the end.
        for (const auto& ev : synchrotron_.hold(f->room)) {
          if (const auto* sd = std::get_if<delivery::SpotDelivered>(&ev)) {
            emitSpot(*f, *sd);
          } else if (!std::holds_alternative<delivery::BeamHeld>(ev)) {
            dispatch(*f, ev);
          }
        }
        if (f->state != State::Ending) {
          end(*f, wire::FractionOutcome::ABORTED, wire::TerminationStatus::OPERATOR, bus::str(a.getReason()));
        }
      }
      break;
    }
    case W::HOLD_REQUEST: {
      auto h = body.getHoldRequest();
      fractionId = bus::str(h.getFractionId());
      auto* f = find(fractionId);
      if (f == nullptr || f->state != State::Running) {
        refusal = "fraction " + fractionId + " is not delivering";
      } else {
        interlock(*f, wire::HoldReason::QA_REQUEST, h.getValue(), h.getLimit(),
                  "requested by " + bus::str(msg.envelope().getSource()) + ": " + bus::str(h.getReason()));
      }
      break;
    }
    default: refusal = std::string("delivery does not answer ") + std::string(messages::bodyName(body.which()));
  }
  auto r =
      replyEncoder_
          .start(
              {.source = "delivery", .correlationId = msg.envelope().getCorrelationId(), .wallTimeNs = unixNanosNow()})
          .initCommandReply();
  r.setAccepted(refusal.empty());
  r.setFractionId(fractionId);
  r.setReason(refusal);
  commands_.send(in.peer, replyEncoder_.finish());
}

}  // namespace spotline::runtime
