#include "spotline/bridge/topics.h"

#include "spotline/messages/codec.h"

namespace spotline::bridge {

namespace {
std::string text(capnp::Text::Reader t) {
  return std::string(t.cStr(), t.size());
}
}  // namespace

std::string_view topicSuffix(Topic topic) {
  switch (topic) {
    case Topic::Plans: return "plans";
    case Topic::Fractions: return "fractions";
    case Topic::Spots: return "spots";
    case Topic::Dose: return "dose";
    case Topic::Qa: return "qa";
    case Topic::Interlocks: return "interlocks";
  }
  return "fractions";
}

Topic topicOf(wire::Message::Body::Reader body) {
  using W = wire::Message::Body;
  switch (body.which()) {
    case W::SPOT_DELIVERED: return Topic::Spots;
    case W::DOSE_RECORDED: return Topic::Dose;
    case W::QA_EVENT: return Topic::Qa;
    case W::BEAM_HOLD:
    case W::HOLD_REQUEST:
    case W::JOURNAL_INCIDENT: return Topic::Interlocks;
    case W::LOAD_PLAN:
    case W::GET_PLAN:
    case W::PLAN_REPLY:
    case W::PLAN_LOADED:
    case W::PLAN_REJECTED: return Topic::Plans;
    default: return Topic::Fractions;
  }
}

std::string keyOf(wire::Message::Body::Reader body) {
  using W = wire::Message::Body;
  if (auto id = messages::fractionIdOf(body); !id.empty()) return std::string(id);
  switch (body.which()) {
    case W::START_FRACTION: {
      auto s = body.getStartFraction();
      // A resume names its fraction; a new fraction has no id until delivery gives it one.
      return s.getResumeFractionId().size() > 0 ? text(s.getResumeFractionId()) : text(s.getPlanUid());
    }
    case W::PAUSE_FRACTION: return text(body.getPauseFraction().getFractionId());
    case W::RESUME_FRACTION: return text(body.getResumeFraction().getFractionId());
    case W::ABORT_FRACTION: return text(body.getAbortFraction().getFractionId());
    case W::HOLD_REQUEST: return text(body.getHoldRequest().getFractionId());
    case W::COMMAND_REPLY: return text(body.getCommandReply().getFractionId());
    case W::ACK: return text(body.getAck().getFractionId());
    case W::NACK: return text(body.getNack().getFractionId());
    case W::VERIFY_BEAM_ON: return text(body.getVerifyBeamOn().getFractionId());
    case W::FRACTION_QUERY: return text(body.getFractionQuery().getFractionId());
    case W::FRACTION_SUMMARY: return text(body.getFractionSummary().getFractionId());
    case W::GET_PLAN: return text(body.getGetPlan().getPlanUid());
    case W::PLAN_REPLY: return text(body.getPlanReply().getPlanUid());
    case W::PLAN_LOADED: return text(body.getPlanLoaded().getPlanUid());
    case W::PLAN_REJECTED: return text(body.getPlanRejected().getPlanUid());
    default: return {};
  }
}

}  // namespace spotline::bridge
