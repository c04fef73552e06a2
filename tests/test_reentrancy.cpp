// Re-entrancy (issue 11, item 1): every public call is safe from inside every user
// callback. A table runs each callback type (both roles, TLS 1.2 and 1.3) with each
// action made from inside it, and checks the outcome; under ASan a use-after-free fails
// the test. The first test case reproduces the crashes with a captured pointer.
#include "support.hpp"

#include "catch_compat.hpp"

#include <functional>
#include <string>
#include <vector>

using namespace tlsengine;

namespace {

const std::vector<std::uint8_t> psk_key(32, 0x42);

enum class hook {
  server_alpn,
  client_identity,
  server_psk,
  client_psk,
  server_trace,
  client_trace,
  server_trace_after,
  client_trace_after
};
enum class action { destroy, write, end, getters, key_update, decision, feed, read, output };

const char* name(hook h) {
  switch (h) {
  case hook::server_alpn: return "server alpn_callback";
  case hook::client_identity: return "client check_server_identity";
  case hook::server_psk: return "server psk_callback";
  case hook::client_psk: return "client psk_callback";
  case hook::server_trace: return "server trace (handshake)";
  case hook::client_trace: return "client trace (handshake)";
  case hook::server_trace_after: return "server trace (after the handshake)";
  case hook::client_trace_after: return "client trace (after the handshake)";
  }
  return "";
}
const char* name(action a) {
  switch (a) {
  case action::destroy: return "destroy";
  case action::write: return "write";
  case action::end: return "end";
  case action::getters: return "getters";
  case action::key_update: return "key_update";
  case action::decision: return "decision answer";
  case action::feed: return "feed";
  case action::read: return "read";
  case action::output: return "pending_output";
  }
  return "";
}

bool is_server_hook(hook h) {
  return h == hook::server_alpn || h == hook::server_psk || h == hook::server_trace ||
         h == hook::server_trace_after;
}
bool is_psk(hook h) { return h == hook::server_psk || h == hook::client_psk; }
bool is_trace(hook h) { return !is_psk(h) && h != hook::server_alpn && h != hook::client_identity; }

/// What the action did, seen from inside the callback.
struct inside {
  int calls = 0;
  bool had_connection = false;
  bool right_connection = true;
  std::size_t written = 0;
  std::error_code ec;
  std::size_t fed = 99;
  std::size_t read = 99;
};

void act(action a, connection& c, inside& seen) {
  switch (a) {
  case action::destroy: c.destroy(); break;
  case action::write: seen.written = c.write("from-callback", seen.ec); break;
  case action::end: c.end(); break;
  case action::getters: {
    // Every getter: none may crash, whatever it answers mid-handshake.
    (void)c.error();
    (void)c.error_message();
    (void)c.is_secure();
    (void)c.is_destroyed();
    (void)c.authorized();
    (void)c.authorization_error();
    (void)c.verify_error();
    (void)c.protocol();
    (void)c.cipher();
    (void)c.alpn_protocol();
    (void)c.servername();
    (void)c.peer_certificate(true);
    (void)c.certificate();
    (void)c.session();
    (void)c.tls_ticket();
    (void)c.is_session_reused();
    (void)c.finished();
    (void)c.peer_finished();
    (void)c.ephemeral_key();
    (void)c.shared_sigalgs();
    (void)c.export_keying_material(16, "EXPERIMENTAL-test");
    (void)c.bytes_sent();
    (void)c.bytes_received();
    (void)c.buffered_write_size();
    (void)c.peek_plaintext();
    (void)c.deadline();
    break;
  }
  case action::key_update: seen.ec = c.key_update(true); break;
  case action::decision: seen.ec = c.resume(); break;
  case action::feed: {
    const std::uint8_t junk[5] = {0x17, 0x03, 0x03, 0x00, 0x10};
    seen.fed = c.feed(bytes_view(junk, sizeof junk));
    break;
  }
  case action::read: {
    std::uint8_t buffer[64];
    seen.read = c.read(buffer);
    break;
  }
  case action::output: {
    bytes_view out = c.pending_output();
    c.consume_output(0); // consuming from inside is allowed too (here: nothing sent)
    seen.read = out.size();
    break;
  }
  }
}

struct scenario {
  test::harness h;
  inside seen;
};

void run_case(hook which, action what, bool tls13) {
  server_options so;
  client_options co;
  scenario s;
  auto on_callback = [&s, what, which](bool server_side) {
    connection* c = current_connection();
    if (s.seen.calls++ != 0) return; // act once
    s.seen.had_connection = c != nullptr;
    if (c == nullptr) return;
    // The client psk probe runs inside connection::client(), before the harness holds it.
    if (which != hook::client_psk)
      s.seen.right_connection = c == (server_side ? &s.h.server : &s.h.client);
    act(what, *c, s.seen);
  };

  if (is_psk(which)) {
    so.psk_identity_hint = "hint";
    so.psk_callback = [&, which](std::string_view) -> std::optional<std::vector<std::uint8_t>> {
      if (which == hook::server_psk) on_callback(true);
      return psk_key;
    };
    co.psk_callback = [&, which](std::string_view) -> std::optional<psk_credentials> {
      if (which == hook::client_psk) on_callback(false);
      return psk_credentials{"alice", psk_key};
    };
    if (tls13) {
      so.min_version = co.min_version = "TLSv1.3";
      so.ciphers = co.ciphers = "TLS_AES_128_GCM_SHA256";
    } else {
      so.max_version = co.max_version = "TLSv1.2";
      so.ciphers = co.ciphers = "PSK-AES128-GCM-SHA256";
    }
  } else {
    so = test::server_opts();
    co = test::client_opts();
    if (tls13)
      so.min_version = "TLSv1.3";
    else
      so.max_version = "TLSv1.2";
    co.alpn_protocols = {"h2", "http/1.1"};
    so.alpn_callback = [&, which](const alpn_request& r) -> std::optional<std::string> {
      if (which == hook::server_alpn) on_callback(true);
      return r.protocols.front();
    };
    co.check_server_identity = [&, which](std::string_view host, const certificate_info& cert) {
      if (which == hook::client_identity) on_callback(false);
      return check_server_identity(host, cert);
    };
  }

  auto srv = server::create(so);
  REQUIRE(srv);
  auto cli = connection::client(co);
  REQUIRE(cli);
  s.h.client = std::move(*cli);
  s.h.server = srv->accept();
  auto trace = [&](bool server_side, bool after) {
    connection& self = server_side ? s.h.server : s.h.client;
    self.enable_trace([&, server_side, after, &self_ = self](std::string_view) {
      if (after && !self_.is_secure()) return;
      on_callback(server_side);
    });
  };
  if (which == hook::server_trace) trace(true, false);
  if (which == hook::client_trace) trace(false, false);
  if (which == hook::server_trace_after) trace(true, true);
  if (which == hook::client_trace_after) trace(false, true);

  // Application data both ways, so that callbacks after the handshake run too.
  s.h.client.write("ping");
  s.h.server.write("pong");
  s.h.run();

  INFO(name(which) << " x " << name(what) << (tls13 ? " TLS 1.3" : " TLS 1.2"));
  connection& self = is_server_hook(which) ? s.h.server : s.h.client;
  connection& peer = is_server_hook(which) ? s.h.client : s.h.server;
  test::side_log& self_log = is_server_hook(which) ? s.h.server_log : s.h.client_log;
  test::side_log& peer_log = is_server_hook(which) ? s.h.client_log : s.h.server_log;
  REQUIRE(s.seen.calls >= 1);
  CHECK(s.seen.had_connection);
  CHECK(s.seen.right_connection);

  const bool during_handshake =
      which != hook::server_trace_after && which != hook::client_trace_after;
  switch (what) {
  case action::destroy:
    CHECK(self.is_destroyed());
    CHECK_FALSE(self.is_secure());
    CHECK(self.native_handle() == nullptr);
    if (during_handshake) {
      CHECK(self_log.secure == 0);
      CHECK(peer_log.received.empty()); // nothing from the destroyed side
      const bool peer_got_all =
          peer.is_secure() && peer_log.received == (is_server_hook(which) ? "ping" : "pong");
      CHECK_FALSE(peer_got_all);
      if (!is_trace(which) && !(which == hook::client_psk && tls13)) {
        // The callback's connection aborted the handshake with an alert.
        CHECK(peer_log.errors == 1);
        CHECK(peer_log.alert >= 0);
      }
    }
    break;
  case action::write:
    CHECK(s.seen.written == std::string("from-callback").size());
    CHECK(self.is_secure());
    CHECK(peer_log.received.find("from-callback") != std::string::npos);
    break;
  case action::end:
    CHECK(self.is_secure());
    CHECK(peer_log.ends == 1);
    // (the client's TLS 1.3 psk probe runs before the test's write: that write is refused)
    if (!(which == hook::client_psk && tls13)) CHECK(peer_log.received.size() >= 4);
    break;
  case action::getters:
  case action::read:
  case action::output:
    CHECK(self.is_secure());
    CHECK(peer.is_secure());
    CHECK(self_log.errors == 0);
    if (what == action::read) CHECK(s.seen.read == 0); // cleartext is read after the call
    break;
  case action::key_update:
  case action::decision:
    CHECK(s.seen.ec == errc::invalid_state);
    CHECK(self.is_secure());
    CHECK(peer.is_secure());
    break;
  case action::feed:
    CHECK(s.seen.fed == 0); // OpenSSL is reading: new input waits
    CHECK(self.is_secure());
    break;
  }
  if (what != action::destroy && what != action::end) {
    CHECK(peer_log.received.find(is_server_hook(which) ? "pong" : "ping") != std::string::npos);
  }
}

} // namespace

TEST_CASE("issue 11: destroy() inside alpn_callback, check_server_identity, psk_callback",
          "[reentrancy]") {
  // These crashed before (ASan: heap-use-after-free in on_alpn_select; segfaults in libssl).
  for (const char* which : {"alpn", "identity", "psk"}) {
    for (bool tls13 : {false, true}) {
      INFO(which << (tls13 ? " TLS 1.3" : " TLS 1.2"));
      connection* target = nullptr;
      server_options so;
      client_options co;
      const std::string kind = which;
      if (kind == "psk") {
        so.psk_callback = [&](std::string_view) -> std::optional<std::vector<std::uint8_t>> {
          target->destroy();
          return psk_key;
        };
        co.psk_callback = [&](std::string_view) -> std::optional<psk_credentials> {
          return psk_credentials{"alice", psk_key};
        };
        if (tls13) {
          so.min_version = co.min_version = "TLSv1.3";
          so.ciphers = co.ciphers = "TLS_AES_128_GCM_SHA256";
        } else {
          so.max_version = co.max_version = "TLSv1.2";
          so.ciphers = co.ciphers = "PSK-AES128-GCM-SHA256";
        }
      } else {
        so = test::server_opts();
        co = test::client_opts();
        (tls13 ? so.min_version : so.max_version) = tls13 ? "TLSv1.3" : "TLSv1.2";
        co.alpn_protocols = {"h2"};
        if (kind == "alpn") {
          so.alpn_callback = [&](const alpn_request& r) -> std::optional<std::string> {
            target->destroy();
            return r.protocols.front();
          };
        } else {
          co.check_server_identity = [&](std::string_view, const certificate_info&) {
            target->destroy();
            return std::error_code();
          };
        }
      }
      auto srv = server::create(so);
      REQUIRE(srv);
      auto cli = connection::client(co);
      REQUIRE(cli);
      test::harness h;
      h.client = std::move(*cli);
      h.server = srv->accept();
      target = kind == "identity" ? &h.client : &h.server;
      h.client.write("data");
      h.run();
      CHECK(target->is_destroyed());
      CHECK_FALSE(target->is_secure());
      connection& peer = target == &h.client ? h.server : h.client;
      CHECK_FALSE(peer.is_secure());
    }
  }
}

TEST_CASE("every callback x every public call, both roles, TLS 1.2 and 1.3", "[reentrancy]") {
  const hook hooks[] = {hook::server_alpn,        hook::client_identity,   hook::server_psk,
                        hook::client_psk,         hook::server_trace,      hook::client_trace,
                        hook::server_trace_after, hook::client_trace_after};
  const action actions[] = {action::destroy, action::write,      action::end,
                            action::getters, action::key_update, action::decision,
                            action::feed,    action::read,       action::output};
  for (hook which : hooks)
    for (action what : actions)
      for (bool tls13 : {false, true})
        run_case(which, what, tls13);
}

TEST_CASE("current_connection() is null outside callbacks and nests", "[reentrancy]") {
  CHECK(current_connection() == nullptr);
  // A callback of one connection that drives another: each sees its own.
  auto srv = server::create(test::server_opts());
  REQUIRE(srv);
  connection* outer_seen = nullptr;
  connection* inner_seen = nullptr;
  test::harness inner = test::make_pair(test::server_opts(), test::client_opts());
  client_options co = test::client_opts();
  test::harness h;
  co.check_server_identity = [&](std::string_view host, const certificate_info& cert) {
    outer_seen = current_connection();
    inner.run(); // the inner client's own check runs nested in this one
    CHECK(current_connection() == outer_seen);
    return check_server_identity(host, cert);
  };
  client_options inner_co = test::client_opts();
  inner_co.check_server_identity = [&](std::string_view host, const certificate_info& cert) {
    inner_seen = current_connection();
    return check_server_identity(host, cert);
  };
  auto inner_client = connection::client(inner_co);
  REQUIRE(inner_client);
  inner.client = std::move(*inner_client);
  inner.server = srv->accept();
  auto cli = connection::client(co);
  REQUIRE(cli);
  h.client = std::move(*cli);
  h.server = srv->accept();
  h.run();
  CHECK(h.client.is_secure());
  CHECK(inner.client.is_secure());
  CHECK(outer_seen == &h.client);
  CHECK(inner_seen == &inner.client);
  CHECK(current_connection() == nullptr);
}

TEST_CASE("key_update() after our close_notify: invalid_state, the connection stays healthy",
          "[lifecycle][reentrancy]") {
  // Found by fuzz_pair's new operations: the KeyUpdate OpenSSL cannot send after
  // close_notify failed the connection ("protocol is shutdown").
  auto so = test::server_opts();
  so.min_version = "TLSv1.3";
  so.allow_half_open = true; // the server may go on sending after the client's end()
  auto h = test::make_pair(so, test::client_opts());
  h.run();
  REQUIRE(h.client.is_secure());
  h.client.end();
  h.run();
  CHECK(h.client.key_update(true) == errc::invalid_state);
  h.run();
  CHECK_FALSE(h.client.error());
  // The server asks for a KeyUpdate: the client, closed for writing, does not answer.
  CHECK_FALSE(h.server.key_update(true));
  h.server.write("after");
  h.run();
  CHECK_FALSE(h.client.error());
  CHECK_FALSE(h.server.error());
  CHECK(h.client_log.received == "after");
}

// Found by an adversarial review: a client psk_callback that moves its connection away
// (keeping it alive elsewhere) during the ClientHello probe made connection::client()
// dereference the emptied local.
TEST_CASE("a psk_callback that moves its connection away during the probe", "[reentrancy]") {
  static connection kept;
  auto co = test::client_opts();
  co.psk_callback = [](std::string_view) -> std::optional<psk_credentials> {
    if (connection* self = current_connection()) kept = std::move(*self);
    return std::nullopt;
  };
  auto c = connection::client(co);
  CHECK_FALSE(c);
  CHECK(c.error() == make_error_code(errc::invalid_state));
  CHECK(kept); // lives on where the callback put it
  CHECK_FALSE(kept.error());
  kept = connection();
}
