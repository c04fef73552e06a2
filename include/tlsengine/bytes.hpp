// tlsengine — byte span types used at every public boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>
#if __cplusplus >= 202002L && __has_include(<span>)
#include <span>
#endif

namespace tlsengine {

/// A read-only view of bytes: pointer + size. Built from a pointer and length, a
/// std::string_view, any contiguous container of bytes, or a std::span under C++20.
class bytes_view {
public:
  constexpr bytes_view() noexcept = default;
  constexpr bytes_view(const std::uint8_t* data, std::size_t size) noexcept
      : data_(data), size_(size) {}
  bytes_view(const void* data, std::size_t size) noexcept
      : data_(static_cast<const std::uint8_t*>(data)), size_(size) {}
  bytes_view(std::string_view s) noexcept
      : data_(reinterpret_cast<const std::uint8_t*>(s.data())), size_(s.size()) {}
  bytes_view(const std::string& s) noexcept : bytes_view(std::string_view(s)) {}
  bytes_view(const char* s) noexcept : bytes_view(std::string_view(s)) {}
  /// Byte arrays (not char arrays: a string literal is text without its NUL).
  template <std::size_t N>
  constexpr bytes_view(const std::uint8_t (&array)[N]) noexcept : data_(array), size_(N) {}
  template <class Container,
            class = std::enable_if_t<sizeof(*std::declval<const Container&>().data()) == 1 &&
                                     !std::is_convertible_v<const Container&, std::string_view>>,
            class = decltype(std::declval<const Container&>().size())>
  bytes_view(const Container& c) noexcept
      : data_(reinterpret_cast<const std::uint8_t*>(c.data())), size_(c.size()) {}

  constexpr const std::uint8_t* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const std::uint8_t* begin() const noexcept { return data_; }
  constexpr const std::uint8_t* end() const noexcept { return data_ + size_; }
  constexpr std::uint8_t operator[](std::size_t i) const noexcept { return data_[i]; }
  /// The bytes [offset, offset + count), clamped to the view.
  constexpr bytes_view subview(std::size_t offset,
                               std::size_t count = static_cast<std::size_t>(-1)) const noexcept {
    if (offset > size_) offset = size_;
    if (count > size_ - offset) count = size_ - offset;
    return bytes_view(data_ + offset, count);
  }
  std::string_view as_string_view() const noexcept {
    return std::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  std::string to_string() const { return std::string(as_string_view()); }
  std::vector<std::uint8_t> to_vector() const { return std::vector<std::uint8_t>(begin(), end()); }

private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

/// A writable view of bytes, for read() and the zero-copy input window.
class mutable_bytes_view {
public:
  constexpr mutable_bytes_view() noexcept = default;
  constexpr mutable_bytes_view(std::uint8_t* data, std::size_t size) noexcept
      : data_(data), size_(size) {}
  mutable_bytes_view(void* data, std::size_t size) noexcept
      : data_(static_cast<std::uint8_t*>(data)), size_(size) {}
  template <class T, std::size_t N, class = std::enable_if_t<sizeof(T) == 1>>
  mutable_bytes_view(T (&array)[N]) noexcept
      : data_(reinterpret_cast<std::uint8_t*>(array)), size_(N) {}
  template <
      class Container, class = std::enable_if_t<sizeof(*std::declval<Container&>().data()) == 1>,
      class = std::enable_if_t<
          !std::is_const_v<std::remove_pointer_t<decltype(std::declval<Container&>().data())>>>,
      class = decltype(std::declval<Container&>().size())>
  mutable_bytes_view(Container& c) noexcept
      : data_(reinterpret_cast<std::uint8_t*>(c.data())), size_(c.size()) {}

  constexpr std::uint8_t* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr std::uint8_t* begin() const noexcept { return data_; }
  constexpr std::uint8_t* end() const noexcept { return data_ + size_; }
  constexpr operator bytes_view() const noexcept { return bytes_view(data_, size_); }

private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

} // namespace tlsengine
