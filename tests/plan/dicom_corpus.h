#pragma once
// DICOM test material built at run time: valid synthetic RT Ion Plans, edits made through DCMTK,
// and the malformed-input corpus every reader entry point must refuse. Shared by the unit tests,
// the CLI system test and the fuzzer's seed-corpus generator.

#include <dcmtk/config/osconfig.h>  // first, for DCMTK
#include <dcmtk/dcmdata/dcdatset.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "spotline/plan/dicom.h"
#include "spotline/plan/plan.h"

namespace spotline::plan::testing {

std::vector<std::byte> readBytes(const std::filesystem::path& file);
void writeBytes(const std::filesystem::path& file, std::span<const std::byte> bytes);

// The bytes writePlanDicom gives for `plan` (through a temporary file). Throws on failure.
std::vector<std::byte> dicomBytes(const Plan& plan, const DicomWriteOptions& options = {});

// A small synthetic plan of `ion` (one beam, a few layers of 3 x 3 spots) that DICOM holds exactly.
Plan smallDicomPlan(const IonSpecies& ion);

struct EditOptions {
  bool explicitVr = true;
  bool undefinedLengths = false;  // sequences and items with undefined length (delimiters)
};

// Parses `bytes` with DCMTK, lets `edit` change the dataset, and encodes it again.
std::vector<std::byte> editDicom(std::span<const std::byte> bytes, const std::function<void(DcmDataset&)>& edit,
                                 const EditOptions& options = {});

struct MalformedCase {
  std::string name;  // also a file name: letters, digits and dashes
  std::vector<std::byte> bytes;
  std::string expect;  // a substring the reader's message must contain
};

// Every kind of bad input the reader must refuse: truncations, wrong SOP class or modality,
// missing sequences, mismatched counts, NaN and negative weights, huge declared lengths, empty
// values, and bytes that are not DICOM at all.
std::vector<MalformedCase> malformedCorpus();

}  // namespace spotline::plan::testing
