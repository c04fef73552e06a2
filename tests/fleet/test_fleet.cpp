// A fleet on a real Redis: the test starts redis-server (Debian's) on loopback and several
// epoll_server nodes with --redis, then clients — our client engine and openssl s_client
// with -sess_out/-sess_in — connect to one node and resume on another: TLS 1.2 by session
// id, TLS 1.2 and 1.3 by ticket (the shared ticket-key ring), TLS 1.3 stateful (nodes with
// --no-tickets). Then the ring rotating under load, and the faults: Redis not answering,
// stopped, restarted, and a listener answering garbage; and the store alone on a clock of
// the test's own. Outcomes are asserted, never timings; every wait is bounded, and a
// lookup expected to hit gets a generous bound (10 s) so that a slow machine cannot miss.
#include "../interop/peers.hpp"

#include <tlsengine/redis_session_store.hpp>

#include "../catch_compat.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <thread>

using namespace tlsengine;
using peers::running_server;

namespace {

struct redis_process {
  net::child_process child;
  std::uint16_t port = 0;
};

/// redis-server on 127.0.0.1, in memory only; port 0: a free one.
redis_process start_redis(std::uint16_t port = 0) {
  redis_process r;
  r.port = port != 0 ? port : net::pick_free_port();
  r.child = net::child_process::spawn({"redis-server", "--port", std::to_string(r.port), "--bind",
                                       "127.0.0.1", "--save", "", "--appendonly", "no"});
  peers::wait_for_line(r.child, std::regex("(Ready to accept connections)"), "redis-server");
  return r;
}

/// redis-cli against our Redis (Debian's redis-tools, installed with redis-server).
std::string redis_cli(std::uint16_t port, std::vector<std::string> command) {
  std::vector<std::string> argv{"redis-cli", "-p", std::to_string(port)};
  argv.insert(argv.end(), command.begin(), command.end());
  auto child = peers::run(argv);
  return child.out;
}

/// A node; where a lookup is expected to hit, a generous bound (a slow machine must not turn
/// a hit into a timeout); the fault tests give their own.
running_server start_node(std::uint16_t redis_port, std::vector<std::string> args = {}) {
  if (redis_port != 0 && std::find(args.begin(), args.end(), "--redis-timeout") == args.end()) {
    args.push_back("--redis-timeout");
    args.push_back("10000");
  }
  if (redis_port != 0) {
    args.push_back("--redis");
    args.push_back("127.0.0.1:" + std::to_string(redis_port));
  }
  args.push_back("--quiet");
  return peers::start_example_server("epoll_server", args);
}

struct attempt {
  bool secure = false;
  bool reused = false;
  std::vector<std::uint8_t> session;
  std::string body;
};

/// One HTTPS request over our client engine (Connection: close), resuming `session`.
attempt https_get(std::uint16_t port, const std::string& version,
                  const std::vector<std::uint8_t>& session = {}, const std::string& path = "/") {
  client_options options = peers::builtin_client_options();
  if (!version.empty()) options.min_version = options.max_version = version;
  options.session = session;
  int error = 0;
  net::unique_fd fd = net::try_connect(port, net::deadline(), error);
  INFO("connect 127.0.0.1:" << port << ": " << net::errno_text(error));
  REQUIRE(fd);
  auto client = connection::client(options);
  REQUIRE(client);
  net::tls_socket s(*client, std::move(fd));
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  REQUIRE(client->write(request) == request.size());
  const bool done = s.run_until([&] { return s.errors != 0 || s.transport_eof; }, nullptr);
  INFO(s.describe());
  REQUIRE(done);
  attempt a;
  a.secure = s.secure == 1 && s.errors == 0 && s.received.rfind("HTTP/1.1 200", 0) == 0;
  a.reused = client->is_session_reused();
  // TLS 1.3: the ticket arrives as a `session` event; TLS 1.2: the session (with a ticket
  // renewed on resumption, which OpenSSL reports no event for) is the connection's.
  a.session = version == "TLSv1.3" ? s.last_session : client->session();
  const std::size_t head = s.received.find("\r\n\r\n");
  if (head != std::string::npos) a.body = s.received.substr(head + 4);
  return a;
}

/// The node's /stats page as name → value.
std::map<std::string, std::string> stats(std::uint16_t port) {
  const attempt a = https_get(port, "", {}, "/stats");
  REQUIRE(a.secure);
  std::map<std::string, std::string> out;
  std::istringstream in(a.body);
  for (std::string line; std::getline(in, line);) {
    const std::size_t space = line.find(' ');
    if (space != std::string::npos) out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}
std::uint64_t stat(std::uint16_t port, const std::string& name) {
  const auto all = stats(port);
  const auto it = all.find(name);
  INFO("/stats has no " << name);
  REQUIRE(it != all.end());
  return std::stoull(it->second);
}

/// Waits (bounded, generously) until `condition` holds.
bool eventually(const std::function<bool()>& condition,
                std::chrono::seconds limit = std::chrono::seconds(30)) {
  const net::deadline until(limit);
  while (!condition()) {
    if (until.expired()) return false;
    ::poll(nullptr, 0, 50);
  }
  return true;
}

/// Every node connected to Redis and using the same ticket keys.
bool fleet_ready(const std::vector<std::uint16_t>& nodes) {
  std::string keys;
  for (std::uint16_t port : nodes) {
    auto s = stats(port);
    if (s["redis_connected"] != "1" || s["ticket_keys"].empty()) return false;
    if (keys.empty()) keys = s["ticket_keys"];
    if (s["ticket_keys"] != keys) return false;
  }
  return true;
}

/// openssl s_client: "New" or "Reused" (empty when no handshake completed).
std::string s_client(std::uint16_t port, const std::string& version_flag,
                     const std::string& sess_out, const std::string& sess_in,
                     bool no_ticket = false) {
  std::vector<std::string> argv{
      "openssl",     "s_client",  "-connect",   "127.0.0.1:" + std::to_string(port),
      "-servername", "localhost", version_flag, "-ign_eof"};
  if (no_ticket) argv.push_back("-no_ticket");
  if (!sess_out.empty()) argv.insert(argv.end(), {"-sess_out", sess_out});
  if (!sess_in.empty()) argv.insert(argv.end(), {"-sess_in", sess_in});
  auto child = peers::run(argv, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  std::smatch m;
  if (std::regex_search(child.out, m, std::regex("\n(New|Reused), TLSv1\\.[23]"))) return m[1];
  return "";
}

} // namespace

TEST_CASE("fleet: a session made on one node resumes on another", "[fleet]") {
  redis_process redis = start_redis();
  running_server a = start_node(redis.port), b = start_node(redis.port);
  running_server c = start_node(redis.port, {"--no-tickets"});
  running_server d = start_node(redis.port, {"--no-tickets"});
  running_server alone = start_node(0); // not in the fleet: the control
  REQUIRE(eventually([&] { return fleet_ready({a.port, b.port, c.port, d.port}); }));

  SECTION("our client engine") {
    for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
      INFO(version);
      // Tickets, under the fleet's shared ring.
      const attempt made = https_get(a.port, version);
      REQUIRE(made.secure);
      REQUIRE_FALSE(made.reused);
      const attempt resumed = https_get(b.port, version, made.session);
      CHECK(resumed.secure);
      CHECK(resumed.reused);
      const attempt elsewhere = https_get(alone.port, version, made.session);
      CHECK(elsewhere.secure);
      CHECK_FALSE(elsewhere.reused); // another server's keys: the ring is what made it work
      // Stateful: TLS 1.2 session ids, TLS 1.3 stateful tickets, from Redis.
      const attempt stored = https_get(c.port, version);
      REQUIRE(stored.secure);
      const std::uint64_t hits = stat(d.port, "cache_hits");
      const attempt fetched = https_get(d.port, version, stored.session);
      CHECK(fetched.secure);
      CHECK(fetched.reused);
      CHECK(stat(d.port, "cache_hits") == hits + 1);
    }
  }

  SECTION("openssl s_client -sess_out / -sess_in") {
    peers::temp_dir dir;
    struct row {
      const char* what;
      std::uint16_t from, to;
      const char* version;
      bool no_ticket;
    };
    const row rows[] = {
        {"TLS 1.2 by session id", a.port, b.port, "-tls1_2", true},
        {"TLS 1.2 by ticket", a.port, b.port, "-tls1_2", false},
        {"TLS 1.3 by ticket", a.port, b.port, "-tls1_3", false},
        {"TLS 1.2 by session id, no tickets", c.port, d.port, "-tls1_2", false},
        {"TLS 1.3 stateful", c.port, d.port, "-tls1_3", false},
    };
    int n = 0;
    for (const row& r : rows) {
      INFO(r.what);
      const std::string file = dir.file("session" + std::to_string(n++) + ".pem");
      REQUIRE(s_client(r.from, r.version, file, "", r.no_ticket) == "New");
      CHECK(s_client(r.to, r.version, "", file, r.no_ticket) == "Reused");
    }
    CHECK(stat(b.port, "cache_hits") >= 1); // the session id, from Redis
    CHECK(stat(d.port, "cache_hits") >= 2);
  }
}

TEST_CASE("fleet: the ticket-key ring rotates under load, no allowed resumption fails", "[fleet]") {
  redis_process redis = start_redis();
  running_server rotator =
      start_node(redis.port, {"--ticket-key-rotate", "2", "--ring-poll", "100"});
  running_server follower = start_node(redis.port, {"--ring-poll", "100"});
  REQUIRE(eventually([&] { return fleet_ready({rotator.port, follower.port}); }));

  // Two clients (TLS 1.2 and 1.3) alternate between the nodes, each resuming the session of
  // its previous connection: that ticket's key is always in the ring (a few rotations
  // kept), so every resumption must succeed, across at least four rotations.
  std::map<std::string, std::vector<std::uint8_t>> sessions;
  std::set<std::string> rings_seen;
  int connections = 0, resumed = 0;
  const net::deadline until(std::chrono::seconds(120));
  while (stat(rotator.port, "ticket_ring_rotations") < 4 || connections < 40) {
    REQUIRE_FALSE(until.expired());
    for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
      const std::uint16_t port = connections % 4 < 2 ? rotator.port : follower.port;
      const attempt o = https_get(port, version, sessions[version]);
      INFO(version << " connection " << connections << " port " << port << " reused " << o.reused
                   << " body " << o.body.size());
      REQUIRE(o.secure);
      if (!sessions[version].empty()) {
        CHECK(o.reused);
        resumed += o.reused ? 1 : 0;
      }
      REQUIRE_FALSE(o.session.empty());
      sessions[version] = o.session;
      ++connections;
    }
    rings_seen.insert(stats(follower.port)["ticket_keys"]);
  }
  CHECK(resumed == connections - 2);
  CHECK(rings_seen.size() >= 3); // the follower did pick the rotations up
}

TEST_CASE("fleet: Redis slow, stopped, restarted: handshakes complete, resumption returns",
          "[fleet]") {
  redis_process redis = start_redis();
  running_server c = start_node(redis.port, {"--no-tickets"});
  running_server d = start_node(redis.port, {"--no-tickets"});
  // A node with a short bound for the lookups that cannot be answered.
  running_server e = start_node(redis.port, {"--no-tickets", "--redis-timeout", "100"});
  REQUIRE(eventually([&] { return fleet_ready({c.port, d.port, e.port}); }));
  for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
    INFO(version);
    const attempt made = https_get(c.port, version);
    REQUIRE(made.secure);
    const bool reused = https_get(d.port, version, made.session).reused;
    auto sc = stats(c.port), sd = stats(d.port);
    INFO("c stores " << sc["cache_stores"] << " dropped " << sc["cache_stores_dropped"]
                     << "; d lookups " << sd["cache_lookups"] << " hits " << sd["cache_hits"]
                     << " misses " << sd["cache_misses"] << " timeouts " << sd["cache_timeouts"]
                     << " unavailable " << sd["cache_unavailable"] << " errors "
                     << sd["cache_errors"]);
    REQUIRE(reused);
  }
  const attempt made = https_get(c.port, "TLSv1.2");
  REQUIRE(made.secure);

  // Redis alive but not answering (stopped by SIGSTOP): lookups time out, handshakes go on.
  std::smatch pid;
  const std::string info = redis_cli(redis.port, {"INFO", "server"});
  REQUIRE(std::regex_search(info, pid, std::regex("process_id:([0-9]+)")));
  const pid_t redis_pid = static_cast<pid_t>(std::stol(pid[1]));
  REQUIRE(::kill(redis_pid, SIGSTOP) == 0);
  const std::uint64_t timeouts = stat(e.port, "cache_timeouts");
  for (int i = 0; i < 5; ++i) {
    const attempt o = https_get(e.port, "TLSv1.2", made.session);
    CHECK(o.secure);
    CHECK_FALSE(o.reused);
  }
  CHECK(stat(e.port, "cache_timeouts") == timeouts + 5);
  REQUIRE(::kill(redis_pid, SIGCONT) == 0);
  CHECK(https_get(d.port, "TLSv1.2", made.session).reused);

  // Redis gone: every handshake completes, full.
  redis.child.kill_now();
  REQUIRE(eventually([&] { return stat(d.port, "redis_connected") == 0; }));
  for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
    for (int i = 0; i < 3; ++i) {
      const attempt fresh = https_get(c.port, version);
      CHECK(fresh.secure);
      const attempt o = https_get(d.port, version, fresh.session);
      CHECK(o.secure);
      CHECK_FALSE(o.reused);
    }
  }
  CHECK(stat(d.port, "cache_unavailable") >= 6);

  // Redis back on its port: the nodes reconnect, resumption across nodes returns.
  redis = start_redis(redis.port);
  REQUIRE(eventually([&] { return fleet_ready({c.port, d.port}); }));
  for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
    INFO(version);
    const attempt fresh = https_get(c.port, version);
    REQUIRE(fresh.secure);
    CHECK(https_get(d.port, version, fresh.session).reused);
  }
  CHECK(c.child.running());
  CHECK(d.child.running());
}

namespace {

/// Not Redis: a loopback listener answering junk. Real Redis cannot be made to send
/// garbage, hence this stand-in. Odd connections get bytes that are no protocol at all;
/// even ones get one well-formed reply per command, of a wrong type or with junk content.
class garbage_listener {
public:
  garbage_listener() : listener_(net::listen_loopback(port)) {
    thread_ = std::thread([this] { run(); });
  }
  ~garbage_listener() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port = 0;
  std::atomic<int> accepted{0};

private:
  void run() {
    std::vector<std::pair<net::unique_fd, bool>> clients; // socket, protocol junk
    std::vector<std::string> input;
    std::uint32_t seed = 12345;
    while (!stop_) {
      std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
      for (auto& c : clients)
        fds.push_back({c.first.get(), POLLIN, 0});
      ::poll(fds.data(), fds.size(), 50);
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          clients.emplace_back(net::unique_fd(fd), accepted++ % 2 == 1);
          input.emplace_back();
        }
      }
      // Only the clients that were polled (one may have been accepted since).
      for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
        if ((fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buffer[4096];
        const ssize_t n = ::recv(clients[i].first.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0) {
          clients[i].first.reset();
          continue;
        }
        std::string reply;
        if (clients[i].second) {
          reply = "!"; // no reply type at all: a protocol error from the first byte
          for (int k = 0; k < 63; ++k)
            reply.push_back(static_cast<char>(next_random(seed)));
        } else {
          // One reply per command (an extra one would be no Redis at all: hiredis asserts).
          static const char* const junk[] = {"$12\r\n\x30\x82\x01\x00garbage!\r\n", ":42\r\n",
                                             "-ERR no such thing\r\n", "*1\r\n$3\r\nabc\r\n",
                                             "+OK\r\n"};
          input[i].append(buffer, static_cast<std::size_t>(n));
          while (take_command(input[i]))
            reply += junk[next_random(seed) % 5];
        }
        ::send(clients[i].first.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      for (std::size_t i = clients.size(); i-- > 0;) {
        if (!clients[i].first) {
          clients.erase(clients.begin() + static_cast<long>(i));
          input.erase(input.begin() + static_cast<long>(i));
        }
      }
    }
  }

  static std::uint32_t next_random(std::uint32_t& seed) {
    seed = seed * 1103515245 + 12345;
    return seed >> 16;
  }
  /// Removes one complete command (*<argc>\r\n then $<length>\r\n<bytes>\r\n each) from
  /// the front of `in`; false while it is incomplete.
  static bool take_command(std::string& in) {
    if (in.empty() || in[0] != '*') {
      in.clear(); // not a command: forget it
      return false;
    }
    std::size_t line = in.find("\r\n");
    if (line == std::string::npos) return false;
    const std::size_t argc = std::strtoul(in.c_str() + 1, nullptr, 10);
    std::size_t at = line + 2;
    for (std::size_t arg = 0; arg < argc; ++arg) {
      line = in.find("\r\n", at);
      if (line == std::string::npos || in[at] != '$') return false;
      at = line + 2 + std::strtoul(in.c_str() + at + 1, nullptr, 10) + 2;
      if (at > in.size()) return false;
    }
    in.erase(0, at);
    return true;
  }

  net::unique_fd listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace

TEST_CASE("fleet: a 'Redis' answering garbage: full handshakes, no crash", "[fleet]") {
  garbage_listener junk;
  running_server node = start_node(junk.port, {"--no-tickets", "--redis-timeout", "50"});
  running_server tickets = start_node(junk.port);
  int done = 0;
  const net::deadline until(std::chrono::seconds(120));
  // Enough connections to span several reconnections (each protocol error drops the
  // connection; the node reconnects after 500 ms).
  while (junk.accepted < 6 || done < 20) {
    REQUIRE_FALSE(until.expired());
    for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
      const attempt first = https_get(node.port, version);
      CHECK(first.secure);
      const attempt again = https_get(node.port, version, first.session);
      CHECK(again.secure);
      CHECK_FALSE(again.reused); // nothing usable came back
      const attempt ticket = https_get(tickets.port, version);
      CHECK(ticket.secure);
      CHECK(https_get(tickets.port, version, ticket.session).reused); // its own keys still
      ++done;
    }
  }
  const auto s = stats(node.port);
  INFO("cache_errors " << s.at("cache_errors") << " unavailable " << s.at("cache_unavailable"));
  CHECK(std::stoull(s.at("cache_errors")) + std::stoull(s.at("cache_unavailable")) +
            std::stoull(s.at("cache_hits")) >=
        1);
  CHECK(node.child.running());
  CHECK(tickets.child.running());
}

// ---- the store alone, on a poll() loop and a clock of the test's own --------------------

namespace {

/// Drives the store's descriptor with poll() until `done` holds (bounded by real time);
/// the store's clock is `now`, which only the test moves.
bool drive(tlsengine::redis_session_store& store, tlsengine::clock::time_point now,
           const std::function<bool()>& done, std::chrono::seconds limit = net::default_timeout) {
  const net::deadline until(limit);
  while (!done()) {
    if (until.expired()) return false;
    pollfd p{store.fd(), 0, 0};
    if (store.wants_read()) p.events |= POLLIN;
    if (store.wants_write()) p.events |= POLLOUT;
    if (p.fd >= 0 && ::poll(&p, 1, 50) > 0) {
      if (p.revents & (POLLIN | POLLERR | POLLHUP)) store.on_readable(now);
      if ((p.revents & POLLOUT) && store.wants_write()) store.on_writable(now);
    } else if (p.fd < 0) {
      ::poll(nullptr, 0, 10);
    }
    store.on_timer(now);
  }
  return true;
}

} // namespace

TEST_CASE("redis_session_store: stores, finds, and bounds a lookup by the caller's clock",
          "[fleet]") {
  redis_process redis = start_redis();
  tlsengine::redis_store_options options;
  options.port = redis.port;
  options.lookup_timeout = std::chrono::milliseconds(50);
  tlsengine::redis_session_store store(options);
  tlsengine::clock::time_point now{}; // the test's clock: starts at the epoch, moves only when told

  // Not connected yet: answered `unavailable`, and not from inside lookup().
  std::optional<tlsengine::lookup_result> answer;
  auto record = [&](tlsengine::lookup_result r) { answer = std::move(r); };
  store.lookup(bytes_view("id"), now, record);
  CHECK_FALSE(answer);
  store.on_timer(now);
  REQUIRE(answer);
  CHECK(answer->outcome == tlsengine::lookup_outcome::unavailable);

  store.start(now);
  REQUIRE(drive(store, now, [&] { return store.connected(); }));
  const std::vector<std::uint8_t> id{1, 2, 3}, data{9, 8, 7, 6};
  store.store(id, data);
  answer.reset();
  store.lookup(id, now, record);
  REQUIRE(drive(store, now, [&] { return answer.has_value(); }));
  CHECK(answer->outcome == tlsengine::lookup_outcome::hit);
  CHECK(answer->data == data);
  answer.reset();
  store.lookup(std::vector<std::uint8_t>{4}, now, record);
  REQUIRE(drive(store, now, [&] { return answer.has_value(); }));
  CHECK(answer->outcome == tlsengine::lookup_outcome::miss);
  // Stored with the session timeout as TTL.
  const std::string ttl = redis_cli(redis.port, {"PTTL", "tlsengine:s:010203"});
  CHECK(std::stol(ttl) > 0);
  CHECK(std::stol(ttl) <= 300000);

  // Redis stopped: the answer comes when the caller's clock passes the bound, however long
  // that takes in real time, and not a moment before.
  std::smatch pid;
  const std::string info = redis_cli(redis.port, {"INFO", "server"});
  REQUIRE(std::regex_search(info, pid, std::regex("process_id:([0-9]+)")));
  const pid_t redis_pid = static_cast<pid_t>(std::stol(pid[1]));
  REQUIRE(::kill(redis_pid, SIGSTOP) == 0);
  answer.reset();
  store.lookup(id, now, record);
  REQUIRE(store.next_timer());
  CHECK(*store.next_timer() == now + std::chrono::milliseconds(50));
  drive(
      store, now + std::chrono::milliseconds(49), [&] { return answer.has_value(); },
      std::chrono::seconds(1));
  CHECK_FALSE(answer); // (drive gave up after its real-time bound: nothing came)
  store.on_timer(now + std::chrono::milliseconds(50));
  REQUIRE(answer);
  CHECK(answer->outcome == tlsengine::lookup_outcome::timeout);
  CHECK(answer->waited == std::chrono::milliseconds(50));
  CHECK(store.stats().timeouts == 1);
  REQUIRE(::kill(redis_pid, SIGCONT) == 0);
}

namespace {

/// Not Redis either: a listener that breaks the protocol in one of the ways hiredis cannot
/// survive on its own (it asserts on a reply nobody asked for, and buffers any announced
/// bulk length), or never answers.
class rogue_listener {
public:
  // status_reply: answers every request with "+OK", which GET never gives (a stream out of
  // step: what an unsolicited greeting read after a request also looks like).
  enum class mode { extra_reply, unsolicited, huge_bulk, silent, status_reply };
  explicit rogue_listener(mode m) : mode_(m), listener_(net::listen_loopback(port)) {
    thread_ = std::thread([this] { run(); });
  }
  ~rogue_listener() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port = 0;
  std::atomic<int> accepted{0};

private:
  void run() {
    std::vector<net::unique_fd> clients;
    while (!stop_) {
      std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
      for (auto& c : clients)
        fds.push_back({c.get(), POLLIN, 0});
      ::poll(fds.data(), fds.size(), 20);
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          ++accepted;
          clients.emplace_back(fd);
          if (mode_ == mode::unsolicited) send_all(fd, "+OK POP3 server ready\r\n");
        }
      }
      for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
        if ((fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buffer[4096];
        const ssize_t n = ::recv(clients[i].get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0) {
          clients[i].reset();
          continue;
        }
        if (mode_ == mode::extra_reply) send_all(clients[i].get(), "$-1\r\n$-1\r\n");
        if (mode_ == mode::unsolicited) send_all(clients[i].get(), "$-1\r\n");
        if (mode_ == mode::status_reply) send_all(clients[i].get(), "+OK\r\n");
        if (mode_ == mode::huge_bulk) {
          // Announces 2 GB, then streams junk as fast as the client takes it.
          send_all(clients[i].get(), "$2000000000\r\n");
          const std::string junk(256 * 1024, 'x');
          send_all(clients[i].get(), junk);
        }
      }
      for (std::size_t i = clients.size(); i-- > 0;)
        if (!clients[i]) clients.erase(clients.begin() + static_cast<long>(i));
    }
  }
  static void send_all(int fd, const std::string& data) {
    std::size_t at = 0;
    while (at < data.size()) {
      const ssize_t n = ::send(fd, data.data() + at, data.size() - at, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          ::poll(nullptr, 0, 1);
          continue;
        }
        return;
      }
      at += static_cast<std::size_t>(n);
    }
  }

  mode mode_;
  net::unique_fd listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace

TEST_CASE("redis_session_store: a server that answers what nobody asked, announces a huge reply "
          "or falls silent is dropped, never crashes the process or grows memory",
          "[fleet]") {
  using mode = rogue_listener::mode;
  for (mode m :
       {mode::extra_reply, mode::unsolicited, mode::huge_bulk, mode::silent, mode::status_reply}) {
    CAPTURE(static_cast<int>(m));
    rogue_listener rogue(m);
    tlsengine::redis_store_options options;
    options.port = rogue.port;
    options.reply_timeout = std::chrono::seconds(2);
    tlsengine::redis_session_store store(options);
    tlsengine::clock::time_point now{};
    store.start(now);
    REQUIRE(drive(store, now, [&] { return store.connected(); }));
    // Lookups, each answered by the caller's clock at the latest; the connection is dropped
    // (a protocol error) and made again.
    int answered = 0;
    for (int round = 0; round < 6; ++round) {
      std::optional<tlsengine::lookup_result> answer;
      store.lookup(std::vector<std::uint8_t>{1, 2, static_cast<std::uint8_t>(round)}, now,
                   [&](tlsengine::lookup_result r) { answer = std::move(r); });
      drive(
          store, now, [&] { return answer.has_value() || store.stats().protocol_errors > 0; },
          std::chrono::seconds(2));
      now += std::chrono::seconds(3); // past the lookup, reply and reconnect bounds
      store.on_timer(now);
      drive(
          store, now, [&] { return answer.has_value(); }, std::chrono::seconds(2));
      REQUIRE(answer);
      CHECK(answer->outcome != tlsengine::lookup_outcome::hit);
      ++answered;
    }
    CHECK(answered == 6);
    CHECK(store.stats().protocol_errors >= 1);
  }
}
