// libFuzzer harness `flood`: a raw OpenSSL peer, after a handshake with an engine, sends
// post-handshake message floods the input describes (KeyUpdates, NewSessionTickets,
// HelloRequests / renegotiation ClientHellos, application data), fed to the engine in
// chunks the input picks, while the engine's application never reads or drains as told.
// After every feed() the engine's pending output must stay under max_write_buffer plus one
// record, and the events queued by one call under the cap (docs/HARDENING.md).
//
// input: [config] then 2-byte operations [op][n]
//   config bit 0: TLS 1.2 (else 1.3); bit 1: the engine is the client (else the server);
//   bit 2: 4 KiB buffer limits (else 64 KiB).
//   op % 8: 0 KeyUpdate(update_requested) x(n+1), 1 KeyUpdate(not requested) x(n+1),
//   2 n+1 bytes of application data, 3 NewSessionTicket x(n+1) (peer is the server),
//   4 renegotiation x(n+1) (TLS 1.2: HelloRequest from a server, ClientHello from a client),
//   5 feed the peer's bytes in chunks of n*64+1 (n = 0: all at once), 6 drain the engine
//   (events, cleartext, output to the peer), 7 the peer reads what it got.
#include "fuzz_support.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <string>

namespace {

constexpr std::size_t one_record = 16384 + 256;
constexpr std::size_t event_cap = 1024;
constexpr int max_messages = 2000; // per input: keeps one run short

SSL_CTX* peer_context(bool server, bool tls12) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) fuzz::fail("flood: SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  if (server) {
    BIO* cert = BIO_new_mem_buf(tlsengine_examples::builtin_server_cert_pem, -1);
    BIO* key = BIO_new_mem_buf(tlsengine_examples::builtin_server_key_pem, -1);
    X509* x = PEM_read_bio_X509(cert, nullptr, nullptr, nullptr);
    EVP_PKEY* k = PEM_read_bio_PrivateKey(key, nullptr, nullptr, nullptr);
    if (x == nullptr || k == nullptr || SSL_CTX_use_certificate(ctx, x) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, k) != 1)
      fuzz::fail("flood: the peer's credentials");
    // The rest of the chain (intermediates), as use_certificate_chain_file would.
    while (X509* extra = PEM_read_bio_X509(cert, nullptr, nullptr, nullptr))
      SSL_CTX_add_extra_chain_cert(ctx, extra);
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cert);
    BIO_free(key);
    SSL_CTX_set_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
  }
  return ctx;
}

struct flood_run {
  bool tls12, engine_client, small;
  std::size_t limit;
  fuzz::observed seen;
  tlsengine::connection engine;
  SSL_CTX* ctx = nullptr;
  SSL* peer = nullptr;
  BIO* peer_in = nullptr;
  BIO* peer_out = nullptr;
  std::string wire; // what the peer sent, not yet fed
  int messages = 0;

  explicit flood_run(std::uint8_t config)
      : tls12(config & 1), engine_client(config & 2), small(config & 4),
        limit(small ? 4096 : 64 * 1024) {}
  ~flood_run() {
    SSL_free(peer);
    SSL_CTX_free(ctx);
  }

  fuzz::stream engine_stream() const {
    return engine_client ? fuzz::stream::client : fuzz::stream::server;
  }
  fuzz::stream peer_stream() const {
    return engine_client ? fuzz::stream::server : fuzz::stream::client;
  }

  bool setup() {
    tlsengine::connection_options limits;
    limits.max_input_buffer = limits.max_plaintext_buffer = limits.max_write_buffer = limit;
    {
      fuzz::rng_scope scope(peer_stream());
      ctx = peer_context(engine_client, tls12); // the peer serves when the engine is the client
      peer = SSL_new(ctx);
      peer_in = BIO_new(BIO_s_mem());
      peer_out = BIO_new(BIO_s_mem());
      SSL_set_bio(peer, peer_in, peer_out);
      if (engine_client)
        SSL_set_accept_state(peer);
      else
        SSL_set_connect_state(peer);
    }
    fuzz::rng_scope scope(engine_stream());
    if (engine_client) {
      tlsengine::client_options o = fuzz::client_options_for(fuzz::client_kind::tls13);
      static_cast<tlsengine::connection_options&>(o) = limits;
      o.now = fuzz::fake_clock();
      auto c = tlsengine::connection::client(o);
      if (!c) fuzz::fail("flood: connection::client", c.error().message());
      engine = std::move(*c);
    } else {
      tlsengine::server_options so;
      static_cast<tlsengine::connection_options&>(so) = limits;
      so.now = fuzz::fake_clock();
      so.secure_context = fuzz::fixtures::get().servers[0].context();
      auto s = tlsengine::server::create(so);
      if (!s) fuzz::fail("flood: server::create", s.error().message());
      engine = s->accept();
    }
    for (int round = 0; round < 20 && !engine.is_secure(); ++round) {
      to_peer();
      peer_step();
      feed_all(SIZE_MAX);
      drain();
    }
    to_peer();
    peer_step();
    return engine.is_secure();
  }

  void peer_step() {
    fuzz::rng_scope scope(peer_stream());
    SSL_do_handshake(peer);
    char buffer[4096];
    while (SSL_read(peer, buffer, sizeof buffer) > 0) {
    }
    take_peer();
    ERR_clear_error();
  }
  void take_peer() {
    char* p = nullptr;
    const long n = BIO_get_mem_data(peer_out, &p);
    if (n > 0) wire.append(p, static_cast<std::size_t>(n));
    (void)BIO_reset(peer_out);
  }
  void to_peer() {
    fuzz::rng_scope scope(engine_stream());
    const tlsengine::bytes_view out = engine.pending_output();
    BIO_write(peer_in, out.data(), static_cast<int>(out.size()));
    engine.consume_output(out.size());
  }

  void check_bounds() {
    fuzz::rng_scope scope(engine_stream());
    const std::size_t pending = engine.pending_output().size();
    if (pending > limit + one_record)
      fuzz::fail("flood: pending output past max_write_buffer + one record:",
                 std::to_string(pending));
  }

  void feed_all(std::size_t chunk) {
    std::size_t offset = 0;
    while (offset < wire.size()) {
      const std::size_t n = std::min(chunk, wire.size() - offset);
      std::size_t taken = 0;
      {
        fuzz::rng_scope scope(engine_stream());
        taken = engine.feed(tlsengine::bytes_view(wire).subview(offset, n));
      }
      if (taken > n) fuzz::fail("flood: feed() took more than offered");
      check_bounds();
      offset += taken;
      if (taken < n) break; // the rest waits, as in a socket
    }
    wire.erase(0, offset);
  }

  /// Events until the engine resumes reading (it does when the queue runs empty).
  void drain() {
    fuzz::rng_scope scope(engine_stream());
    std::size_t queued = 0;
    const std::size_t out = engine.pending_output().size();
    bool resumed = false;
    while (auto e = engine.next_event()) {
      if (!resumed && ++queued > event_cap + 1) fuzz::fail("flood: more events than the cap");
      if (engine.pending_output().size() != out) resumed = true;
      if (std::holds_alternative<tlsengine::events::error>(*e)) ++seen.errors;
    }
    if (seen.errors > 1) fuzz::fail("flood: more than one error event");
    std::uint8_t buffer[4096];
    while (engine.read(buffer) != 0) {
    }
  }

  void flood(int op, int count) {
    fuzz::rng_scope scope(peer_stream());
    for (int i = 0; i < count && messages < max_messages; ++i, ++messages) {
      switch (op) {
      case 0:
      case 1:
        if (tls12) return;
        SSL_key_update(peer, op == 0 ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED);
        SSL_do_handshake(peer);
        break;
      case 3:
        if (tls12 || !engine_client) return;
        SSL_new_session_ticket(peer);
        SSL_do_handshake(peer);
        break;
      case 4:
        if (!tls12) return;
        SSL_renegotiate(peer);
        SSL_do_handshake(peer);
        break;
      default: break;
      }
      ERR_clear_error();
    }
    take_peer();
  }

  void data(int n) {
    fuzz::rng_scope scope(peer_stream());
    const std::string bytes(static_cast<std::size_t>(n), 'd');
    SSL_write(peer, bytes.data(), static_cast<int>(bytes.size()));
    ERR_clear_error();
    take_peer();
  }

  void run(const std::uint8_t* data_in, std::size_t size) {
    for (std::size_t i = 1; i + 2 <= size; i += 2) {
      const int op = data_in[i] % 8;
      const int n = data_in[i + 1];
      switch (op) {
      case 0:
      case 1:
      case 3:
      case 4: flood(op, n + 1); break;
      case 2: data(n + 1); break;
      case 5: feed_all(n == 0 ? SIZE_MAX : static_cast<std::size_t>(n) * 64 + 1); break;
      case 6:
        drain();
        to_peer();
        break;
      case 7: peer_step(); break;
      }
    }
    feed_all(SIZE_MAX);
    drain();
  }
};

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_deterministic_mode();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  fuzz::start_input(fuzz::replay_seed ^ data[0]);
  flood_run run(data[0]);
  if (!run.setup()) return 0; // the handshake did not complete: nothing to flood
  run.run(data, size);
  return 0;
}
