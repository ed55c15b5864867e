@0xaa78eb88b386b3e4;
# Every message on the bus is one Message: an envelope and exactly one body.
using Cxx = import "/capnp/c++.capnp";
using Plan = import "plan.capnp";
using Command = import "command.capnp";
using Delivery = import "delivery.capnp";
using Dose = import "dose.capnp";
using Qa = import "qa.capnp";
using Control = import "control.capnp";
$Cxx.namespace("spotline::wire");

const schemaVersion :UInt16 = 1;

struct Envelope {
  schemaVersion @0 :UInt16;
  source @1 :Text;            # sending service: plan, delivery, dose, qa, rv, console
  sequence @2 :UInt64;        # per (source, stream): the spot stream numbers per fraction from 1
  correlationId @3 :UInt64;   # a reply carries its request's correlation id
  simTimeNs @4 :Int64;        # simulated physics time of the event, 0 when none
  wallTimeNs @5 :Int64;       # sender's wall clock, Unix epoch
}

struct Message {
  envelope @0 :Envelope;
  body :union {
    heartbeat @1 :Control.Heartbeat;
    ack @2 :Control.Ack;
    nack @3 :Control.Nack;
    loadPlan @4 :Plan.LoadPlan;
    getPlan @5 :Plan.GetPlan;
    planReply @6 :Plan.PlanReply;
    planLoaded @7 :Plan.PlanLoaded;
    planRejected @8 :Plan.PlanRejected;
    startFraction @9 :Command.StartFraction;
    pauseFraction @10 :Command.PauseFraction;
    resumeFraction @11 :Command.ResumeFraction;
    abortFraction @12 :Command.AbortFraction;
    holdRequest @13 :Command.HoldRequest;
    commandReply @14 :Command.CommandReply;
    fractionStarted @15 :Delivery.FractionStarted;
    layerStarted @16 :Delivery.LayerStarted;
    spotDelivered @17 :Delivery.SpotDelivered;
    layerCompleted @18 :Delivery.LayerCompleted;
    waitingForBeam @19 :Delivery.WaitingForBeam;
    beamHold @20 :Delivery.BeamHold;
    beamResumed @21 :Delivery.BeamResumed;
    fractionEnded @22 :Delivery.FractionEnded;
    doseRecorded @23 :Dose.DoseRecorded;
    qaEvent @24 :Qa.QaEvent;
    verifyBeamOn @25 :Control.VerifyBeamOn;
    verifyReply @26 :Control.VerifyReply;
    fractionQuery @27 :Control.FractionQuery;
    fractionSummary @28 :Control.FractionSummary;
    errorReply @29 :Control.ErrorReply;
    journalIncident @30 :Control.JournalIncident;
    journalQuery @31 :Control.JournalQuery;
    journalQueryReply @32 :Control.JournalQueryReply;
  }
}
