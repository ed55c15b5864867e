#pragma once
// Injected faults, for tests and for training: `KIND@WHERE`, as `spotline deliver --fault` takes
// them. The machine faults act inside the model (RasterScanner); the process faults (kill-*) are
// carried out by the delivery service when the model says they triggered.
//
//   position-drift@layer=N | @spot=N   the position monitor reads faultDriftMm off in x from there
//   monitor2-fail@spot=N  | @layer=N   the secondary dose monitor reads nothing from there
//   overshoot@spot=N                   that spot's beam-off comes late (faultOvershootFraction)
//   spill-abort@spill=N                the fraction's Nth spill ends abruptly (faultSpillAbortAfter)
//   door-open@t=D | @spot=N            the room's door opens at D after the start, or at spot N
//   kill-rv@spot=N, kill-dose@spot=N, kill-qa@spot=N, kill-delivery@spot=N
//                                                     the service process dies there
//
// N counts from 1 in plan order over treatment beams (spot N is the Nth planned spot, layer N
// the Nth planned layer) or, for spill, over the spills this delivery session received. D is a
// simulated duration: 30s, 1500ms, 2min, or plain seconds.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "spotline/core/result.h"
#include "spotline/core/units.h"

namespace spotline::delivery {

enum class FaultKind : std::uint8_t {
  PositionDrift,
  Monitor2Fail,
  Overshoot,
  SpillAbort,
  DoorOpen,
  KillRv,
  KillDose,
  KillQa,
  KillDelivery,
};
enum class FaultTrigger : std::uint8_t { Spot, Layer, Spill, Time };

enum class FaultError : std::uint8_t { Invalid };

struct FaultSpec {
  FaultKind kind;
  FaultTrigger trigger;
  std::uint64_t ordinal = 0;  // spot, layer or spill number, from 1
  SimDuration after{0};       // Time: after the delivery session started
  std::string text;           // as given

  bool processFault() const {
    return kind == FaultKind::KillRv || kind == FaultKind::KillDose || kind == FaultKind::KillQa ||
           kind == FaultKind::KillDelivery;
  }
  // The service a process fault kills ("rv", "dose", "qa", "delivery"); empty for machine faults.
  std::string_view victim() const;
};

// Parses one KIND@WHERE; the error names the part that is wrong and what would be accepted.
Result<FaultSpec, FaultError> parseFault(std::string_view text);
Result<std::vector<FaultSpec>, FaultError> parseFaults(const std::vector<std::string>& texts);

std::string_view toString(FaultKind kind);

}  // namespace spotline::delivery
