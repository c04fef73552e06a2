// [attack4] area 1, server side: a raw OpenSSL client (which binds nothing) offers a session
// the server reported under its SNI context (other certificate) to the default context, and
// a session from a loose server to a request_cert server; the external cache answers every
// lookup with the stored data. The engine must never resume across identity or policy.
#include "common.hpp"
#include <openssl/err.h>
using namespace a4;

struct raw_client {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl;
  BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
  raw_client(const char* sni, SSL_SESSION* sess, int maxv, bool with_cert) {
    SSL_CTX_set_max_proto_version(ctx, maxv);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (with_cert) {
      std::string cert = load("client.pem"), key = load("client.key");
      BIO* b = BIO_new_mem_buf(cert.data(), (int)cert.size());
      X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
      SSL_CTX_use_certificate(ctx, x);
      X509_free(x);
      BIO_free(b);
      b = BIO_new_mem_buf(key.data(), (int)key.size());
      EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
      SSL_CTX_use_PrivateKey(ctx, k);
      EVP_PKEY_free(k);
      BIO_free(b);
    }
    ssl = SSL_new(ctx);
    SSL_set_bio(ssl, in, out);
    SSL_set_connect_state(ssl);
    if (sni) SSL_set_tlsext_host_name(ssl, sni);
    if (sess) SSL_set_session(ssl, sess);
  }
  ~raw_client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  std::string take() {
    char* p;
    long n = BIO_get_mem_data(out, &p);
    std::string s(p, n);
    (void)BIO_reset(out);
    return s;
  }
  // drives both until quiet
  void run(side& srv) {
    for (int i = 0; i < 30; ++i) {
      SSL_do_handshake(ssl);
      char buf[64];
      SSL_read(ssl, buf, sizeof buf);
      std::string o = take();
      if (!o.empty()) {
        srv.c.feed(bytes_view(o.data(), o.size()));
      }
      drain(srv);
      bytes_view so = srv.c.pending_output();
      if (o.empty() && so.empty()) break;
      BIO_write(in, so.data(), (int)so.size());
      srv.c.consume_output(so.size());
    }
  }
};

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  for (int maxv : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    // 1. SNI context session offered to the default context.
    {
      cache c;
      server_options so = server_opts("server-rsa");
      so.external_session_cache = true;
      so.secure_options = SSL_OP_NO_TICKET;
      server srv = make_server(so);
      context_options sni;
      sni.cert = {load("wronghost-chain.pem")};
      sni.key = {load("wronghost.key")};
      sni.secure_options = SSL_OP_NO_TICKET;
      srv.add_context("other.example", sni);
      side s1;
      s1.c = srv.accept();
      s1.ext = &c;
      raw_client r1("other.example", nullptr, maxv, false);
      r1.run(s1);
      SSL_SESSION* sess = SSL_get1_session(r1.ssl);
      side s2;
      s2.c = srv.accept();
      s2.ext = &c;
      raw_client r2("localhost", sess, maxv, false);
      r2.run(s2);
      std::printf("v%x SNI session to default ctx: first secure=%d new_session=%d; second "
                  "secure=%d lookups=%d hits=%d reused=%d errors=%s\n",
                  maxv, s1.secure, c.new_sessions, s2.secure, c.lookups, c.hits,
                  SSL_session_reused(r2.ssl), s2.error_text.c_str());
      A4_CHECK(!SSL_session_reused(r2.ssl) && !s2.c.is_session_reused(),
               "resumed across SNI identity");
      SSL_SESSION_free(sess);
    }
    // 2. loose server's session offered to a request_cert server (same cert, shared cache).
    {
      cache c;
      server_options loose = server_opts();
      loose.external_session_cache = true;
      loose.secure_options = SSL_OP_NO_TICKET;
      server a = make_server(loose);
      server_options strict = loose;
      strict.request_cert = true;
      strict.ca = {load("ca.pem")};
      server b = make_server(strict);
      side s1;
      s1.c = a.accept();
      s1.ext = &c;
      raw_client r1("localhost", nullptr, maxv, false);
      r1.run(s1);
      SSL_SESSION* sess = SSL_get1_session(r1.ssl);
      side s2;
      s2.c = b.accept();
      s2.ext = &c;
      raw_client r2("localhost", sess, maxv, false); // no client certificate
      r2.run(s2);
      std::printf("v%x loose session to request_cert server (no client cert): secure=%d lookups=%d "
                  "hits=%d reused=%d errors=%s\n",
                  maxv, s2.secure, c.lookups, c.hits, SSL_session_reused(r2.ssl),
                  s2.error_text.c_str());
      A4_CHECK(!(s2.secure && s2.c.is_session_reused()),
               "resumed under request_cert without a certificate");
      SSL_SESSION_free(sess);
    }
  }
  ERR_clear_error();
  return finish("p12_raw_client_cross_context");
}
