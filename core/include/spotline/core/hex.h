#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spotline {

std::string toHex(std::span<const std::byte> bytes);
std::string toHex(std::span<const unsigned char> bytes);
// nullopt when the text is not an even-length string of hex digits.
std::optional<std::vector<std::byte>> fromHex(std::string_view text);

}  // namespace spotline
