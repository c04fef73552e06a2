// tlsengine bench — process-wide counters fed by the interposers in counters.cpp:
// heap allocations (malloc family and operator new) and bytes copied or filled by
// memcpy/memmove/memset calls made through the PLT (OpenSSL's, the engine's, ours).
#pragma once

#include <cstdint>

namespace bench {

struct alloc_counts {
  std::uint64_t mallocs = 0; ///< malloc, calloc, realloc, posix_memalign, aligned_alloc
  std::uint64_t news = 0;    ///< operator new / new[] (C++ code: the engine, the bench)
  std::uint64_t total() const { return mallocs + news; }
};

struct copy_counts {
  std::uint64_t copied = 0; ///< memcpy + memmove bytes
  std::uint64_t filled = 0; ///< memset bytes (zero-filling)
};

alloc_counts allocations();
copy_counts copies();
/// Counting copies costs a branch per call; it is off unless a measurement turns it on.
void count_copies(bool on);
/// Prints the call stacks (stderr) of the next `count` allocations: --trace-allocs.
void trace_allocations(int count);

} // namespace bench
