#include "dicom_corpus.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "spotline/plan/synth.h"

namespace spotline::plan::testing {

namespace {

std::filesystem::path tempFile(std::string_view stem) {
  static std::atomic<int> counter{0};
  return std::filesystem::temp_directory_path() / ("spotline-" + std::string(stem) + "-" + std::to_string(::getpid()) +
                                                   "-" + std::to_string(counter++) + ".dcm");
}

DcmItem& beamItem(DcmDataset& ds, unsigned long beam = 0) {
  DcmItem* item = nullptr;
  if (ds.findAndGetSequenceItem(DCM_IonBeamSequence, item, static_cast<int>(beam)).bad() || item == nullptr) {
    throw std::runtime_error("test corpus: no beam item");
  }
  return *item;
}

DcmItem& controlPoint(DcmDataset& ds, unsigned long cp, unsigned long beam = 0) {
  DcmItem* item = nullptr;
  if (beamItem(ds, beam).findAndGetSequenceItem(DCM_IonControlPointSequence, item, static_cast<int>(cp)).bad() ||
      item == nullptr) {
    throw std::runtime_error("test corpus: no control point item");
  }
  return *item;
}

DcmItem& referencedBeam(DcmDataset& ds) {
  DcmItem* group = nullptr;
  DcmItem* ref = nullptr;
  if (ds.findAndGetSequenceItem(DCM_FractionGroupSequence, group, 0).bad() || group == nullptr ||
      group->findAndGetSequenceItem(DCM_ReferencedBeamSequence, ref, 0).bad() || ref == nullptr) {
    throw std::runtime_error("test corpus: no referenced beam item");
  }
  return *ref;
}

void setString(DcmItem& item, const DcmTagKey& key, const char* value) {
  if (item.putAndInsertString(DcmTag(key), value).bad()) throw std::runtime_error("test corpus: cannot set value");
}

std::vector<Float32> floats(DcmItem& item, const DcmTagKey& key) {
  const Float32* values = nullptr;
  unsigned long count = 0;
  if (item.findAndGetFloat32Array(key, values, &count).bad()) throw std::runtime_error("test corpus: no FL array");
  return {values, values + count};
}

void setFloats(DcmItem& item, const DcmTagKey& key, const std::vector<Float32>& values) {
  if (item.putAndInsertFloat32Array(DcmTag(key), values.data(), values.size()).bad()) {
    throw std::runtime_error("test corpus: cannot set FL array");
  }
}

// The offset of the first element with this tag, found by its little-endian tag bytes.
std::size_t findTag(std::span<const std::byte> bytes, std::uint16_t group, std::uint16_t element) {
  const std::byte pattern[4] = {std::byte(group & 0xff), std::byte(group >> 8), std::byte(element & 0xff),
                                std::byte(element >> 8)};
  for (std::size_t i = 132; i + 4 <= bytes.size(); ++i) {
    if (std::memcmp(bytes.data() + i, pattern, 4) == 0) return i;
  }
  throw std::runtime_error("test corpus: tag not found");
}

std::uint32_t readU32(const std::vector<std::byte>& bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint32_t>(bytes[at + static_cast<std::size_t>(i)]);
  return v;
}

void putU32(std::vector<std::byte>& bytes, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[at + static_cast<std::size_t>(i)] = std::byte((v >> (8 * i)) & 0xff);
}

}  // namespace

std::vector<std::byte> readBytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

void writeBytes(const std::filesystem::path& file, std::span<const std::byte> bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::vector<std::byte> dicomBytes(const Plan& plan, const DicomWriteOptions& options) {
  const std::filesystem::path file = tempFile("plan");
  auto written = writePlanDicom(plan, file, options);
  if (!written) throw std::runtime_error(written.error().message);
  std::vector<std::byte> bytes = readBytes(file);
  std::filesystem::remove(file);
  return bytes;
}

Plan smallDicomPlan(const IonSpecies& ion) {
  SynthOptions o;
  o.ion = ion;
  o.targetSizeMm = 6.0;
  o.spotSpacingMm = 3.0;
  o.depthMm = ion == kNeon ? 60.0 : 80.0;
  o.seed = 7;
  return synthesizePlan(o);
}

std::vector<std::byte> editDicom(std::span<const std::byte> bytes, const std::function<void(DcmDataset&)>& edit,
                                 const EditOptions& options) {
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  DcmFileFormat file;
  file.transferInit();
  const OFCondition read = file.read(stream);
  file.transferEnd();
  if (read.bad()) throw std::runtime_error(std::string("test corpus: cannot parse: ") + read.text());
  edit(*file.getDataset());
  const std::filesystem::path out = tempFile("edit");
  const OFCondition saved =
      file.saveFile(out.c_str(), options.explicitVr ? EXS_LittleEndianExplicit : EXS_LittleEndianImplicit,
                    options.undefinedLengths ? EET_UndefinedLength : EET_ExplicitLength);
  if (saved.bad()) throw std::runtime_error(std::string("test corpus: cannot save: ") + saved.text());
  std::vector<std::byte> result = readBytes(out);
  std::filesystem::remove(out);
  return result;
}

std::vector<MalformedCase> malformedCorpus() {
  const std::vector<std::byte> valid = dicomBytes(smallDicomPlan(kCarbon));
  const std::vector<std::byte> implicitVr = dicomBytes(smallDicomPlan(kCarbon), DicomWriteOptions{.explicitVr = false});
  std::vector<MalformedCase> corpus;
  const auto edited = [&](std::string name, std::string expect, const std::function<void(DcmDataset&)>& edit) {
    corpus.push_back({std::move(name), editDicom(valid, edit), std::move(expect)});
  };

  // Not DICOM, or cut short.
  corpus.push_back({"empty-file", {}, "not a DICOM Part 10 file"});
  {
    const std::string json = R"({"format": "spotline-plan", "version": 1})";
    std::vector<std::byte> bytes(json.size());
    std::memcpy(bytes.data(), json.data(), json.size());
    corpus.push_back({"json-not-dicom", bytes, "not a DICOM Part 10 file"});
  }
  corpus.push_back({"preamble-only", {valid.begin(), valid.begin() + 132}, "the file ends early"});
  for (const int percent : {10, 50, 90, 99}) {
    const auto cut = static_cast<std::ptrdiff_t>(valid.size() * static_cast<std::size_t>(percent) / 100);
    corpus.push_back({"truncated-" + std::to_string(percent) + "-percent",
                      {valid.begin(), valid.begin() + cut},
                      "the file ends early"});
  }
  corpus.push_back({"last-byte-missing", {valid.begin(), valid.end() - 1}, "the file ends early"});
  {
    std::vector<std::byte> bytes(valid.begin(), valid.begin() + 132);
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 4096; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      bytes.push_back(std::byte(x & 0xff));
    }
    corpus.push_back({"garbage-after-preamble", bytes, "does not begin with its group length"});
  }
  {
    // IonBeamSequence (300A,03A2), explicit VR "SQ": 2 reserved bytes, then a 4-byte length.
    std::vector<std::byte> bytes = valid;
    putU32(bytes, findTag(bytes, 0x300a, 0x03a2) + 8, 0xfffffff0u);
    corpus.push_back({"huge-sequence-length", bytes, "(300A,03A2) at byte"});
  }
  {
    // ScanSpotPositionMap (300A,0394) in implicit VR: a 4-byte length right after the tag.
    std::vector<std::byte> bytes = implicitVr;
    putU32(bytes, findTag(bytes, 0x300a, 0x0394) + 4, 0x7ffffff0u);
    corpus.push_back({"huge-element-length", bytes, "element (300A,0394) at byte"});
  }

  {
    // Explicit VR Big Endian (retired) declared in the meta header: same length as the real UID.
    std::vector<std::byte> bytes = valid;
    const std::string from = "1.2.840.10008.1.2.1";
    const auto* begin = reinterpret_cast<const char*>(bytes.data());
    const std::string_view view(begin, bytes.size());
    const std::size_t at = view.find(from, 132);
    if (at == std::string_view::npos) throw std::runtime_error("test corpus: transfer syntax not found");
    bytes[at + from.size() - 1] = std::byte{'2'};
    corpus.push_back({"big-endian-transfer-syntax", bytes, "transfer syntax 1.2.840.10008.1.2.2 is not supported"});
  }

  {
    // File meta information that does not bound itself: DCMTK would guess the encoding.
    std::vector<std::byte> bytes = valid;
    bytes[132] = std::byte{0x02};
    bytes[133] = std::byte{0x01};  // (0102,0000): not the group length
    corpus.push_back({"meta-without-group-length", bytes, "does not begin with its group length (0002,0000)"});
    bytes = valid;
    putU32(bytes, 140, readU32(bytes, 140) - 8);  // group length short of the last meta element
    corpus.push_back({"meta-group-length-short", bytes, "file meta information"});
    bytes = valid;
    putU32(bytes, 140, 0x7ffffff0u);
    corpus.push_back({"meta-group-length-huge", bytes, "file meta information group length 2147483632"});
  }

  // Well-formed DICOM that is not an RT Ion Plan.
  edited("wrong-sop-class-ct", "not an RT Ion Plan: SOPClassUID is 1.2.840.10008.5.1.4.1.1.2",
         [](DcmDataset& ds) { setString(ds, DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.2"); });
  edited("wrong-sop-class-rt-plan", "not an RT Ion Plan",
         [](DcmDataset& ds) { setString(ds, DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.481.5"); });
  edited("wrong-modality", "Modality is \"CT\", expected RTPLAN",
         [](DcmDataset& ds) { setString(ds, DCM_Modality, "CT"); });

  // Missing sequences and values.
  edited("no-ion-beam-sequence", "IonBeamSequence is missing", [](DcmDataset& ds) {
    delete ds.remove(DCM_IonBeamSequence);  // NOLINT(cppcoreguidelines-owning-memory): DCMTK hands it over
  });
  edited("no-fraction-group", "FractionGroupSequence is missing",
         [](DcmDataset& ds) { delete ds.remove(DCM_FractionGroupSequence); });
  edited("no-control-points", "beam 1 (\"Field 1\"): IonControlPointSequence is missing",
         [](DcmDataset& ds) { delete beamItem(ds).remove(DCM_IonControlPointSequence); });
  edited("empty-patient-id", "PatientID is missing or empty", [](DcmDataset& ds) { setString(ds, DCM_PatientID, ""); });
  edited("empty-energy", "control point 0: NominalBeamEnergy is missing or empty",
         [](DcmDataset& ds) { setString(controlPoint(ds, 0), DCM_NominalBeamEnergy, ""); });
  edited("energy-not-a-number", "NominalBeamEnergy is not a number: \"fast\"",
         [](DcmDataset& ds) { setString(controlPoint(ds, 0), DCM_NominalBeamEnergy, "fast"); });
  edited("ion-without-atomic-number", "RadiationAtomicNumber is missing",
         [](DcmDataset& ds) { delete beamItem(ds).remove(DCM_RadiationAtomicNumber); });
  edited("missing-beam-meterset", "no BeamMeterset for this beam",
         [](DcmDataset& ds) { delete referencedBeam(ds).remove(DCM_BeamMeterset); });
  edited("unknown-dosimeter-unit", "PrimaryDosimeterUnit is \"GY\", expected MU or NP",
         [](DcmDataset& ds) { setString(beamItem(ds), DCM_PrimaryDosimeterUnit, "GY"); });
  edited("passive-scattering", "ScanMode is \"UNIFORM\"",
         [](DcmDataset& ds) { setString(beamItem(ds), DCM_ScanMode, "UNIFORM"); });

  // Counts that do not match.
  edited("spot-count-mismatch", "control point 0: NumberOfScanSpotPositions is 10 but ScanSpotMetersetWeights has 9",
         [](DcmDataset& ds) { setString(controlPoint(ds, 0), DCM_NumberOfScanSpotPositions, "10"); });
  edited("position-map-short", "ScanSpotPositionMap has 17 values, expected 2 x 9", [](DcmDataset& ds) {
    std::vector<Float32> map = floats(controlPoint(ds, 0), DCM_ScanSpotPositionMap);
    map.pop_back();
    setFloats(controlPoint(ds, 0), DCM_ScanSpotPositionMap, map);
  });
  edited("control-point-count-mismatch", "NumberOfControlPoints is 99 but IonControlPointSequence has",
         [](DcmDataset& ds) { setString(beamItem(ds), DCM_NumberOfControlPoints, "99"); });
  edited("beam-count-mismatch", "NumberOfBeams is 2 but ReferencedBeamSequence has 1 items", [](DcmDataset& ds) {
    DcmItem* group = nullptr;
    ds.findAndGetSequenceItem(DCM_FractionGroupSequence, group, 0);
    setString(*group, DCM_NumberOfBeams, "2");
  });
  edited("final-weight-mismatch", "but FinalCumulativeMetersetWeight is", [](DcmDataset& ds) {
    Float64 w = 0;
    beamItem(ds).findAndGetFloat64(DCM_FinalCumulativeMetersetWeight, w);
    setString(beamItem(ds), DCM_FinalCumulativeMetersetWeight, std::to_string(w * 2).c_str());
  });
  edited("weighted-last-control-point", "the last control point carries weight", [](DcmDataset& ds) {
    DcmSequenceOfItems* cps = nullptr;
    beamItem(ds).findAndGetSequence(DCM_IonControlPointSequence, cps);
    DcmItem& last = *cps->getItem(cps->card() - 1);
    std::vector<Float32> w = floats(last, DCM_ScanSpotMetersetWeights);
    for (Float32& v : w) v = 1000.0F;
    setFloats(last, DCM_ScanSpotMetersetWeights, w);
  });

  // Weights that are not weights.
  edited("nan-weight", "control point 0, spot 4: ScanSpotMetersetWeights is nan, not a finite number",
         [](DcmDataset& ds) {
           std::vector<Float32> w = floats(controlPoint(ds, 0), DCM_ScanSpotMetersetWeights);
           w[3] = std::numeric_limits<Float32>::quiet_NaN();
           setFloats(controlPoint(ds, 0), DCM_ScanSpotMetersetWeights, w);
         });
  edited("negative-weight", "control point 2, spot 1: ScanSpotMetersetWeights is -5000, negative", [](DcmDataset& ds) {
    std::vector<Float32> w = floats(controlPoint(ds, 2), DCM_ScanSpotMetersetWeights);
    w[0] = -5000.0F;
    setFloats(controlPoint(ds, 2), DCM_ScanSpotMetersetWeights, w);
  });
  edited("infinite-position", "ScanSpotPositionMap (inf, ", [](DcmDataset& ds) {
    std::vector<Float32> map = floats(controlPoint(ds, 0), DCM_ScanSpotPositionMap);
    map[0] = std::numeric_limits<Float32>::infinity();
    setFloats(controlPoint(ds, 0), DCM_ScanSpotPositionMap, map);
  });
  return corpus;
}

}  // namespace spotline::plan::testing
