// tlsengine fuzzing — deterministic mode: a replaceable RNG and a fixed wall clock for
// OpenSSL, so that a recorded handshake replays byte for byte and inputs reach past the
// first flight.
//
// * RNG: an OpenSSL RAND provider ("tlsengine-fuzz-rand", modelled on OpenSSL's own
//   fuzz/fuzz_rand.c) installed as the DRBG type of the default library context. Every
//   random byte OpenSSL draws (hello randoms, key shares, ECDSA nonces, ticket keys, IVs)
//   comes from one of a few independent streams; the harness says which stream is active
//   (rng_scope) around every call into a client or a server engine. Two engines in one
//   process then draw exactly what each would draw alone, so the client bytes recorded
//   from a client+server pair replay against a server alone, and the reverse.
// * Clock: OpenSSL 3.0 reads the wall clock with time() (session and ticket times and
//   their expiry, certificate validity). deterministic.cpp defines time() in the
//   executable, which takes precedence over libc's for libssl and libcrypto, and returns
//   fixed_time while deterministic mode is on. The engine's own clock is
//   connection_options::now, which the harnesses set to a fake clock.
//
// Deterministic mode is on by default. TLSENGINE_FUZZ_DETERMINISTIC=0 in the environment
// turns it off (OpenSSL's own DRBG and the real clock), to measure what it buys.
#pragma once

#include <cstdint>
#include <ctime>

namespace fuzz {

/// The independent RNG streams: context creation, the client engine, the server engine.
enum class stream : int { setup = 0, client = 1, server = 2 };

/// 2026-01-01T00:00:00Z: inside the test credentials' validity (2025-2125).
inline constexpr std::time_t fixed_time = 1767225600;

/// Installs the RAND provider and freezes the clock unless TLSENGINE_FUZZ_DETERMINISTIC=0.
/// Call once, before anything else touches OpenSSL. Returns whether the mode is on.
bool init_deterministic_mode();
bool deterministic();

/// Restarts every stream from `seed` (call at the start of each input).
void rng_reset(std::uint64_t seed);
/// Restarts one stream from `seed`.
void rng_reset(stream s, std::uint64_t seed);

/// Selects the stream OpenSSL draws from until the scope ends.
class rng_scope {
public:
  explicit rng_scope(stream s);
  ~rng_scope();
  rng_scope(const rng_scope&) = delete;
  rng_scope& operator=(const rng_scope&) = delete;

private:
  stream previous_;
};

} // namespace fuzz
