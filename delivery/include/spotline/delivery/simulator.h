#pragma once
// One fraction in one room with the synchrotron to itself: a RasterScanner on a Synchrotron with
// a single room. For tests, benchmarks and anything that needs one fraction's events without the
// delivery service. The spot interlock checks (checkSpot) are here too.
//
// Lifecycle: owned by its user, one thread; the plan is held by reference and must outlive it.

#include <optional>
#include <string_view>

#include "spotline/delivery/synchrotron.h"
#include "spotline/plan/facility.h"

namespace spotline::delivery {

class FractionSimulator {
 public:
  FractionSimulator(const plan::Plan& plan, MachineParameters params, std::uint64_t seed, ResumePoint from = {},
                    std::vector<FaultSpec> faults = {});
  FractionSimulator(plan::Plan&&, MachineParameters, std::uint64_t, ResumePoint = {},
                    std::vector<FaultSpec> = {}) = delete;  // the plan is held by reference

  // The next event; FractionCompleted once, then forever FractionCompleted. nullopt while held.
  std::optional<SimEvent> step();
  // Beam off now (between spots: nothing is cut); returns BeamHeld (after a partial spot, if any).
  std::vector<SimEvent> hold();
  void resume();

  SimDuration now() const { return synchrotron_.now(); }
  ResumePoint position() const { return scanner_.position(); }
  bool finished() const { return scanner_.finished(); }
  bool held() const { return scanner_.held(); }
  const BeamAllocator& allocator() const { return synchrotron_.allocator(); }

 private:
  RasterScanner scanner_;
  Synchrotron synchrotron_;
  std::optional<SimDuration> completedAt_;
};

// Interlock checks on one delivered spot record against a room's tolerances; nullopt when in
// tolerance. When several apply, the first in this order is returned. value and limit are in the
// same terms:
//   PositionOutOfTolerance: max(|x measured - planned|, |y measured - planned|), mm;
//   MonitorDisagreement: |secondary - primary| / primary, a fraction (infinite if only primary is 0);
//   SpotOvershoot: delivered - target, plan's unit, against max(planned x tolerance, floor).
// `alreadyDelivered` is what earlier records of the same spot delivered (a resumed spot).
enum class InterlockReason : std::uint8_t {
  PositionOutOfTolerance,
  MonitorDisagreement,
  SpotOvershoot,
};
struct InterlockFinding {
  InterlockReason reason;
  double value;
  double limit;
};
std::optional<InterlockFinding> checkSpot(const SpotDelivered& spot, const plan::RoomModel& room);

std::string_view toString(InterlockReason reason);

}  // namespace spotline::delivery
