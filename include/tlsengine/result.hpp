// tlsengine — result<T>: a value or a std::error_code, shaped like C++23's std::expected.
#pragma once

#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

namespace tlsengine {

/// The outcome of a fallible factory. Never throws: reading the value of a failed result
/// is a programming error (checked by assertions in debug builds only).
template <class T> class result {
public:
  result(T value) : value_(std::move(value)) {}
  result(std::error_code ec) : error_(ec) {
    if (!error_) error_ = std::make_error_code(std::errc::invalid_argument);
  }

  bool has_value() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & noexcept { return *value_; }
  const T& value() const& noexcept { return *value_; }
  T&& value() && noexcept { return std::move(*value_); }
  T& operator*() & noexcept { return *value_; }
  const T& operator*() const& noexcept { return *value_; }
  T&& operator*() && noexcept { return std::move(*value_); }
  T* operator->() noexcept { return &*value_; }
  const T* operator->() const noexcept { return &*value_; }

  /// The error; an empty error_code when the result holds a value.
  std::error_code error() const noexcept { return error_; }

  template <class U> T value_or(U&& fallback) const& {
    return has_value() ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }

private:
  std::optional<T> value_;
  std::error_code error_;
};

} // namespace tlsengine
