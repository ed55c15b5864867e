@0xb15fe5cd6b07be8c;
# Plans on the wire. A plan travels whole (LoadPlan, PlanReply); events carry only its identity.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("spotline::wire");

enum MetersetUnit { mu @0; np @1; }
enum Approval { approved @0; unapproved @1; rejected @2; }
enum Radiation { proton @0; ion @1; }

struct Spot {
  xMm @0 :Float64;
  yMm @1 :Float64;
  meterset @2 :Float64;
}

struct Layer {
  energyMevPerU @0 :Float64;
  paintings @1 :UInt16 = 1;
  spots @2 :List(Spot);
}

struct IonSpecies {
  z @0 :UInt8;
  a @1 :UInt16;
  charge @2 :Int8;
}

struct Beam {
  number @0 :UInt32;
  name @1 :Text;
  machine @2 :Text;
  treatment @3 :Bool = true;
  radiation @4 :Radiation;
  ion @5 :IonSpecies;
  gantryAngle @6 :Float64;
  couchAngle @7 :Float64;
  isocentreMm @8 :List(Float64);
  layers @9 :List(Layer);
}

struct Plan {
  uid @0 :Text;
  patientId @1 :Text;
  label @2 :Text;
  approval @3 :Approval;
  metersetUnit @4 :MetersetUnit;
  fractionsPlanned @5 :UInt16;
  synthetic @6 :Bool;
  beams @7 :List(Beam);
}

struct Violation {
  path @0 :Text;
  rule @1 :Text;
  value @2 :Float64;
  limit @3 :Float64;
  message @4 :Text;
}

# Request to the plan service: validate, approve by content hash, store, publish.
struct LoadPlan {
  plan @0 :Plan;
}

struct GetPlan {
  planUid @0 :Text;
}

# Reply to LoadPlan and GetPlan.
struct PlanReply {
  ok @0 :Bool;
  planUid @1 :Text;
  contentHash @2 :Text;   # lowercase hex SHA-256 of the canonical form
  plan @3 :Plan;          # set on GetPlan
  violations @4 :List(Violation);
  error @5 :Text;
}

# Published on topic "plan." when a plan is approved and stored.
struct PlanLoaded {
  planUid @0 :Text;
  patientId @1 :Text;
  contentHash @2 :Text;
  spots @3 :UInt32;
  layers @4 :UInt32;
  meterset @5 :Float64;
  metersetUnit @6 :MetersetUnit;
}

struct PlanRejected {
  planUid @0 :Text;
  violations @1 :List(Violation);
  reason @2 :Text;
}
