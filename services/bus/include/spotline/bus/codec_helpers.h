#pragma once
// Small conveniences for reading Cap'n Proto text and lists into std types.

#include <capnp/blob.h>

#include <string>
#include <string_view>

namespace spotline::bus {

inline std::string str(capnp::Text::Reader t) {
  return std::string(t.cStr(), t.size());
}
inline std::string_view view(capnp::Text::Reader t) {
  return std::string_view(t.cStr(), t.size());
}
inline capnp::Text::Reader text(std::string_view s) {
  return capnp::Text::Reader(s.data(), s.size());
}

}  // namespace spotline::bus
