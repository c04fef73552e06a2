// The queue behind next_event(): first in, first out whatever the interleaving of pushes
// and pops (it compacts itself), and no storage once drained, so an idle connection holds
// none (a std::deque keeps a map and a 512-byte node from construction on).
#include "catch_compat.hpp"

#include <tlsengine/tlsengine.hpp>

#include <string>

using tlsengine::detail::pending_queue;

TEST_CASE("pending_queue: FIFO across compactions, storage only while items wait",
          "[pending_queue][memory]") {
  pending_queue<std::string> queue;
  CHECK_FALSE(queue.holds_storage());
  int pushed = 0, popped = 0;
  // Push three, pop two, many times: the taken part is compacted away repeatedly.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 3; ++i)
      queue.emplace_back(std::to_string(pushed++));
    for (int i = 0; i < 2; ++i) {
      REQUIRE(queue.front() == std::to_string(popped));
      queue.pop_front();
      ++popped;
    }
    REQUIRE(queue.size() == static_cast<std::size_t>(pushed - popped));
    REQUIRE(queue.back() == std::to_string(pushed - 1));
  }
  while (!queue.empty()) {
    REQUIRE(queue.front() == std::to_string(popped++));
    queue.pop_front();
  }
  CHECK(popped == pushed);
  CHECK_FALSE(queue.holds_storage());
}

TEST_CASE("pending_queue: erasing a waiting item keeps the others in order", "[pending_queue]") {
  pending_queue<int> queue;
  for (int i = 0; i < 5; ++i)
    queue.emplace_back(i);
  queue.pop_front(); // 1 2 3 4
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (*it == 3) {
      queue.erase(it);
      break;
    }
  }
  std::string order;
  for (int value : queue)
    order += std::to_string(value);
  CHECK(order == "124");
  queue.pop_front();
  queue.pop_front();
  queue.pop_front();
  CHECK(queue.empty());
  CHECK_FALSE(queue.holds_storage());
}
