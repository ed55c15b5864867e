#pragma once
// One synchrotron feeding several treatment rooms, in simulated time.
//
// RasterScanner is one room's intensity-controlled raster scanner delivering one fraction (or the
// rest of an interrupted one): energy layer by layer, spot by spot, inside the spills it is given.
// The beam stays on a spot until the primary dose monitor reaches the spot's target; the beam-off
// takes a reaction time, so the spot overshoots by intensity x reaction, and the next spot's
// beam-off request is made earlier by the overshoot predicted from the intensity measured on this
// one. A spill that ends inside a spot continues the spot in the room's next spill. A hold (door,
// operator, any interlock) switches the beam off within the reaction time; a spot cut by it is
// recorded as partial and its remaining meterset is delivered on resume.
//
// Synchrotron shares the spills among the rooms through a BeamAllocator: one room at a time holds
// the beam for one spill; the others wait and are told, when their turn comes, how long they
// waited and for whom. step() returns the rooms' events one at a time.
//
// Determinism: a room's readings depend only on its plan, parameters, seed, resume point and
// faults, never on the other rooms (their spills only shift its times). Same inputs and the same
// order of attach/hold/resume calls give identical events, bit for bit, on any platform.
//
// Lifecycle: owned by the delivery service (or a test); one thread; plans and scanners are held by
// reference and must outlive their use.

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "spotline/delivery/allocator.h"
#include "spotline/delivery/faults.h"
#include "spotline/delivery/machine.h"
#include "spotline/delivery/normal_source.h"

namespace spotline::delivery {

class RasterScanner {
 public:
  // Throws std::invalid_argument for parameters the model cannot run with (validate()).
  RasterScanner(const plan::Plan& plan, MachineParameters params, std::uint64_t seed, ResumePoint from = {},
                std::vector<FaultSpec> faults = {});
  RasterScanner(plan::Plan&&, MachineParameters, std::uint64_t, ResumePoint = {},
                std::vector<FaultSpec> = {}) = delete;  // the plan is held by reference

  // The delivery session starts at `at`: the room asks for beam from then on.
  void start(SimDuration at);
  bool finished() const { return done_ && pending_.empty(); }
  bool held() const { return held_; }
  bool hasSpill() const { return spill_.has_value(); }
  bool wantsBeam() const { return started_ && !done_ && !held_ && !spill_ && pending_.empty(); }
  SimDuration requestedAt() const { return requestedAt_; }
  SimDuration now() const { return now_; }
  const plan::IonSpecies& ion() const;

  // The room's spill. `others`: spills given to other rooms since this room asked.
  void grant(const Spill& spill, std::uint32_t others, const std::string& lastOther);
  // The next event. nullopt when the scanner has nothing to do now: no spill, or it released it
  // (takeRelease() then says when), or it is held.
  std::optional<SimEvent> step();
  // When the scanner gave its spill back, once.
  std::optional<SimDuration> takeRelease();

  // Beam off now (an interlock or the operator), no earlier than `at`. Returns the events: a
  // partial SpotDelivered if a spot was under way, then BeamHeld.
  std::vector<SimEvent> holdNow(SimDuration at, HoldCause cause = HoldCause::External);
  // Continue after a hold, asking for beam from `at`. The interrupted layer is re-opened in the
  // next spill and the interrupted spot gets exactly its remaining meterset.
  void resume(SimDuration at);

  // First spot not yet fully delivered and how much of it was; {beams.size(), 0, 0, 0} when done.
  ResumePoint position() const;
  std::uint32_t spillsReceived() const { return spillsReceived_; }

 private:
  struct Cut {
    SimDuration at;
    enum class Kind : std::uint8_t { SpillEnd, Budget, Abort, Door } kind;
  };
  const plan::Layer& layer() const;
  std::optional<SimEvent> openLayer();
  std::optional<SimEvent> finishLayer();
  std::optional<SimEvent> startSpot();
  std::optional<SimEvent> continueSpot();
  SpotDelivered record(bool partial);
  void releaseSpill(SimDuration at);
  void hold(SimDuration requestedAt, SimDuration off, HoldCause cause);
  Cut nextCut() const;
  void fireSpotFaults(std::uint64_t ordinal);
  void trigger(FaultSpec& f, SimDuration at);
  std::optional<SimDuration> door() const { return doors_.empty() ? std::nullopt : std::optional(doors_.front()); }
  // Records what a spot under way received so far as a partial record (nothing if it received nothing).
  void flushPartial();
  double remainingTarget() const;  // plan units, of the spot at the cursor

  const plan::Plan& plan_;
  MachineParameters params_;
  NormalSource normal_;
  double unit_ = 1.0;  // particles per unit of plan meterset
  std::vector<FaultSpec> faults_;
  std::vector<bool> fired_;
  std::vector<std::vector<std::uint64_t>> spotBase_;  // [beam][layer]: planned spots before it
  std::vector<std::vector<std::uint64_t>> layerOrdinal_;

  std::deque<SimEvent> pending_;
  std::optional<SimDuration> released_;
  bool started_ = false;
  bool done_ = false;
  bool held_ = false;
  SimDuration startedAt_{0};
  SimDuration now_{0};
  SimDuration requestedAt_{0};
  std::vector<SimDuration> doors_;  // door signals still to come, earliest first
  bool abortNextSpill_ = false;     // a spill-abort whose spill the room finished before it

  std::optional<Spill> spill_;
  std::uint32_t spillsReceived_ = 0;
  double spillUsed_ = 0.0;
  std::optional<SimDuration> abortAt_;
  double measuredRate_ = 0.0;  // intensity measured on the previous spot of this spill, 0 if none

  ResumePoint cursor_;
  double cursorRecorded_ = 0.0;  // primary readings already recorded for the cursor spot
  bool layerOpen_ = false;
  double layerDelivered_ = 0.0;
  double layerIntensity_ = 0.0;
  bool magnetsReady_ = true;
  Millimetres lastX_{0.0}, lastY_{0.0};

  bool spotInProgress_ = false;
  double spotThreshold_ = 0.0;  // particles at which the beam-off request is made
  double spotExtracted_ = 0.0;  // particles counted towards the threshold
  double spotTrue_ = 0.0;       // particles that reached the patient in this record
  double spotRate_ = 0.0;       // this spot's actual intensity
  double spotExtra_ = 0.0;      // late beam-off (overshoot fault), particles
  SimDuration spotStart_{0};

  Millimetres driftX_{0.0};
  bool monitor2Failed_ = false;
};

struct RoomEvent {
  std::string room;
  SimEvent event;
};

class Synchrotron {
 public:
  explicit Synchrotron(MachineParameters params);

  // A room joins with its scanner (started at max(now(), at)); higher priority is served first.
  void attach(const std::string& room, RasterScanner& scanner, int priority = 0, SimDuration at = SimDuration{0});
  // The room leaves (its fraction ended); its lease, if any, is released.
  void detach(const std::string& room);
  bool attached(const std::string& room) const { return rooms_.contains(room); }

  // The next event of any room; nullopt when no room can do anything (all idle, held or done).
  std::optional<RoomEvent> step();
  // Beam off for the room now; see RasterScanner::holdNow. Frees the beam for the other rooms.
  std::vector<SimEvent> hold(const std::string& room, HoldCause cause = HoldCause::External);
  void resume(const std::string& room);
  // Moves the clock of an idle machine forward (real-time pacing); never backwards.
  void advanceTo(SimDuration t);

  SimDuration now() const { return now_; }
  const BeamAllocator& allocator() const { return allocator_; }

 private:
  struct Room {
    RasterScanner* scanner = nullptr;
    int priority = 0;
    std::uint32_t others = 0;  // spills given to other rooms while this one waited
    std::string lastOther;
  };
  void requestBeam();

  MachineParameters params_;
  BeamAllocator allocator_;
  std::map<std::string, Room> rooms_;
  SimDuration now_{0};
};

}  // namespace spotline::delivery
