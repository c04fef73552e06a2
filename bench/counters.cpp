// tlsengine bench — counting interposers. The executable defines malloc, free, calloc,
// realloc, the aligned allocators, operator new/delete, memcpy, memmove and memset; the
// dynamic linker then binds every shared library's calls (libssl, libcrypto, libstdc++)
// to these. Each forwards to glibc's own entry points (__libc_malloc, __memcpy_chk, ...),
// so nothing recurses and mallinfo2() still describes the one heap.
//
// Compiled with -fno-builtin: the compiler must not turn the forwarding calls back into
// calls to the functions being defined. No C library header is included on purpose: the
// declarations below must match glibc's (noexcept, as __THROW is in C++).
#include "counters.hpp"

#include <atomic>
#include <cstddef>
#include <new>

extern "C" {
void* __libc_malloc(std::size_t) noexcept;
void __libc_free(void*) noexcept;
void* __libc_calloc(std::size_t, std::size_t) noexcept;
void* __libc_realloc(void*, std::size_t) noexcept;
void* __libc_memalign(std::size_t, std::size_t) noexcept;
void* __memcpy_chk(void*, const void*, std::size_t, std::size_t) noexcept;
void* __memmove_chk(void*, const void*, std::size_t, std::size_t) noexcept;
void* __memset_chk(void*, int, std::size_t, std::size_t) noexcept;
int backtrace(void**, int) noexcept;
void backtrace_symbols_fd(void* const*, int, int) noexcept;
long write(int, const void*, std::size_t);
}

namespace {
std::atomic<std::uint64_t> g_mallocs{0};
std::atomic<std::uint64_t> g_news{0};
std::atomic<bool> g_count_copies{false};
std::atomic<std::uint64_t> g_copied{0};
std::atomic<std::uint64_t> g_filled{0};
// The destination size passed to the _chk variants: "unknown", read through a volatile so
// the compiler cannot fold the call into a plain memcpy.
volatile std::size_t g_unknown_size = static_cast<std::size_t>(-1);

// --trace-allocs: the call stacks of the first allocations of the steady state.
std::atomic<int> g_trace_left{0};
thread_local bool t_in_trace = false;
inline void trace(std::size_t n) {
  if (g_trace_left.load(std::memory_order_relaxed) <= 0 || t_in_trace) return;
  t_in_trace = true;
  if (g_trace_left.fetch_sub(1) > 0) {
    void* frames[10];
    const int depth = backtrace(frames, 10);
    char line[64];
    const int len = __builtin_snprintf(line, sizeof line, "--- allocation of %zu bytes\n", n);
    write(2, line, static_cast<std::size_t>(len));
    backtrace_symbols_fd(frames, depth, 2);
  }
  t_in_trace = false;
}

inline void* counted_malloc(std::size_t n) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  trace(n);
  return __libc_malloc(n);
}
inline void* counted_new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  trace(n);
  if (n == 0) n = 1;
  void* p = __libc_malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
inline void* counted_aligned_new(std::size_t n, std::size_t align) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = __libc_memalign(align, n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
} // namespace

namespace bench {
alloc_counts allocations() {
  alloc_counts c;
  c.mallocs = g_mallocs.load(std::memory_order_relaxed);
  c.news = g_news.load(std::memory_order_relaxed);
  return c;
}
copy_counts copies() {
  copy_counts c;
  c.copied = g_copied.load(std::memory_order_relaxed);
  c.filled = g_filled.load(std::memory_order_relaxed);
  return c;
}
void count_copies(bool on) { g_count_copies.store(on, std::memory_order_relaxed); }
void trace_allocations(int count) { g_trace_left.store(count); }
} // namespace bench

extern "C" {
void* malloc(std::size_t n) noexcept { return counted_malloc(n); }
void free(void* p) noexcept { __libc_free(p); }
void* calloc(std::size_t n, std::size_t size) noexcept {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) noexcept {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* memalign(std::size_t align, std::size_t n) noexcept {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) noexcept {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return 12; // ENOMEM
  *out = p;
  return 0;
}

void* memcpy(void* __restrict dst, const void* __restrict src, std::size_t n) noexcept {
  if (g_count_copies.load(std::memory_order_relaxed))
    g_copied.fetch_add(n, std::memory_order_relaxed);
  return __memcpy_chk(dst, src, n, g_unknown_size);
}
void* memmove(void* dst, const void* src, std::size_t n) noexcept {
  if (g_count_copies.load(std::memory_order_relaxed))
    g_copied.fetch_add(n, std::memory_order_relaxed);
  return __memmove_chk(dst, src, n, g_unknown_size);
}
void* memset(void* dst, int c, std::size_t n) noexcept {
  if (g_count_copies.load(std::memory_order_relaxed))
    g_filled.fetch_add(n, std::memory_order_relaxed);
  return __memset_chk(dst, c, n, g_unknown_size);
}
}

void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n == 0 ? 1 : n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_aligned_new(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_aligned_new(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { __libc_free(p); }
