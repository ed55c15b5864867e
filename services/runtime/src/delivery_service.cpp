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
                   .Add({{"service", "delivery"}})) {
  subscriber_.subscribe("hb.");
}

DeliveryService::~DeliveryService() = default;

DeliveryService::Fraction* DeliveryService::find(std::string_view fractionId) {
  for (auto& [room, f] : rooms_) {
    if (f.id == fractionId) return &f;
  }
  return nullptr;
}

template <typename Fill>
void DeliveryService::emit(Fraction& f, Fill&& fill) {
  std::uint64_t seq = sender_.nextSequence(f.id);
  auto body = encoder_.start({.source = "delivery",
                              .sequence = seq,
                              .simTimeNs = f.sim ? simNs(f.sim->now()) : 0,
                              .wallTimeNs = unixNanosNow()});
  fill(body);
  auto frame = encoder_.finish();
  publisher_.publish("fraction." + f.room, frame);
  sender_.send(f.id, std::move(frame));
  f.lastSequence = seq;
}

void DeliveryService::run(std::stop_token stop) {
  ctx_.log->info("delivery service up commands={}", ctx_.endpoints.deliveryCommand);
  while (!stop.stop_requested()) {
    heartbeat_.tick(publisher_, ready_);
    bool busy = false;
    for (auto& [room, f] : rooms_) busy |= f.state == State::Running;
    bus::pollReadable({&commands_.socket(), &subscriber_.socket(), &streamLink_.socket()},
                      std::chrono::milliseconds(busy ? 0 : 20));
    while (auto ev = subscriber_.receive()) {
      ready_ = true;
      auto decoded = messages::decode(ev->frame);
      if (decoded && decoded.value()->body().isHeartbeat()) {
        auto hb = decoded.value()->body().getHeartbeat();
        peers_.heard(bus::str(hb.getService()), hb.getReady());
      }
    }
    sender_.poll();
    unacked_.Set(static_cast<double>(sender_.unacknowledged()));
    while (auto in = commands_.receive()) handleCommand(*in);

    for (auto& [room, f] : rooms_) {
      if (f.state != State::Running) continue;
      auto missing = peers_.firstMissing(options_.criticalServices);
      if (!missing.empty()) {
        interlock(f, wire::HoldReason::HEARTBEAT_LOST, 0.0,
                  std::chrono::duration<double>(bus::kHeartbeatTimeout).count(),
                  missing + " has not been heard from within the heartbeat timeout");
      } else {
        step(f);
      }
    }
    releaseDurable();
  }
  ctx_.log->info("delivery service stopping");
}

void DeliveryService::releaseDurable() {
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    auto& f = it->second;
    if (f.state == State::Ending && sender_.acknowledgedUpTo(f.id) >= f.lastSequence) {
      ctx_.log->info("fraction={} room={} all events durable at rv", f.id, f.room);
      sender_.endFraction(f.id);
      it = rooms_.erase(it);
    } else {
      ++it;
    }
  }
}

bool DeliveryService::step(Fraction& f) {
  for (std::size_t i = 0; i < options_.stepsPerTurn; ++i) {
    if (!sender_.hasCredit()) {
      // The beam stays off between spots while rv catches up; too long and it is an interlock.
      auto now = ctx_.clock.now();
      if (!f.creditWaitSince) f.creditWaitSince = now;
      if (now - *f.creditWaitSince > options_.creditTimeout) {
        interlock(f, wire::HoldReason::CREDIT_WINDOW, static_cast<double>(sender_.unacknowledged()),
                  static_cast<double>(options_.stream.window),
                  "rv has not acknowledged spots within the credit timeout");
      }
      return false;
    }
    f.creditWaitSince.reset();
    auto ev = f.sim->step();
    if (auto* ls = std::get_if<delivery::LayerStarted>(&ev)) {
      f.beam = ls->beam;
      emit(f, [&](wire::Message::Body::Builder b) {
        auto m = b.initLayerStarted();
        m.setFractionId(f.id);
        m.setBeam(ls->beam.value());
        m.setLayer(ls->layerIndex);
        m.setEnergyMevPerU(ls->energy.value());
        m.setSpots(ls->spots);
        m.setSpill(f.sim->spill());
      });
    } else if (auto* sd = std::get_if<delivery::SpotDelivered>(&ev)) {
      ++f.spotsDelivered;
      f.meterset += sd->delivered;
      spots_.Increment();
      f.at = delivery::ResumePoint{sd->beamIndex, sd->layerIndex, sd->spotIndex};
      f.beam = sd->beam;
      emit(f, [&](wire::Message::Body::Builder b) {
        auto m = b.initSpotDelivered();
        m.setFractionId(f.id);
        m.setBeam(sd->beam.value());
        m.setLayer(sd->layerIndex);
        m.setSpot(sd->spotIndex);
        m.setPlanned(sd->planned);
        m.setDelivered(sd->delivered);
        m.setSecondary(sd->secondary);
        m.setXPlannedMm(sd->xPlanned.value());
        m.setYPlannedMm(sd->yPlanned.value());
        m.setXMeasuredMm(sd->xMeasured.value());
        m.setYMeasuredMm(sd->yMeasured.value());
        m.setEnergyMevPerU(sd->energy.value());
        m.setSpill(sd->spill);
        m.setMetersetUnit(toWire(f.plan->metersetUnit));
      });
      if (auto finding = delivery::checkSpot(*sd, *f.roomModel)) {
        interlock(f, fromFinding(finding->reason), finding->value, finding->limit, "delivery spot check");
        return false;
      }
    } else if (auto* lc = std::get_if<delivery::LayerCompleted>(&ev)) {
      emit(f, [&](wire::Message::Body::Builder b) {
        auto m = b.initLayerCompleted();
        m.setFractionId(f.id);
        m.setBeam(lc->beam.value());
        m.setLayer(lc->layerIndex);
        m.setMeterset(lc->meterset);
      });
    } else if (auto* ws = std::get_if<delivery::WaitingForSpill>(&ev)) {
      emit(f, [&](wire::Message::Body::Builder b) {
        auto m = b.initWaitingForBeam();
        m.setFractionId(f.id);
        m.setNextSpill(ws->nextSpill);
        m.setWaitSeconds(toSeconds(ws->until - ws->from));
      });
    } else if (std::holds_alternative<delivery::FractionCompleted>(ev)) {
      end(f, wire::FractionOutcome::COMPLETED, wire::TerminationStatus::NORMAL, "");
      return false;
    }
  }
  return true;
}

void DeliveryService::interlock(Fraction& f, wire::HoldReason reason, double value, double limit,
                                const std::string& detail) {
  interlocks_.Increment();
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
  });
  if (reason == wire::HoldReason::OPERATOR_PAUSE) {
    f.state = State::Paused;
    return;
  }
  // Resuming an interrupted fraction comes with the realistic delivery model; until then an
  // interlock ends the fraction, recorded as interrupted by the machine.
  end(f, wire::FractionOutcome::INTERRUPTED, wire::TerminationStatus::MACHINE, std::string(toString(reason)));
}

void DeliveryService::end(Fraction& f, wire::FractionOutcome outcome, wire::TerminationStatus status,
                          const std::string& code) {
  emit(f, [&](wire::Message::Body::Builder b) {
    auto m = b.initFractionEnded();
    m.setFractionId(f.id);
    m.setOutcome(outcome);
    m.setTermination(status);
    m.setCode(code);
    m.setSpotsDelivered(f.spotsDelivered);
    m.setMetersetDelivered(f.meterset);
    m.setSimulatedSeconds(toSeconds(f.sim->now()));
  });
  f.state = State::Ending;
  ctx_.log->info("fraction={} room={} ended outcome={} spots={} meterset={} simulated_s={}", f.id, f.room,
                 toString(outcome), f.spotsDelivered, f.meterset, toSeconds(f.sim->now()));
}

std::string DeliveryService::start(wire::StartFraction::Reader cmd, std::string& fractionId) {
  auto room = bus::str(cmd.getRoom());
  auto planUid = bus::str(cmd.getPlanUid());
  const auto* roomModel = facility_.room(room);
  if (roomModel == nullptr) return "unknown room " + room;
  // A fraction that just ended frees its room once rv has acknowledged all of it.
  sender_.poll();
  releaseDurable();
  if (auto it = rooms_.find(room); it != rooms_.end()) {
    return "room " + room + " is busy with fraction " + it->second.id;
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
  auto ion = v.initIon();
  ion.setZ(static_cast<std::uint8_t>(firstBeam->ion.z));
  ion.setA(static_cast<std::uint16_t>(firstBeam->ion.a));
  ion.setCharge(static_cast<std::int8_t>(firstBeam->ion.charge));
  auto verdict = rvClient_.call(std::chrono::milliseconds(5000));
  if (!verdict) return "rv did not answer the verification: " + verdict.error().message;
  if (!verdict.value().body().isVerifyReply()) return "rv answered the verification with something else";
  auto vr = verdict.value().body().getVerifyReply();
  if (!vr.getPermitted()) return "rv refused beam-on: " + bus::str(vr.getReason());

  Fraction f;
  f.id = fractionId;
  f.room = room;
  f.roomModel = roomModel;
  f.plan = std::move(plan);
  f.sim = std::make_unique<delivery::FractionSimulator>(*f.plan, options_.machine, cmd.getSeed());
  sender_.beginFraction(f.id, vr.getResumeFrom());
  auto t = plan::totals(*f.plan);
  auto& placed = rooms_.emplace(room, std::move(f)).first->second;
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
  });
  fractions_.Increment();
  ctx_.log->info("fraction={} plan={} room={} started spots={} seed={}", placed.id, planUid, room, t.spots,
                 cmd.getSeed());
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
      if (f == nullptr || f->state != State::Paused) {
        refusal = "fraction " + fractionId + " is not paused";
      } else {
        f->state = State::Running;
        emit(*f, [&](wire::Message::Body::Builder b) { b.initBeamResumed().setFractionId(f->id); });
      }
      break;
    }
    case W::ABORT_FRACTION: {
      fractionId = bus::str(body.getAbortFraction().getFractionId());
      auto* f = find(fractionId);
      if (f == nullptr || f->state == State::Ending) {
        refusal = "fraction " + fractionId + " is not in progress";
      } else {
        end(*f, wire::FractionOutcome::ABORTED, wire::TerminationStatus::OPERATOR,
            bus::str(body.getAbortFraction().getReason()));
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
