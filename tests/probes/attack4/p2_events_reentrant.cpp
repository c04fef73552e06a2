// [attack4] area 2: the event queue under re-entrancy. next_event() (and other calls) from
// inside every callback; the merged stream of events (those popped inside callbacks and
// those popped by the drain loop) must equal a plain run's: in order, none lost or doubled.
#include "common.hpp"
using namespace a4;

static std::string name_of(const event& e) {
  static const char* names[] = {"secure",
                                "session",
                                "end",
                                "error",
                                "keylog",
                                "renegotiated",
                                "key_update",
                                "new_session",
                                "ocsp_response",
                                "servername",
                                "resume_session",
                                "ocsp_request",
                                "certificate_request",
                                "verify_peer",
                                "early_data",
                                "early_data_status"};
  std::string n = names[e.index()];
  if (auto* k = std::get_if<events::keylog>(&e)) n += ":" + k->line.substr(0, k->line.find(' '));
  return n;
}

enum class where { none, trace, identity, alpn, psk_client, psk_server, now_clock };
enum class action { next_event, write, read, end, feed, move_out, destroy };

struct run_result {
  std::vector<std::string> client, server; // merged event stream of each side
  std::string client_rx, server_rx;
  int reentrant_pops = 0;
};

static std::vector<std::string>* g_stream = nullptr; // the side whose callback fires
static int g_pops = 0;
static int g_acted = 0;
static action g_action = action::next_event;
static std::optional<connection> g_moved;

static void in_callback() {
  connection* c = current_connection();
  if (!c) return;
  // A side effect once per run (a write in every trace line would ping-pong forever).
  if (g_action != action::next_event && g_acted++ > 0) return;
  switch (g_action) {
  case action::next_event:
    while (auto e = c->next_event()) {
      ++g_pops;
      if (g_stream) g_stream->push_back(name_of(*e));
    }
    break;
  case action::write: c->write(bytes_view("cb", 2)); break;
  case action::read: {
    std::uint8_t b[64];
    c->read(b);
    break;
  }
  case action::end: c->end(); break;
  case action::feed: c->feed(bytes_view("\x17\x03\x03\x00\x01\x00", 6)); break;
  case action::move_out:
    if (!g_moved) g_moved.emplace(std::move(*c));
    break;
  case action::destroy: c->destroy(); break;
  }
}

static const char* aname(action a) {
  const char* n[] = {"next_event", "write", "read", "end", "feed", "move_out", "destroy"};
  return n[int(a)];
}
static const char* wname(where w) {
  const char* n[] = {"none",       "trace", "check_server_identity", "alpn_callback", "psk_client",
                     "psk_server", "now"};
  return n[int(w)];
}
static run_result run_once(where w, action a, const char* proto, bool psk) {
  run_result r;
  g_action = a;
  g_pops = 0;
  g_acted = 0;
  server_options so = server_opts();
  so.enable_keylog = true;
  so.max_version = proto;
  client_options co = client_opts();
  co.enable_keylog = true;
  co.max_version = proto;
  co.alpn_protocols = {"h2", "http/1.1"};
  if (w == where::alpn)
    so.alpn_callback = [&](const alpn_request& req) -> std::optional<std::string> {
      g_stream = &r.server;
      in_callback();
      return req.protocols.front();
    };
  else
    so.alpn_protocols = {"h2"};
  if (w == where::identity)
    co.check_server_identity = [&](std::string_view host, const certificate_info& cert) {
      g_stream = &r.client;
      in_callback();
      return check_server_identity(host, cert);
    };
  if (psk) {
    so.ciphers = std::string(proto) == std::string("TLSv1.2") ? "PSK-AES128-GCM-SHA256" : "";
    so.psk_callback = [&](std::string_view) -> std::optional<std::vector<std::uint8_t>> {
      if (w == where::psk_server) {
        g_stream = &r.server;
        in_callback();
      }
      return std::vector<std::uint8_t>(32, 7);
    };
    co.ciphers = so.ciphers;
    co.psk_callback = [&](std::string_view hint) -> std::optional<psk_credentials> {
      if (w == where::psk_client) {
        g_stream = &r.client;
        in_callback();
      }
      if (is_psk_probe(hint)) return std::nullopt;
      return psk_credentials{"id", std::vector<std::uint8_t>(32, 7)};
    };
  }
  if (w == where::now_clock) {
    co.now = [&] {
      g_stream = &r.client;
      in_callback();
      return clock::now();
    };
  }
  server srv = make_server(so);
  pair p = make(srv, co);
  if (!p.client.c) {
    std::printf("  ^ note: client() failed with %s inside %s (%s)\n", aname(a), wname(w), proto);
    --failures; // informational: moving the connection out during client() is refused
    return r;
  }
  if (w == where::trace) {
    p.client.c.enable_trace([&](std::string_view) {
      g_stream = &r.client;
      in_callback();
    });
    p.server.c.enable_trace([&](std::string_view) {
      g_stream = &r.server;
      in_callback();
    });
  }
  p.client.on_event = [&](side&, const event& e) { r.client.push_back(name_of(e)); };
  p.server.on_event = [&](side&, const event& e) { r.server.push_back(name_of(e)); };
  p.run();
  if (g_moved) { // the connection moved out inside a callback: go on with the new owner
    connection* was = &p.client.c;
    (void)was;
    if (!p.client.c)
      p.client.c = std::move(*g_moved);
    else if (!p.server.c)
      p.server.c = std::move(*g_moved);
    g_moved.reset();
    p.run();
  }
  if (p.client.c && p.server.c) {
    p.client.c.write(bytes_view("hello", 5));
    p.server.c.write(bytes_view("world", 5));
    p.run();
    if (a != action::destroy && a != action::end && a != action::feed &&
        (r.client_rx = p.client.received, p.client.received.find("world") == std::string::npos ||
                                              p.server.received.find("hello") == std::string::npos))
      std::printf(
          "  data not through: %s inside %s (%s): client_rx=%s server_rx=%s cerr=%s serr=%s\n",
          aname(a), wname(w), proto, p.client.received.c_str(), p.server.received.c_str(),
          p.client.error_text.c_str(), p.server.error_text.c_str());
    if (std::string(proto) == "TLSv1.3" && p.client.c.is_secure()) {
      p.client.c.key_update(true);
      p.run();
    }
    p.client.c.end();
    p.run();
  }
  g_stream = nullptr;
  r.client_rx = p.client.received;
  r.server_rx = p.server.received;
  r.reentrant_pops = g_pops;
  return r;
}

static std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v)
    s += x + " ";
  return s;
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* wnames[] = {
      "none", "trace", "check_server_identity", "alpn_callback", "psk_client", "psk_server", "now"};
  const char* anames[] = {"next_event", "write", "read", "end", "feed", "move_out", "destroy"};
  for (const char* proto : {"TLSv1.2", "TLSv1.3"}) {
    for (int wi = 1; wi <= 6; ++wi) {
      where w = static_cast<where>(wi);
      bool psk = w == where::psk_client || w == where::psk_server;
      run_result ref = run_once(where::none, action::next_event, proto, psk);
      for (int ai = 0; ai < 7; ++ai) {
        action a = static_cast<action>(ai);
        run_result got = run_once(w, a, proto, psk);
        if (a == action::next_event) {
          bool same = got.client == ref.client && got.server == ref.server;
          std::printf("%s %-22s next_event inside: pops=%d same_stream=%d\n", proto, wnames[wi],
                      got.reentrant_pops, same);
          if (!same) {
            std::printf("  ref client: %s\n  got client: %s\n", join(ref.client).c_str(),
                        join(got.client).c_str());
            std::printf("  ref server: %s\n  got server: %s\n", join(ref.server).c_str(),
                        join(got.server).c_str());
          }
          A4_CHECK(same, "%s %s: merged event stream differs", proto, wnames[wi]);
          A4_CHECK(got.server_rx == ref.server_rx && got.client_rx == ref.client_rx,
                   "data differs");
        } else if (a == action::move_out) {
          std::printf("%s %-22s move_out inside: client_rx=%s server_rx=%s\n", proto, wnames[wi],
                      got.client_rx.c_str(), got.server_rx.c_str());
        }
        (void)anames;
      }
    }
  }
  return finish("p2_events_reentrant");
}
