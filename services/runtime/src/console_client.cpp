#include "spotline/runtime/console_client.h"

#include "spotline/plan/hash.h"
#include "spotline/runtime/delivery_service.h"
#include "spotline/runtime/plan_wire.h"

namespace spotline::runtime {

ConsoleClient::ConsoleClient(zmq::context_t& zmq, const bus::Endpoints& endpoints, const WallClock& clock)
    : zmq_(zmq),
      endpoints_(endpoints),
      clock_(clock),
      subscriber_(zmq, endpoints.busXpub),
      plan_(zmq, endpoints.planCommand, "console"),
      delivery_(zmq, endpoints.deliveryCommand, "console"),
      rv_(zmq, endpoints.rvCommand, "console"),
      heard_(clock) {
  subscriber_.subscribe("hb.");
  subscriber_.subscribe("fraction.");
}

Result<bool, ClientError> ConsoleClient::waitForFacility(std::chrono::milliseconds timeout) {
  const std::vector<std::string> all{"plan", "rv", "dose", "qa", "delivery"};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bus::pollReadable({&subscriber_.socket()}, std::chrono::milliseconds(50));
    while (auto ev = subscriber_.receive()) {
      auto decoded = messages::decode(ev->frame);
      if (decoded && decoded.value()->body().isHeartbeat()) {
        auto hb = decoded.value()->body().getHeartbeat();
        heard_.heard(bus::str(hb.getService()), hb.getReady());
      }
    }
    // Delivery must also have heard the others; give its heartbeat view one period to form.
    if (heard_.firstMissing(all).empty()) return true;
  }
  auto missing = heard_.firstMissing(all);
  return fail(ClientError::Timeout,
              "service '" + missing + "' did not report ready within " + std::to_string(timeout.count()) + " ms");
}

LoadResult ConsoleClient::loadPlan(const plan::Plan& p) {
  LoadResult out;
  toWire(p, plan_.begin().initLoadPlan().initPlan());
  auto reply = plan_.call(std::chrono::milliseconds(10000));
  if (!reply) {
    out.error = "plan service: " + reply.error().message;
    return out;
  }
  if (!reply.value().body().isPlanReply()) {
    out.error = "plan service answered with something else";
    return out;
  }
  auto r = reply.value().body().getPlanReply();
  out.ok = r.getOk();
  out.contentHash = bus::str(r.getContentHash());
  out.violations = fromWire(r.getViolations());
  out.error = bus::str(r.getError());
  return out;
}

Result<std::string, ClientError> ConsoleClient::startFraction(const plan::Plan& p, const std::string& contentHash,
                                                              const std::string& room, std::uint16_t fractionNumber,
                                                              std::uint64_t seed, const StartOptions& options) {
  // A delivery process restarted from here on ends the session this command opens.
  deliveryRestarted_ = false;
  auto s = delivery_.begin().initStartFraction();
  s.setResumeFractionId(options.resumeFractionId);
  s.setPriority(static_cast<std::int8_t>(std::clamp(options.priority, -100, 100)));
  auto overrides = s.initOverrides(static_cast<unsigned>(options.overrides.size()));
  for (unsigned i = 0; i < options.overrides.size(); ++i) {
    overrides[i].setCheck(options.overrides[i]);
    overrides[i].setReason(options.overrideReason);
    overrides[i].setUser(options.user);
  }
  auto faults = s.initFaults(static_cast<unsigned>(options.faults.size()));
  for (unsigned i = 0; i < options.faults.size(); ++i) faults.set(i, options.faults[i]);
  s.setPlanUid(p.uid.value());
  s.setContentHash(contentHash);
  s.setRoom(room);
  s.setFractionNumber(fractionNumber);
  s.setSeed(seed);
  s.setPatientId(p.patient.value());
  auto reply = delivery_.call(std::chrono::milliseconds(20000));
  if (!reply) return fail(ClientError::Timeout, "delivery: " + reply.error().message);
  if (!reply.value().body().isCommandReply())
    return fail(ClientError::Protocol, "delivery answered with something else");
  auto r = reply.value().body().getCommandReply();
  if (!r.getAccepted()) return fail(ClientError::Refused, bus::str(r.getReason()));
  return bus::str(r.getFractionId());
}

Result<bool, ClientError> ConsoleClient::command(const std::string& fractionId, wire::Message::Body::Which kind,
                                                 const std::string& reason, bool interrupt) {
  auto body = delivery_.begin();
  using W = wire::Message::Body::Which;
  switch (kind) {
    case W::PAUSE_FRACTION: body.initPauseFraction().setFractionId(fractionId); break;
    case W::RESUME_FRACTION: body.initResumeFraction().setFractionId(fractionId); break;
    case W::ABORT_FRACTION: {
      auto a = body.initAbortFraction();
      a.setFractionId(fractionId);
      a.setReason(reason);
      a.setInterrupt(interrupt);
      break;
    }
    default: return fail(ClientError::Protocol, "not a fraction command");
  }
  auto reply = delivery_.call(std::chrono::milliseconds(5000));
  if (!reply) return fail(ClientError::Timeout, "delivery: " + reply.error().message);
  auto r = reply.value().body().getCommandReply();
  if (!r.getAccepted()) return fail(ClientError::Refused, bus::str(r.getReason()));
  return true;
}

std::string ConsoleClient::apply(const messages::Decoded& msg, std::map<std::string, FractionReport>& reports) {
  auto body = msg.body();
  auto it = reports.find(std::string(messages::fractionIdOf(body)));
  if (it == reports.end()) return {};
  auto& r = it->second;
  using W = wire::Message::Body::Which;
  switch (body.which()) {
    case W::FRACTION_STARTED: {
      auto f = body.getFractionStarted();
      r.room = bus::str(f.getRoom());
      r.planUid = bus::str(f.getPlanUid());
      r.spotsPlanned = f.getSpotsPlanned();
      r.layersPlanned = f.getLayersPlanned();
      r.metersetPlanned = f.getMetersetPlanned();
      r.metersetUnit = f.getMetersetUnit() == wire::MetersetUnit::MU ? "MU" : "NP";
      r.resumed = f.getResumed();
      if (r.resumed) {
        r.spotsDelivered = f.getPriorSpots();
        r.metersetDelivered = f.getPriorMeterset();
      }
      break;
    }
    case W::LAYER_STARTED: r.waitingFor.clear(); break;
    case W::SPOT_DELIVERED: {
      auto sd = body.getSpotDelivered();
      if (sd.getPartial()) {
        ++r.partialSpots;
      } else {
        ++r.spotsDelivered;
      }
      r.metersetDelivered += sd.getDelivered();
      r.waitingFor.clear();
      break;
    }
    case W::LAYER_COMPLETED: ++r.layersCompleted; break;
    case W::WAITING_FOR_BEAM: {
      auto w = body.getWaitingForBeam();
      ++r.spillWaits;
      r.beamWaitSeconds += w.getWaitSeconds();
      r.spillsToOthers += w.getSpillsToOtherRooms();
      r.waitingFor = bus::str(w.getLastOtherRoom());
      break;
    }
    case W::BEAM_HOLD: {
      auto h = body.getBeamHold();
      r.held = true;
      if (h.getReason() == wire::HoldReason::OPERATOR_PAUSE) break;
      r.interlocks.push_back(InterlockRecord{std::string(toString(h.getReason())), h.getBeam(), h.getLayer(),
                                             h.getSpot(), h.getValue(), h.getLimit(), bus::str(h.getDetail())});
      return it->first;
    }
    case W::BEAM_RESUMED: r.held = false; break;
    case W::FRACTION_ENDED: {
      auto e = body.getFractionEnded();
      r.status = std::string(toString(e.getOutcome()));
      r.simulatedSeconds = e.getSimulatedSeconds();
      r.spotsDelivered = e.getSpotsDelivered();
      r.metersetDelivered = e.getMetersetDelivered();
      break;
    }
    default: break;
  }
  return {};
}

bool ConsoleClient::awaitSpots(const std::string& fractionId, std::uint32_t spots, std::chrono::milliseconds timeout) {
  std::map<std::string, FractionReport> reports;
  reports[fractionId].fractionId = fractionId;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bus::pollReadable({&subscriber_.socket()}, std::chrono::milliseconds(20));
    while (auto ev = subscriber_.receive()) {
      if (hearHeartbeat(*ev)) continue;
      if (auto decoded = messages::decode(ev->frame)) apply(*decoded.value(), reports);
    }
    if (reports[fractionId].spotsDelivered >= spots) return true;
    if (!reports[fractionId].status.empty()) return false;
  }
  return false;
}

bool ConsoleClient::hearHeartbeat(const bus::Event& ev) {
  if (!ev.topic.starts_with("hb.")) return false;
  auto decoded = messages::decode(ev.frame);
  if (decoded && decoded.value()->body().isHeartbeat()) {
    auto hb = decoded.value()->body().getHeartbeat();
    heard_.heard(bus::str(hb.getService()), hb.getReady());
    if (bus::view(hb.getService()) == "delivery") {
      if (deliveryPid_ != 0 && hb.getPid() != deliveryPid_) deliveryRestarted_ = true;
      deliveryPid_ = hb.getPid();
    }
  }
  return true;
}

void ConsoleClient::queryRv(FractionReport& report) {
  // rv acknowledges the fraction's last event only once durable; ask until it has recorded the end.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (heard_.alive("rv")) {
      rv_.begin().initFractionQuery().setFractionId(report.fractionId);
      auto reply = rv_.call(std::chrono::milliseconds(2000));
      if (reply && reply.value().body().isFractionSummary()) {
        auto s = reply.value().body().getFractionSummary();
        report.spotsRecorded = s.getSpotsRecorded();
        if (s.getEnded()) {
          report.recordedByRv = true;
          return;
        }
        // With the delivery service gone, or silent for the whole silence timeout, no end will come:
        // what rv holds now is the answer.
        if (!report.interlocks.empty() && (report.interlocks.back().reason == "delivery-lost" ||
                                           report.interlocks.back().reason == "console-lost-contact")) {
          return;
        }
      }
    } else if (report.status != "completed") {
      // rv is down and the fraction did not complete: report what is known. A fraction that did
      // complete is still owed to rv (delivery sends the rest once a supervisor has restarted it).
      return;
    }
    bus::pollReadable({&subscriber_.socket()}, std::chrono::milliseconds(20));
    while (auto ev = subscriber_.receive()) {
      hearHeartbeat(*ev);
    }
  }
}

std::map<std::string, FractionReport> ConsoleClient::follow(const std::set<std::string>& fractionIds,
                                                            const Progress& progress, std::chrono::milliseconds silence,
                                                            bool closeOnHold) {
  std::map<std::string, FractionReport> reports;
  for (const auto& id : fractionIds) reports[id].fractionId = id;
  auto lastEvent = std::chrono::steady_clock::now();
  auto lastProgress = lastEvent;
  auto open = [&] {
    std::size_t n = 0;
    for (auto& [id, r] : reports) n += r.status.empty() ? 1 : 0;
    return n;
  };
  while (open() > 0) {
    bus::pollReadable({&subscriber_.socket()}, std::chrono::milliseconds(50));
    bool any = false;
    std::vector<std::string> toClose;
    while (auto ev = subscriber_.receive()) {
      if (hearHeartbeat(*ev)) continue;
      any = true;
      auto decoded = messages::decode(ev->frame);
      if (!decoded) continue;
      auto held = apply(*decoded.value(), reports);
      if (!held.empty() && closeOnHold) toClose.push_back(held);
    }
    for (const auto& id : toClose) {
      // The session ends here; the fraction stays resumable (spotline deliver --resume).
      auto closed = command(id, wire::Message::Body::ABORT_FRACTION, "session closed after an interlock", true);
      if (!closed)
        reports[id].interlocks.back().detail += " (closing the session failed: " + closed.error().message + ")";
    }
    auto now = std::chrono::steady_clock::now();
    if (any) lastEvent = now;
    if (progress && now - lastProgress > std::chrono::milliseconds(100)) {
      progress(reports);
      lastProgress = now;
    }
    if (deliveryRestarted_ || (heard_.known("delivery") && !heard_.alive("delivery"))) {
      // The delivery process died (or hangs): the beam is off with it. What it delivered is in its
      // outbox and goes to rv when it is back; the fraction is then resumed.
      for (auto& [id, r] : reports) {
        if (r.status.empty()) {
          r.status = "interrupted";
          r.interlocks.push_back(
              InterlockRecord{"delivery-lost", 0, 0, 0, 0, 0,
                              deliveryRestarted_ ? "the delivery service was restarted (another process now answers)"
                                                 : "the delivery service stopped sending heartbeats"});
        }
      }
    }
    if (now - lastEvent > silence) {
      for (auto& [id, r] : reports) {
        if (r.status.empty()) {
          r.status = "interrupted";
          r.interlocks.push_back(
              InterlockRecord{"console-lost-contact", 0, 0, 0, 0, 0,
                              "no delivery event within " + std::to_string(silence.count()) + " ms"});
        }
      }
    }
  }
  if (progress) progress(reports);
  for (auto& [id, r] : reports) queryRv(r);
  return reports;
}

}  // namespace spotline::runtime
