#include "spotline/runtime/plan_wire.h"

#include "spotline/bus/codec_helpers.h"

namespace spotline::runtime {

using bus::str;
using bus::text;

wire::MetersetUnit toWire(MetersetUnit unit) {
  return unit == MetersetUnit::MU ? wire::MetersetUnit::MU : wire::MetersetUnit::NP;
}
MetersetUnit fromWire(wire::MetersetUnit unit) {
  return unit == wire::MetersetUnit::MU ? MetersetUnit::MU : MetersetUnit::NP;
}

namespace {
wire::Approval toWire(plan::Approval a) {
  switch (a) {
    case plan::Approval::Approved: return wire::Approval::APPROVED;
    case plan::Approval::Unapproved: return wire::Approval::UNAPPROVED;
    case plan::Approval::Rejected: return wire::Approval::REJECTED;
  }
  return wire::Approval::UNAPPROVED;
}
plan::Approval fromWire(wire::Approval a) {
  switch (a) {
    case wire::Approval::APPROVED: return plan::Approval::Approved;
    case wire::Approval::REJECTED: return plan::Approval::Rejected;
    default: return plan::Approval::Unapproved;
  }
}
}  // namespace

void toWire(const plan::Plan& p, wire::Plan::Builder out) {
  out.setUid(p.uid.value());
  out.setPatientId(p.patient.value());
  out.setLabel(p.label);
  out.setApproval(toWire(p.approval));
  out.setMetersetUnit(toWire(p.metersetUnit));
  out.setFractionsPlanned(static_cast<std::uint16_t>(p.fractionsPlanned));
  out.setSynthetic(p.synthetic);
  auto beams = out.initBeams(static_cast<unsigned>(p.beams.size()));
  for (unsigned b = 0; b < p.beams.size(); ++b) {
    const auto& beam = p.beams[b];
    auto wb = beams[b];
    wb.setNumber(beam.number.value());
    wb.setName(beam.name);
    wb.setMachine(beam.machine);
    wb.setTreatment(beam.treatment);
    wb.setRadiation(beam.radiation == plan::Radiation::Proton ? wire::Radiation::PROTON : wire::Radiation::ION);
    auto ion = wb.initIon();
    ion.setZ(static_cast<std::uint8_t>(beam.ion.z));
    ion.setA(static_cast<std::uint16_t>(beam.ion.a));
    ion.setCharge(static_cast<std::int8_t>(beam.ion.charge));
    wb.setGantryAngle(beam.gantryAngle.value());
    wb.setCouchAngle(beam.couchAngle.value());
    auto iso = wb.initIsocentreMm(3);
    for (unsigned i = 0; i < 3; ++i) iso.set(i, beam.isocentreMm[i]);
    auto layers = wb.initLayers(static_cast<unsigned>(beam.layers.size()));
    for (unsigned l = 0; l < beam.layers.size(); ++l) {
      const auto& layer = beam.layers[l];
      auto wl = layers[l];
      wl.setEnergyMevPerU(layer.energy.value());
      wl.setPaintings(static_cast<std::uint16_t>(layer.paintings));
      auto spots = wl.initSpots(static_cast<unsigned>(layer.spots.size()));
      for (unsigned s = 0; s < layer.spots.size(); ++s) {
        spots[s].setXMm(layer.spots[s].x.value());
        spots[s].setYMm(layer.spots[s].y.value());
        spots[s].setMeterset(layer.spots[s].meterset);
      }
    }
  }
}

plan::Plan fromWire(wire::Plan::Reader in) {
  plan::Plan p;
  p.uid = PlanUid(str(in.getUid()));
  p.patient = PatientId(str(in.getPatientId()));
  p.label = str(in.getLabel());
  p.approval = fromWire(in.getApproval());
  p.metersetUnit = fromWire(in.getMetersetUnit());
  p.fractionsPlanned = in.getFractionsPlanned();
  p.synthetic = in.getSynthetic();
  for (auto wb : in.getBeams()) {
    plan::Beam beam;
    beam.number = BeamNumber(wb.getNumber());
    beam.name = str(wb.getName());
    beam.machine = str(wb.getMachine());
    beam.treatment = wb.getTreatment();
    beam.radiation = wb.getRadiation() == wire::Radiation::PROTON ? plan::Radiation::Proton : plan::Radiation::Ion;
    beam.ion = plan::IonSpecies{wb.getIon().getZ(), wb.getIon().getA(), wb.getIon().getCharge()};
    beam.gantryAngle = Degrees(wb.getGantryAngle());
    beam.couchAngle = Degrees(wb.getCouchAngle());
    auto iso = wb.getIsocentreMm();
    for (unsigned i = 0; i < 3 && i < iso.size(); ++i) beam.isocentreMm[i] = iso[i];
    for (auto wl : wb.getLayers()) {
      plan::Layer layer;
      layer.energy = MeVPerNucleon(wl.getEnergyMevPerU());
      layer.paintings = wl.getPaintings();
      layer.spots.reserve(wl.getSpots().size());
      for (auto ws : wl.getSpots()) {
        layer.spots.push_back(plan::Spot{Millimetres(ws.getXMm()), Millimetres(ws.getYMm()), ws.getMeterset()});
      }
      beam.layers.push_back(std::move(layer));
    }
    p.beams.push_back(std::move(beam));
  }
  return p;
}

void toWire(const std::vector<plan::Violation>& violations, capnp::List<wire::Violation>::Builder out) {
  for (unsigned i = 0; i < violations.size() && i < out.size(); ++i) {
    out[i].setPath(violations[i].path);
    out[i].setRule(violations[i].rule);
    out[i].setValue(violations[i].value);
    out[i].setLimit(violations[i].limit);
    out[i].setMessage(violations[i].message);
  }
}

std::vector<plan::Violation> fromWire(capnp::List<wire::Violation>::Reader in) {
  std::vector<plan::Violation> out;
  for (auto v : in) {
    out.push_back(plan::Violation{str(v.getPath()), str(v.getRule()), v.getValue(), v.getLimit(), str(v.getMessage())});
  }
  return out;
}

}  // namespace spotline::runtime
