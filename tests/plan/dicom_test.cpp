// DICOM RT Ion Plans: the writer and reader agree exactly, the reader handles the forms real
// planning systems write, refuses every malformed input with where and why, and reads the real
// exports in ../shared/data/dicom to the numbers the standard gives.

#include <dcmtk/config/osconfig.h>  // first, for DCMTK
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "dicom_corpus.h"
#include "spotline/plan/dicom.h"
#include "spotline/plan/hash.h"
#include "spotline/plan/json_format.h"
#include "spotline/plan/synth.h"
#include "test_plans.h"

namespace spotline::plan {
namespace {

using testing::dicomBytes;
using testing::editDicom;
using testing::smallDicomPlan;

Result<Plan, PlanError> parse(const std::vector<std::byte>& bytes) {
  return parsePlanDicom(bytes, "test.dcm");
}

Plan parsed(const std::vector<std::byte>& bytes) {
  auto r = parse(bytes);
  if (!r) ADD_FAILURE() << r.error().message;
  return r ? r.value() : Plan{};
}

DcmItem& beamItem(DcmDataset& ds) {
  DcmItem* item = nullptr;
  ds.findAndGetSequenceItem(DCM_IonBeamSequence, item, 0);
  return *item;
}

// ---------------------------------------------------------------------------------------------
// Writing and reading back

class RoundTrip : public ::testing::TestWithParam<IonSpecies> {};

TEST_P(RoundTrip, WrittenPlanReadsBackIdenticalInBothTransferSyntaxes) {
  const Plan plan = smallDicomPlan(GetParam());
  for (const bool explicitVr : {true, false}) {
    const Plan back = parsed(dicomBytes(plan, DicomWriteOptions{.explicitVr = explicitVr}));
    EXPECT_EQ(back, plan) << ionName(GetParam()) << (explicitVr ? " explicit" : " implicit");
    EXPECT_EQ(contentHash(back), contentHash(plan));
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIon, RoundTrip, ::testing::Values(kCarbon, kHelium, kOxygen, kNeon, kProton),
                         [](const auto& param) { return ionName(param.param); });

TEST(DicomWrite, SameBytesEveryTime) {
  const Plan plan = smallDicomPlan(kOxygen);
  EXPECT_EQ(dicomBytes(plan), dicomBytes(plan));
}

TEST(DicomWrite, TheCarbonExampleRoundTrips) {
  auto example = readPlanJson(std::filesystem::path(SPOTLINE_SOURCE_DIR) / "examples/plans/carbon-10k.json");
  ASSERT_TRUE(example) << example.error().message;
  const Plan back = parsed(dicomBytes(example.value()));
  EXPECT_EQ(back, example.value());
  EXPECT_EQ(totals(back).spots, 9261u);
}

Plan richPlan() {
  Plan plan = smallDicomPlan(kHelium);
  plan.metersetUnit = MetersetUnit::MU;
  plan.fractionsPlanned = 5;
  plan.approval = Approval::Unapproved;
  plan.label = "rich plan";
  Beam& beam = plan.beams[0];
  beam.couchAngle = Degrees(270.5);
  beam.isocentreMm = {12.5, -7.25, 3.0};
  beam.rangeShifters = {RangeShifter{0, "RS30", "BINARY"}, RangeShifter{1, "RS20", "ANALOG"}};
  for (std::size_t l = 0; l < beam.layers.size(); ++l) {
    Layer& layer = beam.layers[l];
    layer.tuneId = "T" + std::to_string(l);
    layer.spotSizeMm = {4.5, 5.25};
    layer.paintings = static_cast<int>(l % 3) + 1;
    layer.rangeShifter = l == 0 ? "" : (l % 2 == 0 ? "RS30" : "RS20");
    for (Spot& s : layer.spots) s.meterset = 0.25 * static_cast<double>(l + 1);
  }
  Beam setup = beam;
  setup.number = BeamNumber(9);
  setup.name = "setup";
  setup.treatment = false;
  plan.beams.push_back(setup);
  return plan;
}

TEST(DicomWrite, EveryModelFieldSurvives) {
  const Plan plan = richPlan();
  const Plan back = parsed(dicomBytes(plan));
  EXPECT_EQ(back, plan);
  ASSERT_EQ(back.beams.size(), 2u);
  EXPECT_EQ(back.beams[0].layers[1].rangeShifter, "RS20");
  EXPECT_EQ(back.beams[0].layers[2].rangeShifter, "RS30");
  EXPECT_EQ(back.beams[0].layers[0].rangeShifter, "");
  EXPECT_FALSE(back.beams[1].treatment);
  EXPECT_EQ(back.beams[0].layers[1].sourceControlPoint, 2);
}

TEST(DicomWrite, RefusesWhatDicomCannotHoldExactly) {
  const auto refused = [](Plan plan, const std::string& expect) {
    const auto file = std::filesystem::temp_directory_path() / "spotline-refused.dcm";
    std::filesystem::remove(file);
    auto r = writePlanDicom(plan, file);
    ASSERT_FALSE(r) << expect;
    EXPECT_EQ(r.error().code, PlanError::Invalid);
    EXPECT_NE(r.error().message.find(expect), std::string::npos) << r.error().message;
    EXPECT_FALSE(std::filesystem::exists(file)) << "nothing is written for a refused plan";
  };
  Plan p = smallDicomPlan(kCarbon);
  p.label = "a label longer than sixteen";
  refused(p, "label (RTPlanLabel) \"a label longer than sixteen\" has 27 characters; DICOM allows 16");
  p = smallDicomPlan(kCarbon);
  p.beams[0].layers[1].spots[2].meterset = 0.1;
  refused(p, "beam 1, layer 2, spot 3 meterset 0.1 is not exactly representable as a DICOM FL");
  p = smallDicomPlan(kCarbon);
  p.beams[0].layers[0].spots.clear();
  refused(p, "beam 1, layer 1 has no spots");
  p = smallDicomPlan(kCarbon);
  p.uid = PlanUid("not-a-uid");
  refused(p, "plan UID \"not-a-uid\" is not a DICOM UID");
  p = smallDicomPlan(kCarbon);
  p.beams[0].layers[0].energy = MeVPerNucleon(1.0 / 3.0);
  refused(p, "layer 1 energy 0.3333333333333333 needs more than the 16 characters");
  p = smallDicomPlan(kCarbon);
  p.beams[0].layers[0].rangeShifter = "RS99";
  refused(p, "uses range shifter \"RS99\", not declared in the beam");
}

// ---------------------------------------------------------------------------------------------
// The forms real systems write

TEST(DicomRead, ClosingControlPointWithoutEnergyCarriesTheLastOneForward) {
  const Plan plan = smallDicomPlan(kCarbon);
  const auto bytes = editDicom(dicomBytes(plan), [](DcmDataset& ds) {
    DcmSequenceOfItems* cps = nullptr;
    beamItem(ds).findAndGetSequence(DCM_IonControlPointSequence, cps);
    for (unsigned long c = 1; c < cps->card(); c += 2) delete cps->getItem(c)->remove(DCM_NominalBeamEnergy);
  });
  EXPECT_EQ(parsed(bytes), plan);
}

TEST(DicomRead, OneControlPointPerLayerGivesTheSameLayers) {
  const Plan plan = smallDicomPlan(kCarbon);
  ASSERT_GE(plan.beams[0].layers.size(), 2u);
  const auto bytes = editDicom(dicomBytes(plan), [](DcmDataset& ds) {
    DcmSequenceOfItems* cps = nullptr;
    beamItem(ds).findAndGetSequence(DCM_IonControlPointSequence, cps);
    // Drop every zero-weight closing point but the beam's last one.
    for (long c = static_cast<long>(cps->card()) - 3; c >= 1; c -= 2) delete cps->remove(static_cast<unsigned long>(c));
    for (unsigned long c = 0; c < cps->card(); ++c) {
      cps->getItem(c)->putAndInsertString(DCM_ControlPointIndex, std::to_string(c).c_str());
    }
    beamItem(ds).putAndInsertString(DCM_NumberOfControlPoints, std::to_string(cps->card()).c_str());
  });
  const Plan back = parsed(bytes);
  ASSERT_EQ(back.beams[0].layers.size(), plan.beams[0].layers.size());
  EXPECT_EQ(back, plan);
  EXPECT_EQ(back.beams[0].layers[1].sourceControlPoint, 1) << "layers counted by weight, not control points / 2";
}

TEST(DicomRead, SpotMetersetScalesByBeamMetersetOverFinalCumulativeWeight) {
  const Plan plan = smallDicomPlan(kCarbon);
  const auto bytes = editDicom(dicomBytes(plan), [](DcmDataset& ds) {
    DcmItem* group = nullptr;
    DcmItem* ref = nullptr;
    ds.findAndGetSequenceItem(DCM_FractionGroupSequence, group, 0);
    group->findAndGetSequenceItem(DCM_ReferencedBeamSequence, ref, 0);
    Float64 meterset = 0;
    ref->findAndGetFloat64(DCM_BeamMeterset, meterset);
    ref->putAndInsertString(DCM_BeamMeterset, std::to_string(meterset * 2.5).c_str());
  });
  const Plan back = parsed(bytes);
  ASSERT_EQ(totals(back).spots, totals(plan).spots);
  for (std::size_t l = 0; l < plan.beams[0].layers.size(); ++l) {
    for (std::size_t s = 0; s < plan.beams[0].layers[l].spots.size(); ++s) {
      EXPECT_NEAR(back.beams[0].layers[l].spots[s].meterset, 2.5 * plan.beams[0].layers[l].spots[s].meterset,
                  1e-9 * plan.beams[0].layers[l].spots[s].meterset);
    }
  }
}

TEST(DicomRead, UndefinedLengthSequencesAndPrivateTagsReadTheSame) {
  const Plan plan = richPlan();
  for (const bool explicitVr : {true, false}) {
    const auto bytes = editDicom(
        dicomBytes(plan),
        [](DcmDataset& ds) {
          // A vendor's private block in the dataset, a beam and a control point.
          for (DcmItem* item : {static_cast<DcmItem*>(&ds), &beamItem(ds)}) {
            item->putAndInsertString(DcmTag(0x3261, 0x0010, EVR_LO), "ACME PLANNING 1.0");
            item->putAndInsertString(DcmTag(0x3261, 0x1001, EVR_LO), "private value");
          }
          DcmItem* cp = nullptr;
          beamItem(ds).findAndGetSequenceItem(DCM_IonControlPointSequence, cp, 0);
          cp->putAndInsertString(DcmTag(0x3261, 0x0010, EVR_LO), "ACME PLANNING 1.0");
          cp->putAndInsertString(DcmTag(0x3261, 0x1002, EVR_UN), "opaque");
        },
        testing::EditOptions{.explicitVr = explicitVr, .undefinedLengths = true});
    EXPECT_EQ(parsed(bytes), plan) << (explicitVr ? "explicit" : "implicit");
  }
}

TEST(DicomRead, ApprovalIsUnapprovedWithoutTheApprovalModule) {
  const auto bytes =
      editDicom(dicomBytes(smallDicomPlan(kCarbon)), [](DcmDataset& ds) { delete ds.remove(DCM_ApprovalStatus); });
  EXPECT_EQ(parsed(bytes).approval, Approval::Unapproved);
}

TEST(DicomRead, ReadPlanFileTellsTheFormatsApart) {
  const auto dir = std::filesystem::temp_directory_path();
  const Plan plan = smallDicomPlan(kNeon);
  ASSERT_TRUE(writePlanDicom(plan, dir / "spotline-any.dcm"));
  auto fromDicom = readPlanFile(dir / "spotline-any.dcm");
  ASSERT_TRUE(fromDicom) << fromDicom.error().message;
  EXPECT_EQ(fromDicom.value(), plan);
  auto fromJson = readPlanFile(std::filesystem::path(SPOTLINE_SOURCE_DIR) / "examples/plans/small.json");
  ASSERT_TRUE(fromJson) << fromJson.error().message;
  EXPECT_EQ(totals(fromJson.value()).spots, 216u);
  std::filesystem::remove(dir / "spotline-any.dcm");
}

// ---------------------------------------------------------------------------------------------
// Malformed input

TEST(DicomRead, EveryMalformedInputIsRefusedWithWhereAndWhy) {
  const auto corpus = testing::malformedCorpus();
  ASSERT_GE(corpus.size(), 30u);
  for (const auto& c : corpus) {
    auto r = parsePlanDicom(c.bytes, c.name + ".dcm");
    ASSERT_FALSE(r) << c.name << " was accepted";
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos)
        << c.name << ": expected \"" << c.expect << "\" in:\n"
        << r.error().message;
    EXPECT_EQ(r.error().message.rfind(c.name + ".dcm: ", 0), 0u) << c.name << ": every line names the source";
  }
}

TEST(DicomRead, ReportsEveryProblemNotOnlyTheFirst) {
  const auto bytes = editDicom(dicomBytes(smallDicomPlan(kCarbon)), [](DcmDataset& ds) {
    ds.putAndInsertString(DCM_Modality, "CT");
    ds.putAndInsertString(DCM_PatientID, "");
    beamItem(ds).putAndInsertString(DCM_PrimaryDosimeterUnit, "GY");
  });
  std::vector<DicomProblem> problems;
  auto r = parsePlanDicom(bytes, "test.dcm", &problems);
  ASSERT_FALSE(r);
  for (const char* expect : {"Modality is \"CT\"", "PatientID is missing", "PrimaryDosimeterUnit is \"GY\""}) {
    EXPECT_NE(r.error().message.find(expect), std::string::npos) << r.error().message;
  }
  // The same problems, each with its place, for tools (validate --json).
  EXPECT_EQ(problems,
            (std::vector<DicomProblem>{{"", "Modality is \"CT\", expected RTPLAN"},
                                       {"", "PatientID is missing or empty"},
                                       {"beam 1 (\"Field 1\")", "PrimaryDosimeterUnit is \"GY\", expected MU or NP"}}));
}

TEST(DicomRead, ProblemsNameTheBeamControlPointAndSpot) {
  const auto bytes = editDicom(dicomBytes(smallDicomPlan(kCarbon)), [](DcmDataset& ds) {
    DcmItem* cp = nullptr;
    beamItem(ds).findAndGetSequenceItem(DCM_IonControlPointSequence, cp, 2);
    const Float32* w = nullptr;
    unsigned long n = 0;
    cp->findAndGetFloat32Array(DCM_ScanSpotMetersetWeights, w, &n);
    std::vector<Float32> copy(w, w + n);
    copy[6] = -1.0F;
    cp->putAndInsertFloat32Array(DCM_ScanSpotMetersetWeights, copy.data(), n);
  });
  std::vector<DicomProblem> problems;
  ASSERT_FALSE(parsePlanDicom(bytes, "test.dcm", &problems));
  ASSERT_FALSE(problems.empty());
  EXPECT_EQ(problems[0],
            (DicomProblem{"beam 1 (\"Field 1\"), control point 2, spot 7", "ScanSpotMetersetWeights is -1, negative"}));
}

TEST(DicomRead, MissingAndOversizedFilesAreUnreadable) {
  auto missing = readPlanDicom("/nonexistent/plan.dcm");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, PlanError::Unreadable);
  EXPECT_NE(missing.error().message.find("/nonexistent/plan.dcm"), std::string::npos);
  std::vector<std::byte> huge(kMaxDicomFileBytes + 1);
  auto big = parsePlanDicom(huge, "big.dcm");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, PlanError::Unreadable);
}

// ---------------------------------------------------------------------------------------------
// Real exports (../shared/data/dicom). Expected numbers come from the standard's rules applied by
// hand to each file's attributes (dcmdump): layers are control points with a nonzero weight sum,
// spot meterset = weight x BeamMeterset / FinalCumulativeMetersetWeight.

std::filesystem::path sharedDicom(const std::string& name) {
  const char* env = std::getenv("SPOTLINE_DICOM_DATA");
  const std::filesystem::path dir =
      env != nullptr ? std::filesystem::path(env) : std::filesystem::path(SPOTLINE_SOURCE_DIR) / "../shared/data/dicom";
  return dir / name;
}

#define REAL_PLAN(var, name)                                                          \
  const auto var##_path = sharedDicom(name);                                          \
  if (!std::filesystem::exists(var##_path)) GTEST_SKIP() << "absent: " << var##_path; \
  auto var##_read = readPlanDicom(var##_path);                                        \
  ASSERT_TRUE(var##_read) << var##_read.error().message;                              \
  const Plan& var = var##_read.value()

TEST(RealPlans, EclipseQaPlanFourBeamsOneLayerEach) {
  REAL_PLAN(p, "pymchelper_RN.1.2.246.352.71.5.361940808526.37240.20200311150225.dcm");
  EXPECT_EQ(p.uid.value(), "1.2.246.352.71.5.361940808526.37240.20200311150225");
  EXPECT_EQ(p.patient.value(), "test_XRV4000");
  EXPECT_EQ(p.label, "TR3QAplan v02");
  EXPECT_EQ(p.approval, Approval::Approved);
  EXPECT_EQ(p.metersetUnit, MetersetUnit::MU);
  ASSERT_EQ(p.beams.size(), 4u);
  const double energies[4] = {80, 130, 160, 210};
  for (std::size_t b = 0; b < 4; ++b) {
    const Beam& beam = p.beams[b];
    EXPECT_EQ(beam.number.value(), b + 1);
    EXPECT_EQ(beam.machine, "TR3");
    EXPECT_EQ(beam.radiation, Radiation::Proton);
    ASSERT_EQ(beam.layers.size(), 1u) << "two control points, one layer";
    EXPECT_EQ(beam.layers[0].energy.value(), energies[b]) << "the closing point omits the energy";
    EXPECT_EQ(beam.layers[0].spots.size(), 117u);
    EXPECT_NEAR(beamMeterset(beam), 2340.0, 1e-9) << "BeamMeterset 2340 over FinalCumulativeMetersetWeight 1170";
    EXPECT_EQ(beam.layers[0].tuneId, "4.0");
  }
  // First spot: position (120, -180), weight 10 -> 10 x 2340 / 1170 = 20 MU.
  EXPECT_EQ(p.beams[0].layers[0].spots[0].x.value(), 120.0);
  EXPECT_EQ(p.beams[0].layers[0].spots[0].y.value(), -180.0);
  EXPECT_DOUBLE_EQ(p.beams[0].layers[0].spots[0].meterset, 20.0);
  EXPECT_NEAR(totals(p).meterset, 9360.0, 1e-9);
}

TEST(RealPlans, RayStationSobpWithRangeShifterNumberedZero) {
  REAL_PLAN(p, "2022_DCPT_LET_RP1.2.752.243.1.1.20260105182345801.4870.23686.dcm");
  ASSERT_EQ(p.beams.size(), 1u);
  const Beam& beam = p.beams[0];
  EXPECT_EQ(beam.layers.size(), 15u);
  EXPECT_EQ(totals(p).spots, 5775u);
  EXPECT_NEAR(totals(p).meterset, 60606.05, 0.01);
  EXPECT_DOUBLE_EQ(beam.layers.front().energy.value(), 125.9);
  EXPECT_DOUBLE_EQ(beam.layers.back().energy.value(), 81.4);
  ASSERT_EQ(beam.rangeShifters.size(), 1u);
  EXPECT_EQ(beam.rangeShifters[0], (RangeShifter{0, "RS_3CM", "BINARY"}));
  for (const Layer& layer : beam.layers) EXPECT_EQ(layer.rangeShifter, "RS_3CM");
  EXPECT_EQ(beam.isocentreMm[1], -55.0);
  EXPECT_NEAR(beam.layers[0].spotSizeMm[0], 10.3732, 1e-4);
}

TEST(RealPlans, TopasDemoInParticlesWithAnUnusedRangeShifter) {
  REAL_PLAN(p, "topas-dicom-interface_rtip_demo.dcm");
  EXPECT_EQ(p.metersetUnit, MetersetUnit::NP);
  EXPECT_EQ(p.approval, Approval::Unapproved) << "no ApprovalStatus in the file";
  EXPECT_EQ(p.fractionsPlanned, 14);
  ASSERT_EQ(p.beams.size(), 1u);
  const Beam& beam = p.beams[0];
  EXPECT_EQ(beam.machine, "1.1");
  EXPECT_EQ(beam.gantryAngle.value(), 90.0);
  EXPECT_EQ(beam.layers.size(), 12u);
  EXPECT_EQ(totals(p).spots, 246u);
  EXPECT_NEAR(totals(p).meterset / 2.48879e10, 1.0, 1e-6);
  ASSERT_EQ(beam.rangeShifters.size(), 1u);
  for (const Layer& layer : beam.layers) EXPECT_EQ(layer.rangeShifter, "") << "declared but never set IN";
  EXPECT_DOUBLE_EQ(beam.layers.front().energy.value(), 155.03);
  EXPECT_DOUBLE_EQ(beam.layers.back().energy.value(), 120.96);
  EXPECT_EQ(beam.layers[0].spots.size(), 3u);
}

TEST(RealPlans, DicomEditResaveOffCentreIsocentre) {
  REAL_PLAN(p, "dicomfix_Plan5.5.dcm");
  ASSERT_EQ(p.beams.size(), 1u);
  const Beam& beam = p.beams[0];
  EXPECT_EQ(beam.machine, "TR4");
  EXPECT_EQ(beam.gantryAngle.value(), 90.0);
  EXPECT_EQ(beam.isocentreMm, (std::array<double, 3>{150.0, -117.5, 0.0}));
  EXPECT_EQ(beam.layers.size(), 8u);
  EXPECT_EQ(totals(p).spots, 784u);
  EXPECT_NEAR(totals(p).meterset, 38433.96, 0.01);
  EXPECT_DOUBLE_EQ(beam.layers.front().energy.value(), 106.483);
  EXPECT_DOUBLE_EQ(beam.layers.back().energy.value(), 83.383);
}

}  // namespace
}  // namespace spotline::plan
