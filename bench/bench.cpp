// tlsengine bench — tlsengine against raw OpenSSL over BIO_s_mem, in one process,
// interleaved, on the same workloads, credentials and cipher configuration.
//
// The "wire" between client and server is memory: the bytes one side hands out are given
// to the other as they are. A real socket adds one kernel copy out and one in, the same
// for both sides, and they are left out of both.
//
// raw OpenSSL is driven the way most wrappers do it: two BIO_s_mem per SSL, BIO_write the
// ciphertext in, SSL_read the cleartext out, SSL_write then BIO_read the records out, one
// SSL_write per application message. tlsengine is driven through its public API only:
// write() / pending_output() / consume_output() / feed() / read() (or peek_plaintext()).
//
// Output: a table, then one line per workload `RATIO <workload> <tlsengine/raw>` and
// `VALUE <workload> <tlsengine's figure> <unit>`, plus `ALLOCS` lines (heap allocations
// per TLS record in steady state) and `COPIES` lines (bytes copied per cleartext byte).
// See docs/PERFORMANCE.md.
#include <tlsengine/tlsengine.hpp>

#include "builtin_certs.hpp"
#include "counters.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  ERR_print_errors_fp(stderr);
  std::exit(1);
}

// ---- configuration -----------------------------------------------------------------------

struct config {
  bool quick = false;
  int reps = 5;
  double sample_seconds = 0.4; // target duration of one timed sample (rate workloads)
  std::uint64_t bulk16k_bytes = 256ull << 20;
  std::size_t batch_bytes = 16 * 1024; // small writes: this much is written, then drained
  int idle_pairs = 10000;
  bool release_buffers = false; // tlsengine: release_buffers_when_idle on every workload
  std::vector<std::string> only;
  std::string profile; // run one workload of one implementation for `profile_seconds`
  std::string profile_impl = "te";
  double profile_seconds = 10;
  std::uint64_t profile_count = 0; // --profile: work per loop (0: the default)
  int trace_allocs = 0;            // print the stacks of this many steady-state allocations (bulk)
  std::string groups;              // --groups: key-exchange groups of every context (ecdh_curve)
};
int g_trace_allocs = 0;
std::string g_groups; // empty: OpenSSL's default list (3.5: X25519MLKEM768 first)

bool wanted(const config& cfg, const std::string& name) {
  if (cfg.only.empty()) return true;
  return std::find(cfg.only.begin(), cfg.only.end(), name) != cfg.only.end();
}

// ---- credentials -------------------------------------------------------------------------

struct credentials {
  std::string chain_pem; // leaf first, then intermediates
  std::string key_pem;
  std::string ca_pem; // what the client trusts
};

credentials ecdsa_credentials() {
  credentials c;
  c.chain_pem = tlsengine_examples::builtin_server_cert_pem;
  c.key_pem = tlsengine_examples::builtin_server_key_pem;
  c.ca_pem = tlsengine_examples::builtin_ca_pem;
  return c;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1) die("X509 extension");
  X509_EXTENSION_free(ext);
}

X509* make_cert(EVP_PKEY* key, EVP_PKEY* signer, X509* issuer, const char* cn, bool ca,
                long serial) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 365);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("tlsengine bench"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  X509* issuer_cert = issuer ? issuer : cert;
  add_ext(cert, issuer_cert, NID_subject_key_identifier, "hash");
  add_ext(cert, issuer_cert, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    add_ext(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert, issuer_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_ext(cert, issuer_cert, NID_ext_key_usage, "serverAuth");
    add_ext(cert, issuer_cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  }
  if (X509_sign(cert, signer, EVP_sha256()) <= 0) die("X509_sign");
  return cert;
}

/// An RSA-2048 root and an RSA-2048 leaf for "localhost" signed by it, made in-process.
credentials rsa_credentials() {
  EVP_PKEY* ca_key = EVP_RSA_gen(2048);
  EVP_PKEY* leaf_key = EVP_RSA_gen(2048);
  if (ca_key == nullptr || leaf_key == nullptr) die("EVP_RSA_gen");
  X509* ca = make_cert(ca_key, ca_key, nullptr, "tlsengine bench RSA root", true, 1);
  X509* leaf = make_cert(leaf_key, ca_key, ca, "localhost", false, 2);
  credentials c;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, leaf);
  c.chain_pem = bio_text(bio);
  BIO_reset(bio);
  PEM_write_bio_PrivateKey(bio, leaf_key, nullptr, nullptr, 0, nullptr, nullptr);
  c.key_pem = bio_text(bio);
  BIO_reset(bio);
  PEM_write_bio_X509(bio, ca);
  c.ca_pem = bio_text(bio);
  BIO_free(bio);
  X509_free(leaf);
  X509_free(ca);
  EVP_PKEY_free(leaf_key);
  EVP_PKEY_free(ca_key);
  return c;
}

// ---- tlsengine side ----------------------------------------------------------------------

struct te_env {
  tlsengine::server server13; // ECDSA P-256 chain
  tlsengine::server server12; // RSA-2048
  tlsengine::client_options client13;
  tlsengine::client_options client12; // max TLS 1.2
};

te_env make_te_env(const credentials& ec, const credentials& rsa, bool release_buffers) {
  te_env env;
  tlsengine::server_options so;
  so.release_buffers_when_idle = release_buffers;
  // OpenSSL's default session lifetime, as raw has (tlsengine's default is Node's 300 s,
  // shorter than a full run: the sessions made at start-up would expire).
  so.session_timeout = 7200;
  if (!g_groups.empty()) so.ecdh_curve = g_groups;
  so.cert = {ec.chain_pem};
  so.key = {ec.key_pem};
  auto s13 = tlsengine::server::create(so);
  if (!s13) die("tlsengine server (ECDSA): " + s13.error().message());
  env.server13 = std::move(*s13);
  so.cert = {rsa.chain_pem};
  so.key = {rsa.key_pem};
  auto s12 = tlsengine::server::create(so);
  if (!s12) die("tlsengine server (RSA): " + s12.error().message());
  env.server12 = std::move(*s12);

  // The client contexts are made once and shared, as a real client would.
  tlsengine::client_options co;
  co.session_timeout = 7200;
  if (!g_groups.empty()) co.ecdh_curve = g_groups;
  co.ca = {ec.ca_pem};
  auto ctx13 = tlsengine::secure_context::create(co);
  if (!ctx13) die("tlsengine client context: " + ctx13.error().message());
  env.client13.secure_context = *ctx13;
  env.client13.release_buffers_when_idle = release_buffers;
  env.client13.servername = "localhost";
  co.ca = {rsa.ca_pem};
  co.max_version = "TLSv1.2";
  auto ctx12 = tlsengine::secure_context::create(co);
  if (!ctx12) die("tlsengine client context (1.2): " + ctx12.error().message());
  env.client12.secure_context = *ctx12;
  env.client12.release_buffers_when_idle = release_buffers;
  env.client12.servername = "localhost";
  return env;
}

struct te_pair {
  tlsengine::connection client;
  tlsengine::connection server;
};

/// The drain loop's event part. Keeps the last session (ticket) when asked to.
void te_events(tlsengine::connection& c, tlsengine::session_handle* session) {
  while (auto e = c.next_event()) {
    if (auto* err = std::get_if<tlsengine::events::error>(&*e))
      die("tlsengine " + std::string(c.is_server() ? "server" : "client") + ": " + err->message);
    if (session != nullptr) {
      if (auto* s = std::get_if<tlsengine::events::session>(&*e)) *session = std::move(s->data);
    }
  }
}

std::size_t te_transfer(tlsengine::connection& from, tlsengine::connection& to) {
  const tlsengine::bytes_view out = from.pending_output();
  if (out.empty()) return 0;
  const std::size_t n = to.feed(out);
  from.consume_output(n);
  return n;
}

void te_handshake(te_pair& p, tlsengine::session_handle* session = nullptr) {
  for (;;) {
    std::size_t moved = te_transfer(p.client, p.server);
    te_events(p.server, nullptr);
    moved += te_transfer(p.server, p.client);
    te_events(p.client, session);
    if (moved == 0) break;
  }
  if (!p.client.is_secure() || !p.server.is_secure()) die("tlsengine handshake did not complete");
}

te_pair te_connect(const tlsengine::server& srv, const tlsengine::client_options& opts) {
  auto c = tlsengine::connection::client(opts);
  if (!c) die("tlsengine client: " + c.error().message());
  return te_pair{std::move(*c), srv.accept()};
}

// ---- raw OpenSSL side --------------------------------------------------------------------

struct raw_env {
  SSL_CTX* server13 = nullptr;
  SSL_CTX* server12 = nullptr;
  SSL_CTX* client13 = nullptr;
  SSL_CTX* client12 = nullptr;
};

/// tlsengine's cipher configuration (Node's default list split into TLS 1.2 and 1.3),
/// so that both sides negotiate the same suites.
void raw_ciphers(SSL_CTX* ctx) {
  std::string list12, suites13;
  std::string all = tlsengine::default_ciphers;
  std::size_t start = 0;
  while (start <= all.size()) {
    std::size_t end = all.find(':', start);
    if (end == std::string::npos) end = all.size();
    const std::string item = all.substr(start, end - start);
    std::string& target = item.rfind("TLS_", 0) == 0 ? suites13 : list12;
    if (!item.empty()) target += (target.empty() ? "" : ":") + item;
    start = end + 1;
  }
  if (SSL_CTX_set_cipher_list(ctx, list12.c_str()) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, suites13.c_str()) != 1)
    die("raw cipher list");
  if (!g_groups.empty() && SSL_CTX_set1_groups_list(ctx, g_groups.c_str()) != 1)
    die("raw groups " + g_groups);
}

SSL_CTX* raw_server_ctx(const credentials& cred) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  raw_ciphers(ctx);
  BIO* bio = BIO_new_mem_buf(cred.chain_pem.data(), static_cast<int>(cred.chain_pem.size()));
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  if (leaf == nullptr || SSL_CTX_use_certificate(ctx, leaf) != 1) die("raw server cert");
  X509_free(leaf);
  while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr))
    SSL_CTX_add0_chain_cert(ctx, extra);
  ERR_clear_error();
  BIO_free(bio);
  bio = BIO_new_mem_buf(cred.key_pem.data(), static_cast<int>(cred.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  if (key == nullptr || SSL_CTX_use_PrivateKey(ctx, key) != 1) die("raw server key");
  EVP_PKEY_free(key);
  BIO_free(bio);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>("bench"), 5);
  return ctx;
}

SSL_CTX* raw_client_ctx(const credentials& cred, int max_version) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  raw_ciphers(ctx);
  BIO* bio = BIO_new_mem_buf(cred.ca_pem.data(), static_cast<int>(cred.ca_pem.size()));
  X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  if (ca == nullptr || X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) != 1) die("raw CA");
  X509_free(ca);
  BIO_free(bio);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return ctx;
}

raw_env make_raw_env(const credentials& ec, const credentials& rsa) {
  raw_env env;
  env.server13 = raw_server_ctx(ec);
  env.server12 = raw_server_ctx(rsa);
  env.client13 = raw_client_ctx(ec, TLS1_3_VERSION);
  env.client12 = raw_client_ctx(rsa, TLS1_2_VERSION);
  return env;
}

struct raw_conn {
  SSL* ssl = nullptr;
  BIO* rbio = nullptr; // ciphertext in: BIO_write into it
  BIO* wbio = nullptr; // ciphertext out: BIO_read from it

  raw_conn() = default;
  raw_conn(const raw_conn&) = delete;
  raw_conn& operator=(const raw_conn&) = delete;
  raw_conn(raw_conn&& o) noexcept : ssl(o.ssl), rbio(o.rbio), wbio(o.wbio) { o.ssl = nullptr; }
  raw_conn& operator=(raw_conn&& o) noexcept {
    std::swap(ssl, o.ssl);
    std::swap(rbio, o.rbio);
    std::swap(wbio, o.wbio);
    return *this;
  }
  ~raw_conn() {
    if (ssl == nullptr) return;
    // As tlsengine does: keep the session resumable although no close_notify was exchanged.
    SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl); // frees both BIOs
  }
};

raw_conn raw_new(SSL_CTX* ctx, bool server, SSL_SESSION* session = nullptr) {
  raw_conn c;
  c.ssl = SSL_new(ctx);
  c.rbio = BIO_new(BIO_s_mem());
  c.wbio = BIO_new(BIO_s_mem());
  if (c.ssl == nullptr || c.rbio == nullptr || c.wbio == nullptr) die("raw SSL_new");
  SSL_set_bio(c.ssl, c.rbio, c.wbio);
  if (server) {
    SSL_set_accept_state(c.ssl);
  } else {
    SSL_set_tlsext_host_name(c.ssl, "localhost");
    SSL_set1_host(c.ssl, "localhost");
    if (session != nullptr) SSL_set_session(c.ssl, session);
    SSL_set_connect_state(c.ssl);
  }
  return c;
}

struct raw_pair {
  raw_conn client;
  raw_conn server;
};

/// What a wrapper does with its write BIO: BIO_read the records into its send buffer;
/// here the send buffer is the wire and the peer's BIO_write is its receive.
std::size_t raw_transfer(raw_conn& from, raw_conn& to) {
  static unsigned char wire[32 * 1024];
  std::size_t total = 0;
  for (;;) {
    const int n = BIO_read(from.wbio, wire, sizeof wire);
    if (n <= 0) break;
    if (BIO_write(to.rbio, wire, n) != n) die("raw BIO_write");
    total += static_cast<std::size_t>(n);
  }
  return total;
}

void raw_check(SSL* ssl, int r, const char* what) {
  const int e = SSL_get_error(ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
  die(std::string("raw ") + what + ": SSL_get_error " + std::to_string(e));
}

/// A wrapper's "input arrived" step: advance the handshake, then read what is readable.
std::uint64_t raw_service(raw_conn& c, unsigned char* buf, std::size_t cap) {
  std::uint64_t got = 0;
  if (!SSL_is_init_finished(c.ssl)) {
    const int r = SSL_do_handshake(c.ssl);
    if (r != 1) {
      raw_check(c.ssl, r, "SSL_do_handshake");
      return 0;
    }
  }
  while (BIO_ctrl_pending(c.rbio) > 0 || SSL_has_pending(c.ssl)) {
    std::size_t n = 0;
    const int r = SSL_read_ex(c.ssl, buf, cap, &n);
    if (r != 1) {
      raw_check(c.ssl, r, "SSL_read");
      break;
    }
    got += n;
  }
  return got;
}

void raw_handshake(raw_pair& p) {
  unsigned char buf[4096];
  raw_service(p.client, buf, sizeof buf); // the ClientHello
  for (;;) {
    std::size_t moved = raw_transfer(p.client, p.server);
    raw_service(p.server, buf, sizeof buf);
    moved += raw_transfer(p.server, p.client);
    raw_service(p.client, buf, sizeof buf);
    if (moved == 0) break;
  }
  if (!SSL_is_init_finished(p.client.ssl) || !SSL_is_init_finished(p.server.ssl))
    die("raw handshake did not complete");
}

raw_pair raw_connect(SSL_CTX* server_ctx, SSL_CTX* client_ctx, SSL_SESSION* session = nullptr) {
  raw_pair p;
  p.client = raw_new(client_ctx, false, session);
  p.server = raw_new(server_ctx, true);
  return p;
}

// ---- workloads -------------------------------------------------------------------------

struct sample {
  double seconds = 0;
  double work = 0;            // handshakes, bytes or messages
  std::uint64_t allocs = 0;   // heap allocations during the steady-state part
  std::uint64_t news = 0;     // of which operator new (C++: the engine), not malloc (OpenSSL)
  std::uint64_t records = 0;  // TLS records carrying the data during that part
  std::uint64_t messages = 0; // application writes during that part
  double rate() const { return seconds > 0 ? work / seconds : 0; }
};

enum class impl { te, raw };
const char* impl_name(impl i) { return i == impl::te ? "tlsengine" : "raw"; }

struct env {
  te_env te;
  raw_env raw;
};

enum class hs_kind { full13, full12, resume13, resume12, resume13_bytes, resume12_bytes };

/// A session to resume, from one full handshake of each implementation.
struct resumption {
  tlsengine::session_handle te13, te12; // as the `session` event gives it (raw: SSL_SESSION*)
  SSL_SESSION* raw13 = nullptr;
  SSL_SESSION* raw12 = nullptr;
};

resumption make_resumption(env& e) {
  resumption r;
  {
    te_pair p = te_connect(e.te.server13, e.te.client13);
    te_handshake(p, &r.te13);
  }
  {
    te_pair p = te_connect(e.te.server12, e.te.client12);
    te_handshake(p, &r.te12);
  }
  if (r.te13.empty() || r.te12.empty()) die("tlsengine produced no session");
  {
    raw_pair p = raw_connect(e.raw.server13, e.raw.client13);
    raw_handshake(p);
    r.raw13 = SSL_get1_session(p.client.ssl);
  }
  {
    raw_pair p = raw_connect(e.raw.server12, e.raw.client12);
    raw_handshake(p);
    r.raw12 = SSL_get1_session(p.client.ssl);
  }
  return r;
}

/// `count` complete connections: a new client and server, the handshake (tickets
/// included), then both freed.
sample run_handshakes(env& e, const resumption& res, hs_kind kind, impl which, int count) {
  const bool v12 =
      kind == hs_kind::full12 || kind == hs_kind::resume12 || kind == hs_kind::resume12_bytes;
  const bool bytes = kind == hs_kind::resume13_bytes || kind == hs_kind::resume12_bytes;
  const bool resume = bytes || kind == hs_kind::resume13 || kind == hs_kind::resume12;
  int reused = 0;
  sample s;
  if (which == impl::te) {
    tlsengine::client_options opts = v12 ? e.te.client12 : e.te.client13;
    if (resume) opts.session = v12 ? res.te12 : res.te13;
    // The stored form: bytes, parsed once per context (then taken from its cache).
    if (bytes) opts.session = opts.session.to_bytes();
    const tlsengine::server& srv = v12 ? e.te.server12 : e.te.server13;
    const auto start = steady::now();
    for (int i = 0; i < count; ++i) {
      te_pair p = te_connect(srv, opts);
      te_handshake(p);
      reused += p.client.is_session_reused() ? 1 : 0;
    }
    s.seconds = seconds_since(start);
  } else {
    SSL_CTX* sctx = v12 ? e.raw.server12 : e.raw.server13;
    SSL_CTX* cctx = v12 ? e.raw.client12 : e.raw.client13;
    SSL_SESSION* session = resume ? (v12 ? res.raw12 : res.raw13) : nullptr;
    const auto start = steady::now();
    for (int i = 0; i < count; ++i) {
      raw_pair p = raw_connect(sctx, cctx, session);
      raw_handshake(p);
      reused += SSL_session_reused(p.client.ssl) == 1 ? 1 : 0;
    }
    s.seconds = seconds_since(start);
  }
  if (reused != (resume ? count : 0))
    die(std::string(impl_name(which)) + ": " + std::to_string(reused) + " of " +
        std::to_string(count) + " handshakes resumed");
  s.work = count;
  return s;
}

struct bulk_spec {
  std::size_t message = 16 * 1024; // bytes per write()
  std::size_t batch = 1;           // writes between two drains
  std::uint64_t messages = 0;      // timed writes
  bool peek = false;               // tlsengine: peek_plaintext/consume_plaintext, not read()
  bool drain_back = false;         // after each batch, also the reader's output to the writer
};

constexpr std::size_t tls13_record_overhead = 5 + 1 + 16; // header, content type, GCM tag

/// Client writes, server reads, over an established TLS 1.3 pair. A warm-up of a few
/// batches first, then the timed part, during which allocations are counted.
sample run_bulk(env& e, impl which, const bulk_spec& spec) {
  std::vector<unsigned char> message(spec.message, 'x');
  std::vector<unsigned char> rbuf(16 * 1024); // the application's read buffer
  const std::uint64_t warmup = std::max<std::uint64_t>(spec.batch * 8, 64);
  sample s;
  std::uint64_t received = 0;
  std::uint64_t cipher_bytes = 0;
  if (which == impl::te) {
    te_pair p = te_connect(e.te.server13, e.te.client13);
    te_handshake(p);
    auto step = [&](std::uint64_t count) {
      std::uint64_t written = 0;
      while (written < count) {
        for (std::size_t j = 0; j < spec.batch && written < count; ++j, ++written)
          if (p.client.write(message) != message.size()) die("tlsengine write refused");
        for (;;) {
          const tlsengine::bytes_view out = p.client.pending_output();
          if (out.empty()) break;
          const std::size_t n = p.server.feed(out);
          p.client.consume_output(n);
          cipher_bytes += n;
          if (spec.peek) {
            for (tlsengine::bytes_view v = p.server.peek_plaintext(); !v.empty();
                 v = p.server.peek_plaintext()) {
              received += v.size();
              p.server.consume_plaintext(v.size());
            }
          } else {
            while (const std::size_t m = p.server.read(rbuf))
              received += m;
          }
        }
        if (spec.drain_back) {
          te_transfer(p.server, p.client);
          while (p.client.read(rbuf) != 0) {
          }
        }
      }
    };
    step(warmup);
    const std::uint64_t received0 = received, cipher0 = cipher_bytes;
    const bench::alloc_counts a0 = bench::allocations();
    bench::trace_allocations(g_trace_allocs);
    const auto start = steady::now();
    step(spec.messages);
    s.seconds = seconds_since(start);
    bench::trace_allocations(0);
    s.allocs = bench::allocations().total() - a0.total();
    s.news = bench::allocations().news - a0.news;
    s.records = ((cipher_bytes - cipher0) - (received - received0)) / tls13_record_overhead;
    te_events(p.server, nullptr);
    te_events(p.client, nullptr);
  } else {
    raw_pair p = raw_connect(e.raw.server13, e.raw.client13);
    raw_handshake(p);
    auto step = [&](std::uint64_t count) {
      std::uint64_t written = 0;
      while (written < count) {
        for (std::size_t j = 0; j < spec.batch && written < count; ++j, ++written) {
          std::size_t w = 0;
          if (SSL_write_ex(p.client.ssl, message.data(), message.size(), &w) != 1 ||
              w != message.size())
            die("raw SSL_write");
        }
        cipher_bytes += raw_transfer(p.client, p.server);
        for (;;) {
          std::size_t n = 0;
          const int r = SSL_read_ex(p.server.ssl, rbuf.data(), rbuf.size(), &n);
          if (r != 1) {
            raw_check(p.server.ssl, r, "SSL_read");
            break;
          }
          received += n;
        }
        if (spec.drain_back) {
          raw_transfer(p.server, p.client);
          raw_service(p.client, rbuf.data(), rbuf.size());
        }
      }
    };
    step(warmup);
    const std::uint64_t received0 = received, cipher0 = cipher_bytes;
    const bench::alloc_counts a0 = bench::allocations();
    bench::trace_allocations(g_trace_allocs);
    const auto start = steady::now();
    step(spec.messages);
    s.seconds = seconds_since(start);
    bench::trace_allocations(0);
    s.allocs = bench::allocations().total() - a0.total();
    s.news = bench::allocations().news - a0.news;
    s.records = ((cipher_bytes - cipher0) - (received - received0)) / tls13_record_overhead;
  }
  if (received != (warmup + spec.messages) * spec.message) die("bulk: bytes lost");
  s.messages = spec.messages;
  s.work = static_cast<double>(spec.messages); // converted to the unit by the caller
  return s;
}

struct heap_usage {
  std::size_t bytes() const { return in_use; }
  std::size_t in_use = 0;
};

heap_usage heap_now() {
  const struct mallinfo2 mi = mallinfo2();
  heap_usage h;
  h.in_use = mi.uordblks + mi.hblkhd;
  return h;
}

/// Heap held per established, idle client+server pair (TLS 1.3, ECDSA): `count` pairs are
/// made (full handshake, tickets read, one 100-byte message each way, everything
/// drained) and kept; the mallinfo2() difference is divided by `count`.
sample run_idle(env& e, impl which, int count) {
  const std::string hello(100, 'h');
  unsigned char buf[4096];
  sample s;
  if (which == impl::te) {
    std::vector<te_pair> pairs;
    pairs.reserve(static_cast<std::size_t>(count));
    const heap_usage before = heap_now();
    const auto start = steady::now();
    for (int i = 0; i < count; ++i) {
      pairs.push_back(te_connect(e.te.server13, e.te.client13));
      te_pair& p = pairs.back();
      te_handshake(p);
      p.client.write(hello);
      te_transfer(p.client, p.server);
      te_events(p.server, nullptr);
      std::size_t got = 0;
      while (std::size_t n = p.server.read(tlsengine::mutable_bytes_view(buf, sizeof buf)))
        got += n;
      p.server.write(hello);
      te_transfer(p.server, p.client);
      te_events(p.client, nullptr);
      while (std::size_t n = p.client.read(tlsengine::mutable_bytes_view(buf, sizeof buf)))
        got += n;
      if (got != 2 * hello.size()) die("idle: exchange failed");
    }
    s.seconds = seconds_since(start);
    s.work = static_cast<double>(heap_now().bytes() - before.bytes()) / count;
  } else {
    std::vector<raw_pair> pairs;
    pairs.reserve(static_cast<std::size_t>(count));
    const heap_usage before = heap_now();
    const auto start = steady::now();
    for (int i = 0; i < count; ++i) {
      pairs.push_back(raw_connect(e.raw.server13, e.raw.client13));
      raw_pair& p = pairs.back();
      raw_handshake(p);
      std::size_t w = 0;
      std::uint64_t got = 0;
      SSL_write_ex(p.client.ssl, hello.data(), hello.size(), &w);
      raw_transfer(p.client, p.server);
      got += raw_service(p.server, buf, sizeof buf);
      SSL_write_ex(p.server.ssl, hello.data(), hello.size(), &w);
      raw_transfer(p.server, p.client);
      got += raw_service(p.client, buf, sizeof buf);
      if (got != 2 * hello.size()) die("idle: raw exchange failed");
    }
    s.seconds = seconds_since(start);
    s.work = static_cast<double>(heap_now().bytes() - before.bytes()) / count;
  }
  return s;
}

// ---- copies per byte ---------------------------------------------------------------------

struct copy_figures {
  double out_copied = 0, out_filled = 0; // per cleartext byte, sender side
  double in_copied = 0, in_filled = 0;   // per cleartext byte, receiver side
};

enum class in_path { feed_read, feed_peek, window_read, window_peek };

/// Bytes memcpy'd/memmove'd and memset per cleartext byte on each side, counted by the
/// interposers while the workload runs (the simulated kernel copy into input_window()
/// excluded). `messages` writes of `message` bytes in batches.
copy_figures measure_copies(env& e, impl which, in_path path, std::size_t message,
                            std::size_t batch, std::uint64_t messages) {
  std::vector<unsigned char> msg(message, 'c');
  std::vector<unsigned char> rbuf(16 * 1024);
  bench::copy_counts out_total, in_total;
  auto account = [](bench::copy_counts& total, const bench::copy_counts& before) {
    const bench::copy_counts now = bench::copies();
    total.copied += now.copied - before.copied;
    total.filled += now.filled - before.filled;
  };
  std::uint64_t received = 0;
  if (which == impl::te) {
    te_pair p = te_connect(e.te.server13, e.te.client13);
    te_handshake(p);
    bench::count_copies(true);
    for (std::uint64_t written = 0; written < messages;) {
      bench::copy_counts c0 = bench::copies();
      for (std::size_t j = 0; j < batch && written < messages; ++j, ++written)
        p.client.write(msg);
      account(out_total, c0);
      for (;;) {
        c0 = bench::copies();
        const tlsengine::bytes_view out = p.client.pending_output();
        account(out_total, c0);
        if (out.empty()) break;
        std::size_t n = 0;
        if (path == in_path::window_read || path == in_path::window_peek) {
          const tlsengine::mutable_bytes_view w = p.server.input_window();
          n = std::min(w.size(), out.size());
          bench::count_copies(false); // the kernel's recv() copy: not ours
          std::memcpy(w.data(), out.data(), n);
          bench::count_copies(true);
          c0 = bench::copies();
          p.server.commit_input(n);
          account(in_total, c0);
        } else {
          c0 = bench::copies();
          n = p.server.feed(out);
          account(in_total, c0);
        }
        c0 = bench::copies();
        p.client.consume_output(n);
        account(out_total, c0);
        c0 = bench::copies();
        if (path == in_path::feed_peek || path == in_path::window_peek) {
          for (tlsengine::bytes_view v = p.server.peek_plaintext(); !v.empty();
               v = p.server.peek_plaintext()) {
            received += v.size();
            p.server.consume_plaintext(v.size());
          }
        } else {
          while (const std::size_t m = p.server.read(rbuf))
            received += m;
        }
        account(in_total, c0);
      }
    }
    bench::count_copies(false);
  } else {
    raw_pair p = raw_connect(e.raw.server13, e.raw.client13);
    raw_handshake(p);
    static unsigned char wire[32 * 1024];
    bench::count_copies(true);
    for (std::uint64_t written = 0; written < messages;) {
      bench::copy_counts c0 = bench::copies();
      for (std::size_t j = 0; j < batch && written < messages; ++j, ++written) {
        std::size_t w = 0;
        SSL_write_ex(p.client.ssl, msg.data(), msg.size(), &w);
      }
      account(out_total, c0);
      for (;;) {
        c0 = bench::copies();
        const int n = BIO_read(p.client.wbio, wire, sizeof wire);
        account(out_total, c0);
        if (n <= 0) break;
        c0 = bench::copies();
        BIO_write(p.server.rbio, wire, n);
        account(in_total, c0);
      }
      c0 = bench::copies();
      for (;;) {
        std::size_t n = 0;
        if (SSL_read_ex(p.server.ssl, rbuf.data(), rbuf.size(), &n) != 1) break;
        received += n;
      }
      account(in_total, c0);
    }
    bench::count_copies(false);
  }
  if (received != messages * message) die("copies: bytes lost");
  const double bytes = static_cast<double>(received);
  copy_figures f;
  f.out_copied = out_total.copied / bytes;
  f.out_filled = out_total.filled / bytes;
  f.in_copied = in_total.copied / bytes;
  f.in_filled = in_total.filled / bytes;
  return f;
}

// ---- the crypto ceiling ----------------------------------------------------------------

struct crypto_ceiling {
  double gcm_ns_per_byte = 0; // AES-256-GCM seal + open of 16 KiB records, per byte
  double gcm_record_ns_64 = 0, gcm_record_ns_1k = 0; // seal + open of one small record
  double p256_sign_us = 0, p256_verify_us = 0;
  double rsa_sign_us = 0, rsa_verify_us = 0;
  double x25519_us = 0; // one side: keygen + derive
  // The public-key work of one handshake (both sides), microseconds.
  double hs13_us() const { return p256_sign_us + 3 * p256_verify_us + 2 * x25519_us; }
  double hs12_us() const { return rsa_sign_us + 2 * rsa_verify_us + 2 * x25519_us; }
  double resume13_us() const { return 2 * x25519_us; }
};

template <class F> double time_per_op(double min_seconds, F&& op) {
  // Calibrate, then time enough iterations to last about min_seconds.
  std::uint64_t n = 1;
  for (;;) {
    const auto start = steady::now();
    for (std::uint64_t i = 0; i < n; ++i)
      op();
    const double t = seconds_since(start);
    if (t >= min_seconds) return t / static_cast<double>(n);
    n = t > 0 ? std::max<std::uint64_t>(n * 2, static_cast<std::uint64_t>(n * min_seconds / t))
              : n * 2;
  }
}

EVP_PKEY* read_key(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) die("read key");
  return key;
}

double gcm_seal_open_ns(std::size_t size, double min_seconds) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  EVP_CIPHER_CTX* enc = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* dec = EVP_CIPHER_CTX_new();
  unsigned char key[32] = {1}, iv[12] = {2}, aad[5] = {23, 3, 3, 0, 0}, tag[16];
  EVP_EncryptInit_ex2(enc, cipher, key, iv, nullptr);
  EVP_DecryptInit_ex2(dec, cipher, key, iv, nullptr);
  std::vector<unsigned char> plain(size, 'p'), sealed(size + 16), opened(size + 16);
  int len = 0;
  const double t = time_per_op(min_seconds, [&] {
    // As the record layer does per record: a new nonce, the header as AAD, the tag.
    EVP_EncryptInit_ex2(enc, nullptr, nullptr, iv, nullptr);
    EVP_EncryptUpdate(enc, nullptr, &len, aad, sizeof aad);
    EVP_EncryptUpdate(enc, sealed.data(), &len, plain.data(), static_cast<int>(size));
    EVP_EncryptFinal_ex(enc, sealed.data() + len, &len);
    EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_AEAD_GET_TAG, 16, tag);
    EVP_DecryptInit_ex2(dec, nullptr, nullptr, iv, nullptr);
    EVP_DecryptUpdate(dec, nullptr, &len, aad, sizeof aad);
    EVP_DecryptUpdate(dec, opened.data(), &len, sealed.data(), static_cast<int>(size));
    EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_AEAD_SET_TAG, 16, tag);
    if (EVP_DecryptFinal_ex(dec, opened.data() + len, &len) != 1) die("GCM open");
  });
  EVP_CIPHER_CTX_free(enc);
  EVP_CIPHER_CTX_free(dec);
  EVP_CIPHER_free(cipher);
  return t * 1e9;
}

void sign_verify_us(EVP_PKEY* key, bool pss, double min_seconds, double& sign_us,
                    double& verify_us) {
  // A TLS 1.3 CertificateVerify input is 64 spaces, a context string, a transcript hash.
  std::vector<unsigned char> tbs(130, ' ');
  std::vector<unsigned char> sig(512);
  std::size_t sig_len = 0;
  auto sign = [&] {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    EVP_DigestSignInit(md, &pctx, EVP_sha256(), nullptr, key);
    if (pss) {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    sig_len = sig.size();
    if (EVP_DigestSign(md, sig.data(), &sig_len, tbs.data(), tbs.size()) != 1) die("sign");
    EVP_MD_CTX_free(md);
  };
  sign_us = time_per_op(min_seconds, sign) * 1e6;
  verify_us =
      time_per_op(min_seconds,
                  [&] {
                    EVP_MD_CTX* md = EVP_MD_CTX_new();
                    EVP_PKEY_CTX* pctx = nullptr;
                    EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), nullptr, key);
                    if (pss) {
                      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
                      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
                    }
                    if (EVP_DigestVerify(md, sig.data(), sig_len, tbs.data(), tbs.size()) != 1)
                      die("verify");
                    EVP_MD_CTX_free(md);
                  }) *
      1e6;
}

crypto_ceiling measure_ceiling(const credentials& ec, const credentials& rsa, double min_seconds) {
  crypto_ceiling c;
  c.gcm_ns_per_byte = gcm_seal_open_ns(16 * 1024, min_seconds) / (16 * 1024);
  c.gcm_record_ns_64 = gcm_seal_open_ns(64, min_seconds);
  c.gcm_record_ns_1k = gcm_seal_open_ns(1024, min_seconds);
  EVP_PKEY* p256 = read_key(ec.key_pem);
  sign_verify_us(p256, false, min_seconds, c.p256_sign_us, c.p256_verify_us);
  EVP_PKEY_free(p256);
  EVP_PKEY* rsa_key = read_key(rsa.key_pem);
  sign_verify_us(rsa_key, true, min_seconds, c.rsa_sign_us, c.rsa_verify_us);
  EVP_PKEY_free(rsa_key);
  EVP_PKEY* peer = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  c.x25519_us = time_per_op(min_seconds,
                            [&] {
                              EVP_PKEY* mine = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
                              EVP_PKEY_CTX* ctx =
                                  EVP_PKEY_CTX_new_from_pkey(nullptr, mine, nullptr);
                              unsigned char secret[32];
                              std::size_t len = sizeof secret;
                              if (EVP_PKEY_derive_init(ctx) != 1 ||
                                  EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
                                  EVP_PKEY_derive(ctx, secret, &len) != 1)
                                die("X25519");
                              EVP_PKEY_CTX_free(ctx);
                              EVP_PKEY_free(mine);
                            }) *
                1e6;
  EVP_PKEY_free(peer);
  return c;
}

// ---- statistics and report ---------------------------------------------------------------

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct row {
  std::string name;
  std::string unit;
  bool lower_is_better = false;
  double target = 0;           // ratio target (>= for rates, <= absolute bytes for memory)
  double ceiling = 0;          // the crypto ceiling in `unit`, 0 when none
  std::vector<double> te, raw; // figures per repetition
  std::vector<double> te_allocs, raw_allocs; // per record
  std::vector<double> te_allocs_msg, raw_allocs_msg;
  std::vector<double> te_news; // operator new per record: the engine's own allocations
};

std::string fmt(double v) {
  char buf[64];
  const double a = std::fabs(v);
  if (a >= 1e6)
    std::snprintf(buf, sizeof buf, "%.4g", v);
  else if (a >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else
    std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

void usage() {
  std::puts("usage: tlsengine_bench [--quick] [--reps N] [--only w1,w2] [--sample-seconds S]\n"
            "                       [--idle-pairs N] [--batch BYTES] [--release-buffers]\n"
            "                       [--groups LIST]\n"
            "       tlsengine_bench --profile WORKLOAD [--impl te|raw] [--seconds S] [--count N]\n"
            "                       [--trace-allocs N]  (stacks of N steady-state allocations)\n"
            "workloads: hs13 hs12 resume13 resume12 resume13_bytes resume12_bytes bulk16k\n"
            "           bulk16k_peek bulk1k bulk64 msg1k msg64\n"
            "           idle_pair_bytes copies\n"
            "--quick: tiny sizes, one repetition (seconds, for CI); --profile: loop one workload\n"
            "of one implementation (for perf record / callgrind).");
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

config parse_args(int argc, char** argv) {
  config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--quick") {
      cfg.quick = true;
    } else if (a == "--reps") {
      cfg.reps = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--only") {
      cfg.only = split(next());
    } else if (a == "--sample-seconds") {
      cfg.sample_seconds = std::atof(next().c_str());
    } else if (a == "--idle-pairs") {
      cfg.idle_pairs = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--batch") {
      cfg.batch_bytes = static_cast<std::size_t>(std::max(1, std::atoi(next().c_str())));
    } else if (a == "--groups") {
      cfg.groups = next();
    } else if (a == "--profile") {
      cfg.profile = next();
    } else if (a == "--impl") {
      cfg.profile_impl = next();
    } else if (a == "--seconds") {
      cfg.profile_seconds = std::atof(next().c_str());
    } else if (a == "--count") {
      cfg.profile_count = std::stoull(next());
    } else if (a == "--release-buffers") {
      cfg.release_buffers = true;
    } else if (a == "--trace-allocs") {
      cfg.trace_allocs = std::atoi(next().c_str());
    } else if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else {
      usage();
      die("unknown argument " + a);
    }
  }
  if (cfg.quick) {
    cfg.reps = 1;
    cfg.sample_seconds = 0.02;
    cfg.bulk16k_bytes = 4ull << 20;
    cfg.idle_pairs = 50;
  }
  return cfg;
}

struct workload {
  std::string name;
  std::string unit;
  std::function<sample(impl, std::uint64_t)> run; // count -> sample
  std::function<double(const sample&)> figure;    // sample -> figure in `unit`
  std::uint64_t count = 0;                        // fixed per run (calibrated)
  bool lower_is_better = false;
  double target = 0;
  double ceiling = 0;
  bool per_record_allocs = false;
};

} // namespace

int main(int argc, char** argv) {
  const config cfg = parse_args(argc, argv);
  g_trace_allocs = cfg.trace_allocs;
  g_groups = cfg.groups;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  const credentials ec = ecdsa_credentials();
  const credentials rsa = rsa_credentials();
  env e{make_te_env(ec, rsa, cfg.release_buffers), make_raw_env(ec, rsa)};
  // The idle figure is taken with release_buffers_when_idle (off by default), the option
  // for servers holding many idle connections.
  env idle_env{make_te_env(ec, rsa, true), e.raw};
  const resumption res = make_resumption(e);

  // Same suites on both sides? (Printed so that a reader can check.)
  {
    te_pair tp = te_connect(e.te.server13, e.te.client13);
    te_handshake(tp);
    raw_pair rp = raw_connect(e.raw.server13, e.raw.client13);
    raw_handshake(rp);
    te_pair tp12 = te_connect(e.te.server12, e.te.client12);
    te_handshake(tp12);
    raw_pair rp12 = raw_connect(e.raw.server12, e.raw.client12);
    raw_handshake(rp12);
    std::printf(
        "# OpenSSL %s; TLS 1.3: tlsengine %s %s, raw %s %s; TLS 1.2: tlsengine %s, raw %s\n",
        OpenSSL_version(OPENSSL_VERSION_STRING), tp.client.protocol().c_str(),
        tp.client.cipher()->name.c_str(), SSL_get_version(rp.client.ssl),
        SSL_get_cipher_name(rp.client.ssl), tp12.client.cipher()->name.c_str(),
        SSL_get_cipher_name(rp12.client.ssl));
  }

  const std::size_t batch16 = 1;
  const std::size_t batch1k = std::max<std::size_t>(1, cfg.batch_bytes / 1024);
  const std::size_t batch64 = std::max<std::size_t>(1, cfg.batch_bytes / 64);

  std::vector<workload> work;
  auto hs = [&](const char* name, hs_kind kind, double ceiling_us) {
    workload w;
    w.name = name;
    w.unit = "handshakes/s";
    w.run = [&e, &res, kind](impl i, std::uint64_t n) {
      return run_handshakes(e, res, kind, i, static_cast<int>(n));
    };
    w.figure = [](const sample& s) { return s.rate(); };
    w.target = 1.0;
    w.ceiling = ceiling_us > 0 ? 1e6 / ceiling_us : 0;
    work.push_back(w);
  };
  auto bulk = [&](const char* name, std::size_t size, std::size_t batch, bool peek,
                  bool drain_back = false) {
    workload w;
    w.name = name;
    w.unit = size >= 16 * 1024 ? "MB/s" : "msgs/s";
    w.run = [&e, size, batch, peek, drain_back](impl i, std::uint64_t n) {
      bulk_spec spec;
      spec.message = size;
      spec.batch = batch;
      spec.messages = n;
      spec.peek = peek;
      spec.drain_back = drain_back;
      return run_bulk(e, i, spec);
    };
    if (size >= 16 * 1024)
      w.figure = [size](const sample& s) { return s.rate() * static_cast<double>(size) / 1e6; };
    else
      w.figure = [](const sample& s) { return s.rate(); };
    w.per_record_allocs = true;
    work.push_back(w);
  };

  const double ceiling_seconds = cfg.quick ? 0.01 : 0.2;
  crypto_ceiling ceil; // not needed to profile
  if (cfg.profile.empty()) ceil = measure_ceiling(ec, rsa, ceiling_seconds);

  hs("hs13", hs_kind::full13, ceil.hs13_us());
  hs("hs12", hs_kind::full12, ceil.hs12_us());
  hs("resume13", hs_kind::resume13, ceil.resume13_us());
  hs("resume12", hs_kind::resume12, 0);
  hs("resume13_bytes", hs_kind::resume13_bytes, ceil.resume13_us());
  work.back().target = 0; // informational: the session given as stored bytes
  hs("resume12_bytes", hs_kind::resume12_bytes, 0);
  work.back().target = 0;
  bulk("bulk16k", 16 * 1024, batch16, false);
  work.back().target = 1.05;
  work.back().count = cfg.bulk16k_bytes / (16 * 1024);
  work.back().ceiling = 1e3 / ceil.gcm_ns_per_byte;
  bulk("bulk16k_peek", 16 * 1024, batch16, true);
  work.back().count = cfg.bulk16k_bytes / (16 * 1024);
  work.back().ceiling = 1e3 / ceil.gcm_ns_per_byte;
  bulk("bulk1k", 1024, batch1k, false);
  work.back().target = 2.0;
  work.back().ceiling = 1e9 / (ceil.gcm_ns_per_byte * 1024);
  bulk("bulk64", 64, batch64, false);
  work.back().target = 10.0;
  work.back().ceiling = 1e9 / (ceil.gcm_ns_per_byte * 64);
  // One message at a time: write(), then drain both ways, per message (request/response).
  bulk("msg1k", 1024, 1, false, true);
  work.back().target = 1.0;
  work.back().ceiling = 1e9 / ceil.gcm_record_ns_1k;
  bulk("msg64", 64, 1, false, true);
  work.back().target = 1.0;
  work.back().ceiling = 1e9 / ceil.gcm_record_ns_64;
  {
    workload w;
    w.name = "idle_pair_bytes";
    w.unit = "bytes/pair";
    w.run = [&idle_env](impl i, std::uint64_t n) {
      return run_idle(idle_env, i, static_cast<int>(n));
    };
    w.figure = [](const sample& s) { return s.work; };
    w.count = static_cast<std::uint64_t>(cfg.idle_pairs);
    w.lower_is_better = true;
    w.target = 48 * 1024;
    work.push_back(w);
  }

  // ---- profile mode: one workload, one implementation, in a loop ----
  if (!cfg.profile.empty()) {
    const impl which = cfg.profile_impl == "raw" ? impl::raw : impl::te;
    for (workload& w : work) {
      if (w.name != cfg.profile) continue;
      std::uint64_t n = w.count ? w.count : 100;
      if ((w.name.rfind("bulk", 0) == 0 || w.name.rfind("msg", 0) == 0) && !w.count) n = 100000;
      if (cfg.profile_count != 0) n = cfg.profile_count;
      const auto start = steady::now();
      do {
        const sample s = w.run(which, n);
        std::printf("%s %s: %s %s\n", w.name.c_str(), impl_name(which), fmt(w.figure(s)).c_str(),
                    w.unit.c_str());
      } while (seconds_since(start) < cfg.profile_seconds);
      return 0;
    }
    die("unknown workload " + cfg.profile);
  }

  // ---- calibration: the same count for both implementations, from raw's speed ----
  for (workload& w : work) {
    if (w.count != 0 || !wanted(cfg, w.name)) continue;
    std::uint64_t n = 4;
    for (;;) {
      const sample s = w.run(impl::raw, n);
      if (s.seconds >= 0.05 || n >= (1ull << 30)) {
        const double per = s.seconds / static_cast<double>(n);
        w.count = std::max<std::uint64_t>(4, static_cast<std::uint64_t>(cfg.sample_seconds / per));
        break;
      }
      n *= 4;
    }
  }

  // ---- interleaved repetitions ----
  std::vector<row> rows;
  for (const workload& w : work) {
    row r;
    r.name = w.name;
    r.unit = w.unit;
    r.lower_is_better = w.lower_is_better;
    r.target = w.target;
    r.ceiling = w.ceiling;
    rows.push_back(r);
  }
  const auto run_start = steady::now();
  for (int rep = 0; rep < cfg.reps; ++rep) {
    for (std::size_t k = 0; k < work.size(); ++k) {
      const workload& w = work[k];
      if (!wanted(cfg, w.name)) continue;
      const impl order[2] = {rep % 2 == 0 ? impl::te : impl::raw,
                             rep % 2 == 0 ? impl::raw : impl::te};
      for (impl i : order) {
        const sample s = w.run(i, w.count);
        const double fig = w.figure(s);
        (i == impl::te ? rows[k].te : rows[k].raw).push_back(fig);
        if (w.per_record_allocs && s.records > 0) {
          (i == impl::te ? rows[k].te_allocs : rows[k].raw_allocs)
              .push_back(static_cast<double>(s.allocs) / static_cast<double>(s.records));
          (i == impl::te ? rows[k].te_allocs_msg : rows[k].raw_allocs_msg)
              .push_back(static_cast<double>(s.allocs) / static_cast<double>(s.messages));
          if (i == impl::te)
            rows[k].te_news.push_back(static_cast<double>(s.news) / static_cast<double>(s.records));
        }
        std::fprintf(stderr, "# rep %d %-15s %-9s %12s %s (%.2f s)\n", rep + 1, w.name.c_str(),
                     impl_name(i), fmt(fig).c_str(), w.unit.c_str(), s.seconds);
      }
    }
  }
  const double run_seconds = seconds_since(run_start);

  // ---- copies per cleartext byte ----
  struct copy_row {
    std::string path;
    copy_figures f;
  };
  std::vector<copy_row> copy_rows;
  if (wanted(cfg, "copies")) {
    const std::uint64_t n16 = cfg.quick ? 64 : 1024;
    copy_rows.push_back(
        {"raw 16k", measure_copies(e, impl::raw, in_path::feed_read, 16384, 1, n16)});
    copy_rows.push_back(
        {"te 16k feed+read", measure_copies(e, impl::te, in_path::feed_read, 16384, 1, n16)});
    copy_rows.push_back(
        {"te 16k feed+peek", measure_copies(e, impl::te, in_path::feed_peek, 16384, 1, n16)});
    copy_rows.push_back(
        {"te 16k window+read", measure_copies(e, impl::te, in_path::window_read, 16384, 1, n16)});
    copy_rows.push_back(
        {"te 16k window+peek", measure_copies(e, impl::te, in_path::window_peek, 16384, 1, n16)});
    const std::uint64_t n64 = n16 * 256;
    copy_rows.push_back(
        {"raw 64", measure_copies(e, impl::raw, in_path::feed_read, 64, batch64, n64)});
    copy_rows.push_back(
        {"te 64 feed+read", measure_copies(e, impl::te, in_path::feed_read, 64, batch64, n64)});
    copy_rows.push_back(
        {"te 64 feed+peek", measure_copies(e, impl::te, in_path::feed_peek, 64, batch64, n64)});
  }

  // ---- report ----
  std::printf("\n# crypto ceiling (this run): AES-256-GCM seal+open %.3f ns/byte (16 KiB "
              "records; one 64 B record %.0f ns, one 1 KiB record %.0f ns); P-256 sign %.1f us, "
              "verify %.1f us; RSA-2048 PSS sign %.0f us, verify %.1f us; X25519 keygen+derive "
              "%.1f us per side\n",
              ceil.gcm_ns_per_byte, ceil.gcm_record_ns_64, ceil.gcm_record_ns_1k, ceil.p256_sign_us,
              ceil.p256_verify_us, ceil.rsa_sign_us, ceil.rsa_verify_us, ceil.x25519_us);
  std::printf("# per handshake: hs13 = sign + 3 verify + 2 X25519 = %.0f us; hs12 = RSA sign + 2 "
              "RSA verify + 2 X25519 = %.0f us; resume13 = 2 X25519 = %.0f us; resume12: no "
              "public-key operation\n",
              ceil.hs13_us(), ceil.hs12_us(), ceil.resume13_us());
  // The ceiling assumes X25519; with the hybrid X25519MLKEM768 (OpenSSL >= 3.5's default)
  // the handshakes also run ML-KEM-768, so compare hs13/resume13 across --groups instead.
  std::printf("# %s; key-exchange groups: %s\n", OpenSSL_version(OPENSSL_VERSION),
              g_groups.empty() ? "OpenSSL's default list" : g_groups.c_str());
  std::printf("# medians of %d interleaved repetition(s); %.0f s of measuring\n\n", cfg.reps,
              run_seconds);
  std::printf("%-16s %-13s %12s %12s %8s %8s %-4s %12s %8s %8s %10s %10s\n", "workload", "unit",
              "tlsengine", "raw", "ratio", "target", "met", "ceiling", "te/ceil", "raw/ceil",
              "allocs/rec", "raw");
  for (const row& r : rows) {
    if (r.te.empty()) continue;
    const double te = median(r.te), raw = median(r.raw);
    const double ratio = raw > 0 ? te / raw : 0;
    std::string target = "-", met = "-";
    if (r.target > 0) {
      if (r.lower_is_better) {
        target = "<=" + fmt(r.target);
        met = te <= r.target ? "yes" : "NO";
      } else {
        target = ">=" + fmt(r.target);
        met = ratio >= r.target ? "yes" : "NO";
      }
    }
    std::string ceiling = "-", te_frac = "-", raw_frac = "-";
    if (r.ceiling > 0) {
      ceiling = fmt(r.ceiling);
      te_frac = fmt(te / r.ceiling);
      raw_frac = fmt(raw / r.ceiling);
    }
    std::string allocs = "-", raw_allocs = "-";
    if (!r.te_allocs.empty()) {
      allocs = fmt(median(r.te_allocs)) + " (" + fmt(median(r.te_news)) + ")";
      raw_allocs = fmt(median(r.raw_allocs));
    }
    std::printf("%-16s %-13s %12s %12s %8.3f %8s %-4s %12s %8s %8s %10s %10s\n", r.name.c_str(),
                r.unit.c_str(), fmt(te).c_str(), fmt(raw).c_str(), ratio, target.c_str(),
                met.c_str(), ceiling.c_str(), te_frac.c_str(), raw_frac.c_str(), allocs.c_str(),
                raw_allocs.c_str());
  }
  if (!copy_rows.empty()) {
    std::printf("\n%-20s %10s %10s %10s %10s   (bytes per cleartext byte)\n", "copies: path",
                "out copy", "out fill", "in copy", "in fill");
    for (const copy_row& c : copy_rows)
      std::printf("%-20s %10.2f %10.2f %10.2f %10.2f\n", c.path.c_str(), c.f.out_copied,
                  c.f.out_filled, c.f.in_copied, c.f.in_filled);
  }
  std::printf("\n");
  for (const row& r : rows) {
    if (r.te.empty()) continue;
    const double te = median(r.te), raw = median(r.raw);
    std::printf("RATIO %s %.3f\n", r.name.c_str(), raw > 0 ? te / raw : 0.0);
  }
  for (const row& r : rows) {
    if (r.te.empty()) continue;
    std::printf("VALUE %s %.6g %s\n", r.name.c_str(), median(r.te), r.unit.c_str());
  }
  for (const row& r : rows) {
    if (r.te_allocs.empty()) continue;
    std::printf("ALLOCS %s %.3f %.3f per-record (tlsengine raw; tlsengine's own operator new "
                "%.3f, the rest OpenSSL's); %.4f %.4f per-message\n",
                r.name.c_str(), median(r.te_allocs), median(r.raw_allocs), median(r.te_news),
                median(r.te_allocs_msg), median(r.raw_allocs_msg));
  }
  for (const copy_row& c : copy_rows) {
    std::string name = c.path;
    std::replace(name.begin(), name.end(), ' ', '_');
    std::printf("COPIES %s out %.2f+%.2f in %.2f+%.2f\n", name.c_str(), c.f.out_copied,
                c.f.out_filled, c.f.in_copied, c.f.in_filled);
  }
  SSL_SESSION_free(res.raw13);
  SSL_SESSION_free(res.raw12);
  return 0;
}
