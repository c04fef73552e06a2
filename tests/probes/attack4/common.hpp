// [attack4] shared helpers for the standalone probes in this directory (not part of ctest).
// Build one probe: see run.sh. CERTS: a directory made by tools/gen-test-certs.sh.
#pragma once
#include <tlsengine/tlsengine.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace a4 {
using namespace tlsengine;
using bytes = std::vector<std::uint8_t>;

inline int failures = 0;
#define A4_CHECK(cond, ...)                                                                        \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      ++a4::failures;                                                                              \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                  \
      std::printf(__VA_ARGS__);                                                                    \
      std::printf("\n");                                                                           \
    }                                                                                              \
  } while (0)

inline std::string certs() {
  const char* d = std::getenv("CERTS");
  return d ? d : "/tmp/attack4-certs";
}
inline std::string load(const std::string& name) {
  std::ifstream in(certs() + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
inline server_options server_opts(const std::string& leaf = "server-rsa") {
  server_options o;
  o.cert = {load(leaf + "-chain.pem")};
  o.key = {load(leaf + ".key")};
  return o;
}
inline client_options client_opts() {
  client_options o;
  o.ca = {load("ca.pem")};
  o.servername = "localhost";
  return o;
}

// An external session cache as an application would keep it, recording what it saw.
struct cache {
  std::map<bytes, bytes> store;
  std::set<bytes> reported; // every id new_session gave
  int new_sessions = 0, lookups = 0, hits = 0, unknown_lookups = 0;
};

struct side {
  connection c;
  std::vector<event> events;
  std::string received;
  std::vector<session_handle> sessions;
  int secure = 0, errors = 0;
  std::error_code error;
  std::string error_text;
  cache* ext = nullptr; // server with external_session_cache
  std::function<void(side&, const event&)> on_event;
};

inline void drain(side& s) {
  for (bool progress = true; progress;) {
    progress = false;
    while (auto e = s.c.next_event()) {
      progress = true;
      s.events.push_back(*e);
      if (std::holds_alternative<events::secure>(*e)) ++s.secure;
      if (auto* ss = std::get_if<events::session>(&*e)) s.sessions.push_back(ss->data);
      if (auto* er = std::get_if<events::error>(&*e)) {
        ++s.errors;
        s.error = er->code;
        s.error_text = er->message;
      }
      if (auto* ns = std::get_if<events::new_session>(&*e)) {
        if (s.ext) {
          ++s.ext->new_sessions;
          s.ext->store[ns->id] = ns->data;
          s.ext->reported.insert(ns->id);
        }
      }
      if (auto* rs = std::get_if<events::resume_session>(&*e)) {
        if (s.ext) {
          ++s.ext->lookups;
          auto it = s.ext->store.find(rs->id);
          if (it != s.ext->store.end()) {
            ++s.ext->hits;
            s.c.resume_session(it->second);
          } else {
            if (!s.ext->reported.count(rs->id)) ++s.ext->unknown_lookups;
            s.c.resume_session();
          }
        } else {
          s.c.resume_session();
        }
      }
      if (s.on_event) s.on_event(s, *e);
    }
    std::uint8_t buf[4096];
    while (std::size_t n = s.c.read(buf)) {
      progress = true;
      s.received.append(reinterpret_cast<char*>(buf), n);
    }
  }
}

inline std::size_t move(side& from, side& to) {
  std::size_t moved = 0;
  for (;;) {
    bytes_view out = from.c.pending_output();
    if (out.empty()) break;
    std::size_t taken = to.c.feed(out);
    from.c.consume_output(taken);
    drain(to);
    if (taken == 0) break;
    moved += taken;
  }
  return moved;
}

inline void run(side& a, side& b) {
  drain(a);
  drain(b);
  for (int i = 0; i < 100000; ++i)
    if (move(a, b) + move(b, a) == 0) break;
}

struct pair {
  side client, server;
  void run() { a4::run(client, server); }
};

inline pair make(const server& srv, const client_options& co, cache* ext = nullptr) {
  pair p;
  auto cli = connection::client(co);
  if (!cli) {
    std::printf("client() failed: %s\n", cli.error().message().c_str());
    ++failures;
    return p;
  }
  p.client.c = std::move(*cli);
  p.server.c = srv.accept();
  p.server.ext = ext;
  return p;
}

inline server make_server(const server_options& so) {
  auto s = server::create(so);
  if (!s) {
    std::printf("server::create failed: %s\n", s.error().message().c_str());
    std::exit(2);
  }
  return *s;
}

inline int finish(const char* name) {
  std::printf("%s: %s (%d failures)\n", name, failures ? "FAILED" : "ok", failures);
  return failures ? 1 : 0;
}
} // namespace a4
