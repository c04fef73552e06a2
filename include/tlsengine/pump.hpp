// tlsengine — pump(): two engines wired back to back in memory (Node's createSecurePair
// idea), for tests, simulations and the demo.
#pragma once

#include "connection.hpp"

#include <cstddef>
#include <limits>

namespace tlsengine {

struct pump_options {
  /// The most bytes moved per feed() call; 1 feeds one byte at a time.
  std::size_t chunk = std::numeric_limits<std::size_t>::max();
};

/// Moves `from`'s pending output into `to` (at most one chunk). Returns the bytes moved.
inline std::size_t transfer(connection& from, connection& to, pump_options options = {}) {
  const bytes_view out = from.pending_output();
  if (out.empty()) return 0;
  const std::size_t taken = to.feed(out.subview(0, options.chunk));
  from.consume_output(taken);
  return taken;
}

/// Moves ciphertext both ways until neither side has output the other can take.
/// Returns the bytes moved. It does not read cleartext or events: the caller drains.
inline std::size_t pump(connection& a, connection& b, pump_options options = {}) {
  std::size_t total = 0;
  for (;;) {
    const std::size_t moved = transfer(a, b, options) + transfer(b, a, options);
    if (moved == 0) return total;
    total += moved;
  }
}

} // namespace tlsengine
