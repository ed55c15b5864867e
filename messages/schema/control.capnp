@0x9260460092683bc9;
# Liveness, acknowledgements, verification and queries.
using Cxx = import "/capnp/c++.capnp";
using Plan = import "plan.capnp";
using Delivery = import "delivery.capnp";
$Cxx.namespace("spotline::wire");

# Every service publishes one on topic "hb.<service>" at a fixed wall-time period.
struct Heartbeat {
  service @0 :Text;
  pid @1 :UInt32;
  ready @2 :Bool;            # its subscriber has seen the bus (it will not miss events)
  uptimeSeconds @3 :Float64;
}

# Spot stream acknowledgement: every record of this fraction up to and including `upTo` is durable.
struct Ack {
  fractionId @0 :Text;
  upTo @1 :UInt64;
}

# Spot stream negative acknowledgement: the receiver expects `expected` next; resend from there.
struct Nack {
  fractionId @0 :Text;
  expected @1 :UInt64;
}

# delivery -> rv before beam-on.
struct VerifyBeamOn {
  fractionId @0 :Text;
  planUid @1 :Text;
  contentHash @2 :Text;
  room @3 :Text;
  patientId @4 :Text;
  fractionNumber @5 :UInt16;
  ion @6 :Plan.IonSpecies;
  resume @7 :Bool;           # continue an interrupted fraction
}

struct VerifyReply {
  permitted @0 :Bool;
  reason @1 :Text;
  resumeFrom @2 :UInt64;     # next stream sequence rv expects for this fraction (1 for a new one)
  resumeBeam @3 :UInt32;     # a resume: the first spot not fully journaled (beam number, layer, spot)
  resumeLayer @4 :UInt32;
  resumeSpot @5 :UInt32;
  resumeSpotDelivered @6 :Float64;  # journaled for that spot already
  resumeAfterSpot @7 :Bool;  # the journaled spot was complete: resume at the one after it
  spotsRecorded @8 :UInt32;  # spots completed so far
  metersetRecorded @9 :Float64;
  sessions @10 :UInt32;      # delivery sessions so far
  hasResumePoint @11 :Bool;  # a spot record is journaled: resume at resumeBeam/Layer/Spot
}

struct FractionQuery {
  fractionId @0 :Text;
}

struct FractionSummary {
  found @0 :Bool;
  fractionId @1 :Text;
  outcome @2 :Delivery.FractionOutcome;
  ended @3 :Bool;
  spotsRecorded @4 :UInt32;
  metersetRecorded @5 :Float64;
  eventsRecorded @6 :UInt64;
  journalRecords @7 :UInt64;   # durable records in the journal, all fractions
}

struct ErrorReply {
  what @0 :Text;
}
