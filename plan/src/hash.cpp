#include "spotline/plan/hash.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

#include "canonical.h"
#include "spotline/core/hex.h"

namespace spotline::plan {

using detail::CanonicalWriter;

namespace {

// Explicit codes rather than the enums' underlying values, so that reordering an enum in a header
// can never silently change every stored hash.
std::uint8_t code(Approval a) {
  switch (a) {
    case Approval::Approved: return 0;
    case Approval::Unapproved: return 1;
    case Approval::Rejected: return 2;
  }
  return 0xff;
}

std::uint8_t code(MetersetUnit u) {
  return u == MetersetUnit::MU ? 0 : 1;
}
std::uint8_t code(Radiation r) {
  return r == Radiation::Proton ? 0 : 1;
}

}  // namespace

std::vector<std::byte> canonicalBytes(const Plan& plan) {
  CanonicalWriter w(256 + 24 * totals(plan).spots);
  w.str(kCanonicalFormTag);
  w.str(plan.uid.value());
  w.str(plan.patient.value());
  w.str(plan.label);
  w.u8(code(plan.approval));
  w.u8(code(plan.metersetUnit));
  w.i32(plan.fractionsPlanned);
  w.u8(plan.synthetic ? 1 : 0);
  w.u64(plan.beams.size());
  for (const Beam& beam : plan.beams) {
    w.u32(beam.number.value());
    w.str(beam.name);
    w.str(beam.machine);
    w.u8(beam.treatment ? 1 : 0);
    w.u8(code(beam.radiation));
    w.i32(beam.ion.z);
    w.i32(beam.ion.a);
    w.i32(beam.ion.charge);
    w.f64(beam.gantryAngle.value());
    w.f64(beam.couchAngle.value());
    for (double c : beam.isocentreMm) w.f64(c);
    w.u64(beam.rangeShifters.size());
    for (const RangeShifter& rs : beam.rangeShifters) {
      w.i32(rs.number);
      w.str(rs.id);
      w.str(rs.type);
    }
    w.u64(beam.layers.size());
    for (const Layer& layer : beam.layers) {
      w.f64(layer.energy.value());
      w.i32(layer.paintings);
      w.str(layer.tuneId);
      w.f64(layer.spotSizeMm[0]);
      w.f64(layer.spotSizeMm[1]);
      w.str(layer.rangeShifter);
      w.u64(layer.spots.size());
      for (const Spot& spot : layer.spots) {
        w.f64(spot.x.value());
        w.f64(spot.y.value());
        w.f64(spot.meterset);
      }
    }
  }
  return w.take();
}

std::string contentHash(const Plan& plan) {
  const std::array<unsigned char, 32> digest = detail::sha256(canonicalBytes(plan));
  return toHex(std::span<const unsigned char>(digest));
}

std::array<unsigned char, 32> detail::sha256(std::span<const std::byte> bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 || length != 32) {
    // Only an OpenSSL failure (out of memory, broken provider) gets here: a bug, not a bad plan.
    throw std::runtime_error("SHA-256: OpenSSL EVP_Digest failed");
  }
  std::array<unsigned char, 32> out{};
  std::copy_n(digest.begin(), 32, out.begin());
  return out;
}

}  // namespace spotline::plan
