#include "spotline/runtime/qa_service.h"

#include <prometheus/counter.h>

#include <cmath>

namespace spotline::runtime {

namespace {
std::string_view checkName(wire::QaCheck c) {
  switch (c) {
    case wire::QaCheck::SPOT_POSITION: return "spot-position";
    case wire::QaCheck::SPOT_METERSET: return "spot-meterset";
    case wire::QaCheck::MONITOR_AGREEMENT: return "monitor-agreement";
    case wire::QaCheck::SEQUENCE_GAP: return "sequence-gap";
  }
  return "unknown";
}
}  // namespace

std::vector<QaFinding> qaCheckSpot(wire::SpotDelivered::Reader s, const plan::RoomModel& room) {
  std::vector<QaFinding> out;
  double dx = std::abs(s.getXMeasuredMm() - s.getXPlannedMm());
  double dy = std::abs(s.getYMeasuredMm() - s.getYPlannedMm());
  // std::max(dx, NaN) is dx: a NaN on the second axis must not hide behind a good first axis.
  double dpos = std::isnan(dy) ? dy : std::max(dx, dy);
  if (!(dpos <= room.positionTolerance.value())) {
    out.push_back({wire::QaCheck::SPOT_POSITION, dpos, room.positionTolerance.value()});
  }
  // Against what the record aimed for (a resumed spot aims for what remained of it), with the
  // allowance of the whole spot. A record cut by a hold is short by design: only excess counts.
  double planned = s.getPlanned();
  double limit = std::max(planned * room.metersetTolerance, room.metersetToleranceFloor);
  double dm = s.getPartial() ? s.getDelivered() - s.getTarget() : std::abs(s.getDelivered() - s.getTarget());
  if (!(dm <= limit)) out.push_back({wire::QaCheck::SPOT_METERSET, dm, limit});
  double primary = s.getDelivered();
  double agreement = primary > 0 ? std::abs(s.getSecondary() - primary) / primary : INFINITY;
  if (!(agreement <= room.monitorAgreement)) {
    out.push_back({wire::QaCheck::MONITOR_AGREEMENT, agreement, room.monitorAgreement});
  }
  return out;
}

QaService::QaService(ServiceContext ctx, plan::Facility facility)
    : ctx_(std::move(ctx)),
      facility_(std::move(facility)),
      publisher_(ctx_.zmq, ctx_.endpoints.busXsub),
      subscriber_(ctx_.zmq, ctx_.endpoints.busXpub),
      delivery_(ctx_.zmq, ctx_.endpoints.deliveryCommand, "qa"),
      heartbeat_("qa", ctx_.clock),
      checked_(
          serviceCounter(*ctx_.registry, "qa", "spotline_qa_spots_checked_total", "Spots checked against tolerances")),
      violations_(serviceCounter(*ctx_.registry, "qa", "spotline_qa_violations_total", "Tolerance violations found")),
      holds_(serviceCounter(*ctx_.registry, "qa", "spotline_qa_hold_requests_total",
                            "Beam holds requested from delivery")) {
  subscriber_.subscribe("hb.");
  subscriber_.subscribe("fraction.");
}

void QaService::run(std::stop_token stop) {
  ctx_.log->info("qa service up");
  while (!stop.stop_requested()) {
    heartbeat_.tick(publisher_, ready_);
    bus::pollReadable({&subscriber_.socket()}, std::chrono::milliseconds(50));
    while (auto ev = subscriber_.receive()) {
      ready_ = true;
      if (!ev->topic.starts_with("hb.")) handle(*ev);
    }
  }
  ctx_.log->info("qa service stopping");
}

void QaService::handle(const bus::Event& ev) {
  auto decoded = messages::decode(ev.frame);
  if (!decoded) {
    ctx_.log->warn("refused event topic={}: {}", ev.topic, decoded.error().message);
    return;
  }
  const auto& msg = *decoded.value();
  auto body = msg.body();
  std::string fraction(messages::fractionIdOf(body));
  if (fraction.empty()) return;
  if (body.isFractionStarted()) {
    auto room = bus::str(body.getFractionStarted().getRoom());
    active_[fraction].room = facility_.room(room);
    // Each session (a resume too) numbers on from where rv's record stands. Events a restarted
    // delivery handed to rv from its outbox never crossed the bus, so a gap across sessions is not
    // a loss; only a gap within a session is.
    active_[fraction].lastSequence = 0;
    if (active_[fraction].room == nullptr) ctx_.log->error("fraction={} room={} unknown to qa", fraction, room);
  }
  auto it = active_.find(fraction);
  if (it == active_.end()) return;  // joined in the middle of a fraction: nothing to hold against
  auto& a = it->second;
  auto seq = msg.envelope().getSequence();
  if (a.lastSequence != 0 && seq > a.lastSequence + 1) {
    QaFinding gap{wire::QaCheck::SEQUENCE_GAP, static_cast<double>(seq - a.lastSequence - 1), 0.0};
    violations_.Increment();
    requestHold(fraction, gap);
  }
  a.lastSequence = std::max(a.lastSequence, seq);
  if (body.isSpotDelivered() && a.room != nullptr) {
    checked_.Increment();
    auto s = body.getSpotDelivered();
    for (const auto& f : qaCheckSpot(s, *a.room)) {
      violations_.Increment();
      auto q = encoder_.start({.source = "qa", .wallTimeNs = unixNanosNow()}).initQaEvent();
      q.setFractionId(fraction);
      q.setCheck(f.check);
      q.setPassed(false);
      q.setBeam(s.getBeam());
      q.setLayer(s.getLayer());
      q.setSpot(s.getSpot());
      q.setValue(f.value);
      q.setLimit(f.limit);
      q.setHoldRequested(!a.holdRequested);
      publisher_.publish("qa." + fraction, encoder_.finish());
      ctx_.log->warn("fraction={} beam={} layer={} spot={} qa {} value={} limit={}", fraction, s.getBeam(),
                     s.getLayer(), s.getSpot(), checkName(f.check), f.value, f.limit);
      if (!a.holdRequested) {
        requestHold(fraction, f);
        a.holdRequested = true;
      }
    }
  } else if (body.isFractionEnded()) {
    active_.erase(it);
  }
}

void QaService::requestHold(const std::string& fraction, const QaFinding& finding) {
  holds_.Increment();
  auto h = delivery_.begin().initHoldRequest();
  h.setFractionId(fraction);
  h.setReason(std::string(checkName(finding.check)));
  h.setValue(finding.value);
  h.setLimit(finding.limit);
  auto reply = delivery_.call(std::chrono::milliseconds(1000));
  if (!reply) ctx_.log->error("fraction={} hold request not answered: {}", fraction, reply.error().message);
}

}  // namespace spotline::runtime
