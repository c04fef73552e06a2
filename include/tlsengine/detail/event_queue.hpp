// tlsengine — the queue of events a connection has not handed out yet. A std::deque would
// allocate its map and a 512-byte node as soon as the connection is made, and keep them
// while it is idle; this queue holds storage only while events wait.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace tlsengine::detail {

template <class T> class pending_queue {
public:
  using iterator = typename std::vector<T>::iterator;

  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  /// Whether storage is held (none once everything was handed out).
  bool holds_storage() const noexcept { return items_.capacity() != 0; }
  T& front() { return items_[head_]; }
  T& back() { return items_.back(); }
  iterator begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  iterator end() { return items_.end(); }

  template <class... Args> T& emplace_back(Args&&... args) {
    // A handshake queues a few at once (secure, two tickets...): one allocation, not three.
    if (items_.capacity() == 0) items_.reserve(4);
    return items_.emplace_back(std::forward<Args>(args)...);
  }
  void erase(iterator it) { items_.erase(it); }

  /// Removes the first item (already moved out by the caller); the storage goes when the
  /// last one does (idle connections hold none), and taken items are dropped once they
  /// are the larger part.
  void pop_front() {
    ++head_;
    if (head_ == items_.size()) {
      std::vector<T>().swap(items_);
      head_ = 0;
    } else if (head_ >= 16 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

private:
  std::vector<T> items_;
  std::size_t head_ = 0; // items before it were handed out
};

} // namespace tlsengine::detail
