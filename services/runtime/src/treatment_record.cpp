#include "spotline/runtime/treatment_record.h"

#include <dcmtk/dcmdata/dctk.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <tuple>

#include "spotline/bus/codec_helpers.h"
#include "spotline/messages/codec.h"
#include "spotline/plan/hash.h"
#include "spotline/recorder/journal.h"
#include "spotline/runtime/fraction_ledger.h"
#include "spotline/runtime/plan_wire.h"

namespace spotline::runtime {

namespace {

// DS values: at most 16 characters (PS3.5 6.2).
std::string ds(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// DA and TM (UTC) of a Unix time in nanoseconds.
std::pair<std::string, std::string> dateTime(std::int64_t unixNs) {
  const std::time_t t = static_cast<std::time_t>(unixNs / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[16];
  char time[24];
  std::strftime(date, sizeof date, "%Y%m%d", &tm);
  std::snprintf(time, sizeof time, "%02d%02d%02d.%06d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((unixNs % 1'000'000'000) / 1000));
  return {date, time};
}

// "2.25.<decimal>" from the first 16 bytes of SHA-256(text), UUID version 8 (PS3.5 B.2): the same
// fraction always gets the same record UID.
std::string derivedUid(const std::string& text) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  std::array<unsigned char, 16> n{};
  std::copy_n(digest.begin(), 16, n.begin());
  n[6] = static_cast<unsigned char>((n[6] & 0x0f) | 0x80);
  n[8] = static_cast<unsigned char>((n[8] & 0x3f) | 0x80);
  std::string digits;
  auto isZero = [&] { return std::all_of(n.begin(), n.end(), [](unsigned char c) { return c == 0; }); };
  do {
    unsigned rem = 0;
    for (auto& byte : n) {
      const unsigned cur = rem * 256 + byte;
      byte = static_cast<unsigned char>(cur / 10);
      rem = cur % 10;
    }
    digits.push_back(static_cast<char>('0' + rem));
  } while (!isZero());
  std::reverse(digits.begin(), digits.end());
  return "2.25." + digits;
}

using SpotKey = std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>;  // beam number, layer, spot
using LayerKey = std::pair<std::uint32_t, std::uint32_t>;

struct Collected {
  bool found = false;
  std::string planUid, contentHash, room, code, patient;
  std::uint16_t fractionNumber = 0;
  std::int64_t startNs = 0;
  bool ended = false;
  wire::TerminationStatus termination = wire::TerminationStatus::UNKNOWN;
  std::vector<std::byte> planFrame;
  std::map<SpotKey, double> delivered;
  std::map<LayerKey, std::int64_t> layerNs;
  std::uint32_t spotRecords = 0, sessions = 0, holds = 0;
  std::vector<OverrideRecord> overrides;
};

Result<Collected, RecordError> collect(const std::filesystem::path& dir, const std::string& id) {
  auto reader = recorder::JournalReader::open(dir);
  if (!reader) return fail(RecordError::Damaged, reader.error().message);
  Collected c;
  FractionLedger ledger;
  std::vector<std::byte> lastPlan;
  bool verifying = false;
  while (true) {
    auto rec = reader.value()->next();
    if (!rec) return fail(RecordError::Damaged, rec.error().message);
    if (!rec.value()) break;
    auto decoded = messages::decode(rec.value()->payload);
    if (!decoded) continue;
    const auto& m = *decoded.value();
    ledger.record(m);
    auto body = m.body();
    if (body.isPlanReply()) {
      lastPlan = rec.value()->payload;
      continue;
    }
    // rv journals a verification as: the request, the plan it checked against, its answer.
    if (body.isVerifyBeamOn()) {
      verifying = bus::view(body.getVerifyBeamOn().getFractionId()) == id;
      lastPlan.clear();
      continue;
    }
    if (body.isVerifyReply()) {
      if (verifying && body.getVerifyReply().getPermitted() && !lastPlan.empty()) c.planFrame = lastPlan;
      verifying = false;
      continue;
    }
    if (bus::view(m.envelope().getSource()) != "delivery" || messages::fractionIdOf(body) != id) continue;
    c.found = true;
    if (body.isFractionStarted()) {
      auto f = body.getFractionStarted();
      ++c.sessions;
      if (c.sessions == 1) {
        c.startNs = m.envelope().getWallTimeNs();
        c.planUid = bus::str(f.getPlanUid());
        c.contentHash = bus::str(f.getContentHash());
        c.room = bus::str(f.getRoom());
        c.fractionNumber = f.getFractionNumber();
        c.patient = bus::str(f.getPatientId());
      }
      c.ended = false;
    } else if (body.isLayerStarted()) {
      auto l = body.getLayerStarted();
      c.layerNs.emplace(LayerKey{l.getBeam(), l.getLayer()}, m.envelope().getWallTimeNs());
    } else if (body.isSpotDelivered()) {
      auto s = body.getSpotDelivered();
      c.delivered[SpotKey{s.getBeam(), s.getLayer(), s.getSpot()}] += s.getDelivered();
      ++c.spotRecords;
    } else if (body.isBeamHold()) {
      ++c.holds;
    } else if (body.isFractionEnded()) {
      auto e = body.getFractionEnded();
      c.ended = true;
      c.termination = e.getTermination();
      c.code = bus::str(e.getCode());
    }
  }
  if (!c.found) return fail(RecordError::NotFound, "fraction " + id + " is not in the journal " + dir.string());
  c.overrides = ledger.overridesOf(id);
  return c;
}

const char* terminationText(wire::TerminationStatus t) {
  switch (t) {
    case wire::TerminationStatus::NORMAL: return "NORMAL";
    case wire::TerminationStatus::OPERATOR: return "OPERATOR";
    case wire::TerminationStatus::MACHINE: return "MACHINE";
    case wire::TerminationStatus::UNKNOWN: return "UNKNOWN";
  }
  return "UNKNOWN";
}

// Appends an item to a sequence of `parent` (created when missing) and returns it.
DcmItem* appendItem(DcmItem& parent, const DcmTagKey& sequence) {
  DcmItem* item = nullptr;
  parent.findOrCreateSequenceItem(sequence, item, -2);
  return item;
}

}  // namespace

Result<TreatmentRecordSummary, RecordError> exportTreatmentRecord(const std::filesystem::path& journalDir,
                                                                  const std::string& fractionId,
                                                                  const std::filesystem::path& out,
                                                                  const plan::Facility& facility) {
  auto collected = collect(journalDir, fractionId);
  if (!collected) return collected.error();
  const Collected& c = collected.value();
  if (c.planFrame.empty()) {
    return fail(RecordError::NoPlan, "no approved plan is journaled with the verification of fraction " + fractionId +
                                         " (journals written before plans were journaled cannot be exported)");
  }
  auto planMsg = messages::decode(c.planFrame);
  if (!planMsg) return fail(RecordError::Damaged, "the journaled plan does not decode: " + planMsg.error().message);
  const plan::Plan plan = fromWire(planMsg.value()->body().getPlanReply().getPlan());
  if (plan::contentHash(plan) != c.contentHash) {
    return fail(RecordError::Damaged,
                "the journaled plan's content hash differs from fraction " + fractionId + "'s " + c.contentHash);
  }

  TreatmentRecordSummary summary;
  summary.termination = c.ended ? terminationText(c.termination) : "UNKNOWN";
  summary.verification = c.overrides.empty() ? "VERIFIED" : "VERIFIED_OVR";
  summary.overrides = static_cast<std::uint32_t>(c.overrides.size());
  summary.sessions = c.sessions;
  summary.holds = c.holds;
  summary.spotRecords = c.spotRecords;
  summary.sopInstanceUid = derivedUid("spotline-treatment-record/1 " + fractionId + " " + c.contentHash);

  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  const auto [date, time] = dateTime(c.startNs);
  auto put = [](DcmItem& item, const DcmTagKey& tag, const std::string& value) {
    item.putAndInsertString(tag, value.c_str());
  };
  // SOP Common, Patient, General Study, RT Series, General Equipment.
  put(d, DCM_SpecificCharacterSet, "ISO_IR 192");
  put(d, DCM_SOPClassUID, UID_RTIonBeamsTreatmentRecordStorage);
  put(d, DCM_SOPInstanceUID, summary.sopInstanceUid);
  put(d, DCM_InstanceCreationDate, date);
  put(d, DCM_InstanceCreationTime, time);
  put(d, DCM_PatientName, "");
  put(d, DCM_PatientID, plan.patient.value());
  put(d, DCM_PatientBirthDate, "");
  put(d, DCM_PatientSex, "");
  put(d, DCM_StudyInstanceUID, derivedUid("spotline-study/1 " + plan.uid.value()));
  put(d, DCM_StudyDate, date);
  put(d, DCM_StudyTime, time);
  put(d, DCM_ReferringPhysicianName, "");
  put(d, DCM_StudyID, "");
  put(d, DCM_AccessionNumber, "");
  put(d, DCM_Modality, "RTRECORD");
  put(d, DCM_SeriesInstanceUID, derivedUid("spotline-series/1 " + fractionId));
  put(d, DCM_SeriesNumber, "1");
  std::string operators;
  for (const auto& o : c.overrides) operators += (operators.empty() ? "" : "\\") + o.user;
  put(d, DCM_OperatorsName, operators);
  put(d, DCM_Manufacturer, "Spotline");
  put(d, DCM_SeriesDescription,
      plan.synthetic ? "Spotline treatment record (synthetic plan, simulated delivery)"
                     : "Spotline treatment record (simulated delivery)");
  // RT General Treatment Record.
  put(d, DCM_InstanceNumber, std::to_string(c.fractionNumber));
  put(d, DCM_TreatmentDate, date);
  put(d, DCM_TreatmentTime, time);
  DcmItem* planRef = appendItem(d, DCM_ReferencedRTPlanSequence);
  put(*planRef, DCM_ReferencedSOPClassUID, UID_RTIonPlanStorage);
  put(*planRef, DCM_ReferencedSOPInstanceUID, plan.uid.value());
  // RT Treatment Machine Record: the room's machine.
  const auto* roomModel = facility.room(c.room);
  const std::string machine =
      roomModel != nullptr && !roomModel->machineNames.empty() ? roomModel->machineNames.front() : c.room;
  DcmItem* m = appendItem(d, DCM_TreatmentMachineSequence);
  put(*m, DCM_TreatmentMachineName, machine);
  put(*m, DCM_Manufacturer, "Spotline");
  put(*m, DCM_InstitutionName, "");
  put(*m, DCM_ManufacturerModelName, "Spotline synchrotron model");
  put(*m, DCM_DeviceSerialNumber, "");
  // RT Ion Beams Session Record.
  put(d, DCM_NumberOfFractionsPlanned, std::to_string(plan.fractionsPlanned));
  put(d, DCM_PrimaryDosimeterUnit, plan.metersetUnit == MetersetUnit::MU ? "MU" : "NP");

  for (const auto& beam : plan.beams) {
    if (!beam.treatment) continue;
    ++summary.beams;
    const std::uint32_t number = beam.number.value();
    DcmItem& b = *appendItem(d, DCM_TreatmentSessionIonBeamSequence);
    put(b, DCM_ReferencedBeamNumber, std::to_string(number));
    put(b, DCM_BeamName, beam.name.empty() ? "B" + std::to_string(number) : beam.name);
    put(b, DCM_BeamType, "STATIC");
    const bool proton = beam.radiation == plan::Radiation::Proton || beam.ion.z == 1;
    put(b, DCM_RadiationType, proton ? "PROTON" : "ION");
    if (!proton) {
      put(b, DCM_RadiationMassNumber, std::to_string(beam.ion.a));
      put(b, DCM_RadiationAtomicNumber, std::to_string(beam.ion.z));
      b.putAndInsertSint16(DCM_RadiationChargeState, static_cast<Sint16>(beam.ion.charge));
    }
    put(b, DCM_ScanMode, "MODULATED");
    // Required by dciodvfy for MODULATED (the standard asks it only for MODULATED_SPEC).
    put(b, DCM_ModulatedScanModeType, "STATIONARY");
    for (const auto& tag : {DCM_NumberOfWedges, DCM_NumberOfCompensators, DCM_NumberOfBoli, DCM_NumberOfBlocks,
                            DCM_NumberOfLateralSpreadingDevices, DCM_NumberOfRangeModulators}) {
      put(b, tag, "0");
    }
    put(b, DCM_NumberOfRangeShifters, std::to_string(beam.rangeShifters.size()));
    for (const auto& rs : beam.rangeShifters) {
      DcmItem* r = appendItem(b, DCM_RecordedRangeShifterSequence);
      put(*r, DCM_ReferencedRangeShifterNumber, std::to_string(rs.number));
      put(*r, DCM_RangeShifterID, rs.id);
    }
    put(b, DCM_PatientSupportType, "TABLE");
    put(b, DCM_CurrentFractionNumber, std::to_string(c.fractionNumber));
    put(b, DCM_TreatmentDeliveryType, "TREATMENT");
    put(b, DCM_TreatmentTerminationStatus, summary.termination);
    if (!c.code.empty()) put(b, DCM_TreatmentTerminationCode, c.code.substr(0, 16));
    put(b, DCM_TreatmentVerificationStatus, summary.verification);
    double beamPlanned = 0.0;
    double beamDelivered = 0.0;
    put(b, DCM_NumberOfControlPoints, std::to_string(beam.layers.size()));
    for (std::size_t l = 0; l < beam.layers.size(); ++l) {
      const auto& layer = beam.layers[l];
      DcmItem& cp = *appendItem(b, DCM_IonControlPointDeliverySequence);
      ++summary.controlPoints;
      put(cp, DCM_ReferencedControlPointIndex, std::to_string(2 * l));
      auto at = c.layerNs.find(LayerKey{number, static_cast<std::uint32_t>(l)});
      const auto [cpDate, cpTime] = dateTime(at != c.layerNs.end() ? at->second : c.startNs);
      put(cp, DCM_TreatmentControlPointDate, cpDate);
      put(cp, DCM_TreatmentControlPointTime, cpTime);
      std::vector<Float32> positions;
      std::vector<Float32> metersets;
      double planned = 0.0;
      double delivered = 0.0;
      for (std::size_t s = 0; s < layer.spots.size(); ++s) {
        const auto& spot = layer.spots[s];
        positions.push_back(static_cast<Float32>(spot.x.value()));
        positions.push_back(static_cast<Float32>(spot.y.value()));
        auto it = c.delivered.find(SpotKey{number, static_cast<std::uint32_t>(l), static_cast<std::uint32_t>(s)});
        const double value = it != c.delivered.end() ? it->second : 0.0;
        metersets.push_back(static_cast<Float32>(value));
        planned += spot.meterset;
        delivered += value;
      }
      summary.spots += static_cast<std::uint32_t>(layer.spots.size());
      beamPlanned += planned;
      beamDelivered += delivered;
      put(cp, DCM_SpecifiedMeterset, ds(planned));
      put(cp, DCM_DeliveredMeterset, ds(delivered));
      put(cp, DCM_NominalBeamEnergy, ds(layer.energy.value()));
      put(cp, DCM_ScanSpotTuneID, layer.tuneId.empty() ? "1" : layer.tuneId);
      put(cp, DCM_NumberOfScanSpotPositions, std::to_string(layer.spots.size()));
      cp.putAndInsertFloat32Array(DCM_ScanSpotPositionMap, positions.data(),
                                  static_cast<unsigned long>(positions.size()));
      cp.putAndInsertFloat32Array(DCM_ScanSpotMetersetsDelivered, metersets.data(),
                                  static_cast<unsigned long>(metersets.size()));
      put(cp, DCM_NumberOfPaintings, std::to_string(std::max(1, layer.paintings)));
      if (l == 0) {
        put(cp, DCM_GantryAngle, ds(beam.gantryAngle.value()));
        put(cp, DCM_GantryRotationDirection, "NONE");
        put(cp, DCM_BeamLimitingDeviceAngle, "0");
        put(cp, DCM_BeamLimitingDeviceRotationDirection, "NONE");
        put(cp, DCM_PatientSupportAngle, ds(beam.couchAngle.value()));
        put(cp, DCM_PatientSupportRotationDirection, "NONE");
        put(cp, DCM_TableTopPitchAngle, "0");
        put(cp, DCM_TableTopPitchRotationDirection, "NONE");
        put(cp, DCM_TableTopRollAngle, "0");
        put(cp, DCM_TableTopRollRotationDirection, "NONE");
        put(cp, DCM_TableTopVerticalPosition, "");
        put(cp, DCM_TableTopLongitudinalPosition, "");
        put(cp, DCM_TableTopLateralPosition, "");
        put(cp, DCM_SnoutPosition, "");
        // An override of the room check: the treatment machine was not the plan's.
        for (const auto& o : c.overrides) {
          DcmItem& ov = *appendItem(cp, DCM_OverrideSequence);
          ov.putAndInsertTagKey(DCM_ParameterSequencePointer, DCM_TreatmentMachineSequence);
          ov.putAndInsertTagKey(DCM_OverrideParameterPointer,
                                o.check == "room" ? DCM_TreatmentMachineName : DCM_TreatmentVerificationStatus);
          put(ov, DCM_ParameterItemIndex, "1");
          put(ov, DCM_OperatorsName, o.user);
          put(ov, DCM_OverrideReason, o.check + ": " + o.reason);
        }
      }
    }
    put(b, DCM_SpecifiedPrimaryMeterset, ds(beamPlanned));
    put(b, DCM_DeliveredPrimaryMeterset, ds(beamDelivered));
    summary.metersetDelivered += beamDelivered;
  }

  const OFCondition saved = file.saveFile(out.c_str(), EXS_LittleEndianExplicit);
  if (saved.bad()) return fail(RecordError::Write, "cannot write " + out.string() + ": " + saved.text());
  return summary;
}

}  // namespace spotline::runtime
