#include "spotline/plan/hash.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "spotline/plan/json_format.h"
#include "test_plans.h"

namespace spotline::plan {
namespace {

using nlohmann::json;

Plan minimalPlan() {
  Plan p;
  p.uid = PlanUid("1.2.3");
  p.patient = PatientId("P");
  p.label = "";
  p.approval = Approval::Approved;
  p.metersetUnit = MetersetUnit::NP;
  p.fractionsPlanned = 1;
  p.synthetic = false;
  Beam b;
  b.number = BeamNumber(1);
  b.name = "B";
  b.machine = "M";
  b.treatment = true;
  b.radiation = Radiation::Ion;
  b.ion = kCarbon;
  b.gantryAngle = Degrees(90.0);
  b.couchAngle = Degrees(0.0);
  b.layers = {Layer{MeVPerNucleon(100.0), 1, {Spot{Millimetres(1.5), Millimetres(-2.0), 5000.0}}}};
  p.beams = {b};
  return p;
}

// An independent spelling of the layout documented in plan/README.md.
class Expected {
 public:
  Expected& u8(std::uint8_t v) {
    bytes.push_back(static_cast<std::byte>(v));
    return *this;
  }
  Expected& le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) u8(static_cast<std::uint8_t>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Expected& f64(double d) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    return le(bits, 8);
  }
  Expected& str(const std::string& s) {
    le(s.size(), 8);
    for (char c : s) u8(static_cast<std::uint8_t>(c));
    return *this;
  }
  std::vector<std::byte> bytes;
};

TEST(CanonicalForm, MatchesTheDocumentedLayoutByteForByte) {
  Expected e;
  e.str("spotline-plan-canonical/2").str("1.2.3").str("P").str("");
  e.u8(0).u8(1).le(1, 4).u8(0).le(1, 8);                    // APPROVED, NP, 1 fraction, not synthetic, 1 beam
  e.le(1, 4).str("B").str("M").u8(1).u8(1);                 // number, name, machine, TREATMENT, ION
  e.le(6, 4).le(12, 4).le(6, 4);                            // z, a, charge
  e.f64(90.0).f64(0.0).f64(0.0).f64(0.0).f64(0.0);          // angles, isocentre
  e.le(0, 8).le(1, 8);                                      // no range shifters, 1 layer
  e.f64(100.0).le(1, 4).str("").f64(0.0).f64(0.0).str("");  // energy, paintings, tune, size, shifter
  e.le(1, 8).f64(1.5).f64(-2.0).f64(5000.0);                // 1 spot
  EXPECT_EQ(canonicalBytes(minimalPlan()), e.bytes);
}

TEST(ContentHash, IsSha256OfTheCanonicalFormAsLowercaseHex) {
  // Computed independently (Python hashlib over the bytes of the test above).
  EXPECT_EQ(contentHash(minimalPlan()), "2ed9ef235898cc51e1c6b4a6c083f9c522c24d208de69def01b80fdb3b3e50ff");
  const std::string h = contentHash(testing::validMixedPlan());
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(ContentHash, ChangesWithEveryKindOfField) {
  using Mutation = std::pair<const char*, std::function<void(Plan&)>>;
  const auto spot0 = [](Plan& p) -> Spot& { return p.beams[0].layers[0].spots[0]; };
  const std::vector<Mutation> mutations = {
      {"uid", [](Plan& p) { p.uid = PlanUid(p.uid.value() + "1"); }},
      {"patient", [](Plan& p) { p.patient = PatientId("PAT-002"); }},
      {"label", [](Plan& p) { p.label += "."; }},
      {"approval", [](Plan& p) { p.approval = Approval::Unapproved; }},
      {"approval rejected", [](Plan& p) { p.approval = Approval::Rejected; }},
      {"unit", [](Plan& p) { p.metersetUnit = MetersetUnit::MU; }},
      {"fractions", [](Plan& p) { p.fractionsPlanned = 21; }},
      {"synthetic", [](Plan& p) { p.synthetic = true; }},
      {"beam number", [](Plan& p) { p.beams[0].number = BeamNumber(7); }},
      {"beam name", [](Plan& p) { p.beams[0].name = "Field 1b"; }},
      {"machine", [](Plan& p) { p.beams[0].machine = "GANTRY2"; }},
      {"treatment flag", [](Plan& p) { p.beams[1].treatment = true; }},
      {"radiation", [](Plan& p) { p.beams[0].radiation = Radiation::Proton; }},
      {"ion z", [](Plan& p) { p.beams[0].ion.z = 7; }},
      {"ion a", [](Plan& p) { p.beams[0].ion.a = 13; }},
      {"ion charge", [](Plan& p) { p.beams[0].ion.charge = 5; }},
      {"gantry", [](Plan& p) { p.beams[0].gantryAngle = Degrees(45.000001); }},
      {"couch", [](Plan& p) { p.beams[0].couchAngle = Degrees(11.0); }},
      {"isocentre x", [](Plan& p) { p.beams[0].isocentreMm[0] += 0.01; }},
      {"isocentre y", [](Plan& p) { p.beams[0].isocentreMm[1] += 0.01; }},
      {"isocentre z", [](Plan& p) { p.beams[0].isocentreMm[2] += 0.01; }},
      {"energy", [](Plan& p) { p.beams[0].layers[1].energy = MeVPerNucleon(200.51); }},
      {"paintings", [](Plan& p) { p.beams[0].layers[1].paintings = 2; }},
      {"tune id", [](Plan& p) { p.beams[0].layers[1].tuneId = "3.0"; }},
      {"spot size x", [](Plan& p) { p.beams[0].layers[1].spotSizeMm[0] = 4.0; }},
      {"spot size y", [](Plan& p) { p.beams[0].layers[1].spotSizeMm[1] = 4.0; }},
      {"layer range shifter", [](Plan& p) { p.beams[0].layers[1].rangeShifter = "RS30"; }},
      {"declared range shifter",
       [](Plan& p) {
         p.beams[0].rangeShifters.push_back(RangeShifter{0, "RS30", "BINARY"});
       }},
      {"spot x", [&](Plan& p) { spot0(p).x = Millimetres(-2.999); }},
      {"spot y", [&](Plan& p) { spot0(p).y = Millimetres(-2.999); }},
      {"meterset by one ulp", [&](Plan& p) { spot0(p).meterset = std::nextafter(spot0(p).meterset, 2e6); }},
      {"swap two spots",
       [](Plan& p) {
         auto& s = p.beams[0].layers[0].spots;
         std::swap(s[0], s[1]);
       }},
      {"remove a spot", [](Plan& p) { p.beams[0].layers[1].spots.pop_back(); }},
      {"move a spot to the next layer",
       [](Plan& p) {
         auto& l = p.beams[0].layers;
         std::vector<Spot> next{l[0].spots.back()};
         next.insert(next.end(), l[1].spots.begin(), l[1].spots.end());
         l[1].spots = std::move(next);
         l[0].spots.pop_back();
       }},
      {"add an empty layer", [](Plan& p) { p.beams[2].layers.push_back(Layer{}); }},
      {"remove the setup beam", [](Plan& p) { p.beams.erase(p.beams.begin() + 1); }},
      {"reorder beams", [](Plan& p) { std::swap(p.beams[0], p.beams[2]); }},
      {"move text between fields",
       [](Plan& p) {
         // "test plan" + "PAT-001" vs "test pla" + "nPAT-001": length prefixes keep them apart.
         p.label = "test pla";
         p.patient = PatientId("nPAT-001");
       }},
  };
  const Plan base = testing::validMixedPlan();
  std::set<std::string> seen{contentHash(base)};
  for (const auto& [name, mutate] : mutations) {
    Plan changed = base;
    mutate(changed);
    ASSERT_NE(changed, base) << name;
    const std::string h = contentHash(changed);
    EXPECT_TRUE(seen.insert(h).second) << name << " did not give a new hash";
  }
}

TEST(ContentHash, DoesNotDependOnJsonFormatting) {
  const Plan plan = testing::validMixedPlan();
  const std::string expected = contentHash(plan);
  const std::string text = writePlanJson(plan);
  const json doc = json::parse(text);
  std::string respelled = text;
  const std::string from = "[0.0, -3.0, 1100000.0]";
  respelled.replace(respelled.find(from), from.size(), "[0, -3e0, 1.1E6]");
  for (const std::string& variant : {text, doc.dump(), doc.dump(3), respelled}) {
    auto parsed = parsePlanJson(variant, "v.json");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(contentHash(parsed.value()), expected);
  }
}

TEST(ContentHash, TreatsNegativeZeroAsZeroAndAllNaNsAlike) {
  Plan a = testing::validMixedPlan();
  Plan b = a;
  a.beams[0].layers[1].spots[1].x = Millimetres(0.0);
  b.beams[0].layers[1].spots[1].x = Millimetres(-0.0);
  EXPECT_EQ(contentHash(a), contentHash(b));
  a.beams[0].layers[1].spots[1].meterset = std::numeric_limits<double>::quiet_NaN();
  b.beams[0].layers[1].spots[1].meterset = -std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(contentHash(a), contentHash(b));
}

}  // namespace
}  // namespace spotline::plan
