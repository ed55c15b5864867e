#include <gtest/gtest.h>

#include "spotline/core/clock.h"
#include "spotline/core/hex.h"

namespace spotline {
namespace {

TEST(Hex, RoundTripsEveryByteValue) {
  std::vector<std::byte> all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::byte>(i));
  auto text = toHex(std::span<const std::byte>(all));
  ASSERT_EQ(text.size(), 512u);
  EXPECT_EQ(text.substr(0, 6), "000102");
  EXPECT_EQ(text.substr(508), "feff");
  auto back = fromHex(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_FALSE(fromHex("abc").has_value());
  EXPECT_FALSE(fromHex("zz").has_value());
}

TEST(ManualClock, MovesOnlyWhenAdvanced) {
  ManualClock clock;
  auto t0 = clock.now();
  EXPECT_EQ(clock.now(), t0);
  clock.advance(std::chrono::milliseconds(5));
  EXPECT_EQ(clock.now() - t0, std::chrono::milliseconds(5));
}

}  // namespace
}  // namespace spotline
