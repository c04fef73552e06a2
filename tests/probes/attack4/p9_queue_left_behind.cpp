// [attack4] area 4, the other direction: after each engine call returns, OpenSSL's thread
// error queue must be empty, or code of the application using OpenSSL directly on the same
// thread (another TLS library, its own SSL objects: SSL_get_error() consults the queue
// first) inherits the engine's errors.
#include "common.hpp"
#include <openssl/err.h>
using namespace a4;

static std::string left(const char* what) {
  std::string s;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    s += buf;
    s += "; ";
  }
  if (!s.empty()) std::printf("LEFT after %s: %s\n", what, s.c_str());
  return s;
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  server good = make_server(server_opts());
  server bad = make_server(server_opts("untrusted"));
  for (const char* proto : {"TLSv1.2", "TLSv1.3"}) {
    client_options co = client_opts();
    co.max_version = proto;
    pair f = make(bad, co);
    f.run();
    A4_CHECK(left("failed handshake (untrusted)").empty(), "%s", proto);
    pair g = make(good, co);
    g.run();
    g.client.c.feed(bytes_view("\x17\x03\x03\x00\x05garbage", 10));
    drain(g.client);
    A4_CHECK(left("garbage record").empty(), "%s", proto);
    pair h = make(good, co);
    h.server.c.feed(bytes_view("GET / HTTP/1.1\r\n\r\n", 18));
    drain(h.server);
    A4_CHECK(left("plaintext HTTP to a server").empty(), "%s", proto);
    (void)h.server.c.export_keying_material(0, "x");
    A4_CHECK(left("bad export_keying_material").empty(), "%s", proto);
    (void)g.client.c.renegotiate();
    A4_CHECK(left("renegotiate on failed conn").empty(), "%s", proto);
  }
  context_options badpem;
  badpem.cert = {"-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n"};
  (void)secure_context::create(badpem);
  A4_CHECK(left("create with bad PEM").empty(), "ctx");
  context_options badkey;
  badkey.key = {key_entry(load("server-rsa-encrypted.key"), "wrong")};
  badkey.cert = {load("server-rsa-chain.pem")};
  (void)secure_context::create(badkey);
  A4_CHECK(left("create with wrong passphrase").empty(), "ctx");
  client_options gc = client_opts();
  gc.ca = {"garbage"};
  (void)connection::client(gc);
  A4_CHECK(left("client with garbage CA").empty(), "ctx");
  context_options p12;
  p12.pfx = {pfx_entry(std::vector<std::uint8_t>{1, 2, 3})};
  (void)secure_context::create(p12);
  A4_CHECK(left("create with bad pfx").empty(), "ctx");
  client_options cs = client_opts();
  cs.session = session_handle(std::vector<std::uint8_t>{0x30, 0x03, 1, 2, 3});
  auto c = connection::client(cs);
  A4_CHECK(left("client with garbage session bytes").empty(), "ctx");
  return finish("p9_queue_left_behind");
}
