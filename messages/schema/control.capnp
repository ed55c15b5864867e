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
  overrides @8 :List(Override);
}

# An authorised person lets beam-on go ahead although one check refused it. Only some checks can
# be overridden (rv's VerifyReply says which); each override is journaled with the request.
struct Override {
  check @0 :Text;            # the refusal code it overrides, e.g. "fraction-count"
  reason @1 :Text;
  user @2 :Text;
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
  code @12 :Text;            # refusal code ("content-hash", "patient", "room", ...), empty when permitted
  overridable @13 :Bool;     # the refusal may be overridden with a reason and a user
  overridden @14 :List(Text);  # checks that refused but were overridden
}

enum JournalIncidentKind {
  tornTail @0;               # rv cut the last, incompletely written group of a crashed writer
  tornCheckpoint @1;         # rv cut an incompletely written checkpoint line
  operatorRepair @2;         # `spotline journal repair` cut damaged records into quarantine
}

# Something that happened to the journal itself; journaled by whoever repaired it.
struct JournalIncident {
  kind @0 :JournalIncidentKind;
  segment @1 :Text;
  offset @2 :UInt64;
  index @3 :UInt64;          # first record index affected
  bytesDropped @4 :UInt64;   # cut (torn) or moved to quarantine (repair)
  damage @5 :Text;           # verify's kind of damage
  detail @6 :Text;           # verify's description
  user @7 :Text;
  reason @8 :Text;
  quarantine @9 :Text;       # directory holding copies of everything cut
  recordsKept @10 :UInt64;
  checkpointsRemoved @11 :UInt32;
}

# Queries of the journal over the bus (rv's command socket), answered like the console's
# `spotline journal` commands.
enum JournalQueryKind {
  fractions @0;              # every fraction with status and totals (JSON)
  spots @1;                  # one fraction's spot records (CSV), paged
}

struct JournalQuery {
  kind @0 :JournalQueryKind;
  fractionId @1 :Text;
  firstRecord @2 :UInt64;    # spots: skip the spot records before this one (0-based)
  maxRecords @3 :UInt32;     # spots: at most this many lines (0: rv's page size)
}

struct JournalQueryReply {
  ok @0 :Bool;
  error @1 :Text;
  text @2 :Text;             # JSON or CSV, as the console prints it
  nextRecord @3 :UInt64;     # spots: firstRecord for the next page
  more @4 :Bool;             # spots: there are more lines
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
  nextSequence @8 :UInt64;     # the stream sequence rv expects next for this fraction (1 when unknown)
}

struct ErrorReply {
  what @0 :Text;
}
