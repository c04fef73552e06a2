// record_corpus: writes the seed corpora of the fuzz harnesses.
//
//   record_corpus OUTDIR        (the repository's corpora live in fuzz/corpus)
//   record_corpus --check DIR   do the handshakes recorded in DIR still replay to the end?
//
// server/client: real handshakes between a client and a server engine in deterministic
// mode (TLS 1.3, TLS 1.2, mTLS, HelloRetryRequest, TLS 1.2 and 1.3 resumption), recorded on
// the wire; each recording is replayed through the harness code before it is written, and
// must complete the handshake and deliver the greeting there too.
// pair: scripts (pair_script.hpp) for every configuration bit, clean and hostile, and
//   actions inside callbacks (op_arm).
// flood: post-handshake floods from a raw OpenSSL peer (fuzz_flood.cpp).
// context: the test credentials as PEM, DER and PKCS#12, a CRL, option strings.
// certificate: the test certificates and a few made here with every kind of name.
// Deterministic mode makes the output the same on every run.
#include "pair_script.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include <dirent.h>
#include <fstream>
#include <iterator>
#include <sys/stat.h>

namespace {

std::string g_out;
std::size_t g_files = 0, g_bytes = 0;

void write_file(const std::string& harness, const std::string& name,
                const std::vector<std::uint8_t>& bytes) {
  const std::string dir = g_out + "/" + harness;
  mkdir(g_out.c_str(), 0755);
  mkdir(dir.c_str(), 0755);
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) fuzz::fail("cannot write", dir + "/" + name);
  ++g_files;
  g_bytes += bytes.size();
}

void require(bool ok, const std::string& what) {
  if (!ok) fuzz::fail("record_corpus:", what);
}

// ---- handshakes ------------------------------------------------------------------------------

struct recording {
  std::vector<std::uint8_t> client_to_server, server_to_client, session;
  bool client_reused = false, server_reused = false;
};

recording record(fuzz::client_kind ck, fuzz::server_kind sk, std::vector<std::uint8_t> session) {
  using namespace fuzz;
  start_input(replay_seed);
  recording rec;
  rec.session = session;
  std::error_code failure;
  tlsengine::connection client = new_client(ck, session, &failure);
  require(static_cast<bool>(client), std::string("client: ") + failure.message());
  tlsengine::connection server = new_server(sk);
  observed seen_client, seen_server;
  {
    rng_scope scope(stream::client);
    client_app(client, seen_client);
  }
  {
    rng_scope scope(stream::server);
    server_app(server, seen_server);
  }
  for (int round = 0; round < 100; ++round) {
    const std::size_t moved = transfer(client, stream::client, server, stream::server, seen_server,
                                       server_app, &rec.client_to_server) +
                              transfer(server, stream::server, client, stream::client, seen_client,
                                       client_app, &rec.server_to_client);
    if (moved == 0) break;
  }
  require(client.is_secure() && server.is_secure(),
          std::string("handshake ") + name_of(ck) + "/" + name_of(sk) + ": " +
              client.error_message() + " | " + server.error_message());
  require(seen_server.received == client_greeting, "server greeting");
  require(seen_client.received == server_greeting, "client greeting");
  require(client.peer_ended() && server.peer_ended(), "close_notify both ways");
  rec.client_reused = client.is_session_reused();
  rec.server_reused = server.is_session_reused();
  if (!seen_client.sessions.empty()) rec.session = seen_client.sessions.back();
  return rec;
}

std::vector<std::uint8_t> server_input(fuzz::server_kind sk, std::uint8_t chunk,
                                       const recording& r) {
  std::vector<std::uint8_t> in{static_cast<std::uint8_t>(sk), chunk};
  in.insert(in.end(), r.client_to_server.begin(), r.client_to_server.end());
  return in;
}

std::vector<std::uint8_t> client_input(fuzz::client_kind ck, std::uint8_t chunk,
                                       const std::vector<std::uint8_t>& session,
                                       const recording& r) {
  std::vector<std::uint8_t> in{static_cast<std::uint8_t>(ck), chunk};
  if (fuzz::carries_session(ck)) {
    in.push_back(static_cast<std::uint8_t>(session.size() >> 8));
    in.push_back(static_cast<std::uint8_t>(session.size()));
    in.insert(in.end(), session.begin(), session.end());
  }
  in.insert(in.end(), r.server_to_client.begin(), r.server_to_client.end());
  return in;
}

void check_replay(const char* harness, const fuzz::observed& seen, const std::string& expected) {
  require(seen.secure == 1 && seen.errors == 0 && seen.received == expected,
          std::string(harness) + " replay did not complete the handshake (secure " +
              std::to_string(seen.secure) + ", errors " + std::to_string(seen.errors) +
              ", received '" + seen.received + "')");
}

void record_handshakes() {
  using fuzz::client_kind;
  using fuzz::server_kind;
  struct scenario {
    const char* name;
    client_kind client;
    server_kind server;
    bool resume; // resume a session of a first handshake (client kind first_client)
    client_kind first_client;
  };
  const scenario scenarios[] = {
      {"tls13", client_kind::tls13, server_kind::any, false, client_kind::tls13},
      {"tls12-client-capped", client_kind::tls12, server_kind::any, false, client_kind::tls13},
      {"tls12-server-capped", client_kind::tls13, server_kind::tls12, false, client_kind::tls13},
      {"mtls13", client_kind::mtls13, server_kind::mtls, false, client_kind::tls13},
      {"mtls12", client_kind::mtls12, server_kind::mtls, false, client_kind::tls13},
      {"hrr", client_kind::hrr, server_kind::p256, false, client_kind::tls13},
      {"resume13", client_kind::resume13, server_kind::any, true, client_kind::tls13},
      {"resume12", client_kind::resume12, server_kind::any, true, client_kind::tls12},
  };
  for (const scenario& s : scenarios) {
    std::vector<std::uint8_t> session;
    if (s.resume) {
      session = record(s.first_client, s.server, {}).session;
      require(!session.empty(), std::string(s.name) + ": no session to resume");
    }
    const recording r = record(s.client, s.server, session);
    if (s.resume)
      require(r.client_reused && r.server_reused, std::string(s.name) + ": not resumed");
    for (std::uint8_t chunk : {std::uint8_t(0), std::uint8_t(1)}) {
      if (chunk == 1 && std::string(s.name) != "tls13" && std::string(s.name) != "resume12")
        continue;
      const std::string suffix = chunk == 0 ? "" : "-bytewise";
      const auto server_in = server_input(s.server, chunk, r);
      check_replay("server", fuzz::run_server_input(server_in.data(), server_in.size()),
                   fuzz::client_greeting);
      write_file("server", std::string(s.name) + suffix, server_in);
      const auto client_in = client_input(s.client, chunk, session, r);
      check_replay("client", fuzz::run_client_input(client_in.data(), client_in.size()),
                   fuzz::server_greeting);
      write_file("client", std::string(s.name) + suffix, client_in);
    }
    std::printf("  %-20s client->server %5zu bytes, server->client %5zu bytes%s\n", s.name,
                r.client_to_server.size(), r.server_to_client.size(), s.resume ? " (resumed)" : "");
  }
}

// ---- pair scripts ----------------------------------------------------------------------------

void record_pair() {
  using namespace fuzz::pair;
  const int S = 0, C = 0; // side/direction 0: the client, client->server
  const int V = 1, R = 1; // side/direction 1: the server, server->client
  (void)C;
  (void)R;
  auto conversation = [&](std::uint8_t config) {
    builder b(config, 1);
    b.op(op_write, S, 40).op(op_flush, 0).op(op_write, V, 200).op(op_flush, 0);
    b.op(op_write, S, 130).op(op_write, V, 140).op(op_flush, 0).op(op_end, S).op(op_flush, 0);
    return b.bytes;
  };
  const std::pair<const char*, std::uint8_t> configs[] = {
      {"any", 0},    {"tls12", 1},           {"tls13", 2},        {"tls12-cbc", 3},
      {"mtls", 4},   {"mtls12", 5},          {"hrr", 8},          {"hrr12", 9},
      {"small", 16}, {"half-open", 32 | 64}, {"chacha", 2 | 128}, {"all-bits", 0xfc},
  };
  for (const auto& c : configs) {
    auto script = conversation(c.second);
    run_pair_input(script.data(), script.size());
    write_file("pair", std::string("conversation-") + c.first, script);
  }
  // Fine fragmentation in both directions, through feed() and the input window.
  {
    builder b(0, 2);
    b.op(op_write, S, 100);
    for (int i = 0; i < 60; ++i)
      b.op(op_send, i & 1, 7)
          .op(op_deliver, i & 1, 3)
          .op(op_send, i & 1, 0)
          .op(op_window, i & 1, 5);
    b.op(op_flush, 0).op(op_read, V, 10).op(op_peek, V, 10).op(op_end, V).op(op_flush, 0);
    run_pair_input(b.bytes.data(), b.bytes.size());
    write_file("pair", "fragmented", b.bytes);
  }
  // Bulk under small buffers with partial reads (backpressure both ways).
  {
    builder b(16 | 2, 3);
    for (int i = 0; i < 8; ++i)
      b.op(op_write, S, 250)
          .op(op_write, V, 250)
          .op(op_send, C, 0)
          .op(op_deliver, C, 200)
          .op(op_read, V, 100)
          .op(op_send, R, 0)
          .op(op_deliver, R, 0)
          .op(op_peek, S, 90);
    b.op(op_flush, 0).op(op_end, S).op(op_end, V).op(op_flush, 0);
    run_pair_input(b.bytes.data(), b.bytes.size());
    write_file("pair", "bulk-small-buffers", b.bytes);
  }
  // Hostile: a bit flipped in the handshake, in application data, a record dropped.
  {
    builder b(0, 4);
    b.op(op_send, C, 0).op(op_corrupt, C, 0, 60, 0x04).op(op_flush, 0);
    run_pair_input(b.bytes.data(), b.bytes.size());
    write_file("pair", "corrupt-client-hello", b.bytes);
  }
  {
    builder b(2, 5);
    b.op(op_flush, 0).op(op_write, S, 50).op(op_send, C, 0).op(op_corrupt, C, 0, 30, 0x01);
    b.op(op_flush, 0);
    run_pair_input(b.bytes.data(), b.bytes.size());
    write_file("pair", "corrupt-application-data", b.bytes);
  }
  {
    builder b(1, 6);
    b.op(op_send, C, 0).op(op_deliver, C, 0).op(op_send, R, 0).op(op_drop, R, 0, 10, 20);
    b.op(op_flush, 0);
    run_pair_input(b.bytes.data(), b.bytes.size());
    write_file("pair", "drop-server-flight", b.bytes);
  }
  // Timeouts before and after the handshake, EOF, destroy, and the reserved no-op ops.
  {
    builder b(0, 7);
    b.op(op_send, C, 0).op(op_timeout, 0, 20).op(op_deliver, C, 0).op(op_timeout, 0, 31);
    b.op(op_flush, 0).op(op_eof, S).op(op_write, V, 10).op(op_flush, 0);
    run_pair_input(b.bytes.data(), b.bytes.size());
    write_file("pair", "timeout-eof", b.bytes);
  }
  {
    builder b(2, 8);
    b.op(op_flush, 0).op(op_key_update, S, 1).op(op_renegotiate, V).op(op_write, S, 10);
    b.op(op_flush, 0).op(op_destroy, V).op(op_write, S, 10).op(op_flush, 0);
    run_pair_input(b.bytes.data(), b.bytes.size());
    write_file("pair", "reserved-ops-destroy", b.bytes);
  }
  // Every action run inside a callback (op_arm) of either side, during the handshake and
  // after it, TLS 1.2 and 1.3; decision answers and KeyUpdates from outside.
  static const char* action_names[] = {"destroy",     "write",  "end",  "key-update",
                                       "renegotiate", "answer", "feed", "read"};
  static_assert(sizeof action_names / sizeof *action_names == arm_count, "one name per action");
  for (std::uint8_t action = 0; action < arm_count; ++action) {
    for (std::uint8_t config : {std::uint8_t(1), std::uint8_t(2)}) {
      builder b(config, static_cast<std::uint8_t>(9 + action));
      b.op(op_arm, action & 1, action, 40).op(op_write, S, 20).op(op_flush, 0);
      b.op(op_arm, 1 - (action & 1), action, 60).op(op_write, V, 30).op(op_write, S, 30);
      b.op(op_flush, 0).op(op_key_update, S, 1).op(op_answer, V).op(op_flush, 0);
      b.op(op_end, S).op(op_flush, 0);
      run_pair_input(b.bytes.data(), b.bytes.size());
      write_file("pair",
                 std::string("arm-") + action_names[action] + (config == 1 ? "-tls12" : "-tls13"),
                 b.bytes);
    }
  }
}

// ---- flood inputs (fuzz_flood.cpp) ------------------------------------------------------------

void record_flood() {
  // [config] then [op][n]: see fuzz_flood.cpp.
  auto repeat = [](std::vector<std::uint8_t> head, std::vector<std::uint8_t> ops, int times,
                   std::vector<std::uint8_t> tail) {
    for (int i = 0; i < times; ++i)
      head.insert(head.end(), ops.begin(), ops.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  write_file("flood", "key-update-flood-tls13", repeat({0}, {0, 255}, 4, {5, 0, 6, 0}));
  write_file("flood", "key-update-with-data-bytewise",
             repeat({0}, {0, 15, 2, 0}, 40, {5, 0, 6, 0, 7, 0}));
  write_file("flood", "key-update-not-requested-small", repeat({4}, {1, 200}, 2, {5, 1, 6, 0}));
  write_file("flood", "ticket-flood", repeat({2}, {3, 255}, 4, {5, 0, 6, 0}));
  write_file("flood", "hello-requests-tls12", repeat({3}, {4, 20, 5, 0, 6, 0, 7, 0}, 4, {}));
  write_file("flood", "renegotiations-tls12", repeat({1}, {4, 0, 5, 0, 6, 0, 7, 0}, 6, {}));
  write_file("flood", "data-small-buffers", repeat({4}, {2, 255}, 40, {5, 3, 6, 0}));
}

// ---- credentials as bytes ---------------------------------------------------------------------

std::vector<std::uint8_t> bio_bytes(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::vector<std::uint8_t> out(data, data + (n > 0 ? n : 0));
  BIO_free(bio);
  return out;
}

X509* pem_cert(const char* pem) {
  BIO* bio = BIO_new_mem_buf(pem, -1);
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  require(cert != nullptr, "builtin certificate");
  return cert;
}

/// The second certificate of a PEM chain.
X509* pem_second_cert(const char* pem) {
  BIO* bio = BIO_new_mem_buf(pem, -1);
  X509_free(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  require(cert != nullptr, "builtin intermediate");
  return cert;
}

EVP_PKEY* pem_key(const char* pem) {
  BIO* bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  require(key != nullptr, "builtin key");
  return key;
}

std::vector<std::uint8_t> der_of(X509* cert) {
  unsigned char* p = nullptr;
  const int n = i2d_X509(cert, &p);
  std::vector<std::uint8_t> out(p, p + n);
  OPENSSL_free(p);
  return out;
}

std::vector<std::uint8_t> der_of(EVP_PKEY* key) {
  unsigned char* p = nullptr;
  const int n = i2d_PrivateKey(key, &p);
  std::vector<std::uint8_t> out(p, p + n);
  OPENSSL_free(p);
  return out;
}

/// A self-signed certificate made here: `san` in OpenSSL's config syntax (empty: none),
/// and one more extension when `extra_nid` is set.
X509* make_cert(EVP_PKEY* key, const char* cn, const char* san,
                const char* extra_nid_value = nullptr, int extra_nid = 0) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242);
  ASN1_TIME_set(X509_getm_notBefore(cert), fuzz::fixed_time - 86400);
  ASN1_TIME_set(X509_getm_notAfter(cert), fuzz::fixed_time + 86400L * 365);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("tlsengine fuzz"), -1, -1, 0);
  if (cn != nullptr)
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    require(ext != nullptr, std::string("extension ") + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  };
  if (san != nullptr && *san != '\0') add(NID_subject_alt_name, san);
  if (extra_nid != 0) add(extra_nid, extra_nid_value);
  require(X509_sign(cert, key, EVP_sha256()) > 0, "sign");
  return cert;
}

std::vector<std::uint8_t> field(int tag, const std::vector<std::uint8_t>& bytes) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(tag),
                                static_cast<std::uint8_t>(bytes.size() >> 8),
                                static_cast<std::uint8_t>(bytes.size())};
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}
std::vector<std::uint8_t> field(int tag, const std::string& text) {
  return field(tag, std::vector<std::uint8_t>(text.begin(), text.end()));
}
std::vector<std::uint8_t> cat(std::initializer_list<std::vector<std::uint8_t>> parts) {
  std::vector<std::uint8_t> out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

void record_context_and_certificates() {
  using namespace tlsengine_examples;
  fuzz::rng_reset(0xc0ffee);
  fuzz::rng_scope scope(fuzz::stream::setup);
  X509* server = pem_cert(builtin_server_cert_pem);
  X509* intermediate = pem_second_cert(builtin_server_cert_pem);
  X509* client = pem_cert(builtin_client_cert_pem);
  X509* root = pem_cert(builtin_ca_pem);
  EVP_PKEY* server_key = pem_key(builtin_server_key_pem);

  // A CA of our own with a CRL that revokes serial 4242.
  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  require(ca_key != nullptr, "EC key");
  X509* own_ca =
      make_cert(ca_key, "tlsengine fuzz CA", "", "critical,CA:TRUE", NID_basic_constraints);
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(own_ca));
  ASN1_TIME* t = ASN1_TIME_set(nullptr, fuzz::fixed_time - 3600);
  X509_CRL_set1_lastUpdate(crl, t);
  ASN1_TIME_set(t, fuzz::fixed_time + 86400L * 30);
  X509_CRL_set1_nextUpdate(crl, t);
  ASN1_TIME_free(t);
  X509_REVOKED* revoked = X509_REVOKED_new();
  ASN1_INTEGER* serial = ASN1_INTEGER_new();
  ASN1_INTEGER_set(serial, 4242);
  X509_REVOKED_set_serialNumber(revoked, serial);
  ASN1_INTEGER_free(serial);
  ASN1_TIME* when = ASN1_TIME_set(nullptr, fuzz::fixed_time - 7200);
  X509_REVOKED_set_revocationDate(revoked, when);
  ASN1_TIME_free(when);
  X509_CRL_add0_revoked(crl, revoked);
  X509_CRL_sort(crl);
  require(X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0, "CRL");
  BIO* crl_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(crl_bio, crl);
  const auto crl_pem = bio_bytes(crl_bio);
  unsigned char* crl_der_p = nullptr;
  const int crl_der_n = i2d_X509_CRL(crl, &crl_der_p);
  const std::vector<std::uint8_t> crl_der(crl_der_p, crl_der_p + crl_der_n);
  OPENSSL_free(crl_der_p);
  BIO* own_ca_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(own_ca_bio, own_ca);
  const auto own_ca_pem = bio_bytes(own_ca_bio);

  // PKCS#12 of the server credentials, cheap to open (1 iteration).
  STACK_OF(X509)* chain = sk_X509_new_null();
  sk_X509_push(chain, intermediate);
  PKCS12* p12 = PKCS12_create("secret", "server", server_key, server, chain, 0, 0, 1, 1, 0);
  require(p12 != nullptr, "PKCS12_create");
  unsigned char* p12_p = nullptr;
  const int p12_n = i2d_PKCS12(p12, &p12_p);
  const std::vector<std::uint8_t> pfx(p12_p, p12_p + p12_n);
  OPENSSL_free(p12_p);
  PKCS12_free(p12);
  sk_X509_free(chain);

  // The server key encrypted the legacy PEM way (one MD5 round: cheap).
  BIO* enc_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey_traditional(enc_bio, server_key, EVP_aes_128_cbc(),
                                       reinterpret_cast<const unsigned char*>("secret"), 6, nullptr,
                                       nullptr);
  const auto encrypted_key = bio_bytes(enc_bio);

  const std::string cert_pem = builtin_server_cert_pem, key_pem = builtin_server_key_pem,
                    ca_pem = builtin_ca_pem;
  const std::vector<std::uint8_t> flags{1, 0x41, 5, 0, 'f', 'u', 'z', 'z'};
  const std::pair<const char*, std::vector<std::uint8_t>> contexts[] = {
      {"server-pem", cat({field(0, cert_pem), field(1, key_pem)})},
      {"server-der", cat({field(11, der_of(server)), field(12, der_of(server_key))})},
      {"server-pfx", cat({field(3, std::string("secret")), field(9, pfx)})},
      {"server-encrypted-key",
       cat({field(0, cert_pem), field(3, std::string("secret")), field(1, encrypted_key)})},
      {"server-own-passphrase",
       cat({field(0, cert_pem),
            field(16, cat({std::vector<std::uint8_t>{6, 's', 'e', 'c', 'r', 'e', 't'},
                           encrypted_key}))})},
      {"client-ca-crl", cat({field(2, ca_pem), field(2, own_ca_pem), field(10, crl_pem)})},
      {"client-ca-crl-der", cat({field(2, own_ca_pem), field(13, crl_der)})},
      {"options",
       cat({field(0, cert_pem), field(1, key_pem),
            field(4, std::string("TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")),
            field(5, std::string("X25519:P-256:P-384")),
            field(6, std::string("ECDSA+SHA256:RSA-PSS+SHA256")), field(7, std::string("TLSv1.2")),
            field(8, std::string("TLSv1.3")), field(14, flags), field(15, std::string("auto"))})},
      {"client-tls12-only", cat({field(2, ca_pem), field(8, std::string("TLSv1.2")),
                                 field(4, std::string("ECDHE-ECDSA-AES128-GCM-SHA256"))})},
  };
  for (const auto& c : contexts)
    write_file("context", c.first, c.second);

  // Certificates: the built-in ones and some with every kind of name.
  EVP_PKEY* rsa = EVP_RSA_gen(1024);
  require(rsa != nullptr, "RSA key");
  X509* many_names = make_cert(ca_key, "many.example",
                               "DNS:*.example.com,DNS:xn--bcher-kva.example,IP:10.0.0.1,IP:fe80::1,"
                               "email:someone@example.com,URI:https://example.com/path,RID:1.2.3.4,"
                               "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_http._tcp.example.com");
  X509* cn_only = make_cert(ca_key, "cn-only.example", "");
  X509* rsa_cert = make_cert(rsa, "rsa.example", "DNS:rsa.example",
                             "OCSP;URI:http://ocsp.example/,caIssuers;URI:http://ca.example/ca.der",
                             NID_info_access);
  X509* eku = make_cert(ca_key, "Ünïcödé \"quoted\", + escaped=", "DNS:a.b.c.d.example",
                        "serverAuth,clientAuth,codeSigning", NID_ext_key_usage);
  const std::pair<const char*, std::pair<std::string, X509*>> certs[] = {
      {"server-localhost", {"localhost", server}},
      {"server-ipv6", {"::1", server}},
      {"server-ipv4-mismatch", {"127.0.0.2", server}},
      {"intermediate", {"localhost", intermediate}},
      {"root", {"tlsengine Demo Root CA", root}},
      {"client", {"client.example", client}},
      {"many-names-wildcard", {"www.example.com", many_names}},
      {"many-names-ip", {"10.0.0.1", many_names}},
      {"cn-only", {"cn-only.example", cn_only}},
      {"rsa-aia", {"rsa.example.", rsa_cert}},
      {"eku-unicode", {"a.b.c.d.example", eku}},
  };
  for (const auto& c : certs) {
    std::vector<std::uint8_t> in{static_cast<std::uint8_t>(c.second.first.size())};
    in.insert(in.end(), c.second.first.begin(), c.second.first.end());
    const auto der = der_of(c.second.second);
    in.insert(in.end(), der.begin(), der.end());
    write_file("certificate", c.first, in);
  }

  for (X509* x : {server, intermediate, client, root, own_ca, many_names, cn_only, rsa_cert, eku})
    X509_free(x);
  X509_CRL_free(crl);
  EVP_PKEY_free(server_key);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(rsa);
}

} // namespace

/// --check DIR: do the recorded handshakes in DIR still replay to the end? They stop
/// doing so when the engine changes what it sends (a new extension in the ClientHello...);
/// then record the corpus again.
int check(const std::string& dir) {
  int stale = 0, total = 0;
  for (const char* harness : {"server", "client"}) {
    const std::string listing = dir + "/" + harness;
    DIR* d = opendir(listing.c_str());
    if (d == nullptr) continue;
    while (dirent* entry = readdir(d)) {
      if (entry->d_name[0] == '.') continue;
      std::ifstream in(listing + "/" + entry->d_name, std::ios::binary);
      const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                            std::istreambuf_iterator<char>());
      const bool server = std::string(harness) == "server";
      const fuzz::observed seen = server ? fuzz::run_server_input(bytes.data(), bytes.size())
                                         : fuzz::run_client_input(bytes.data(), bytes.size());
      const std::string& expected = server ? fuzz::client_greeting : fuzz::server_greeting;
      ++total;
      if (seen.secure != 1 || seen.errors != 0 || seen.received != expected) {
        ++stale;
        std::printf("stale: %s/%s\n", harness, entry->d_name);
      }
    }
    closedir(d);
  }
  std::printf("%d of %d recorded handshakes replay to the end\n", total - stale, total);
  return stale == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  const bool checking = argc == 3 && std::string(argv[1]) == "--check";
  if (argc != 2 && !checking) {
    std::fprintf(stderr, "usage: %s OUTDIR | --check DIR\n", argv[0]);
    return 2;
  }
  g_out = argv[argc - 1];
  if (!fuzz::init_deterministic_mode()) {
    std::fprintf(stderr,
                 "record_corpus needs deterministic mode (unset TLSENGINE_FUZZ_DETERMINISTIC)\n");
    return 2;
  }
  fuzz::fixtures::get();
  if (checking) return check(g_out);
  std::printf("handshakes:\n");
  record_handshakes();
  record_pair();
  record_flood();
  record_context_and_certificates();
  std::printf("wrote %zu files, %zu bytes, under %s\n", g_files, g_bytes, g_out.c_str());
  return 0;
}
