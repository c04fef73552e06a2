// [attack4] area 4: no stale OpenSSL error text across connections / contexts on one thread,
// and an application callback that leaves junk in OpenSSL's error queue (a failed parse of
// its own) must neither fail a healthy handshake nor lend its text to a later error.
#include "common.hpp"
#include <openssl/err.h>
using namespace a4;

static void leave_junk() { // what an application's own failed OpenSSL call leaves
  BIO* b = BIO_new_mem_buf("-----BEGIN CERTIFICATE-----\nZZZZ\n-----END CERTIFICATE-----\n", -1);
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  X509_free(x);
  BIO_free(b);
  ERR_put_error(ERR_LIB_USER, 0, 42, "junk.c", 1);
}

static bool mentions_stale(const std::string& s) {
  return s.find("junk") != std::string::npos || s.find("bad base64") != std::string::npos ||
         s.find("BASE64") != std::string::npos || s.find("PEM") != std::string::npos ||
         s.find("wrong host") != std::string::npos || s.find("self-signed") != std::string::npos ||
         s.find("reason(42)") != std::string::npos || s.find("USER") != std::string::npos;
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  server srv = make_server(server_opts());
  server bad_srv = make_server(server_opts("untrusted"));
  for (const char* proto : {"TLSv1.2", "TLSv1.3"}) {
    client_options co = client_opts();
    co.max_version = proto;
    // 1. a failing handshake, then a healthy connection that fails without OpenSSL's help
    //    (truncation, timeout): its text must not be the first one's.
    {
      pair f = make(bad_srv, co);
      f.run();
      A4_CHECK(f.client.errors == 1, "untrusted should fail");
      pair g = make(srv, co);
      g.run();
      g.client.c.feed_eof();
      drain(g.client);
      std::printf("%s after a failed handshake, truncation: %s\n", proto,
                  g.client.c.error_message().c_str());
      A4_CHECK(!mentions_stale(g.client.c.error_message()), "stale text in truncation error");
    }
    // 2. junk left in the queue between calls by the application
    {
      pair g = make(srv, co);
      leave_junk();
      g.run();
      leave_junk();
      g.client.c.write(bytes_view("x", 1));
      g.run();
      std::printf("%s junk between calls: client secure=%d server secure=%d rx=%s err=%s/%s\n",
                  proto, g.client.secure, g.server.secure, g.server.received.c_str(),
                  g.client.error_text.c_str(), g.server.error_text.c_str());
      A4_CHECK(g.client.secure && g.server.secure && g.server.received == "x",
               "junk between calls broke a healthy connection");
      leave_junk();
      g.client.c.feed(
          bytes_view("\x15\x03\x03\x00\x02\x02\x28", 7)); // plaintext fatal alert after handshake
      drain(g.client);
      std::printf("   then a bad record: %s\n", g.client.c.error_message().c_str());
      A4_CHECK(!mentions_stale(g.client.c.error_message()), "stale junk in a later error");
      ERR_clear_error();
    }
    // 3. junk left inside callbacks
    const char* where[] = {"check_server_identity", "trace", "now", "alpn_callback"};
    for (int w = 0; w < 4; ++w) {
      server_options so = server_opts();
      so.max_version = proto;
      if (w == 3)
        so.alpn_callback = [](const alpn_request& r) -> std::optional<std::string> {
          leave_junk();
          return r.protocols.front();
        };
      server s2 = make_server(so);
      client_options c2 = co;
      c2.alpn_protocols = {"h2"};
      if (w == 0)
        c2.check_server_identity = [](std::string_view h, const certificate_info& c) {
          leave_junk();
          return check_server_identity(h, c);
        };
      if (w == 2)
        c2.now = [] {
          leave_junk();
          return clock::now();
        };
      pair g = make(s2, c2);
      if (w == 1) g.client.c.enable_trace([](std::string_view) { leave_junk(); });
      g.run();
      g.client.c.write(bytes_view("x", 1));
      g.server.c.write(bytes_view("y", 1));
      g.run();
      std::printf("%s junk inside %s: secure=%d/%d data=%s/%s err=%s | %s\n", proto, where[w],
                  g.client.secure, g.server.secure, g.server.received.c_str(),
                  g.client.received.c_str(), g.client.error_text.c_str(),
                  g.server.error_text.c_str());
      A4_CHECK(g.client.secure && g.server.secure && g.server.received == "x" &&
                   g.client.received == "y",
               "junk inside %s broke a healthy connection", where[w]);
      ERR_clear_error();
    }
  }
  // 4. contexts: bad PEM, then good; bad PEM then a handshake that fails without a reason
  {
    context_options bad;
    bad.cert = {"-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n"};
    bad.key = {load("server-rsa.key")};
    auto r1 = secure_context::create(bad);
    std::printf("bad PEM: %s\n", r1 ? "created?!" : r1.error().message().c_str());
    context_options good;
    good.cert = {load("server-rsa-chain.pem")};
    good.key = {load("server-rsa.key")};
    auto r2 = secure_context::create(good);
    A4_CHECK(bool(r2), "good context after a bad one: %s", r2 ? "" : r2.error().message().c_str());
    context_options badkey = good;
    badkey.key = {load("server-ecdsa.key")};
    auto r3 = secure_context::create(badkey);
    std::printf("mismatched key: %s\n", r3 ? "created?!" : r3.error().message().c_str());
    A4_CHECK(!r3 && !mentions_stale(r3.error().message()), "stale text in key mismatch: %s",
             r3 ? "" : r3.error().message().c_str());
    client_options co = client_opts();
    co.ca = {"garbage"};
    auto c = connection::client(co);
    std::printf("client with garbage CA: %s\n", c ? "created" : c.error().message().c_str());
    client_options ok = client_opts();
    auto c2 = connection::client(ok);
    A4_CHECK(bool(c2), "good client after bad CA failed");
    leave_junk();
    auto r4 = secure_context::create(good);
    A4_CHECK(bool(r4), "junk in queue made a good context fail: %s",
             r4 ? "" : r4.error().message().c_str());
    leave_junk();
    auto s4 = server::create(server_opts());
    A4_CHECK(bool(s4), "junk in queue made a good server fail");
    leave_junk();
    auto c4 = connection::client(client_opts());
    A4_CHECK(bool(c4), "junk in queue made a good client fail");
    ERR_clear_error();
  }
  return finish("p6_error_queue");
}
