// libFuzzer target for the DICOM RT Ion Plan reader: any bytes must give a plan or a refusal with
// a message; never a crash, a hang, a sanitizer report or unbounded memory. Accepted plans also
// go through validation and the content hash, as the plan service would take them.
// Run with scripts/fuzz.sh (seed corpus from plan_dicom_seeds).

#include <cstddef>
#include <cstdint>
#include <span>

#include "spotline/plan/dicom.h"
#include "spotline/plan/hash.h"
#include "spotline/plan/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spotline::plan;
  static const Facility facility = builtInFacility();
  auto plan = parsePlanDicom(std::as_bytes(std::span<const std::uint8_t>(data, size)), "fuzz.dcm");
  if (!plan) {
    if (plan.error().message.empty()) __builtin_trap();  // every refusal says why
    return 0;
  }
  (void)validatePlan(plan.value(), facility);
  (void)contentHash(plan.value());
  return 0;
}
