// Shared test helpers: certificates from the generated directory, and a harness that
// runs DESIGN.md's drain loop over a client and a server engine with configurable
// fragmentation (input fed in chunks, output drained in odd sizes).
#pragma once

#include "catch_compat.hpp"
#include <tlsengine/tlsengine.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace test {

inline std::string cert_dir() { return TLSENGINE_TEST_CERT_DIR; }

inline std::string load(const std::string& name) {
  std::ifstream in(cert_dir() + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Server options on the RSA or ECDSA test chain.
inline std::vector<std::uint8_t> load_bytes(const std::string& name) {
  const std::string text = load(name);
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

inline tlsengine::server_options server_opts(const std::string& leaf = "server-rsa") {
  tlsengine::server_options o;
  o.cert = {load(leaf + "-chain.pem")};
  o.key = {load(leaf + ".key")};
  return o;
}

/// Client options trusting the test root, checking "localhost".
inline tlsengine::client_options client_opts() {
  tlsengine::client_options o;
  o.ca = {load("ca.pem")};
  o.servername = "localhost";
  return o;
}

/// What one side observed through the drain loop.
struct side_log {
  std::vector<tlsengine::event> events;
  std::string received;
  int secure = 0;
  int ends = 0;
  int errors = 0;
  std::error_code error;
  int alert = -1;
  bool alert_sent = false;
  std::vector<std::vector<std::uint8_t>> sessions;
};

struct harness {
  tlsengine::connection client;
  tlsengine::connection server;
  std::size_t chunk = static_cast<std::size_t>(-1); // feed() size
  std::size_t read_size = 4096;                     // read() buffer size
  side_log client_log;
  side_log server_log;

  static void drain(tlsengine::connection& c, side_log& log, std::size_t read_size) {
    // read() may decrypt input that backpressure held back, which can raise events:
    // go round until neither events nor cleartext come.
    for (bool progress = true; progress;) {
      progress = false;
      while (auto e = c.next_event()) {
        progress = true;
        if (std::holds_alternative<tlsengine::events::secure>(*e)) ++log.secure;
        if (std::holds_alternative<tlsengine::events::end>(*e)) ++log.ends;
        if (auto* s = std::get_if<tlsengine::events::session>(&*e)) log.sessions.push_back(s->data);
        if (auto* err = std::get_if<tlsengine::events::error>(&*e)) {
          ++log.errors;
          log.error = err->code;
          log.alert = err->alert;
          log.alert_sent = err->alert_sent;
        }
        log.events.push_back(*e);
      }
      std::vector<std::uint8_t> buffer(read_size);
      while (std::size_t n = c.read(buffer)) {
        progress = true;
        log.received.append(reinterpret_cast<char*>(buffer.data()), n);
      }
    }
  }

  /// Moves output of `from` into `to` in chunks, draining `to` after each feed.
  std::size_t move(tlsengine::connection& from, tlsengine::connection& to, side_log& to_log) {
    std::size_t moved = 0;
    for (;;) {
      tlsengine::bytes_view out = from.pending_output();
      if (out.empty()) break;
      const std::size_t taken = to.feed(out.subview(0, chunk));
      from.consume_output(taken);
      drain(to, to_log, read_size);
      if (taken == 0) break;
      moved += taken;
    }
    return moved;
  }

  /// Runs until neither side has anything to send that the other takes.
  void run() {
    drain(client, client_log, read_size);
    drain(server, server_log, read_size);
    for (int rounds = 0; rounds < 1000000; ++rounds) {
      const std::size_t moved = move(client, server, server_log) + move(server, client, client_log);
      if (moved == 0) break;
    }
  }
};

inline harness make_pair(const tlsengine::server_options& so, const tlsengine::client_options& co) {
  harness h;
  auto srv = tlsengine::server::create(so);
  REQUIRE(srv);
  auto cli = tlsengine::connection::client(co);
  REQUIRE(cli);
  h.client = std::move(*cli);
  h.server = srv->accept();
  return h;
}

/// A pair whose server comes from `srv` (a shared server: tickets, caches, decisions).
inline harness pair_on(const tlsengine::server& srv, const tlsengine::client_options& co) {
  harness h;
  auto cli = tlsengine::connection::client(co);
  REQUIRE(cli);
  h.client = std::move(*cli);
  h.server = srv.accept();
  return h;
}

/// The first event of type E a side saw, or null.
template <class E> const E* find_event(const side_log& log) {
  for (const tlsengine::event& e : log.events)
    if (auto* found = std::get_if<E>(&e)) return found;
  return nullptr;
}

} // namespace test
