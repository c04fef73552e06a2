// tlsengine fuzzing — what the harnesses and record_corpus share: the embedded test
// credentials, the client and server configurations ("kinds") an input selects with its
// first byte, the fake clock, and the two small automata that play the application on
// each side. record_corpus runs the same automata, so what it records replays here.
#pragma once

#include "deterministic.hpp"

#include "../examples/common/builtin_certs.hpp"

#include <tlsengine/tlsengine.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace fuzz {

/// A broken invariant: print and abort, so libFuzzer records the input.
[[noreturn]] inline void fail(const char* what, const std::string& detail = std::string()) {
  std::fprintf(stderr, "tlsengine fuzz invariant broken: %s %s\n", what, detail.c_str());
  std::abort();
}

// ---- the fake clock -------------------------------------------------------------------------

/// connection_options::now reads this; harnesses move it forward themselves.
inline tlsengine::clock::time_point& fake_now() {
  static tlsengine::clock::time_point now{};
  return now;
}
inline tlsengine::clock::time_point start_time() {
  return tlsengine::clock::time_point{} + std::chrono::hours(24);
}
inline std::function<tlsengine::clock::time_point()> fake_clock() {
  return [] { return fake_now(); };
}

/// Every input starts from here: all RNG streams from `seed`, the clock at start_time().
inline void start_input(std::uint64_t seed) {
  rng_reset(seed);
  fake_now() = start_time();
}

/// The seed of the server and client harnesses (and of their recordings).
inline constexpr std::uint64_t replay_seed = 0x7115e9ea11ull;

// ---- configurations ------------------------------------------------------------------------

enum class server_kind : std::uint8_t {
  any = 0,   ///< TLS 1.2-1.3, default groups
  tls12 = 1, ///< max_version TLS 1.2
  mtls = 2,  ///< request_cert, trusting the test root
  p256 = 3,  ///< ecdh_curve "P-256": a client that leads with X25519 gets a HelloRetryRequest
  count = 4
};

enum class client_kind : std::uint8_t {
  tls13 = 0,    ///< defaults: offers TLS 1.2-1.3
  tls12 = 1,    ///< max_version TLS 1.2
  mtls13 = 2,   ///< with a client certificate
  mtls12 = 3,   ///< with a client certificate, TLS 1.2
  hrr = 4,      ///< ecdh_curve "X25519:P-256"
  resume13 = 5, ///< as tls13, resuming the session carried in the input
  resume12 = 6, ///< as tls12, resuming the session carried in the input
  count = 7
};

inline bool carries_session(client_kind k) {
  return k == client_kind::resume13 || k == client_kind::resume12;
}

inline const char* name_of(server_kind k) {
  static const char* names[] = {"any", "tls12", "mtls", "p256"};
  return names[static_cast<int>(k)];
}
inline const char* name_of(client_kind k) {
  static const char* names[] = {"tls13", "tls12",    "mtls13",  "mtls12",
                                "hrr",   "resume13", "resume12"};
  return names[static_cast<int>(k)];
}

inline tlsengine::context_options server_context_options(server_kind k) {
  tlsengine::context_options o;
  o.cert = {tlsengine_examples::builtin_server_cert_pem};
  o.key = {tlsengine_examples::builtin_server_key_pem};
  if (k == server_kind::tls12) o.max_version = "TLSv1.2";
  if (k == server_kind::mtls) o.ca = {tlsengine_examples::builtin_ca_pem};
  if (k == server_kind::p256) o.ecdh_curve = "P-256";
  return o;
}

inline tlsengine::context_options client_context_options(client_kind k) {
  tlsengine::context_options o;
  o.ca = {tlsengine_examples::builtin_ca_pem};
  if (k == client_kind::tls12 || k == client_kind::mtls12 || k == client_kind::resume12)
    o.max_version = "TLSv1.2";
  if (k == client_kind::mtls13 || k == client_kind::mtls12) {
    o.cert = {tlsengine_examples::builtin_client_cert_pem};
    o.key = {tlsengine_examples::builtin_client_key_pem};
  }
  if (k == client_kind::hrr) o.ecdh_curve = "X25519:P-256";
  return o;
}

/// Creates a context on the setup stream restarted from a seed of its own, so that its
/// random state (ticket keys) is the same whichever contexts were created before.
inline tlsengine::secure_context make_context(const tlsengine::context_options& o,
                                              std::uint64_t seed) {
  rng_reset(stream::setup, seed);
  rng_scope scope(stream::setup);
  auto ctx = tlsengine::secure_context::create(o);
  if (!ctx) fail("cannot create a fuzzing context:", ctx.error().message());
  return *ctx;
}

/// The servers and client contexts of every kind, created once per process.
struct fixtures {
  tlsengine::server servers[static_cast<int>(server_kind::count)];
  tlsengine::secure_context clients[static_cast<int>(client_kind::count)];

  static const fixtures& get() {
    static const fixtures f;
    return f;
  }

private:
  fixtures() {
    for (int i = 0; i < static_cast<int>(server_kind::count); ++i) {
      tlsengine::server_options so;
      so.secure_context = make_context(server_context_options(static_cast<server_kind>(i)),
                                       0x5e0000u + static_cast<unsigned>(i));
      so.now = fake_clock();
      so.handshake_timeout = std::chrono::seconds(120);
      if (static_cast<server_kind>(i) == server_kind::mtls) so.request_cert = true;
      auto s = tlsengine::server::create(so);
      if (!s) fail("cannot create a fuzzing server:", s.error().message());
      servers[i] = *s;
    }
    for (int i = 0; i < static_cast<int>(client_kind::count); ++i)
      clients[i] = make_context(client_context_options(static_cast<client_kind>(i)),
                                0xc10000u + static_cast<unsigned>(i));
  }
};

inline tlsengine::client_options client_options_for(client_kind k,
                                                    std::vector<std::uint8_t> session = {}) {
  tlsengine::client_options o;
  o.secure_context = fixtures::get().clients[static_cast<int>(k)];
  o.servername = "localhost";
  o.now = fake_clock();
  o.session = std::move(session);
  return o;
}

// ---- the application automata ---------------------------------------------------------------

inline const std::string client_greeting = "hello from the client";
inline const std::string server_greeting = "hello from the server";

/// What an automaton saw.
struct observed {
  int secure = 0;
  int ends = 0;
  int errors = 0;
  std::string received;
  std::vector<std::vector<std::uint8_t>> sessions;
  bool ended = false;
};

/// Drains events and cleartext (DESIGN.md's order), checking the event invariants.
inline void drain(tlsengine::connection& c, observed& seen) {
  while (auto e = c.next_event()) {
    if (std::holds_alternative<tlsengine::events::secure>(*e)) ++seen.secure;
    if (std::holds_alternative<tlsengine::events::end>(*e)) ++seen.ends;
    if (auto* s = std::get_if<tlsengine::events::session>(&*e)) seen.sessions.push_back(s->data);
    if (auto* err = std::get_if<tlsengine::events::error>(&*e)) {
      ++seen.errors;
      if (!err->code) fail("an error event without an error code");
      if (err->code != c.error()) fail("the error event differs from error()");
    }
  }
  if (seen.errors > 1) fail("more than one error event");
  if (seen.secure > 1) fail("more than one secure event");
  if (c.error() && seen.errors == 0) fail("error() set without an error event");
  std::uint8_t buffer[4096];
  while (std::size_t n = c.read(tlsengine::mutable_bytes_view(buffer, sizeof buffer)))
    seen.received.append(reinterpret_cast<const char*>(buffer), n);
}

/// The server application: greets once the handshake completes.
inline void server_app(tlsengine::connection& c, observed& seen) {
  const int secure_before = seen.secure;
  drain(c, seen);
  if (seen.secure > secure_before) c.write(server_greeting);
}

/// The client application: greets at once (sent after the handshake) and ends after the
/// server's greeting arrived.
inline void client_app(tlsengine::connection& c, observed& seen) {
  drain(c, seen);
  if (!seen.ended && seen.received.size() >= server_greeting.size()) {
    seen.ended = true;
    c.end();
  }
}

/// A client connection of kind `k`, created on the client stream.
inline tlsengine::connection new_client(client_kind k, std::vector<std::uint8_t> session,
                                        std::error_code* failure = nullptr) {
  rng_scope scope(stream::client);
  auto c = tlsengine::connection::client(client_options_for(k, std::move(session)));
  if (!c) {
    if (failure) *failure = c.error();
    return tlsengine::connection();
  }
  c->write(client_greeting);
  return std::move(*c);
}

inline tlsengine::connection new_server(server_kind k) {
  rng_scope scope(stream::server);
  return fixtures::get().servers[static_cast<int>(k)].accept();
}

/// Moves `from`'s pending output into `to` (each engine called on its own RNG stream),
/// then runs `to_app` on `to`. Returns the bytes moved; `recorded` (if any) gets them.
template <class App>
std::size_t transfer(tlsengine::connection& from, stream from_stream, tlsengine::connection& to,
                     stream to_stream, observed& to_seen, App to_app,
                     std::vector<std::uint8_t>* recorded = nullptr) {
  tlsengine::bytes_view out;
  {
    rng_scope scope(from_stream);
    out = from.pending_output();
  }
  if (out.empty()) return 0;
  std::size_t taken = 0;
  {
    rng_scope scope(to_stream);
    taken = to.feed(out);
    to_app(to, to_seen);
  }
  if (recorded != nullptr) recorded->insert(recorded->end(), out.begin(), out.begin() + taken);
  rng_scope scope(from_stream);
  from.consume_output(taken);
  return taken;
}

// ---- one side against recorded bytes (the server and client harnesses) -----------------------

/// Feeds `peer_bytes` into `c` in chunks of `chunk` (0: all at once), running `app` and
/// discarding the output after each feed, then the transport EOF. Returns what it saw.
template <class App>
observed replay(tlsengine::connection& c, stream s, tlsengine::bytes_view peer_bytes,
                std::size_t chunk, App app) {
  observed seen;
  rng_scope scope(s);
  if (!c) return seen;
  app(c, seen);
  if (chunk == 0) chunk = peer_bytes.size();
  std::size_t offset = 0;
  int stalls = 0;
  while (offset < peer_bytes.size() && stalls < 4) {
    const std::size_t taken = c.feed(peer_bytes.subview(offset, chunk));
    offset += taken;
    stalls = taken == 0 ? stalls + 1 : 0;
    app(c, seen);
    const tlsengine::bytes_view out = c.pending_output();
    c.consume_output(out.size());
    c.deadline();
  }
  c.feed_eof();
  app(c, seen);
  c.consume_output(c.pending_output().size());
  return seen;
}

/// The server harness: [server kind][chunk][the client's bytes].
inline observed run_server_input(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return {};
  start_input(replay_seed);
  const auto kind = static_cast<server_kind>(data[0] % static_cast<int>(server_kind::count));
  tlsengine::connection c = new_server(kind);
  return replay(c, stream::server, tlsengine::bytes_view(data + 2, size - 2), data[1], server_app);
}

/// The client harness: [client kind][chunk]([u16 session length][session])[the server's bytes].
inline observed run_client_input(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return {};
  start_input(replay_seed);
  const auto kind = static_cast<client_kind>(data[0] % static_cast<int>(client_kind::count));
  const std::size_t chunk = data[1];
  data += 2;
  size -= 2;
  std::vector<std::uint8_t> session;
  if (carries_session(kind)) {
    if (size < 2) return {};
    const std::size_t n = std::min<std::size_t>((std::size_t(data[0]) << 8) | data[1], size - 2);
    session.assign(data + 2, data + 2 + n);
    data += 2 + n;
    size -= 2 + n;
  }
  tlsengine::connection c = new_client(kind, std::move(session));
  return replay(c, stream::client, tlsengine::bytes_view(data, size), chunk, client_app);
}

} // namespace fuzz
