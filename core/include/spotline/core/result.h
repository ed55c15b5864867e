#pragma once
// Expected failures (a bad plan, a refused command, an interlock) are values, not exceptions.
// Each module defines its own error enum E; the message says what and where.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace spotline {

template <typename E>
struct Failure {
  E code;
  std::string message;
};

template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Failure<E> failure) : state_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  const Failure<E>& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }

 private:
  std::variant<T, Failure<E>> state_;
};

template <typename E>
Failure<E> fail(E code, std::string message) {
  return Failure<E>{code, std::move(message)};
}

}  // namespace spotline
