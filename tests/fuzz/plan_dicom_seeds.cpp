// Writes the seed corpus for plan_dicom_fuzzer: valid synthetic RT Ion Plans of every ion in both
// transfer syntaxes, with undefined lengths and private tags, and the malformed-input corpus.
// Usage: plan_dicom_seeds OUTDIR

#include <dcmtk/config/osconfig.h>  // first, for DCMTK
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>

#include <filesystem>
#include <iostream>

#include "dicom_corpus.h"

int main(int argc, char** argv) {
  using namespace spotline::plan;
  if (argc != 2) {
    std::cerr << "usage: plan_dicom_seeds OUTDIR\n";
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out);
  int written = 0;
  for (const IonSpecies& ion : {kCarbon, kHelium, kOxygen, kNeon, kProton}) {
    const Plan plan = testing::smallDicomPlan(ion);
    const auto explicitVr = testing::dicomBytes(plan);
    testing::writeBytes(out / ("valid-" + ionName(ion) + "-explicit.dcm"), explicitVr);
    testing::writeBytes(out / ("valid-" + ionName(ion) + "-implicit.dcm"),
                        testing::dicomBytes(plan, DicomWriteOptions{.explicitVr = false}));
    testing::writeBytes(out / ("valid-" + ionName(ion) + "-undefined-lengths.dcm"),
                        testing::editDicom(
                            explicitVr,
                            [](DcmDataset& ds) {
                              ds.putAndInsertString(DcmTag(0x3261, 0x0010, EVR_LO), "ACME PLANNING 1.0");
                              ds.putAndInsertString(DcmTag(0x3261, 0x1001, EVR_LO), "private");
                            },
                            testing::EditOptions{.explicitVr = false, .undefinedLengths = true}));
    written += 3;
  }
  for (const auto& c : testing::malformedCorpus()) {
    testing::writeBytes(out / ("malformed-" + c.name + ".dcm"), c.bytes);
    ++written;
  }
  std::cout << "wrote " << written << " seeds to " << out.string() << "\n";
  return 0;
}
