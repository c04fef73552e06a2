// tlsengine fuzzing — the deterministic RAND provider and the fixed clock (see
// deterministic.hpp). Compiled into every harness and into record_corpus.
#include "deterministic.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <time.h>

namespace fuzz {
namespace {

bool g_deterministic = false;
OSSL_PROVIDER* g_provider = nullptr;
constexpr int stream_count = 3;
std::uint64_t g_state[stream_count] = {};
stream g_active = stream::setup;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void fill(unsigned char* out, std::size_t size) {
  std::uint64_t& state = g_state[static_cast<int>(g_active)];
  while (size > 0) {
    const std::uint64_t word = splitmix64(state);
    const std::size_t n = size < sizeof word ? size : sizeof word;
    std::memcpy(out, &word, n);
    out += n;
    size -= n;
  }
}

// ---- the RAND provider (the shape of OpenSSL's fuzz/fuzz_rand.c) --------------------------

void* rand_newctx(void*, void*, const OSSL_DISPATCH*) {
  int* state = static_cast<int*>(OPENSSL_malloc(sizeof(int)));
  if (state != nullptr) *state = EVP_RAND_STATE_UNINITIALISED;
  return state;
}

void rand_freectx(void* ctx) { OPENSSL_free(ctx); }

int rand_instantiate(void* ctx, unsigned int, int, const unsigned char*, size_t,
                     const OSSL_PARAM[]) {
  *static_cast<int*>(ctx) = EVP_RAND_STATE_READY;
  return 1;
}

int rand_uninstantiate(void* ctx) {
  *static_cast<int*>(ctx) = EVP_RAND_STATE_UNINITIALISED;
  return 1;
}

int rand_generate(void*, unsigned char* out, size_t size, unsigned int, int, const unsigned char*,
                  size_t) {
  fill(out, size);
  return 1;
}

int rand_reseed(void*, int, const unsigned char*, size_t, const unsigned char*, size_t) {
  return 1;
}

int rand_enable_locking(void*) { return 1; }

int rand_get_ctx_params(void* ctx, OSSL_PARAM params[]) {
  OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE);
  if (p != nullptr && !OSSL_PARAM_set_int(p, *static_cast<int*>(ctx))) return 0;
  p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH);
  if (p != nullptr && !OSSL_PARAM_set_uint(p, 256)) return 0;
  p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST);
  if (p != nullptr && !OSSL_PARAM_set_size_t(p, INT_MAX)) return 0;
  return 1;
}

const OSSL_PARAM* rand_gettable_ctx_params(void*, void*) {
  static const OSSL_PARAM params[] = {OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, nullptr),
                                      OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, nullptr),
                                      OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, nullptr),
                                      OSSL_PARAM_END};
  return params;
}

template <class F> void (*fn(F* f))(void) { return reinterpret_cast<void (*)(void)>(f); }

const OSSL_DISPATCH rand_functions[] = {
    {OSSL_FUNC_RAND_NEWCTX, fn(rand_newctx)},
    {OSSL_FUNC_RAND_FREECTX, fn(rand_freectx)},
    {OSSL_FUNC_RAND_INSTANTIATE, fn(rand_instantiate)},
    {OSSL_FUNC_RAND_UNINSTANTIATE, fn(rand_uninstantiate)},
    {OSSL_FUNC_RAND_GENERATE, fn(rand_generate)},
    {OSSL_FUNC_RAND_RESEED, fn(rand_reseed)},
    {OSSL_FUNC_RAND_ENABLE_LOCKING, fn(rand_enable_locking)},
    {OSSL_FUNC_RAND_GETTABLE_CTX_PARAMS, fn(rand_gettable_ctx_params)},
    {OSSL_FUNC_RAND_GET_CTX_PARAMS, fn(rand_get_ctx_params)},
    {0, nullptr}};

const OSSL_ALGORITHM rand_algorithms[] = {
    {"tlsengine-fuzz", "provider=tlsengine-fuzz-rand", rand_functions, nullptr},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM* provider_query(void*, int operation, int* no_cache) {
  *no_cache = 0;
  return operation == OSSL_OP_RAND ? rand_algorithms : nullptr;
}

const OSSL_DISPATCH provider_functions[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, fn(provider_query)}, {0, nullptr}};

int provider_init(const OSSL_CORE_HANDLE*, const OSSL_DISPATCH*, const OSSL_DISPATCH** out,
                  void** provctx) {
  *out = provider_functions;
  *provctx = nullptr;
  return 1;
}

} // namespace

bool init_deterministic_mode() {
  const char* env = std::getenv("TLSENGINE_FUZZ_DETERMINISTIC");
  g_deterministic = env == nullptr || std::strcmp(env, "0") != 0;
  if (!g_deterministic) return false;
  rng_reset(0);
  if (OSSL_PROVIDER_add_builtin(nullptr, "tlsengine-fuzz-rand", provider_init) != 1 ||
      RAND_set_DRBG_type(nullptr, "tlsengine-fuzz", "provider=tlsengine-fuzz-rand", nullptr,
                         nullptr) != 1 ||
      (g_provider = OSSL_PROVIDER_try_load(nullptr, "tlsengine-fuzz-rand", 1)) == nullptr) {
    std::fprintf(stderr, "tlsengine fuzz: cannot install the deterministic RAND provider\n");
    std::abort();
  }
  // Released before OpenSSL's own exit handler (registered earlier) runs.
  std::atexit([] { OSSL_PROVIDER_unload(g_provider); });
  // Prove it took: two draws after the same reset must be equal.
  unsigned char a[16], b[16];
  rng_reset(42);
  if (RAND_bytes(a, sizeof a) != 1) std::abort();
  rng_reset(42);
  if (RAND_bytes(b, sizeof b) != 1 || std::memcmp(a, b, sizeof a) != 0) {
    std::fprintf(stderr, "tlsengine fuzz: OpenSSL does not draw from the fuzz RAND provider\n");
    std::abort();
  }
  return true;
}

bool deterministic() { return g_deterministic; }

void rng_reset(std::uint64_t seed) {
  for (int i = 0; i < stream_count; ++i)
    rng_reset(static_cast<stream>(i), seed);
}

void rng_reset(stream s, std::uint64_t seed) {
  std::uint64_t mix =
      seed * 0x100000001B3ull + static_cast<std::uint64_t>(s) * 0x9E3779B97F4A7C15ull;
  g_state[static_cast<int>(s)] = splitmix64(mix);
}

rng_scope::rng_scope(stream s) : previous_(g_active) { g_active = s; }
rng_scope::~rng_scope() { g_active = previous_; }

} // namespace fuzz

// The wall clock OpenSSL reads. Defined in the executable, it takes precedence over libc's
// time() for the shared libssl/libcrypto (and over the sanitizers' weak interceptor).
extern "C" time_t time(time_t* out) noexcept {
  time_t now = fuzz::fixed_time;
  if (!fuzz::deterministic()) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = ts.tv_sec;
  }
  if (out != nullptr) *out = now;
  return now;
}
