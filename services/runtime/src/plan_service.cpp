#include "spotline/runtime/plan_service.h"

#include <prometheus/counter.h>

#include "spotline/bus/codec_helpers.h"
#include "spotline/plan/hash.h"
#include "spotline/plan/validate.h"
#include "spotline/runtime/plan_wire.h"

namespace spotline::runtime {

PlanService::PlanService(ServiceContext ctx, plan::Facility facility)
    : ctx_(std::move(ctx)),
      facility_(std::move(facility)),
      commands_(ctx_.zmq, ctx_.endpoints.planCommand),
      publisher_(ctx_.zmq, ctx_.endpoints.busXsub),
      subscriber_(ctx_.zmq, ctx_.endpoints.busXpub),
      heartbeat_("plan", ctx_.clock),
      loaded_(serviceCounter(*ctx_.registry, "plan", "spotline_plan_loaded_total", "Plans approved and stored")),
      rejected_(
          serviceCounter(*ctx_.registry, "plan", "spotline_plan_rejected_total", "Plans refused with violations")),
      requests_(serviceCounter(*ctx_.registry, "plan", "spotline_plan_requests_total", "Requests answered")),
      badFrames_(
          serviceCounter(*ctx_.registry, "plan", "spotline_plan_bad_frames_total", "Frames refused by the decoder")) {
  subscriber_.subscribe("hb.");
}

void PlanService::run(std::stop_token stop) {
  ctx_.log->info("plan service up endpoint={}", ctx_.endpoints.planCommand);
  while (!stop.stop_requested()) {
    heartbeat_.tick(publisher_, ready_);
    bus::pollReadable({&commands_.socket(), &subscriber_.socket()}, std::chrono::milliseconds(50));
    while (subscriber_.receive()) ready_ = true;
    while (auto in = commands_.receive()) handle(*in);
  }
  ctx_.log->info("plan service stopping");
}

void PlanService::handle(const bus::Inbound& in) {
  auto decoded = messages::decode(in.frame);
  if (!decoded) {
    badFrames_.Increment();
    ctx_.log->warn("refused frame from peer: {}", decoded.error().message);
    return;
  }
  requests_.Increment();
  const auto& msg = *decoded.value();
  auto corr = msg.envelope().getCorrelationId();
  auto body = msg.body();
  auto reply = encoder_.start({.source = "plan", .correlationId = corr, .wallTimeNs = unixNanosNow()});
  auto out = reply.initPlanReply();
  if (body.isLoadPlan()) {
    plan::Plan p = fromWire(body.getLoadPlan().getPlan());
    auto violations = plan::validatePlan(p, facility_);
    std::string hash = plan::contentHash(p);
    auto existing = plans_.find(p.uid.value());
    if (violations.empty() && existing != plans_.end() && existing->second.hash != hash) {
      violations.push_back(plan::Violation{"plan_uid", "uid-reused", 0.0, 0.0,
                                           "plan UID " + p.uid.value() +
                                               " is already approved with different content (hash " +
                                               existing->second.hash.substr(0, 12) + ")"});
    }
    out.setPlanUid(p.uid.value());
    out.setContentHash(hash);
    if (!violations.empty()) {
      rejected_.Increment();
      out.setOk(false);
      out.setError("plan " + p.uid.value() + " refused: " + std::to_string(violations.size()) + " violation(s)");
      toWire(violations, out.initViolations(static_cast<unsigned>(violations.size())));
      commands_.send(in.peer, encoder_.finish());
      ctx_.log->warn("plan={} refused violations={} first=\"{}\"", p.uid.value(), violations.size(),
                     violations.front().message);
      messages::Encoder ev;
      auto rej = ev.start({.source = "plan", .wallTimeNs = unixNanosNow()}).initPlanRejected();
      rej.setPlanUid(p.uid.value());
      rej.setReason(violations.front().message);
      toWire(violations, rej.initViolations(static_cast<unsigned>(violations.size())));
      publisher_.publish("plan.rejected", ev.finish());
      return;
    }
    loaded_.Increment();
    out.setOk(true);
    commands_.send(in.peer, encoder_.finish());
    auto t = plan::totals(p);
    ctx_.log->info("plan={} patient={} approved hash={} spots={}", p.uid.value(), p.patient.value(), hash, t.spots);
    messages::Encoder ev;
    auto loadedMsg = ev.start({.source = "plan", .wallTimeNs = unixNanosNow()}).initPlanLoaded();
    loadedMsg.setPlanUid(p.uid.value());
    loadedMsg.setPatientId(p.patient.value());
    loadedMsg.setContentHash(hash);
    loadedMsg.setSpots(static_cast<std::uint32_t>(t.spots));
    loadedMsg.setLayers(static_cast<std::uint32_t>(t.layers));
    loadedMsg.setMeterset(t.meterset);
    loadedMsg.setMetersetUnit(toWire(p.metersetUnit));
    publisher_.publish("plan.loaded", ev.finish());
    // The key is read before the plan is moved: in `a[k] = b` the right side is evaluated first.
    std::string uid = p.uid.value();
    plans_.insert_or_assign(uid, Stored{std::move(p), std::move(hash)});
  } else if (body.isGetPlan()) {
    auto uid = bus::str(body.getGetPlan().getPlanUid());
    auto it = plans_.find(uid);
    out.setPlanUid(uid);
    if (it == plans_.end()) {
      out.setOk(false);
      out.setError("no approved plan with UID " + uid);
    } else {
      out.setOk(true);
      out.setContentHash(it->second.hash);
      toWire(it->second.plan, out.initPlan());
    }
    commands_.send(in.peer, encoder_.finish());
  } else {
    auto err = encoder_.start({.source = "plan", .correlationId = corr}).initErrorReply();
    err.setWhat(std::string("plan service does not answer ") + std::string(messages::bodyName(body.which())));
    commands_.send(in.peer, encoder_.finish());
  }
}

}  // namespace spotline::runtime
