// Probe: does SSL_set_retry_verify, called from the certificate verification callback,
// pause the handshake? Raw OpenSSL, a client and a server over memory BIOs, mutual TLS with
// the test certificates, both protocol versions. For each role whose callback asks for the
// retry it prints one line:
//   <version> <role> paused=<0|1> calls=<verify callback calls> done=<0|1>
// OpenSSL's man page says the call is for "the certificate verification callback on a
// client"; on OpenSSL 3.0 a server's request is ignored (paused=0): its handshake goes on
// and completes. tlsengine's server-side verify_peer decision is built on that observation
// (docs/HARDENING.md, "Decisions"), and tests/test_verify_alerts.cpp runs this probe so that
// a library that starts honouring it on servers makes the test fail.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <string>

namespace {

struct probe_state {
  bool ask_retry = false;
  bool paused_once = false;
  int calls = 0;
};

int probe_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int verify_callback(X509_STORE_CTX* store, void*) {
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* state = static_cast<probe_state*>(SSL_get_ex_data(ssl, probe_index()));
  ++state->calls;
  if (state->ask_retry && !state->paused_once) {
    state->paused_once = true; // ask once; a retry that happens then succeeds
    SSL_set_retry_verify(ssl);
    return 1;
  }
  return X509_verify_cert(store) > 0 ? 1 : 0;
}

SSL_CTX* make_ctx(const SSL_METHOD* method, const std::string& dir, const std::string& leaf,
                  int version) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  if (SSL_CTX_use_certificate_chain_file(ctx, (dir + "/" + leaf + "-chain.pem").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, (dir + "/" + leaf + ".key").c_str(), SSL_FILETYPE_PEM) !=
          1 ||
      SSL_CTX_load_verify_locations(ctx, (dir + "/ca.pem").c_str(), nullptr) != 1) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, verify_callback, nullptr);
  return ctx;
}

// Moves what `from` wrote into `to`'s read BIO.
void pump(BIO* from, BIO* to) {
  char buffer[16384];
  int n = 0;
  while ((n = BIO_read(from, buffer, sizeof buffer)) > 0)
    BIO_write(to, buffer, n);
}

bool run(const std::string& dir, int version, const char* name, bool server_asks) {
  SSL_CTX* server_ctx = make_ctx(TLS_server_method(), dir, "server-rsa", version);
  SSL_CTX* client_ctx = make_ctx(TLS_client_method(), dir, "client", version);
  if (server_ctx == nullptr || client_ctx == nullptr) return false;
  SSL* server = SSL_new(server_ctx);
  SSL* client = SSL_new(client_ctx);
  probe_state server_state, client_state;
  (server_asks ? server_state : client_state).ask_retry = true;
  SSL_set_ex_data(server, probe_index(), &server_state);
  SSL_set_ex_data(client, probe_index(), &client_state);
  BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
  BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
  SSL_set_bio(server, s_in, s_out);
  SSL_set_bio(client, c_in, c_out);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  SSL_set_tlsext_host_name(client, "localhost");
  bool paused = false, server_done = false, client_done = false;
  for (int round = 0; round < 50 && !(server_done && client_done); ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(client);
      client_done = r == 1;
      if (r != 1 && SSL_get_error(client, r) == SSL_ERROR_WANT_RETRY_VERIFY && !server_asks)
        paused = true;
    }
    pump(c_out, s_in);
    if (!server_done) {
      const int r = SSL_do_handshake(server);
      server_done = r == 1;
      if (r != 1 && SSL_get_error(server, r) == SSL_ERROR_WANT_RETRY_VERIFY && server_asks)
        paused = true;
    }
    pump(s_out, c_in);
  }
  const probe_state& asked = server_asks ? server_state : client_state;
  std::printf("%s %s paused=%d calls=%d done=%d\n", name, server_asks ? "server" : "client",
              paused ? 1 : 0, asked.calls, (server_asks ? server_done : client_done) ? 1 : 0);
  SSL_free(server);
  SSL_free(client);
  SSL_CTX_free(server_ctx);
  SSL_CTX_free(client_ctx);
  return true;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <test certificate directory>\n", argv[0]);
    return 2;
  }
  std::printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
  for (bool server_asks : {false, true}) {
    if (!run(argv[1], TLS1_2_VERSION, "TLSv1.2", server_asks) ||
        !run(argv[1], TLS1_3_VERSION, "TLSv1.3", server_asks)) {
      ERR_print_errors_fp(stderr);
      return 1;
    }
  }
  return 0;
}
