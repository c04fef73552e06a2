// tlsengine — a growable byte queue: append at the back, consume from the front, no
// zero-filling, writable space handed out for zero-copy producers. A drained queue gives
// its block back to a small per-thread pool, where the next one that grows takes it: idle
// connections hold no buffer, and busy ones allocate nothing per record.
#pragma once

#include "../bytes.hpp"

#include <cstring>
#include <memory>
#include <utility>

namespace tlsengine::detail {

/// Free blocks of this thread, a few and not too big (bounded memory per thread).
class block_pool {
public:
  static constexpr std::size_t slots = 8;
  static constexpr std::size_t max_block = 64 * 1024;

  /// This thread's pool; null while the thread is exiting (blocks are then just freed).
  static block_pool* get() noexcept {
    if (gone()) return nullptr;
    thread_local block_pool pool;
    return &pool;
  }
  /// The smallest free block of at least `wanted` bytes (its size in `size`), or null.
  std::uint8_t* take(std::size_t wanted, std::size_t& size) noexcept {
    std::size_t best = count_;
    for (std::size_t i = 0; i < count_; ++i)
      if (blocks_[i].size >= wanted && (best == count_ || blocks_[i].size < blocks_[best].size))
        best = i;
    if (best == count_) return nullptr;
    std::uint8_t* data = blocks_[best].data;
    size = blocks_[best].size;
    blocks_[best] = blocks_[--count_];
    return data;
  }
  /// Keeps `data` if there is room, else frees it.
  void give(std::uint8_t* data, std::size_t size) noexcept {
    if (size <= max_block && count_ < slots) {
      blocks_[count_++] = block{data, size};
      return;
    }
    delete[] data;
  }
  ~block_pool() {
    for (std::size_t i = 0; i < count_; ++i)
      delete[] blocks_[i].data;
    count_ = 0;
    gone() = true;
  }

private:
  block_pool() = default;
  static bool& gone() noexcept {
    thread_local bool value = false; // trivially destructible: readable at thread exit
    return value;
  }
  struct block {
    std::uint8_t* data;
    std::size_t size;
  };
  block blocks_[slots] = {};
  std::size_t count_ = 0;
};

class byte_buffer {
public:
  byte_buffer() = default;
  byte_buffer(const byte_buffer&) = delete;
  byte_buffer& operator=(const byte_buffer&) = delete;
  byte_buffer(byte_buffer&& other) noexcept { swap(other); }
  byte_buffer& operator=(byte_buffer&& other) noexcept {
    if (this != &other) {
      byte_buffer gone(std::move(other));
      swap(gone);
    }
    return *this;
  }
  ~byte_buffer() { delete[] data_; }
  void swap(byte_buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(capacity_, other.capacity_);
    std::swap(begin_, other.begin_);
    std::swap(end_, other.end_);
  }

  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bytes_view view() const noexcept { return bytes_view(data_ + begin_, size()); }

  void consume(std::size_t n) noexcept {
    begin_ += n < size() ? n : size();
    if (begin_ == end_) begin_ = end_ = 0;
  }

  /// At least `n` writable bytes after the content; valid until the next mutation.
  mutable_bytes_view prepare(std::size_t n) {
    if (capacity_ - end_ < n) make_room(n);
    return mutable_bytes_view(data_ + end_, capacity_ - end_);
  }
  void commit(std::size_t n) noexcept { end_ += n; }

  void append(bytes_view bytes) {
    if (bytes.empty()) return;
    prepare(bytes.size());
    std::memcpy(data_ + end_, bytes.data(), bytes.size());
    end_ += bytes.size();
  }

  void clear() noexcept { begin_ = end_ = 0; }
  /// Keeps only the first n bytes.
  void truncate(std::size_t n) noexcept {
    if (n < size()) end_ = begin_ + n;
  }
  /// Gives the storage back (to this thread's pool) when there is no content.
  void release_if_empty() noexcept {
    if (!empty() || data_ == nullptr) return;
    if (block_pool* pool = block_pool::get())
      pool->give(data_, capacity_);
    else
      delete[] data_;
    data_ = nullptr;
    capacity_ = 0;
    begin_ = end_ = 0;
  }

private:
  void make_room(std::size_t n) {
    const std::size_t used = size();
    if (data_ != nullptr && capacity_ - used >= n && begin_ >= used) {
      // Sliding the content to the front is enough (and cheap: the content is short).
      std::memmove(data_, data_ + begin_, used);
    } else {
      std::size_t wanted = capacity_ * 2;
      if (wanted < used + n) wanted = used + n;
      if (wanted < 4096) wanted = 4096;
      std::size_t size = 0;
      block_pool* pool = block_pool::get();
      std::uint8_t* bigger = pool != nullptr ? pool->take(wanted, size) : nullptr;
      if (bigger == nullptr) {
        bigger = new std::uint8_t[wanted];
        size = wanted;
      }
      if (used != 0) std::memcpy(bigger, data_ + begin_, used);
      if (data_ != nullptr) {
        if (pool != nullptr)
          pool->give(data_, capacity_);
        else
          delete[] data_;
      }
      data_ = bigger;
      capacity_ = size;
    }
    begin_ = 0;
    end_ = used;
  }

  std::uint8_t* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

} // namespace tlsengine::detail
