#include "spotline/runtime/dose_service.h"

#include <prometheus/counter.h>

namespace spotline::runtime {

namespace {
const DoseTotals kNone{};
}  // namespace

void DoseAccumulator::spot(std::uint32_t beam, std::uint32_t layer, std::uint32_t spot, double planned,
                           double delivered, bool partial) {
  spots_[{beam, layer, spot}] += delivered;
  for (DoseTotals* t : {&layers_[{beam, layer}], &beams_[beam], &fraction_}) {
    // A spot a hold cut comes as partial records and one that completes it: it is planned, and
    // counted, with the record that completes it.
    if (!partial) {
      ++t->spots;
      t->planned += planned;
    }
    t->delivered += delivered;
  }
}

const DoseTotals& DoseAccumulator::layer(std::uint32_t beam, std::uint32_t layer) const {
  auto it = layers_.find({beam, layer});
  return it == layers_.end() ? kNone : it->second;
}

const DoseTotals& DoseAccumulator::beam(std::uint32_t beam) const {
  auto it = beams_.find(beam);
  return it == beams_.end() ? kNone : it->second;
}

double DoseAccumulator::spotDelivered(std::uint32_t beam, std::uint32_t layer, std::uint32_t spot) const {
  auto it = spots_.find({beam, layer, spot});
  return it == spots_.end() ? 0.0 : it->second;
}

DoseService::DoseService(ServiceContext ctx)
    : ctx_(std::move(ctx)),
      publisher_(ctx_.zmq, ctx_.endpoints.busXsub),
      subscriber_(ctx_.zmq, ctx_.endpoints.busXpub),
      heartbeat_("dose", ctx_.clock),
      spots_(serviceCounter(*ctx_.registry, "dose", "spotline_dose_spots_total", "Spots accumulated")),
      gaps_(serviceCounter(*ctx_.registry, "dose", "spotline_dose_sequence_gaps_total",
                           "Delivery events missed on the bus")),
      records_(serviceCounter(*ctx_.registry, "dose", "spotline_dose_records_total", "DoseRecorded events published")) {
  subscriber_.subscribe("hb.");
  subscriber_.subscribe("fraction.");
}

void DoseService::run(std::stop_token stop) {
  ctx_.log->info("dose service up");
  while (!stop.stop_requested()) {
    heartbeat_.tick(publisher_, ready_);
    bus::pollReadable({&subscriber_.socket()}, std::chrono::milliseconds(50));
    while (auto ev = subscriber_.receive()) {
      ready_ = true;
      if (!ev->topic.starts_with("hb.")) handle(*ev);
    }
  }
  ctx_.log->info("dose service stopping");
}

void DoseService::handle(const bus::Event& ev) {
  auto decoded = messages::decode(ev.frame);
  if (!decoded) {
    ctx_.log->warn("refused event topic={}: {}", ev.topic, decoded.error().message);
    return;
  }
  const auto& msg = *decoded.value();
  auto body = msg.body();
  std::string fraction(messages::fractionIdOf(body));
  if (fraction.empty()) return;
  auto& a = active_[fraction];
  auto seq = msg.envelope().getSequence();
  if (a.lastSequence != 0 && seq > a.lastSequence + 1) {
    gaps_.Increment(static_cast<double>(seq - a.lastSequence - 1));
    ctx_.log->error("fraction={} missed {} delivery events before seq {}", fraction, seq - a.lastSequence - 1, seq);
  }
  a.lastSequence = std::max(a.lastSequence, seq);
  if (body.isSpotDelivered()) {
    auto s = body.getSpotDelivered();
    a.dose.spot(s.getBeam(), s.getLayer(), s.getSpot(), s.getPlanned(), s.getDelivered(), s.getPartial());
    spots_.Increment();
  } else if (body.isLayerCompleted()) {
    auto l = body.getLayerCompleted();
    publish(fraction, wire::DoseScope::LAYER, l.getBeam(), l.getLayer(), a.dose.layer(l.getBeam(), l.getLayer()));
  } else if (body.isFractionEnded()) {
    for (const auto& [beam, totals] : a.dose.beams()) publish(fraction, wire::DoseScope::BEAM, beam, 0, totals);
    publish(fraction, wire::DoseScope::FRACTION, 0, 0, a.dose.fraction());
    ctx_.log->info("fraction={} dose recorded spots={} planned={} delivered={}", fraction, a.dose.fraction().spots,
                   a.dose.fraction().planned, a.dose.fraction().delivered);
    active_.erase(fraction);
  }
}

void DoseService::publish(const std::string& fraction, wire::DoseScope scope, std::uint32_t beam, std::uint32_t layer,
                          const DoseTotals& totals) {
  auto d = encoder_.start({.source = "dose", .wallTimeNs = unixNanosNow()}).initDoseRecorded();
  d.setFractionId(fraction);
  d.setScope(scope);
  d.setBeam(beam);
  d.setLayer(layer);
  d.setSpots(totals.spots);
  d.setPlanned(totals.planned);
  d.setDelivered(totals.delivered);
  publisher_.publish("dose." + fraction, encoder_.finish());
  records_.Increment();
}

}  // namespace spotline::runtime
