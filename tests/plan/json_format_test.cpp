#include "spotline/plan/json_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "spotline/plan/synth.h"
#include "test_plans.h"

namespace spotline::plan {
namespace {

using nlohmann::json;

std::size_t countLines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::filesystem::path tempFile(const std::string& name) {
  return std::filesystem::path(::testing::TempDir()) / name;
}

void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// ---------------------------------------------------------------------------------------------
// Round trip and writer.

TEST(PlanJson, RoundTripGivesIdenticalPlan) {
  for (const Plan& plan : {testing::validMixedPlan(), testing::awkwardPlan()}) {
    const std::string text = writePlanJson(plan);
    auto parsed = parsePlanJson(text, "roundtrip.json");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed.value(), plan);
    // And the text itself is a fixed point.
    EXPECT_EQ(writePlanJson(parsed.value()), text);
  }
}

TEST(PlanJson, RoundTripKeepsEveryBitOfAwkwardNumbers) {
  const Plan plan = testing::awkwardPlan();
  auto parsed = parsePlanJson(writePlanJson(plan), "awkward.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const Spot& s = parsed.value().beams[0].layers[0].spots[1];
  EXPECT_EQ(s.meterset, 123.456789012345678);
  EXPECT_EQ(s.x.value(), 1e-7);
  EXPECT_EQ(parsed.value().beams[0].layers[0].spots[0].y.value(), 0.1 + 0.2);
  EXPECT_EQ(parsed.value().beams[0].couchAngle.value(), 1.0 / 3.0);
  EXPECT_EQ(parsed.value().beams[0].isocentreMm[1], 1e-300);
  EXPECT_EQ(parsed.value().beams[0].ion, (IonSpecies{8, 16, 7}));
  EXPECT_EQ(parsed.value().patient.value(), plan.patient.value());
  EXPECT_EQ(parsed.value().label, plan.label);
}

TEST(PlanJson, RoundTripsASyntheticTenThousandSpotPlan) {
  const Plan plan = synthesizePlan(SynthOptions{});
  auto parsed = parsePlanJson(writePlanJson(plan), "synth.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value(), plan);
}

TEST(PlanJson, WriterIsDeterministicWithOneSpotPerLine) {
  const Plan plan = testing::validMixedPlan();
  const std::string text = writePlanJson(plan);
  EXPECT_EQ(text, writePlanJson(plan));
  EXPECT_EQ(text.rfind("{\n  \"format\": \"spotline-plan\",\n  \"version\": 1,\n", 0), 0u);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("\n            [-3.0, -3.0, 1000000.0],\n"), std::string::npos);
  EXPECT_NE(text.find("\"ion\": {\"z\": 6, \"a\": 12, \"charge\": 6}"), std::string::npos);
  // 11 spots, one line each; the rest of the file does not grow with the spot count.
  Plan more = plan;
  more.beams[0].layers[0].spots.push_back(more.beams[0].layers[0].spots[0]);
  EXPECT_EQ(countLines(writePlanJson(more)), countLines(text) + 1);
}

TEST(PlanJson, ProtonBeamWritesNoIonAndReadsBackAsProton) {
  const Plan plan = testing::validMixedPlan();
  json doc = json::parse(writePlanJson(plan));
  EXPECT_FALSE(doc["beams"][2].contains("ion"));
  EXPECT_EQ(doc["beams"][2]["radiation"], "PROTON");
  auto parsed = parsePlanJson(doc.dump(), "p.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().beams[2].ion, kProton);
  // An explicit proton ion is accepted too.
  doc["beams"][2]["ion"] = "proton";
  ASSERT_TRUE(parsePlanJson(doc.dump(), "p.json").ok());
}

TEST(PlanJson, AcceptsAnIonByName) {
  json doc = json::parse(writePlanJson(testing::validMixedPlan()));
  doc["beams"][0]["ion"] = "helium";
  auto parsed = parsePlanJson(doc.dump(), "p.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().beams[0].ion, kHelium);
}

TEST(PlanJson, OptionalKeysTakeTheirDefaults) {
  json doc = json::parse(writePlanJson(testing::validMixedPlan()));
  doc.erase("label");
  doc.erase("synthetic");
  doc["beams"][0].erase("name");
  doc["beams"][0]["layers"][0].erase("paintings");
  doc["beams"][2]["layers"][0].erase("paintings");
  auto parsed = parsePlanJson(doc.dump(), "p.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().label, "");
  EXPECT_FALSE(parsed.value().synthetic);
  EXPECT_EQ(parsed.value().beams[0].name, "");
  EXPECT_EQ(parsed.value().beams[0].layers[0].paintings, 1);
  EXPECT_EQ(parsed.value().beams[2].layers[0].paintings, 1);
}

TEST(PlanJson, KeyOrderWhitespaceAndNumberSpellingDoNotMatter) {
  const Plan plan = testing::validMixedPlan();
  const json doc = json::parse(writePlanJson(plan));
  // nlohmann sorts keys alphabetically, unlike the writer; compact and wide indentation.
  for (const std::string& text : {doc.dump(), doc.dump(7)}) {
    auto parsed = parsePlanJson(text, "p.json");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed.value(), plan);
  }
  std::string text = writePlanJson(plan);
  const std::string from = "[-3.0, -3.0, 1000000.0]";
  text.replace(text.find(from), from.size(), "[ -3 ,-3.000, 1e6 ]");
  auto parsed = parsePlanJson(text, "p.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value(), plan);
}

// ---------------------------------------------------------------------------------------------
// Schema errors: each names the source, the JSON path and what was expected.

struct SchemaCase {
  std::string name;
  std::function<void(json&)> mutate;
  std::string path;      // expected "<source>: <path>: " prefix
  std::string expected;  // expected text after it
};

std::ostream& operator<<(std::ostream& os, const SchemaCase& c) {
  return os << c.name;
}

class PlanJsonSchemaError : public ::testing::TestWithParam<SchemaCase> {};

TEST_P(PlanJsonSchemaError, NamesThePathAndWhatWasExpected) {
  const SchemaCase& c = GetParam();
  json doc = json::parse(writePlanJson(testing::validMixedPlan()));
  c.mutate(doc);
  auto parsed = parsePlanJson(doc.dump(), "plans/test.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, PlanError::Invalid);
  const std::string& message = parsed.error().message;
  EXPECT_NE(message.find("plans/test.json: " + c.path + ": " + c.expected), std::string::npos) << "message was:\n"
                                                                                               << message;
  // Exactly one problem was introduced, so exactly one line is reported.
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 0) << message;
}

const SchemaCase kSchemaCases[] = {
    {"MetersetNotANumber", [](json& d) { d["beams"][0]["layers"][1]["spots"][2][2] = "abc"; },
     "beams[0].layers[1].spots[2][2]", "expected a finite number >= 0, got \"abc\""},
    {"MetersetNegative", [](json& d) { d["beams"][0]["layers"][1]["spots"][3][2] = -5; },
     "beams[0].layers[1].spots[3][2]", "expected a finite number >= 0, got -5"},
    {"SpotXNull", [](json& d) { d["beams"][2]["layers"][0]["spots"][1][0] = nullptr; },
     "beams[2].layers[0].spots[1][0]", "expected a finite number, got null"},
    {"SpotNotATriple",
     [](json& d) {
       d["beams"][0]["layers"][0]["spots"][1] = {1.0, 2.0};
     },
     "beams[0].layers[0].spots[1]", "expected [x_mm, y_mm, meterset], got [1.0,2.0]"},
    {"SpotsNotAnArray", [](json& d) { d["beams"][0]["layers"][0]["spots"] = 3; }, "beams[0].layers[0].spots",
     "expected an array of [x_mm, y_mm, meterset] triples, got 3"},
    {"MissingMachine", [](json& d) { d["beams"][0].erase("machine"); }, "beams[0]", "missing required key \"machine\""},
    {"MissingTopLevelBeams", [](json& d) { d.erase("beams"); }, "top level", "missing required key \"beams\""},
    {"UnknownTopLevelKey", [](json& d) { d["colour"] = "red"; }, "top level",
     "unknown key \"colour\" (allowed: format, version"},
    {"UnknownLayerKey", [](json& d) { d["beams"][0]["layers"][1]["energy"] = 100; }, "beams[0].layers[1]",
     "unknown key \"energy\""},
    {"UnknownIonKey", [](json& d) { d["beams"][0]["ion"]["mass"] = 12; }, "beams[0].ion", "unknown key \"mass\""},
    {"ApprovalLowerCase", [](json& d) { d["approval"] = "approved"; }, "approval",
     "expected one of \"APPROVED\", \"UNAPPROVED\", \"REJECTED\", got \"approved\""},
    {"MetersetUnitGray", [](json& d) { d["meterset_unit"] = "Gy"; }, "meterset_unit",
     "expected one of \"NP\", \"MU\", got \"Gy\""},
    {"DeliveryTypeLowerCase", [](json& d) { d["beams"][1]["treatment_delivery_type"] = "setup"; },
     "beams[1].treatment_delivery_type", "expected one of \"TREATMENT\", \"SETUP\""},
    {"RadiationUnknown", [](json& d) { d["beams"][0]["radiation"] = "ELECTRON"; }, "beams[0].radiation",
     "expected one of \"PROTON\", \"ION\", got \"ELECTRON\""},
    {"FormatOther", [](json& d) { d["format"] = "rtplan"; }, "format", "expected \"spotline-plan\", got \"rtplan\""},
    {"VersionTwo", [](json& d) { d["version"] = 2; }, "version", "unsupported version 2 (this reader reads version 1)"},
    {"GantryAngle360", [](json& d) { d["beams"][0]["gantry_angle"] = 360; }, "beams[0].gantry_angle",
     "expected a finite number in [0, 360), got 360"},
    {"CouchAngleNegative", [](json& d) { d["beams"][0]["couch_angle"] = -10.5; }, "beams[0].couch_angle",
     "expected a finite number in [0, 360), got -10.5"},
    {"EnergyZero", [](json& d) { d["beams"][0]["layers"][0]["energy_mev_u"] = 0; }, "beams[0].layers[0].energy_mev_u",
     "expected a finite number > 0, got 0"},
    {"EnergyString", [](json& d) { d["beams"][0]["layers"][1]["energy_mev_u"] = "200"; },
     "beams[0].layers[1].energy_mev_u", "expected a finite number > 0, got \"200\""},
    {"BeamNumberFraction", [](json& d) { d["beams"][0]["number"] = 1.5; }, "beams[0].number",
     "expected an integer in [1, 4294967295], got 1.5"},
    {"BeamNumberTooLarge", [](json& d) { d["beams"][0]["number"] = 4294967296ULL; }, "beams[0].number",
     "expected an integer in [1, 4294967295], got 4294967296"},
    {"BeamNumberDuplicate", [](json& d) { d["beams"][2]["number"] = 1; }, "beams[2].number",
     "beam number 1 is already used by beams[0]"},
    {"PaintingsZero", [](json& d) { d["beams"][0]["layers"][0]["paintings"] = 0; }, "beams[0].layers[0].paintings",
     "expected an integer in [1, 1000], got 0"},
    {"FractionsZero", [](json& d) { d["fractions_planned"] = 0; }, "fractions_planned",
     "expected an integer in [1, 1000], got 0"},
    {"SyntheticString", [](json& d) { d["synthetic"] = "yes"; }, "synthetic", "expected true or false, got \"yes\""},
    {"PlanUidEmpty", [](json& d) { d["plan_uid"] = ""; }, "plan_uid", "expected a non-empty string, got \"\""},
    {"PatientIdNumber", [](json& d) { d["patient_id"] = 17; }, "patient_id", "expected a non-empty string, got 17"},
    {"ProtonRadiationWithCarbon", [](json& d) { d["beams"][2]["ion"] = "carbon"; }, "beams[2].ion",
     "radiation is PROTON but the ion is carbon"},
    {"IonRadiationWithProton", [](json& d) { d["beams"][0]["ion"] = "proton"; }, "beams[0].ion",
     "radiation is ION but the ion is a proton"},
    {"IonMissing", [](json& d) { d["beams"][0].erase("ion"); }, "beams[0]",
     "missing required key \"ion\" (required when radiation is ION)"},
    {"IonUnknownName", [](json& d) { d["beams"][0]["ion"] = "xenon"; }, "beams[0].ion",
     "expected an ion name (\"proton\", \"helium\", \"carbon\", \"oxygen\", \"neon\") or"},
    {"IonZeroZ", [](json& d) { d["beams"][0]["ion"]["z"] = 0; }, "beams[0].ion.z",
     "expected an integer in [1, 118], got 0"},
    {"IonChargeAboveZ", [](json& d) { d["beams"][0]["ion"]["charge"] = 7; }, "beams[0].ion.charge",
     "expected an integer in [1, 6], got 7"},
    {"IsocentreTwoValues",
     [](json& d) {
       d["beams"][0]["isocentre_mm"] = {1, 2};
     },
     "beams[0].isocentre_mm", "expected [x, y, z] in mm, got [1,2]"},
    {"IsocentreString", [](json& d) { d["beams"][0]["isocentre_mm"][2] = "z"; }, "beams[0].isocentre_mm[2]",
     "expected a finite number, got \"z\""},
    {"LayersNotAnArray", [](json& d) { d["beams"][1]["layers"] = json::object(); }, "beams[1].layers",
     "expected an array of layers, got {}"},
    {"LayerNotAnObject", [](json& d) { d["beams"][0]["layers"][1] = 250; }, "beams[0].layers[1]",
     "expected an object, got 250"},
    {"BeamsNotAnArray", [](json& d) { d["beams"] = "none"; }, "beams", "expected an array of beams, got \"none\""},
    {"RootIsAnArray",
     [](json& d) {
       d = json::array({1, 2});
     },
     "top level", "expected an object, got [1,2]"},
};

INSTANTIATE_TEST_SUITE_P(Cases, PlanJsonSchemaError, ::testing::ValuesIn(kSchemaCases),
                         [](const auto& tc) { return tc.param.name; });

TEST(PlanJsonErrors, ReportsEveryErrorNotOnlyTheFirst) {
  json doc = json::parse(writePlanJson(testing::validMixedPlan()));
  doc["approval"] = "maybe";
  doc["beams"][0]["layers"][1]["spots"][0][1] = "north";
  doc["beams"][2]["gantry_angle"] = 400;
  auto parsed = parsePlanJson(doc.dump(), "multi.json");
  ASSERT_FALSE(parsed.ok());
  const std::string& m = parsed.error().message;
  EXPECT_NE(m.find("multi.json: approval: "), std::string::npos) << m;
  EXPECT_NE(m.find("multi.json: beams[0].layers[1].spots[0][1]: "), std::string::npos) << m;
  EXPECT_NE(m.find("multi.json: beams[2].gantry_angle: "), std::string::npos) << m;
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 2) << m;
}

TEST(PlanJsonErrors, CapsTheNumberOfReportedErrors) {
  json doc = json::parse(writePlanJson(testing::validMixedPlan()));
  json& spots = doc["beams"][0]["layers"][0]["spots"];
  spots = json::array();
  for (int i = 0; i < 200; ++i) spots.push_back({0.0, 0.0, -1.0});
  auto parsed = parsePlanJson(doc.dump(), "many.json");
  ASSERT_FALSE(parsed.ok());
  const std::string& m = parsed.error().message;
  EXPECT_EQ(static_cast<std::size_t>(std::count(m.begin(), m.end(), '\n')), kMaxReportedErrors);
  EXPECT_NE(m.find("many.json: beams[0].layers[0].spots[49][2]: "), std::string::npos);
  EXPECT_EQ(m.find("spots[50][2]"), std::string::npos);
  EXPECT_NE(m.find("many.json: ... and 150 more errors"), std::string::npos) << m;
}

TEST(PlanJsonErrors, DuplicateKeyIsRefusedWithItsPath) {
  std::string text = writePlanJson(testing::validMixedPlan());
  // The second layer of the first beam gets "paintings" twice: the guard must have counted its
  // way through the first layer's spot arrays to name the right layer.
  const std::string anchor = "\"energy_mev_u\": 200.5,";
  text.insert(text.find(anchor) + anchor.size(), " \"paintings\": 2,");
  auto parsed = parsePlanJson(text, "dup.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, PlanError::Invalid);
  EXPECT_EQ(parsed.error().message, "dup.json: beams[0].layers[1]: duplicate key \"paintings\"");

  auto top = parsePlanJson(R"({"format": "spotline-plan", "format": "spotline-plan"})", "t.json");
  ASSERT_FALSE(top.ok());
  EXPECT_EQ(top.error().message, "t.json: top level: duplicate key \"format\"");
}

TEST(PlanJsonErrors, MalformedJsonNamesByteAndLine) {
  const std::string text = "{\n  \"format\": \"spotline-plan\",\n  oops\n}\n";
  auto parsed = parsePlanJson(text, "bad.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, PlanError::Malformed);
  const std::string& m = parsed.error().message;
  EXPECT_EQ(m.rfind("bad.json: not valid JSON (byte ", 0), 0u) << m;
  EXPECT_NE(m.find("line 3, column"), std::string::npos) << m;
  EXPECT_EQ(m.find("[json.exception"), std::string::npos) << m;
}

TEST(PlanJsonErrors, TruncatedEmptyAndCommentedTextsAreMalformed) {
  const std::string full = writePlanJson(testing::validMixedPlan());
  for (const std::string& text :
       {full.substr(0, full.size() / 2), std::string(), std::string("// plan\n") + full, full + "{}"}) {
    auto parsed = parsePlanJson(text, "cut.json");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, PlanError::Malformed) << parsed.error().message;
    EXPECT_EQ(parsed.error().message.rfind("cut.json: ", 0), 0u);
  }
}

TEST(PlanJsonErrors, NestingBeyondTheLimitIsRefused) {
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  auto parsed = parsePlanJson(deep, "deep.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, PlanError::Malformed);
  EXPECT_NE(parsed.error().message.find("nested deeper than 32 levels"), std::string::npos) << parsed.error().message;
}

TEST(PlanJsonErrors, InvalidUtf8IsMalformed) {
  std::string text = writePlanJson(testing::validMixedPlan());
  text.replace(text.find("test plan"), 4, "t\xff\xfe ");
  auto parsed = parsePlanJson(text, "utf.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, PlanError::Malformed);
}

// ---------------------------------------------------------------------------------------------
// Files.

TEST(PlanJsonFile, ReadsWhatWasWritten) {
  const Plan plan = testing::validMixedPlan();
  const auto path = tempFile("plan_json_roundtrip.json");
  writeFile(path, writePlanJson(plan));
  auto read = readPlanJson(path);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value(), plan);
  std::filesystem::remove(path);
}

TEST(PlanJsonFile, MissingFileIsUnreadableAndNamed) {
  const auto path = tempFile("no_such_plan_file.json");
  auto read = readPlanJson(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, PlanError::Unreadable);
  EXPECT_EQ(read.error().message.rfind(path.string() + ": cannot read plan file", 0), 0u) << read.error().message;
}

TEST(PlanJsonFile, DirectoryIsUnreadable) {
  auto read = readPlanJson(std::filesystem::path(::testing::TempDir()));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, PlanError::Unreadable);
}

TEST(PlanJsonFile, SchemaErrorsNameTheFile) {
  json doc = json::parse(writePlanJson(testing::validMixedPlan()));
  doc["beams"][0]["layers"][0]["spots"][2][2] = "lots";
  const auto path = tempFile("plan_json_bad_spot.json");
  writeFile(path, doc.dump(2));
  auto read = readPlanJson(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, PlanError::Invalid);
  EXPECT_EQ(read.error().message,
            path.string() + ": beams[0].layers[0].spots[2][2]: expected a finite number >= 0, got \"lots\"");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace spotline::plan
