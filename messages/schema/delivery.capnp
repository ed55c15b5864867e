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
  spillAborted @8;         # the accelerator lost the spill
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
  priority @11 :Int8;
  resumed @12 :Bool;                 # continues an interrupted fraction (a new delivery session)
  resumeBeam @13 :UInt32;            # where: beam number, layer index, spot index
  resumeLayer @14 :UInt32;
  resumeSpot @15 :UInt32;
  resumeSpotDelivered @16 :Float64;  # already delivered on that spot, plan's unit
  priorSpots @17 :UInt32;            # spots completed in earlier sessions
  priorMeterset @18 :Float64;
}

struct LayerStarted {
  fractionId @0 :Text;
  beam @1 :UInt32;
  layer @2 :UInt32;
  energyMevPerU @3 :Float64;
  spots @4 :UInt32;
  spill @5 :UInt32;
  intensity @6 :Float64;     # extraction intensity level, particles per second
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
  target @14 :Float64;       # what this record aimed for: planned less earlier records of the spot
  partial @15 :Bool;         # a hold cut the spot; the rest follows on resume
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
  spillsToOtherRooms @3 :UInt32;
  lastOtherRoom @4 :Text;
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
  requestedSimNs @8 :Int64;  # the hold was requested (simulated time)
  beamOffSimNs @9 :Int64;    # the beam was off
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
