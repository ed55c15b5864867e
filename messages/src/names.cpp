#include "spotline/messages/codec.h"

namespace spotline::messages {

std::string_view bodyName(wire::Message::Body::Which which) {
  using W = wire::Message::Body::Which;
  switch (which) {
    case W::HEARTBEAT: return "heartbeat";
    case W::ACK: return "ack";
    case W::NACK: return "nack";
    case W::LOAD_PLAN: return "loadPlan";
    case W::GET_PLAN: return "getPlan";
    case W::PLAN_REPLY: return "planReply";
    case W::PLAN_LOADED: return "planLoaded";
    case W::PLAN_REJECTED: return "planRejected";
    case W::START_FRACTION: return "startFraction";
    case W::PAUSE_FRACTION: return "pauseFraction";
    case W::RESUME_FRACTION: return "resumeFraction";
    case W::ABORT_FRACTION: return "abortFraction";
    case W::HOLD_REQUEST: return "holdRequest";
    case W::COMMAND_REPLY: return "commandReply";
    case W::FRACTION_STARTED: return "fractionStarted";
    case W::LAYER_STARTED: return "layerStarted";
    case W::SPOT_DELIVERED: return "spotDelivered";
    case W::LAYER_COMPLETED: return "layerCompleted";
    case W::WAITING_FOR_BEAM: return "waitingForBeam";
    case W::BEAM_HOLD: return "beamHold";
    case W::BEAM_RESUMED: return "beamResumed";
    case W::FRACTION_ENDED: return "fractionEnded";
    case W::DOSE_RECORDED: return "doseRecorded";
    case W::QA_EVENT: return "qaEvent";
    case W::VERIFY_BEAM_ON: return "verifyBeamOn";
    case W::VERIFY_REPLY: return "verifyReply";
    case W::FRACTION_QUERY: return "fractionQuery";
    case W::FRACTION_SUMMARY: return "fractionSummary";
    case W::ERROR_REPLY: return "errorReply";
    case W::JOURNAL_INCIDENT: return "journalIncident";
    case W::JOURNAL_QUERY: return "journalQuery";
    case W::JOURNAL_QUERY_REPLY: return "journalQueryReply";
  }
  return "unknown";
}

}  // namespace spotline::messages

namespace spotline::messages {

namespace {
std::string_view view(capnp::Text::Reader t) {
  return std::string_view(t.cStr(), t.size());
}
}  // namespace

std::string_view fractionIdOf(wire::Message::Body::Reader body) {
  using W = wire::Message::Body::Which;
  switch (body.which()) {
    case W::FRACTION_STARTED: return view(body.getFractionStarted().getFractionId());
    case W::LAYER_STARTED: return view(body.getLayerStarted().getFractionId());
    case W::SPOT_DELIVERED: return view(body.getSpotDelivered().getFractionId());
    case W::LAYER_COMPLETED: return view(body.getLayerCompleted().getFractionId());
    case W::WAITING_FOR_BEAM: return view(body.getWaitingForBeam().getFractionId());
    case W::BEAM_HOLD: return view(body.getBeamHold().getFractionId());
    case W::BEAM_RESUMED: return view(body.getBeamResumed().getFractionId());
    case W::FRACTION_ENDED: return view(body.getFractionEnded().getFractionId());
    case W::DOSE_RECORDED: return view(body.getDoseRecorded().getFractionId());
    case W::QA_EVENT: return view(body.getQaEvent().getFractionId());
    default: return {};
  }
}

}  // namespace spotline::messages
