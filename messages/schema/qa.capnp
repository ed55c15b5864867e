@0xd99d6e5e9fd67a0b;
# QA findings from the qa service, topic "qa.".
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("spotline::wire");

enum QaCheck { spotPosition @0; spotMeterset @1; monitorAgreement @2; sequenceGap @3; }

struct QaEvent {
  fractionId @0 :Text;
  check @1 :QaCheck;
  passed @2 :Bool;
  beam @3 :UInt32;
  layer @4 :UInt32;
  spot @5 :UInt32;
  value @6 :Float64;
  limit @7 :Float64;
  holdRequested @8 :Bool;
}
