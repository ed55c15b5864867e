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
                                                              std::uint64_t seed) {
  auto s = delivery_.begin().initStartFraction();
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
                                                 const std::string& reason) {
  auto body = delivery_.begin();
  using W = wire::Message::Body::Which;
  switch (kind) {
    case W::PAUSE_FRACTION: body.initPauseFraction().setFractionId(fractionId); break;
    case W::RESUME_FRACTION: body.initResumeFraction().setFractionId(fractionId); break;
    case W::ABORT_FRACTION: {
      auto a = body.initAbortFraction();
      a.setFractionId(fractionId);
      a.setReason(reason);
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

void ConsoleClient::apply(const messages::Decoded& msg, std::map<std::string, FractionReport>& reports) {
  auto body = msg.body();
  auto it = reports.find(std::string(messages::fractionIdOf(body)));
  if (it == reports.end()) return;
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
      break;
    }
    case W::SPOT_DELIVERED:
      ++r.spotsDelivered;
      r.metersetDelivered += body.getSpotDelivered().getDelivered();
      break;
    case W::LAYER_COMPLETED: ++r.layersCompleted; break;
    case W::WAITING_FOR_BEAM: ++r.spillWaits; break;
    case W::BEAM_HOLD: {
      auto h = body.getBeamHold();
      if (h.getReason() == wire::HoldReason::OPERATOR_PAUSE) break;
      r.interlocks.push_back(InterlockRecord{std::string(toString(h.getReason())), h.getBeam(), h.getLayer(),
                                             h.getSpot(), h.getValue(), h.getLimit(), bus::str(h.getDetail())});
      break;
    }
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
}

void ConsoleClient::queryRv(FractionReport& report) {
  // rv acknowledges the fraction's last event only once durable; ask until it has recorded the end.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    rv_.begin().initFractionQuery().setFractionId(report.fractionId);
    auto reply = rv_.call(std::chrono::milliseconds(5000));
    if (reply && reply.value().body().isFractionSummary()) {
      auto s = reply.value().body().getFractionSummary();
      report.spotsRecorded = s.getSpotsRecorded();
      if (s.getEnded()) {
        report.recordedByRv = true;
        return;
      }
    }
    bus::pollReadable({&subscriber_.socket()}, std::chrono::milliseconds(20));
    while (subscriber_.receive()) {
    }
  }
}

std::map<std::string, FractionReport> ConsoleClient::follow(const std::set<std::string>& fractionIds,
                                                            const Progress& progress,
                                                            std::chrono::milliseconds silence) {
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
    while (auto ev = subscriber_.receive()) {
      if (ev->topic.starts_with("hb.")) continue;
      any = true;
      auto decoded = messages::decode(ev->frame);
      if (decoded) apply(*decoded.value(), reports);
    }
    auto now = std::chrono::steady_clock::now();
    if (any) lastEvent = now;
    if (progress && now - lastProgress > std::chrono::milliseconds(100)) {
      progress(reports);
      lastProgress = now;
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
