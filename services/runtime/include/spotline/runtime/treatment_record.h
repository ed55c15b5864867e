#pragma once
// The DICOM RT Ion Beams Treatment Record of one fraction, written from the journal alone: the
// approved plan rv verified against (journaled with the verification), every spot record of every
// session, the layers' times, how the fraction ended, and the overrides granted.

#include <cstdint>
#include <filesystem>
#include <string>

#include "spotline/core/result.h"
#include "spotline/plan/facility.h"

namespace spotline::runtime {

enum class RecordError : std::uint8_t {
  NotFound,  // no such fraction in the journal
  Damaged,   // the journal is damaged or unreadable
  NoPlan,    // no approved plan was journaled with the fraction's verification
  Write,     // the output file could not be written
};

struct TreatmentRecordSummary {
  std::string sopInstanceUid;
  std::string termination;   // NORMAL, OPERATOR, MACHINE, UNKNOWN
  std::string verification;  // VERIFIED, VERIFIED_OVR
  std::uint32_t beams = 0;
  std::uint32_t controlPoints = 0;  // one per layer
  std::uint32_t spots = 0;          // planned spots written
  std::uint32_t spotRecords = 0;    // journaled spot records summed into them
  double metersetDelivered = 0.0;
  std::uint32_t overrides = 0;
  std::uint32_t sessions = 0;
  std::uint32_t holds = 0;
};

Result<TreatmentRecordSummary, RecordError> exportTreatmentRecord(const std::filesystem::path& journalDir,
                                                                  const std::string& fractionId,
                                                                  const std::filesystem::path& out,
                                                                  const plan::Facility& facility);

}  // namespace spotline::runtime
