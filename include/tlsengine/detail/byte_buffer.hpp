// tlsengine — a growable byte queue: append at the back, consume from the front, no
// zero-filling, writable space handed out for zero-copy producers.
#pragma once

#include "../bytes.hpp"

#include <cstring>
#include <memory>

namespace tlsengine::detail {

class byte_buffer {
public:
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bytes_view view() const noexcept { return bytes_view(data_.get() + begin_, size()); }

  void consume(std::size_t n) noexcept {
    begin_ += n < size() ? n : size();
    if (begin_ == end_) begin_ = end_ = 0;
  }

  /// At least `n` writable bytes after the content; valid until the next mutation.
  mutable_bytes_view prepare(std::size_t n) {
    if (capacity_ - end_ < n) make_room(n);
    return mutable_bytes_view(data_.get() + end_, capacity_ - end_);
  }
  void commit(std::size_t n) noexcept { end_ += n; }

  void append(bytes_view bytes) {
    if (bytes.empty()) return;
    prepare(bytes.size());
    std::memcpy(data_.get() + end_, bytes.data(), bytes.size());
    end_ += bytes.size();
  }

  void clear() noexcept { begin_ = end_ = 0; }
  /// Keeps only the first n bytes.
  void truncate(std::size_t n) noexcept {
    if (n < size()) end_ = begin_ + n;
  }
  /// Frees the storage when there is no content.
  void release_if_empty() noexcept {
    if (empty() && data_) {
      data_.reset();
      capacity_ = 0;
    }
  }

private:
  void make_room(std::size_t n) {
    const std::size_t used = size();
    if (data_ && capacity_ - used >= n && begin_ >= used) {
      // Sliding the content to the front is enough (and cheap: the content is short).
      std::memmove(data_.get(), data_.get() + begin_, used);
    } else {
      std::size_t wanted = capacity_ * 2;
      if (wanted < used + n) wanted = used + n;
      if (wanted < 4096) wanted = 4096;
      std::unique_ptr<std::uint8_t[]> bigger(new std::uint8_t[wanted]);
      if (used != 0) std::memcpy(bigger.get(), data_.get() + begin_, used);
      data_ = std::move(bigger);
      capacity_ = wanted;
    }
    begin_ = 0;
    end_ = used;
  }

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

} // namespace tlsengine::detail
