#include "spotline/delivery/faults.h"

#include <gtest/gtest.h>

namespace spotline::delivery {
namespace {

using namespace std::chrono_literals;

TEST(Faults, ParsesEveryKindTheConsoleDocuments) {
  struct Case {
    const char* text;
    FaultKind kind;
    FaultTrigger trigger;
    std::uint64_t ordinal;
    SimDuration after;
  };
  for (const Case& c : {Case{"position-drift@layer=3", FaultKind::PositionDrift, FaultTrigger::Layer, 3, 0s},
                        Case{"monitor2-fail@spot=1200", FaultKind::Monitor2Fail, FaultTrigger::Spot, 1200, 0s},
                        Case{"spill-abort@spill=4", FaultKind::SpillAbort, FaultTrigger::Spill, 4, 0s},
                        Case{"door-open@t=30s", FaultKind::DoorOpen, FaultTrigger::Time, 0, 30s},
                        Case{"door-open@t=1500ms", FaultKind::DoorOpen, FaultTrigger::Time, 0, 1500ms},
                        Case{"door-open@t=2min", FaultKind::DoorOpen, FaultTrigger::Time, 0, 120s},
                        Case{"kill-rv@spot=5000", FaultKind::KillRv, FaultTrigger::Spot, 5000, 0s},
                        Case{"overshoot@spot=200", FaultKind::Overshoot, FaultTrigger::Spot, 200, 0s}}) {
    auto f = parseFault(c.text);
    ASSERT_TRUE(f.ok()) << c.text << ": " << f.error().message;
    EXPECT_EQ(f.value().kind, c.kind) << c.text;
    EXPECT_EQ(f.value().trigger, c.trigger) << c.text;
    EXPECT_EQ(f.value().ordinal, c.ordinal) << c.text;
    EXPECT_EQ(f.value().after, c.after) << c.text;
    EXPECT_EQ(f.value().text, c.text);
  }
  EXPECT_EQ(parseFault("kill-rv@spot=1").value().victim(), "rv");
  EXPECT_TRUE(parseFault("kill-dose@spot=1").value().processFault());
  EXPECT_FALSE(parseFault("overshoot@spot=1").value().processFault());
}

TEST(Faults, BadSpecsAreRefusedNamingWhatIsWrong) {
  struct Case {
    const char* text;
    const char* mentions;
  };
  for (const Case& c : {Case{"position-drift", "KIND@WHERE"}, Case{"laser@spot=1", "unknown kind 'laser'"},
                        Case{"overshoot@spot", "key=value"}, Case{"overshoot@beam=1", "unknown key 'beam'"},
                        Case{"overshoot@layer=1", "overshoot takes spot=N"}, Case{"overshoot@spot=0", "from 1"},
                        Case{"overshoot@spot=12x", "whole number"}, Case{"door-open@t=5h", "unknown time unit"},
                        Case{"door-open@t=-1s", "between 0"}, Case{"spill-abort@t=3s", "spill-abort takes spill=N"}}) {
    auto f = parseFault(c.text);
    ASSERT_FALSE(f.ok()) << c.text;
    EXPECT_NE(f.error().message.find(c.mentions), std::string::npos) << f.error().message;
    EXPECT_NE(f.error().message.find(c.text), std::string::npos) << f.error().message;
  }
  auto many = parseFaults({"overshoot@spot=3", "bogus"});
  EXPECT_FALSE(many.ok());
}

}  // namespace
}  // namespace spotline::delivery
