@0xdd644af941cc4f96;
# Fraction commands, sent over DEALER -> ROUTER to the delivery service, each answered by a CommandReply.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("spotline::wire");

struct StartFraction {
  planUid @0 :Text;
  contentHash @1 :Text;     # what the console showed the therapist; must match the approved plan
  room @2 :Text;
  fractionNumber @3 :UInt16;
  seed @4 :UInt64;
  patientId @5 :Text;
}

struct PauseFraction { fractionId @0 :Text; }
struct ResumeFraction { fractionId @0 :Text; }
struct AbortFraction { fractionId @0 :Text; reason @1 :Text; }

# A service (qa) asks delivery to hold the beam.
struct HoldRequest {
  fractionId @0 :Text;
  reason @1 :Text;
  value @2 :Float64;
  limit @3 :Float64;
}

struct CommandReply {
  accepted @0 :Bool;
  fractionId @1 :Text;
  reason @2 :Text;          # why refused, shown to the therapist
}
