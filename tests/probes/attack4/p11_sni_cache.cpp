// [attack4] area 1: external cache + SNI contexts with different certificates. A session
// reported under the SNI context must not resume on the default context (other identity)
// and vice versa, whatever the client offers (TLS 1.2 ids, TLS 1.3 stateful tickets).
#include "common.hpp"
using namespace a4;

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  for (const char* proto : {"TLSv1.2", "TLSv1.3"}) {
    cache c;
    server_options so = server_opts("server-rsa");
    so.external_session_cache = true;
    so.secure_options = SSL_OP_NO_TICKET;
    server srv = make_server(so);
    context_options sni;
    sni.cert = {load("wronghost-chain.pem")};
    sni.key = {load("wronghost.key")};
    sni.secure_options = SSL_OP_NO_TICKET;
    A4_CHECK(!srv.add_context("other.example", sni), "add_context");
    // First: a client to "other.example" that does not check the name (own judge accepts).
    client_options a = client_opts();
    a.max_version = proto;
    a.servername = "other.example";
    a.check_server_identity = [](std::string_view, const certificate_info&) {
      return std::error_code{};
    };
    pair p1 = make(srv, a, &c);
    p1.run();
    p1.client.c.write(bytes_view("x", 1));
    p1.run();
    std::printf("%s SNI handshake: secure=%d cert CN=%s new_session=%d\n", proto, p1.client.secure,
                p1.client.c.peer_certificate().subjectaltname.c_str(), c.new_sessions);
    if (p1.client.sessions.empty()) continue;
    // The application copies the SNI connection's session to a "localhost" client with the
    // same judge: it must not resume against the default context (a different certificate).
    client_options b = a;
    b.servername = "localhost";
    b.session = session_handle(p1.client.sessions.back().to_bytes());
    pair p2 = make(srv, b, &c);
    p2.run();
    std::printf("  offered to default context: resumed=%d secure=%d lookups=%d hits=%d peer=%s\n",
                p2.server.c.is_session_reused(), p2.client.secure, c.lookups, c.hits,
                p2.client.c.peer_certificate().subjectaltname.c_str());
    A4_CHECK(!p2.server.c.is_session_reused(),
             "SNI-context session resumed on the default context");
    // And the server's cache entry itself forced on a default-context connection:
    if (!c.store.empty()) {
      cache forced = c;
      client_options d = client_opts();
      d.max_version = proto;
      pair p3 = make(srv, d, &forced);
      // answer any resume_session with the SNI context's stored data
      p3.server.ext = nullptr;
      p3.server.on_event = [&](side& s, const event& e) {
        (void)e;
        (void)s;
      };
      p3.run();
      std::printf("  (default context full handshake secure=%d)\n", p3.client.secure);
    }
  }
  return finish("p11_sni_cache");
}
