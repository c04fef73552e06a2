// [attack4] area 1: every session a server can look up through `resume_session` was reported
// by `new_session` first, and a cached session never resumes under a stricter policy.
#include "common.hpp"
using namespace a4;

struct outcome {
  int new_sessions, lookups, hits, unknown;
  bool resumed;
  std::string protocol;
};

// Two connections through `srv` (external cache `c`); the second offers the first's last
// client session. `tweak` adjusts the client options.
static outcome two(const server& srv, cache& c, client_options co, bool early = false) {
  pair p1 = make(srv, co, &c);
  p1.run();
  p1.client.c.write(bytes_view("x", 1));
  p1.run();
  A4_CHECK(p1.client.secure == 1 && p1.server.secure == 1, "first handshake failed: %s / %s",
           p1.client.error_text.c_str(), p1.server.error_text.c_str());
  if (p1.client.sessions.empty())
    return {c.new_sessions, c.lookups, c.hits, c.unknown_lookups, false, ""};
  co.session = p1.client.sessions.back();
  co.early_data = early;
  pair p2 = make(srv, co, &c);
  if (early) p2.client.c.write(bytes_view("early", 5));
  p2.run();
  A4_CHECK(p2.client.secure == 1, "second handshake failed: %s / %s", p2.client.error_text.c_str(),
           p2.server.error_text.c_str());
  return {
      c.new_sessions,        c.lookups, c.hits, c.unknown_lookups, p2.client.c.is_session_reused(),
      p2.client.c.protocol()};
}

static void report(const char* name, const outcome& o) {
  std::printf("%-58s new_session=%d lookups=%d hits=%d unreported_lookups=%d resumed=%d %s\n", name,
              o.new_sessions, o.lookups, o.hits, o.unknown, o.resumed, o.protocol.c_str());
  A4_CHECK(o.unknown == 0, "%s: a resume_session decision asked for an id new_session never gave",
           name);
}

int main() {
  struct cfg {
    const char* name;
    long server_ops;
    long client_ops;
    const char* client_max;
    std::uint32_t early;
    bool expect_resume;
  };
  const cfg cfgs[] = {
      {"TLS1.2 client, tickets", 0, 0, "TLSv1.2", 0, true},
      {"TLS1.2 client without tickets (session id)", 0, SSL_OP_NO_TICKET, "TLSv1.2", 0, true},
      {"TLS1.2 server without tickets", SSL_OP_NO_TICKET, 0, "TLSv1.2", 0, true},
      {"TLS1.3 stateless tickets", 0, 0, "TLSv1.3", 0, true},
      {"TLS1.3 stateful tickets (server NO_TICKET)", SSL_OP_NO_TICKET, 0, "TLSv1.3", 0, true},
      {"TLS1.3 max_early_data (anti-replay => stateful)", 0, 0, "TLSv1.3", 16384, true},
      {"TLS1.3 max_early_data + NO_TICKET", SSL_OP_NO_TICKET, 0, "TLSv1.3", 16384, true},
      {"TLS1.3 max_early_data + NO_ANTI_REPLAY", (long)SSL_OP_NO_ANTI_REPLAY, 0, "TLSv1.3", 16384,
       true},
  };
  for (const cfg& k : cfgs) {
    server_options so = server_opts();
    so.external_session_cache = true;
    so.secure_options = k.server_ops;
    so.max_early_data = k.early;
    server srv = make_server(so);
    client_options co = client_opts();
    co.secure_options = k.client_ops;
    co.max_version = k.client_max;
    cache c;
    outcome o = two(srv, c, co, k.early != 0);
    report(k.name, o);
    A4_CHECK(o.resumed == k.expect_resume, "%s: resumed=%d", k.name, o.resumed);
  }

  // SNI: the default context issues stateless tickets, the SNI context stateful ones (and
  // the reverse): what the engine reports must follow the context the handshake ended on.
  for (int reverse = 0; reverse < 2; ++reverse) {
    server_options so = server_opts();
    so.external_session_cache = true;
    so.secure_options = reverse ? SSL_OP_NO_TICKET : 0;
    server srv = make_server(so);
    context_options sni;
    sni.cert = {load("server-ecdsa-chain.pem")};
    sni.key = {load("server-ecdsa.key")};
    sni.secure_options = reverse ? 0 : SSL_OP_NO_TICKET;
    A4_CHECK(!srv.add_context("localhost", sni), "add_context");
    client_options co = client_opts();
    co.max_version = "TLSv1.3";
    cache c;
    outcome o = two(srv, c, co);
    report(reverse ? "SNI: default NO_TICKET, SNI context tickets"
                   : "SNI: default tickets, SNI context NO_TICKET",
           o);
    A4_CHECK(o.resumed, "SNI resumption");
  }

  // TLS 1.2 renegotiation without tickets: the renegotiated session's id.
  {
    server_options so = server_opts();
    so.external_session_cache = true;
    so.secure_options = SSL_OP_NO_TICKET;
    server srv = make_server(so);
    client_options co = client_opts();
    co.max_version = "TLSv1.2";
    cache c;
    pair p = make(srv, co, &c);
    p.run();
    int before = c.new_sessions;
    A4_CHECK(!p.client.c.renegotiate(), "renegotiate");
    p.run();
    p.client.c.write(bytes_view("x", 1));
    p.run();
    std::printf("renegotiation: new_session before=%d after=%d, client sessions=%zu\n", before,
                c.new_sessions, p.client.sessions.size());
    co.session = p.client.sessions.back();
    pair p2 = make(srv, co, &c);
    p2.run();
    std::printf("  resume renegotiated session: resumed=%d unreported_lookups=%d\n",
                p2.client.c.is_session_reused(), c.unknown_lookups);
    A4_CHECK(c.unknown_lookups == 0, "renegotiated session looked up but never reported");
    A4_CHECK(p2.client.c.is_session_reused(), "renegotiated session did not resume");
  }

  // Stricter policy: a session stored by a server that asks nothing must not resume on a
  // server (same certificate, same external cache) that requests a client certificate, nor
  // on one trusting another CA.
  for (int proto = 0; proto < 2; ++proto) {
    for (int variant = 0; variant < 3; ++variant) {
      cache c;
      server_options loose = server_opts();
      loose.external_session_cache = true;
      loose.secure_options = SSL_OP_NO_TICKET;
      server a = make_server(loose);
      server_options strict = loose;
      strict.request_cert = true;
      strict.reject_unauthorized = variant != 1;
      strict.ca = {load(variant == 2 ? "other-ca.pem" : "ca.pem")};
      if (variant == 2) {
        loose.request_cert = true;
        loose.reject_unauthorized = true;
        loose.ca = {load("ca.pem")};
        a = make_server(loose);
      }
      server b = make_server(strict);
      client_options co = client_opts();
      co.max_version = proto ? "TLSv1.3" : "TLSv1.2";
      co.cert = {load("client-chain.pem")};
      co.key = {load("client.key")};
      pair p1 = make(a, co, &c);
      p1.run();
      p1.client.c.write(bytes_view("x", 1));
      p1.run();
      A4_CHECK(!p1.client.sessions.empty(), "no session");
      if (p1.client.sessions.empty()) continue;
      co.session = p1.client.sessions.back();
      pair p2 = make(b, co, &c);
      p2.run();
      std::printf("stricter %s variant %d: hits=%d resumed=%d secure=%d/%d err=%s\n",
                  co.max_version.c_str(), variant, c.hits, p2.server.c.is_session_reused(),
                  p2.client.secure, p2.server.secure, p2.server.error_text.c_str());
      A4_CHECK(!p2.server.c.is_session_reused(), "session resumed under a stricter policy");
    }
  }
  // A TLS 1.2 client offering a session id (from a stateful server) to a server issuing
  // tickets, and a ticket (with its SHA-256 session id) to a stateful server; both share
  // one external cache and one certificate.
  {
    cache c;
    server_options sf = server_opts();
    sf.external_session_cache = true;
    sf.secure_options = SSL_OP_NO_TICKET;
    server stateful = make_server(sf);
    server_options tk = server_opts();
    tk.external_session_cache = true;
    server ticketing = make_server(tk);
    client_options co = client_opts();
    co.max_version = "TLSv1.2";
    for (int dir = 0; dir < 2; ++dir) {
      const server& first = dir ? ticketing : stateful;
      const server& second = dir ? stateful : ticketing;
      pair p1 = make(first, co, &c);
      p1.run();
      client_options c2 = co;
      c2.session = p1.client.sessions.back();
      pair p2 = make(second, c2, &c);
      p2.run();
      std::printf("TLS1.2 %s session offered to %s: resumed=%d lookups=%d hits=%d unreported=%d "
                  "secure=%d\n",
                  dir ? "ticket" : "session-id", dir ? "stateful server" : "ticketing server",
                  p2.server.c.is_session_reused(), c.lookups, c.hits, c.unknown_lookups,
                  p2.client.secure);
      A4_CHECK(p2.client.secure == 1, "handshake failed");
      if (!dir)
        A4_CHECK(p2.server.c.is_session_reused(),
                 "a reported session id did not resume on the ticketing server");
    }
  }
  // Stricter policy through stateless tickets: the same ticket keys, the second server
  // requests a client certificate (TLS 1.2 and 1.3).
  for (const char* proto : {"TLSv1.2", "TLSv1.3"}) {
    server_options a = server_opts();
    server_options b = server_opts();
    b.request_cert = true;
    b.reject_unauthorized = false;
    b.ca = {load("ca.pem")};
    server sa = make_server(a);
    server sb = make_server(b);
    sb.set_ticket_keys(sa.ticket_keys());
    client_options co = client_opts();
    co.max_version = proto;
    pair p1 = make(sa, co);
    p1.run();
    p1.client.c.write(bytes_view("x", 1));
    p1.run();
    co.session = p1.client.sessions.back();
    pair p2 = make(sb, co);
    p2.run();
    std::printf("%s ticket to stricter server (same keys): resumed=%d secure=%d\n", proto,
                p2.server.c.is_session_reused(), p2.server.secure);
    A4_CHECK(!p2.server.c.is_session_reused(), "ticket resumed under request_cert");
  }
  return finish("p1_new_session");
}
