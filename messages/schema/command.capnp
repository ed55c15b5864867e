@0xdd644af941cc4f96;
# Fraction commands, sent over DEALER -> ROUTER to the delivery service, each answered by a CommandReply.
using Cxx = import "/capnp/c++.capnp";
using Control = import "control.capnp";
$Cxx.namespace("spotline::wire");

struct StartFraction {
  planUid @0 :Text;
  contentHash @1 :Text;     # what the console showed the therapist; must match the approved plan
  room @2 :Text;
  fractionNumber @3 :UInt16;
  seed @4 :UInt64;
  patientId @5 :Text;
  resumeFractionId @6 :Text;    # continue this interrupted fraction (empty: a new fraction)
  faults @7 :List(Text);        # injected faults, KIND@WHERE (tests and training)
  priority @8 :Int8;            # beam allocation among rooms: higher first (ageing prevents starvation)
  overrides @9 :List(Control.Override);  # refused checks an authorised person overrides (rv journals them)
}

struct PauseFraction { fractionId @0 :Text; }
struct ResumeFraction { fractionId @0 :Text; }
struct AbortFraction {
  fractionId @0 :Text;
  reason @1 :Text;
  interrupt @2 :Bool;   # close a held fraction as interrupted (resumable), not aborted
}

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
