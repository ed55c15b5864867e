// The journal's command-line tools against real journals: signed checkpoints, repair after damage,
// the DICOM RT Ion Beams Treatment Record (checked with dciodvfy and read back with DCMTK), and
// overrides on the record.

#include <dcmtk/dcmdata/dctk.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "run.h"

namespace spotline::systemtest {
namespace {

namespace fs = std::filesystem;

class RecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spotline-record-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string spotline() const { return bin("spotline"); }
  std::string small() const { return std::string(SPOTLINE_SOURCE_DIR) + "/examples/plans/small.json"; }
  fs::path journal() const { return dir_ / "journal"; }
  // Every spot record's delivered value in the journal, summed over the fraction.
  double journaledMeterset(const std::string& fraction) {
    auto csv = run(spotline() + " journal spots " + quote(journal()) + " --fraction " + fraction + " --csv");
    EXPECT_EQ(csv.code, 0) << csv.text();
    std::istringstream lines(csv.out);
    std::string line;
    std::getline(lines, line);
    double sum = 0.0;
    while (std::getline(lines, line)) {
      std::vector<std::string> f;
      std::stringstream ss(line);
      for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
      sum += std::stod(f.at(5));
    }
    return sum;
  }
  // dciodvfy's complaints, one per line; the tool writes to stderr and exits 1 on any error.
  std::vector<std::string> dciodvfyErrors(const fs::path& file) {
    auto r = run("dciodvfy " + quote(file) + " 2>&1");
    std::vector<std::string> errors;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("Error")) errors.push_back(line);
    }
    return errors;
  }
  fs::path dir_;
};

bool haveDciodvfy() {
  return run("command -v dciodvfy").code == 0;
}

// dicom3tools (Debian 12's 1.00~20220618) lists Treatment Verification Status's enumerated values
// as VERIFED / VERIFIED_OVR / NOT_VERIFED, misspelled: the standard's VERIFIED is reported as an
// error. That one line, and only for VERIFIED, is not held against the record.
bool knownDciodvfyDefect(const std::string& line) {
  return line.find(
             "Unrecognized enumerated value <VERIFIED> for value 1 of attribute <Treatment Verification "
             "Status>") != std::string::npos;
}

TEST_F(RecordTest, InterruptedThenResumedFractionExportsAValidTreatmentRecord) {
  ASSERT_TRUE(haveDciodvfy()) << "dciodvfy (Debian dicom3tools) is missing; make deps installs it";
  auto first = run(spotline() + " deliver " + small() + " --room fixed-1 --journal " + quote(journal()) +
                   " --fault door-open@spot=120 --json");
  ASSERT_EQ(first.code, 4) << first.text();
  const std::string id = nlohmann::json::parse(first.out)["fraction_id"];

  // The record of the interrupted fraction: MACHINE, and the spots after the door opened read 0.
  const auto partial = dir_ / "interrupted.dcm";
  auto e1 = run(spotline() + " journal export " + quote(journal()) + " --fraction " + id + " --dicom " +
                quote(partial) + " --json");
  ASSERT_EQ(e1.code, 0) << e1.text();
  EXPECT_EQ(nlohmann::json::parse(e1.out)["termination_status"], "MACHINE");

  auto resumed = run(spotline() + " deliver " + small() + " --room fixed-1 --journal " + quote(journal()) +
                     " --resume " + id + " --json");
  ASSERT_EQ(resumed.code, 0) << resumed.text();
  const auto done = dir_ / "completed.dcm";
  auto e2 = run(spotline() + " journal export " + quote(journal()) + " --fraction " + id + " --dicom " + quote(done) +
                " --json");
  ASSERT_EQ(e2.code, 0) << e2.text();
  auto summary = nlohmann::json::parse(e2.out);
  EXPECT_EQ(summary["termination_status"], "NORMAL");
  EXPECT_EQ(summary["verification_status"], "VERIFIED");
  EXPECT_EQ(summary["sessions"], 2);
  EXPECT_EQ(summary["spots"], 216);

  for (const auto& file : {partial, done}) {
    SCOPED_TRACE(file.string());
    for (const auto& line : dciodvfyErrors(file)) {
      EXPECT_TRUE(knownDciodvfyDefect(line)) << line;
    }
  }

  // Read back with DCMTK: the IOD, the ending, and every spot's delivered meterset summing to the
  // journal's spot records.
  for (const auto& [file, status, complete] :
       {std::tuple{partial, "MACHINE", false}, std::tuple{done, "NORMAL", true}}) {
    SCOPED_TRACE(file.string());
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(file.c_str()).good());
    DcmDataset& d = *ff.getDataset();
    OFString text;
    ASSERT_TRUE(d.findAndGetOFString(DCM_SOPClassUID, text).good());
    EXPECT_EQ(text, UID_RTIonBeamsTreatmentRecordStorage);
    ASSERT_TRUE(d.findAndGetOFString(DCM_Modality, text).good());
    EXPECT_EQ(text, "RTRECORD");
    DcmItem* beam = nullptr;
    ASSERT_TRUE(d.findAndGetSequenceItem(DCM_TreatmentSessionIonBeamSequence, beam, 0).good());
    ASSERT_TRUE(beam->findAndGetOFString(DCM_TreatmentTerminationStatus, text).good());
    EXPECT_EQ(text, status);
    ASSERT_TRUE(beam->findAndGetOFString(DCM_RadiationType, text).good());
    EXPECT_EQ(text, "ION");
    DcmSequenceOfItems* cps = nullptr;
    ASSERT_TRUE(beam->findAndGetSequence(DCM_IonControlPointDeliverySequence, cps).good());
    double total = 0.0;
    std::size_t spots = 0;
    std::size_t zero = 0;
    for (unsigned long i = 0; i < cps->card(); ++i) {
      DcmItem* cp = cps->getItem(i);
      const Float32* values = nullptr;
      unsigned long n = 0;
      ASSERT_TRUE(cp->findAndGetFloat32Array(DCM_ScanSpotMetersetsDelivered, values, &n).good());
      Float64 layerDelivered = 0.0;
      ASSERT_TRUE(cp->findAndGetFloat64(DCM_DeliveredMeterset, layerDelivered).good());
      double sum = 0.0;
      for (unsigned long k = 0; k < n; ++k) {
        sum += values[k];
        zero += values[k] == 0.0F ? 1 : 0;
      }
      EXPECT_NEAR(sum, layerDelivered, 1e-6 * std::max(1.0, layerDelivered) + 1.0);
      total += sum;
      spots += n;
    }
    EXPECT_EQ(spots, 216u);
    if (complete) {
      EXPECT_EQ(zero, 0u);
      EXPECT_NEAR(total, journaledMeterset(id), 1e-5 * total);
    } else {
      EXPECT_GT(zero, 50u) << "the spots after the door opened were not delivered";
    }
  }
}

TEST_F(RecordTest, AnOverriddenRoomTransferIsOnTheRecordWithItsUser) {
  ASSERT_TRUE(haveDciodvfy()) << "dciodvfy (Debian dicom3tools) is missing; make deps installs it";
  auto d = run(spotline() + " deliver " + small() + " --room gantry-1 --journal " + quote(journal()) +
               " --override room --override-reason 'fixed line down' --user physicist-a --json");
  ASSERT_EQ(d.code, 0) << d.text();
  const std::string id = nlohmann::json::parse(d.out)["fraction_id"];
  auto fractions = run(spotline() + " journal fractions --json " + quote(journal()));
  auto listed = nlohmann::json::parse(fractions.out)["fractions"][0];
  ASSERT_EQ(listed["overrides"].size(), 1u);
  EXPECT_EQ(listed["overrides"][0]["user"], "physicist-a");
  const auto file = dir_ / "record.dcm";
  auto e = run(spotline() + " journal export " + quote(journal()) + " --fraction " + id + " --dicom " + quote(file));
  ASSERT_EQ(e.code, 0) << e.text();
  EXPECT_TRUE(dciodvfyErrors(file).empty()) << dciodvfyErrors(file).front();
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile(file.c_str()).good());
  DcmItem* beam = nullptr;
  ASSERT_TRUE(ff.getDataset()->findAndGetSequenceItem(DCM_TreatmentSessionIonBeamSequence, beam, 0).good());
  OFString text;
  ASSERT_TRUE(beam->findAndGetOFString(DCM_TreatmentVerificationStatus, text).good());
  EXPECT_EQ(text, "VERIFIED_OVR");
  DcmItem* cp = nullptr;
  ASSERT_TRUE(beam->findAndGetSequenceItem(DCM_IonControlPointDeliverySequence, cp, 0).good());
  DcmItem* ov = nullptr;
  ASSERT_TRUE(cp->findAndGetSequenceItem(DCM_OverrideSequence, ov, 0).good());
  ASSERT_TRUE(ov->findAndGetOFString(DCM_OperatorsName, text).good());
  EXPECT_EQ(text, "physicist-a");
  ASSERT_TRUE(ov->findAndGetOFString(DCM_OverrideReason, text).good());
  EXPECT_NE(std::string(text.c_str()).find("fixed line down"), std::string::npos);
}

TEST_F(RecordTest, ASigningKeyOthersMayReadExitsTwoAndJournalsNothing) {
  std::ofstream(dir_ / "journal.key") << "ed25519-seed " << std::string(64, 'a') << "\n";
  fs::permissions(dir_ / "journal.key", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                  fs::perm_options::replace);
  auto d = run(spotline() + " deliver " + small() + " --room fixed-1 --journal " + quote(journal()));
  EXPECT_EQ(d.code, 2) << d.text();
  EXPECT_NE(d.text().find("journal.key"), std::string::npos) << d.text();
  EXPECT_NE(d.text().find("chmod 600"), std::string::npos) << d.text();
  EXPECT_FALSE(fs::exists(journal() / "segment-00000001.journal"));
}

TEST_F(RecordTest, ExportOfAnUnknownFractionExitsTwo) {
  auto d = run(spotline() + " deliver " + small() + " --room fixed-1 --journal " + quote(journal()));
  ASSERT_EQ(d.code, 0) << d.text();
  auto e =
      run(spotline() + " journal export " + quote(journal()) + " --fraction F9-nope --dicom " + quote(dir_ / "x.dcm"));
  EXPECT_EQ(e.code, 2) << e.text();
  EXPECT_NE(e.text().find("F9-nope"), std::string::npos) << e.text();
  EXPECT_FALSE(fs::exists(dir_ / "x.dcm"));
}

TEST_F(RecordTest, DamageKeepsTheFacilityDownUntilARepairThatIsJournaled) {
  auto d = run(spotline() + " deliver " + small() + " --room fixed-1 --journal " + quote(journal()));
  ASSERT_EQ(d.code, 0) << d.text();
  auto ok = run(spotline() + " journal verify --json " + quote(journal()));
  ASSERT_EQ(ok.code, 0) << ok.text();
  auto v = nlohmann::json::parse(ok.out);
  EXPECT_GE(v["checkpoints"].get<int>(), 1);
  EXPECT_EQ(v["unsigned_records"], 0) << "rv signs what it journaled when it stops";
  // The facility's key, given explicitly, verifies the journal too.
  auto trusted =
      run(spotline() + " journal verify " + quote(journal()) + " --public-key " + quote(dir_ / "journal.key.pub"));
  EXPECT_EQ(trusted.code, 0) << trusted.text();

  // A changed byte in the middle of the journal.
  const auto segment = journal() / "segment-00000001.journal";
  const auto size = fs::file_size(segment);
  {
    std::fstream f(segment, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(static_cast<std::streamoff>(size / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(size / 2));
    c = static_cast<char>(c ^ 0x20);
    f.write(&c, 1);
  }
  auto bad = run(spotline() + " journal verify --json " + quote(journal()));
  EXPECT_EQ(bad.code, 3);
  auto b = nlohmann::json::parse(bad.out);
  EXPECT_EQ(b["segment"], "segment-00000001.journal");
  const auto firstBad = b["index"].get<std::uint64_t>();
  // rv refuses to start on it: nothing more is delivered or journaled.
  auto refused = run(spotline() + " deliver " + small() + " --room fixed-1 --fraction 2 --journal " + quote(journal()));
  EXPECT_EQ(refused.code, 3) << refused.text();
  EXPECT_NE(refused.text().find("journal repair"), std::string::npos) << refused.text();
  // A repair needs a person and a reason.
  EXPECT_EQ(run(spotline() + " journal repair " + quote(journal())).code, 2);
  auto repaired =
      run(spotline() + " journal repair " + quote(journal()) +
          " --user physicist-a --reason 'disk fault' --signing-key " + quote(dir_ / "journal.key") + " --json");
  ASSERT_EQ(repaired.code, 0) << repaired.text();
  auto r = nlohmann::json::parse(repaired.out);
  ASSERT_EQ(r["repairs"].size(), 1u);
  EXPECT_EQ(r["repairs"][0]["first_record_removed"], firstBad);
  EXPECT_TRUE(fs::exists(r["repairs"][0]["quarantine"].get<std::string>()));
  // The journal verifies and names the incident; the facility delivers again.
  auto after = run(spotline() + " journal verify --json " + quote(journal()));
  ASSERT_EQ(after.code, 0) << after.text();
  auto a = nlohmann::json::parse(after.out);
  ASSERT_EQ(a["incidents"].size(), 1u);
  EXPECT_EQ(a["incidents"][0]["kind"], "operator-repair");
  EXPECT_EQ(a["incidents"][0]["user"], "physicist-a");
  EXPECT_EQ(a["incidents"][0]["reason"], "disk fault");
  auto again = run(spotline() + " deliver " + small() + " --room fixed-1 --fraction 2 --journal " + quote(journal()));
  EXPECT_EQ(again.code, 0) << again.text();
}

}  // namespace
}  // namespace spotline::systemtest
