@0xc6f6a779a1fd4039;
# Dose records from the dose service, topic "dose.".
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("spotline::wire");

enum DoseScope { layer @0; beam @1; fraction @2; }

struct DoseRecorded {
  fractionId @0 :Text;
  scope @1 :DoseScope;
  beam @2 :UInt32;
  layer @3 :UInt32;
  spots @4 :UInt32;
  planned @5 :Float64;       # meterset, plan's unit
  delivered @6 :Float64;
}
