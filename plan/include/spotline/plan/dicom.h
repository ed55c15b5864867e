#pragma once
// DICOM RT Ion Plans (SOP class 1.2.840.10008.5.1.4.1.1.481.8) in and out, through DCMTK.
// What is read, how layers and metersets are derived, and what is refused: plan/README.md,
// "DICOM RT Ion Plans".
//
// The reader is for files from outside (treatment planning systems, other sites): it never
// trusts a length or a count, collects every problem it finds (up to kMaxReportedErrors) with
// where it is (beam number, control point index, spot index, DICOM keyword), and refuses the file
// if there is any. It does not judge whether the machine can deliver the plan: validatePlan does.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "spotline/core/result.h"
#include "spotline/plan/error.h"
#include "spotline/plan/plan.h"

namespace spotline::plan {

inline constexpr std::string_view kRtIonPlanSopClass = "1.2.840.10008.5.1.4.1.1.481.8";
// Reader limit on the file size (a 100,000-spot plan is about 2 MB).
inline constexpr std::uintmax_t kMaxDicomFileBytes = 256u * 1024u * 1024u;

// One problem the reader found. `where` is the place in people's terms, e.g.
// `beam 2 ("Field 2"), control point 6, spot 18` or `fraction group 1`; empty for the file as a
// whole. The failure's message holds the same, one `SOURCE: WHERE: WHAT` line per problem.
struct DicomProblem {
  std::string where;
  std::string what;
  bool operator==(const DicomProblem&) const = default;
};

// Reads and checks an RT Ion Plan file; the path is the source named in messages. On failure,
// `problems` (when given) receives every problem found (at most kMaxReportedErrors).
Result<Plan, PlanError> readPlanDicom(const std::filesystem::path& file, std::vector<DicomProblem>* problems = nullptr);

// The same from bytes in memory (a DICOM Part 10 file).
Result<Plan, PlanError> parsePlanDicom(std::span<const std::byte> bytes, std::string_view sourceName,
                                       std::vector<DicomProblem>* problems = nullptr);

// True for a path readPlanFile reads as DICOM: a `.dcm` name, or "DICM" at byte 128.
bool isDicomFile(const std::filesystem::path& file);

struct DicomWriteOptions {
  // Explicit VR Little Endian by default; Implicit VR Little Endian when false.
  bool explicitVr = true;
  // Seeds the UIDs the writer has to invent (study, series, frame of reference) so that the same
  // plan always gives the same bytes. The plan's own UID is its SOPInstanceUID.
  std::string uidRoot = "2.25";
  // Written as InstanceCreationDate/Time and RTPlanDate/Time; fixed so output is reproducible.
  std::string date = "20260101";
  std::string time = "000000";
};

// Writes a plan as an RT Ion Plan file (atomically: a temporary file renamed into place). Each
// layer becomes two control points (the second repeats the positions with zero weights);
// FinalCumulativeMetersetWeight and BeamMeterset are both the beam's meterset sum, so that
// readPlanDicom of the file gives back exactly `plan`. That needs spot positions and metersets
// exactly representable as 32-bit floats (DICOM FL), energies, angles and isocentre that print
// in at most 16 characters (DICOM DS), a label of at most 16 characters (RTPlanLabel is SH), and
// no empty layer; synthetic plans are made so. Anything else fails with PlanError::Invalid
// naming the field, and no file is written.
Result<bool, PlanError> writePlanDicom(const Plan& plan, const std::filesystem::path& file,
                                       const DicomWriteOptions& options = {});

// True when the bytes look like DICOM Part 10 ("DICM" at offset 128).
bool looksLikeDicom(std::span<const std::byte> bytes);

// Reads a plan file of either format: DICOM when isDicomFile, else native JSON.
Result<Plan, PlanError> readPlanFile(const std::filesystem::path& file);

}  // namespace spotline::plan
