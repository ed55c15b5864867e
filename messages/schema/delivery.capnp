@0xfbbaa460c96b4fe4;
# Delivery events. Each is sent on the spot stream to rv (lossless, sequenced per fraction) and
# published on the event bus under topic "fraction.<room>".
using Cxx = import "/capnp/c++.capnp";
using Plan = import "plan.capnp";
$Cxx.namespace("spotline::wire");

enum TerminationStatus { normal @0; operator @1; machine @2; unknown @3; }
enum FractionOutcome { completed @0; interrupted @1; aborted @2; refused @3; }

enum HoldReason {
  operatorPause @0;
  creditWindow @1;         # rv did not acknowledge spots in time
  qaRequest @2;
  positionOutOfTolerance @3;
  monitorDisagreement @4;
  spotOvershoot @5;
  heartbeatLost @6;
  doorOpen @7;
}

struct FractionStarted {
  fractionId @0 :Text;
  planUid @1 :Text;
  contentHash @2 :Text;
  room @3 :Text;
  fractionNumber @4 :UInt16;
  patientId @5 :Text;
  seed @6 :UInt64;
  spotsPlanned @7 :UInt32;
  layersPlanned @8 :UInt32;
  metersetPlanned @9 :Float64;
  metersetUnit @10 :Plan.MetersetUnit;
}

struct LayerStarted {
  fractionId @0 :Text;
  beam @1 :UInt32;
  layer @2 :UInt32;
  energyMevPerU @3 :Float64;
  spots @4 :UInt32;
  spill @5 :UInt32;
}

struct SpotDelivered {
  fractionId @0 :Text;
  beam @1 :UInt32;           # beam number
  layer @2 :UInt32;          # layer index within the beam
  spot @3 :UInt32;           # spot index within the layer
  planned @4 :Float64;       # meterset, plan's unit
  delivered @5 :Float64;     # primary monitor
  secondary @6 :Float64;     # secondary monitor
  xPlannedMm @7 :Float64;
  yPlannedMm @8 :Float64;
  xMeasuredMm @9 :Float64;
  yMeasuredMm @10 :Float64;
  energyMevPerU @11 :Float64;
  spill @12 :UInt32;
  metersetUnit @13 :Plan.MetersetUnit;
}

struct LayerCompleted {
  fractionId @0 :Text;
  beam @1 :UInt32;
  layer @2 :UInt32;
  meterset @3 :Float64;
}

struct WaitingForBeam {
  fractionId @0 :Text;
  nextSpill @1 :UInt32;
  waitSeconds @2 :Float64;   # simulated
}

struct BeamHold {
  fractionId @0 :Text;
  reason @1 :HoldReason;
  beam @2 :UInt32;
  layer @3 :UInt32;
  spot @4 :UInt32;
  value @5 :Float64;
  limit @6 :Float64;
  detail @7 :Text;
}

struct BeamResumed {
  fractionId @0 :Text;
}

struct FractionEnded {
  fractionId @0 :Text;
  outcome @1 :FractionOutcome;
  termination @2 :TerminationStatus;
  code @3 :Text;
  spotsDelivered @4 :UInt32;
  metersetDelivered @5 :Float64;
  simulatedSeconds @6 :Float64;
}
