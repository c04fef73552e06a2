// epoll_server: a single-threaded, non-blocking TLS server for many connections, on
// Linux epoll and the sans-I/O engine.
//
//  - HTTP/1.1 with keep-alive (a small page at /, counters at /stats, static files under
//    --docroot) when ALPN agrees on "http/1.1" or the client offers no ALPN; a byte echo
//    when ALPN agrees on "echo".
//  - Session resumption: one tlsengine::server for every connection, so TLS 1.2 session
//    tickets and TLS 1.3 tickets issued by one connection resume on another; and an
//    in-memory cache for TLS 1.2 clients that resume by session id.
//  - Timers: each connection has one deadline (the engine's handshake deadline(), then
//    keep-alive idleness, then the lingering close) kept in a min-heap.
//  - Backpressure: a connection whose output is not drained is not read (its EPOLLIN is
//    off) until the socket took everything; static files are read 64 KiB at a time, only
//    when the previous chunk went out.
//  - SIGTERM/SIGINT: stop accepting, send close_notify to every connection (after the
//    response in progress), wait for the peers' (bounded by --shutdown-timeout), exit 0.
//
// Runs on the built-in demo certificate unless --cert/--key are given.
#include <tlsengine/tlsengine.hpp>

#include "../common/cli.hpp"
#include "../common/net.hpp"
#include "../common/plain_http.hpp"
#include "fleet.hpp"
#include "http.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

using namespace tlsengine_examples;
using steady = tlsengine::clock; // the clock the engine reads

namespace {

constexpr char page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tlsengine epoll "
    "server</title></head>\n<body><h1>Hello from tlsengine</h1>\n<p>This page came over TLS "
    "from a single-threaded epoll server built on a sans-I/O engine.</p></body></html>\n";

constexpr std::size_t file_chunk = 64 * 1024;         // static files: read per chunk
constexpr std::size_t max_output_rounds = 16;         // chunks per wake-up: fairness
constexpr auto linger_time = std::chrono::seconds(2); // wait for the peer's close_notify
constexpr auto accept_retry = std::chrono::milliseconds(100);

struct config {
  tls_flags tls;
  std::string docroot;
  int handshake_timeout_ms = 10'000;
  int idle_timeout_ms = 60'000;
  int shutdown_timeout_ms = 5'000;
  int max_connections = 100'000;
  std::string release_buffers; // "on", "off", or empty: the library's default
  bool verbose = false, quiet = false;
  fleet_flags fleet; // --redis, --ticket-key-rotate, --no-tickets (fleet.hpp)
};

struct counters {
  std::uint64_t accepted = 0, open = 0, refused = 0, handshakes = 0, resumed = 0, requests = 0,
                backpressure_pauses = 0, handshake_timeouts = 0, idle_closes = 0, errors = 0;
};

enum class app_protocol { http, echo };

struct connection_state {
  int fd = -1;
  std::uint64_t serial = 0; // tells a reused descriptor number from the old connection
  std::string peer;
  tlsengine::connection tls;
  app_protocol app = app_protocol::http;
  bool secure = false;
  bool peer_done = false;     // the peer's close_notify arrived
  bool transport_eof = false; // recv() said 0 or failed
  bool ending = false;        // end() called: our close_notify is queued or sent
  bool write_shut = false;    // shutdown(SHUT_WR) after our close_notify went out
  bool close_after = false;   // HTTP: end the connection after the response in progress
  bool input_blocked = false; // the engine's input buffer is full (cleartext not read)
  bool more_work = false;     // service() stopped after its rounds with work left (fairness)
  bool plain_http = false;    // spoke HTTP without TLS: answered in cleartext, no alert
  bool reading = true;        // EPOLLIN is in the interest set
  std::uint32_t interest = 0;
  // HTTP: cleartext not parsed yet, and request-body bytes still to discard.
  std::string input;
  std::size_t skip_body = 0;
  // Cleartext the engine has not taken yet (response heads, small bodies, echo).
  std::string out;
  std::size_t out_offset = 0;
  // The rest of a static file being sent.
  int file_fd = -1;
  off_t file_offset = 0, file_left = 0;
  // The one deadline of this connection, and the earliest one queued in the heap for it.
  steady::time_point deadline = steady::time_point::max();
  steady::time_point queued = steady::time_point::max();

  bool response_in_progress() const { return out_offset < out.size() || file_left > 0; }
};

/// TLS 1.2 session-id resumption for clients that do not use tickets (curl, for one):
/// the engine reports each new session (`new_session`) and asks before resuming one
/// (`resume_session`). In memory, bounded, oldest out first, entries expire.
class session_cache {
public:
  void store(const std::vector<std::uint8_t>& id, std::vector<std::uint8_t> data,
             steady::time_point now) {
    std::string key(id.begin(), id.end());
    if (entries_.size() >= capacity) evict_oldest();
    auto [it, inserted] = entries_.insert_or_assign(key, entry{std::move(data), now + lifetime});
    (void)it;
    if (inserted) order_.push_back(std::move(key));
  }
  const std::vector<std::uint8_t>* find(const std::vector<std::uint8_t>& id,
                                        steady::time_point now) const {
    const auto it = entries_.find(std::string(id.begin(), id.end()));
    return it != entries_.end() && now < it->second.expires ? &it->second.data : nullptr;
  }
  std::size_t size() const { return entries_.size(); }

private:
  static constexpr std::size_t capacity = 20'000;
  static constexpr auto lifetime = std::chrono::seconds(300); // the context's session_timeout
  struct entry {
    std::vector<std::uint8_t> data;
    steady::time_point expires;
  };
  void evict_oldest() {
    while (!order_.empty()) {
      const bool erased = entries_.erase(order_.front()) != 0;
      order_.pop_front();
      if (erased) return;
    }
  }
  std::unordered_map<std::string, entry> entries_;
  std::deque<std::string> order_;
};

struct timer_entry {
  steady::time_point when;
  int fd;
  std::uint64_t serial;
  bool operator>(const timer_entry& o) const { return when > o.when; }
};

class epoll_server {
public:
  explicit epoll_server(config cfg)
      : cfg_(std::move(cfg)), scratch_(file_chunk), fleet_(cfg_.fleet) {}

  int run() {
    if (!setup()) return 1;
    while (!(stopping_ && stats_.open == 0)) {
      epoll_event events[256];
      const int n = ::epoll_wait(epoll_fd_, events, 256, next_timeout_ms());
      if (n < 0 && errno != EINTR) {
        std::fprintf(stderr, "epoll_server: epoll_wait: %s\n", errno_text().c_str());
        return 1;
      }
      for (int i = 0; i < n; ++i)
        dispatch(events[i]);
      run_timers();
    }
    log("shutdown complete: %llu connections served, %llu requests",
        static_cast<unsigned long long>(stats_.accepted),
        static_cast<unsigned long long>(stats_.requests));
    return 0;
  }

private:
  // ---- setup ---------------------------------------------------------------------------
  bool setup() {
    tlsengine::server_options options;
    std::string error;
    if (cfg_.tls.alpn.empty()) cfg_.tls.alpn = "http/1.1,echo";
    for (const std::string& name : split_list(cfg_.tls.alpn)) {
      if (name != "http/1.1" && name != "echo") {
        std::fprintf(stderr, "epoll_server: --alpn: only http/1.1 and echo are served\n");
        return false;
      }
    }
    if (!server_options_from(cfg_.tls, options, error)) { // names the option and file
      std::fprintf(stderr, "epoll_server: %s\n", error.c_str());
      return false;
    }
    options.handshake_timeout = std::chrono::milliseconds(cfg_.handshake_timeout_ms);
    options.allow_half_open = true;        // finish the response in progress after close_notify
    options.external_session_cache = true; // TLS 1.2 session ids; tickets need nothing
    // Bounded memory per connection: with 10,000 connections every buffer counts.
    options.max_write_buffer = 256 * 1024;
    if (!cfg_.release_buffers.empty()) {
      if (cfg_.release_buffers != "on" && cfg_.release_buffers != "off") {
        std::fprintf(stderr, "epoll_server: --release-buffers: on or off, not %s\n",
                     cfg_.release_buffers.c_str());
        return false;
      }
      // OpenSSL's record buffers freed while a connection idles (bench/load/idle_rss.sh).
      options.release_buffers_when_idle = cfg_.release_buffers == "on";
    }
    if (!fleet_.configure(options, error)) {
      std::fprintf(stderr, "epoll_server: %s\n", error.c_str());
      return false;
    }
    auto server = tlsengine::server::create(options);
    if (!server) {
      std::fprintf(stderr, "epoll_server: TLS configuration (%s): %s\n", cfg_.tls.sources().c_str(),
                   server.error().message().c_str());
      return false;
    }
    server_ = std::move(*server);
    tickets_ = (options.secure_options & static_cast<long>(SSL_OP_NO_TICKET)) == 0;

    const rlim_t files = raise_file_limit();
    listen_fd_ = listen_tcp(cfg_.tls.host, cfg_.tls.port, SOMAXCONN, error);
    if (listen_fd_ < 0) {
      std::fprintf(stderr, "epoll_server: %s\n", error.c_str());
      return false;
    }
    set_nonblocking(listen_fd_);

    // SIGTERM and SIGINT arrive as readable data on a descriptor, in the loop.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    if (::sigprocmask(SIG_BLOCK, &signals, nullptr) != 0 ||
        (signal_fd_ = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
      std::fprintf(stderr, "epoll_server: signalfd: %s\n", errno_text().c_str());
      return false;
    }
    ::signal(SIGPIPE, SIG_IGN); // every send() passes MSG_NOSIGNAL too

    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0 || !watch(listen_fd_, EPOLLIN) || !watch(signal_fd_, EPOLLIN)) {
      std::fprintf(stderr, "epoll_server: epoll: %s\n", errno_text().c_str());
      return false;
    }
    fleet_.start(server_, epoll_fd_, [this](int fd, std::uint64_t serial, const auto* session) {
      connection_state* c = find(fd); // a networked cache answers later: still there?
      if (c == nullptr || c->serial != serial) return;
      if (session != nullptr)
        c->tls.resume_session(*session);
      else
        c->tls.resume_session();
      service(*c);
    });
    log("listening on %s (pid %d, alpn %s, up to %llu descriptors)",
        local_address(listen_fd_).c_str(), static_cast<int>(::getpid()), cfg_.tls.alpn.c_str(),
        static_cast<unsigned long long>(files));
    return true;
  }

  bool watch(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void log(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    va_list args;
    va_start(args, format);
    std::vfprintf(stdout, format, args);
    va_end(args);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  // ---- the loop ------------------------------------------------------------------------
  void dispatch(const epoll_event& ev) {
    const int fd = ev.data.fd;
    if (fd == listen_fd_) return accept_all();
    if (fleet_.owns(fd)) return fleet_.on_event(ev.events);
    if (fd == signal_fd_) {
      signalfd_siginfo info;
      while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      }
      return begin_shutdown();
    }
    connection_state* c = find(fd);
    if (c == nullptr) return;
    const std::uint64_t serial = c->serial;
    if ((ev.events & (EPOLLERR | EPOLLHUP)) != 0 && !c->reading) {
      return close_connection(*c); // the peer is gone and we were not reading: nothing left
    }
    if ((ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) on_readable(*c);
    c = find(fd);
    if (c != nullptr && c->serial == serial && (ev.events & EPOLLOUT) != 0) service(*c);
  }

  connection_state* find(int fd) {
    return fd >= 0 && static_cast<std::size_t>(fd) < connections_.size()
               ? connections_[static_cast<std::size_t>(fd)].get()
               : nullptr;
  }

  int next_timeout_ms() {
    steady::time_point next = steady::time_point::max();
    if (!timers_.empty()) next = timers_.top().when;
    if (accept_paused_) next = std::min(next, accept_resume_at_);
    if (stopping_) next = std::min(next, shutdown_deadline_);
    if (const auto fleet = fleet_.next_timer()) next = std::min(next, *fleet);
    if (next == steady::time_point::max()) return -1;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(next - steady::now()).count();
    return static_cast<int>(std::clamp<long long>(left + 1, 0, 60'000));
  }

  // ---- accepting -----------------------------------------------------------------------
  void accept_all() {
    for (int i = 0; i < 128 && !stopping_; ++i) { // a bounded batch, then serve the others
      sockaddr_storage address{};
      socklen_t length = sizeof address;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        // EMFILE and friends: the listener stays readable, so stop watching it for a
        // moment instead of spinning on it.
        log("accept: %s (pausing accepts)", errno_text().c_str());
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        accept_paused_ = true;
        accept_resume_at_ = steady::now() + accept_retry;
        return;
      }
      if (stats_.open >= static_cast<std::uint64_t>(cfg_.max_connections)) {
        ++stats_.refused;
        ::close(fd);
        continue;
      }
      set_nodelay(fd);
      if (static_cast<std::size_t>(fd) >= connections_.size())
        connections_.resize(static_cast<std::size_t>(fd) + 1024);
      auto c = std::make_unique<connection_state>();
      c->fd = fd;
      c->serial = ++serial_;
      c->peer = address_text(reinterpret_cast<sockaddr*>(&address));
      c->tls = server_.accept();
      if (!watch(fd, EPOLLIN)) {
        log("epoll_ctl: %s", errno_text().c_str());
        ::close(fd);
        continue;
      }
      c->interest = EPOLLIN;
      ++stats_.accepted;
      ++stats_.open;
      connection_state& ref = *c;
      connections_[static_cast<std::size_t>(fd)] = std::move(c);
      if (const auto when = ref.tls.deadline()) set_deadline(ref, *when); // the handshake's
    }
  }

  // ---- input ---------------------------------------------------------------------------
  void on_readable(connection_state& c) {
    // recv() lands straight in the engine's input buffer (no copy).
    const tlsengine::mutable_bytes_view window = c.tls.input_window();
    if (window.empty()) {
      // An error (service() reports it) or a full input buffer: the cleartext before it
      // has not been read. Stop reading until it is.
      if (!c.tls.error()) c.input_blocked = true;
      return service(c);
    }
    const ssize_t n = ::recv(c.fd, window.data(), window.size(), 0);
    if (n > 0) {
      c.tls.commit_input(static_cast<std::size_t>(n));
      if (c.secure && !c.ending) set_deadline(c, steady::now() + idle_timeout());
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return;
    } else {
      // FIN or reset: without the peer's close_notify first, the engine reports truncation.
      c.transport_eof = true;
      c.tls.feed_eof();
    }
    service(c);
  }

  // ---- the drain loop: events, cleartext, ciphertext out -------------------------------
  /// Events first. Not only input produces them: read() decrypts what the input buffer
  /// held back once there is room, which can queue `end` (or an error), so this also runs
  /// after reading cleartext.
  void handle_events(connection_state& c) {
    while (auto e = c.tls.next_event()) {
      keylog().write(*e); // --keylog / SSLKEYLOGFILE
      if (std::holds_alternative<tlsengine::events::secure>(*e)) on_secure(c);
      if (std::holds_alternative<tlsengine::events::end>(*e)) c.peer_done = true;
      auto* created = std::get_if<tlsengine::events::new_session>(&*e);
      if (created && !fleet_.new_session(created->id, created->data) && !stateless_ticket(c))
        sessions_.store(created->id, std::move(created->data), steady::now());
      auto* wanted = std::get_if<tlsengine::events::resume_session>(&*e);
      if (wanted && !fleet_.resume_session(c.fd, c.serial, wanted->id)) {
        // A decision event: the handshake waits for the answer. An in-memory cache can
        // answer at once (a networked one would answer later, then call service()).
        const auto* data = sessions_.find(wanted->id, steady::now());
        if (data != nullptr)
          c.tls.resume_session(*data);
        else
          c.tls.resume_session();
      }
      if (auto* err = std::get_if<tlsengine::events::error>(&*e)) on_error(c, *err);
    }
  }

  /// A TLS 1.3 session with tickets on: the ticket carries it whole, so nothing will ever
  /// look it up by id (OpenSSL reports it all the same). Not cached: with 10,000 clients
  /// that would be 10,000 useless entries.
  bool stateless_ticket(const connection_state& c) const {
    return tickets_ && c.tls.protocol() == "TLSv1.3";
  }

  void service(connection_state& c) {
    handle_events(c);
    if (c.tls.error()) {
      if (!c.plain_http) send_some(c); // the fatal alert, if one is due; closed either way
      return close_connection(c);
    }

    c.more_work = false;
    if (c.secure && !c.ending) {
      c.more_work = true; // unless the loop below ends early
      for (std::size_t round = 0; round < max_output_rounds; ++round) {
        const bool idle = c.app == app_protocol::http ? run_http(c) : run_echo(c);
        if (!write_pending(c)) return close_connection(c);
        if (!send_some(c)) return close_connection(c);
        if (idle && !c.response_in_progress()) {
          release_idle_buffers(c);
          // Nothing in progress and no complete request waiting: end when asked to.
          if (c.close_after || c.peer_done) begin_end(c);
          c.more_work = false;
          break;
        }
        if (!c.tls.pending_output().empty()) { // the socket is full: wait for EPOLLOUT
          c.more_work = false;
          break;
        }
      }
    }
    if (c.tls.error()) { // raised while reading cleartext (see handle_events)
      send_some(c);
      return close_connection(c);
    }
    if (!send_some(c)) return close_connection(c);

    if (c.ending && c.tls.pending_output().empty()) {
      if (c.tls.peer_ended() || c.transport_eof) return close_connection(c);
      if (!c.write_shut) {
        // Our close_notify is out. Close our direction and wait (briefly) for the peer's
        // before close(): closing with unread input would reset the connection and could
        // destroy the response in the peer's receive buffer.
        ::shutdown(c.fd, SHUT_WR);
        c.write_shut = true;
        set_deadline(c, steady::now() + linger_time);
      }
    } else if (c.transport_eof && !c.secure) {
      return close_connection(c);
    } else if (c.transport_eof && !c.ending && !c.response_in_progress()) {
      // The peer's close_notify then FIN with nothing left to answer.
      begin_end(c);
      return service(c);
    }
    update_interest(c);
  }

  /// An idle connection keeps no memory of the last request or response: the next
  /// response is a new string anyway, and an idle keep-alive connection is the common
  /// case (with thousands of them, a few hundred bytes each counts).
  static void release_idle_buffers(connection_state& c) {
    if (c.input.empty() && c.input.capacity() > 0) std::string().swap(c.input);
    if (c.out.empty() && c.out.capacity() > 0) std::string().swap(c.out);
  }

  void on_error(connection_state& c, const tlsengine::events::error& err) {
    if (!c.secure && is_plain_http_request(err.code)) {
      // http:// to the TLS port: nginx's cleartext 400 page instead of a TLS alert.
      c.plain_http = true;
      ::send(c.fd, plain_http_response, sizeof plain_http_response - 1, MSG_NOSIGNAL);
      if (cfg_.verbose) log("%s: plain HTTP sent to the TLS port: answered 400", c.peer.c_str());
      return;
    }
    const bool truncated = err.code == make_error_code(tlsengine::errc::truncated);
    if (truncated && c.secure && !c.response_in_progress() && c.input.empty() && c.skip_body == 0) {
      // Browsers and load tools close kept-alive connections without close_notify once
      // they have their responses: nothing was lost, so it is not an error.
      if (cfg_.verbose) log("%s: closed by the client between requests", c.peer.c_str());
      return;
    }
    ++stats_.errors;
    if (!cfg_.quiet || cfg_.verbose) log("%s: %s", c.peer.c_str(), err.message.c_str());
  }

  void on_secure(connection_state& c) {
    c.secure = true;
    ++stats_.handshakes;
    if (c.tls.is_session_reused()) ++stats_.resumed;
    const std::string alpn = c.tls.alpn_protocol();
    c.app = alpn == "echo" ? app_protocol::echo : app_protocol::http;
    set_deadline(c, steady::now() + idle_timeout());
    if (cfg_.verbose) log("%s", server_connected(c.tls, c.peer, cfg_.tls.request_cert).c_str());
  }

  /// Cleartext from the engine, while no response is in progress (requests pipelined
  /// behind it wait in the engine, and so the socket is not read: backpressure).
  void pull_cleartext(connection_state& c, std::string& into, std::size_t limit) {
    char buffer[16 * 1024];
    while (into.size() < limit) {
      const std::size_t want = std::min(sizeof buffer, limit - into.size());
      const std::size_t n = c.tls.read(tlsengine::mutable_bytes_view(buffer, want));
      if (n == 0) break;
      into.append(buffer, n);
      c.input_blocked = false;
    }
    handle_events(c);
  }

  /// HTTP: starts the response to the next complete request. True when idle: nothing in
  /// progress and no complete request waiting.
  bool run_http(connection_state& c) {
    while (!c.response_in_progress() && !c.close_after) {
      pull_cleartext(c, c.input, http::max_head_size + 1);
      if (c.skip_body > 0) { // a request body we do not use
        const std::size_t n = std::min(c.skip_body, c.input.size());
        c.input.erase(0, n);
        c.skip_body -= n;
        if (c.skip_body > 0) return true;
        continue;
      }
      http::request request;
      switch (http::parse(c.input, request)) {
      case http::parse_status::incomplete: return true;
      case http::parse_status::bad_request: respond_error(c, 400); return false;
      case http::parse_status::too_large:
        respond_error(c, c.input.find("\r\n\r\n") == std::string::npos ? 431 : 413);
        return false;
      case http::parse_status::not_implemented: respond_error(c, 501); return false;
      case http::parse_status::complete: break;
      }
      c.input.erase(0, request.head_size);
      c.skip_body = request.body_size;
      ++stats_.requests;
      respond(c, request);
    }
    return !c.response_in_progress();
  }

  void respond_error(connection_state& c, int status) {
    const std::string body = std::to_string(status) + " " + http::reason(status) + "\n";
    c.out = http::head(status, "text/plain; charset=utf-8", body.size(), false) + body;
    c.out_offset = 0;
    c.close_after = true; // the rest of the input cannot be trusted
    c.input.clear();
  }

  void respond(connection_state& c, const http::request& request) {
    const bool keep_alive = request.keep_alive && !stopping_;
    c.close_after = !keep_alive;
    const bool head_only = request.method == "HEAD";
    if (request.method != "GET" && !head_only) {
      const std::string body = "405 Method Not Allowed\n";
      c.out = http::head(405, "text/plain; charset=utf-8", body.size(), keep_alive);
      c.out.insert(c.out.size() - 2, "Allow: GET, HEAD\r\n");
      c.out += body;
      c.out_offset = 0;
      return;
    }
    std::string path = request.target.substr(0, request.target.find('?'));
    std::string body;
    const char* type = "text/html; charset=utf-8";
    int status = 200;
    if (path == "/") {
      body = page;
    } else if (path == "/stats") {
      type = "text/plain; charset=utf-8";
      body = stats_text();
    } else if (!cfg_.docroot.empty() && open_static(c, path, head_only, keep_alive)) {
      return;
    } else {
      status = 404;
      type = "text/plain; charset=utf-8";
      body = "404 Not Found\n";
    }
    c.out = http::head(status, type, body.size(), keep_alive);
    if (!head_only) c.out += body;
    c.out_offset = 0;
  }

  /// A regular file under --docroot: queues the head and arranges for the body to follow
  /// in chunks. False when there is no such file (404). Paths with "." segments (hidden
  /// files, "..") are refused so that nothing outside the docroot is reachable.
  bool open_static(connection_state& c, std::string path, bool head_only, bool keep_alive) {
    if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos) return false;
    if (path.find("/.") != std::string::npos) return false;
    if (path.back() == '/') path += "index.html";
    const int fd = ::open((cfg_.docroot + path).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return false;
    }
    c.out =
        http::head(200, http::content_type(path), static_cast<std::size_t>(st.st_size), keep_alive);
    c.out_offset = 0;
    if (head_only || st.st_size == 0) {
      ::close(fd);
      return true;
    }
    c.file_fd = fd;
    c.file_offset = 0;
    c.file_left = st.st_size;
    return true;
  }

  /// Echo: what arrived goes back. True when idle (nothing arrived).
  bool run_echo(connection_state& c) {
    if (c.response_in_progress()) return false;
    c.out.clear();
    c.out_offset = 0;
    pull_cleartext(c, c.out, 64 * 1024);
    return c.out.empty();
  }

  /// Moves queued cleartext into the engine: the pending string, then one file chunk when
  /// the previous one has gone out. False when the file cannot be read.
  bool write_pending(connection_state& c) {
    while (c.out_offset < c.out.size()) {
      std::error_code ec;
      const std::size_t n = c.tls.write(
          tlsengine::bytes_view(c.out.data() + c.out_offset, c.out.size() - c.out_offset), ec);
      if (ec) return true;     // the engine reports the error itself
      if (n == 0) return true; // its write buffer is full: after the socket took some
      c.out_offset += n;
    }
    c.out.clear();
    c.out_offset = 0;
    if (c.file_left > 0 && c.tls.pending_output().empty()) {
      const std::size_t want =
          std::min<std::size_t>(file_chunk, static_cast<std::size_t>(c.file_left));
      const ssize_t got = ::pread(c.file_fd, scratch_.data(), want, c.file_offset);
      if (got <= 0) {
        // The file shrank or failed under us: the Content-Length cannot be honoured.
        log("%s: static file read failed, aborting the response", c.peer.c_str());
        return false;
      }
      const std::size_t n =
          c.tls.write(tlsengine::bytes_view(scratch_.data(), static_cast<std::size_t>(got)));
      c.file_offset += static_cast<off_t>(n);
      c.file_left -= static_cast<off_t>(n);
      if (c.file_left == 0) {
        ::close(c.file_fd);
        c.file_fd = -1;
      }
    }
    return true;
  }

  // ---- output --------------------------------------------------------------------------
  /// Sends pending ciphertext until the socket would block. False when the peer is gone.
  bool send_some(connection_state& c) {
    for (;;) {
      const tlsengine::bytes_view out = c.tls.pending_output();
      if (out.empty()) return true;
      const ssize_t n = ::send(c.fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.tls.consume_output(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }

  /// Reads only while the output is drained and nothing waits to be written; writes are
  /// watched while something does.
  void update_interest(connection_state& c) {
    const bool output_waiting =
        !c.tls.pending_output().empty() || c.response_in_progress() || c.more_work;
    const bool read = !c.transport_eof && !output_waiting && !c.input_blocked;
    if (c.reading && !read && c.secure && output_waiting) ++stats_.backpressure_pauses;
    c.reading = read;
    const std::uint32_t interest = (read ? EPOLLIN : 0u) | (output_waiting ? EPOLLOUT : 0u);
    if (interest == c.interest) return;
    epoll_event ev{};
    ev.events = interest;
    ev.data.fd = c.fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.interest = interest;
  }

  void begin_end(connection_state& c) {
    if (c.ending) return;
    c.ending = true;
    c.tls.end(); // close_notify, after everything written before
  }

  void close_connection(connection_state& c) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    if (c.file_fd >= 0) ::close(c.file_fd);
    --stats_.open;
    connections_[static_cast<std::size_t>(c.fd)].reset(); // c is gone from here on
  }

  // ---- timers --------------------------------------------------------------------------
  steady::duration idle_timeout() const { return std::chrono::milliseconds(cfg_.idle_timeout_ms); }

  /// Sets the connection's deadline. The heap keeps at most one useful entry per
  /// connection: a later deadline is re-queued when the earlier entry comes up.
  void set_deadline(connection_state& c, steady::time_point when) {
    c.deadline = when;
    if (when < c.queued) {
      timers_.push({when, c.fd, c.serial});
      c.queued = when;
    }
  }

  void run_timers() {
    fleet_.on_timer(); // lookups past their bound, reconnects, the ticket-key ring
    const steady::time_point now = steady::now();
    while (!timers_.empty() && timers_.top().when <= now) {
      const timer_entry entry = timers_.top();
      timers_.pop();
      connection_state* c = find(entry.fd);
      if (c == nullptr || c->serial != entry.serial || c->queued != entry.when) continue;
      c->queued = steady::time_point::max();
      if (c->deadline > now) { // moved later since: queue it again
        set_deadline(*c, c->deadline);
        continue;
      }
      c->deadline = steady::time_point::max();
      on_deadline(*c, now);
    }
    if (accept_paused_ && now >= accept_resume_at_ && !stopping_) {
      accept_paused_ = false;
      watch(listen_fd_, EPOLLIN);
    }
    if (stopping_ && now >= shutdown_deadline_ && stats_.open > 0) {
      log("shutdown timeout: closing %llu connections that did not finish",
          static_cast<unsigned long long>(stats_.open));
      for (auto& slot : connections_)
        if (slot) close_connection(*slot);
    }
  }

  void on_deadline(connection_state& c, steady::time_point now) {
    if (!c.secure) {
      ++stats_.handshake_timeouts;
      c.tls.on_timeout(now); // the engine fails the handshake: its error event follows
      return service(c);
    }
    if (c.ending) return close_connection(c); // the peer never answered our close_notify
    ++stats_.idle_closes;
    begin_end(c); // keep-alive idleness: close politely
    service(c);
  }

  // ---- graceful shutdown ---------------------------------------------------------------
  void begin_shutdown() {
    if (stopping_) return;
    stopping_ = true;
    shutdown_deadline_ = steady::now() + std::chrono::milliseconds(cfg_.shutdown_timeout_ms);
    log("signal received: closing %llu connections", static_cast<unsigned long long>(stats_.open));
    if (!accept_paused_) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    ::close(listen_fd_);
    for (auto& slot : connections_) {
      if (!slot) continue;
      connection_state& c = *slot;
      if (!c.secure) { // nothing to say in the middle of a handshake
        close_connection(c);
        continue;
      }
      if (c.response_in_progress())
        c.close_after = true; // close_notify after this response
      else
        begin_end(c);
      service(c);
    }
  }

  std::string stats_text() const {
    auto line = [](const char* name, std::uint64_t value) {
      return std::string(name) + " " + std::to_string(value) + "\n";
    };
    return line("connections_open", stats_.open) + line("connections_accepted", stats_.accepted) +
           line("connections_refused", stats_.refused) + line("handshakes", stats_.handshakes) +
           line("sessions_resumed", stats_.resumed) + line("sessions_cached", sessions_.size()) +
           line("requests", stats_.requests) +
           line("backpressure_pauses", stats_.backpressure_pauses) +
           line("handshake_timeouts", stats_.handshake_timeouts) +
           line("idle_closes", stats_.idle_closes) + line("errors", stats_.errors) +
           fleet_.stats_text();
  }

  config cfg_;
  tlsengine::server server_;
  int listen_fd_ = -1, signal_fd_ = -1, epoll_fd_ = -1;
  std::vector<std::unique_ptr<connection_state>> connections_; // indexed by descriptor
  std::priority_queue<timer_entry, std::vector<timer_entry>, std::greater<timer_entry>> timers_;
  std::vector<char> scratch_; // one file chunk at a time, shared by every connection
  std::uint64_t serial_ = 0;
  counters stats_;
  session_cache sessions_;
  fleet_node fleet_;
  bool tickets_ = true; // TLS 1.3 resumes from the ticket alone (no --no-tickets)
  bool stopping_ = false, accept_paused_ = false;
  steady::time_point shutdown_deadline_, accept_resume_at_;
};

} // namespace

int main(int argc, char** argv) {
  flag_parser parser("epoll_server",
                     "A single-threaded epoll TLS server: HTTP/1.1 (ALPN http/1.1 or none) "
                     "and echo (ALPN echo).");
  config cfg;
  cfg.tls.add_server_flags(parser, default_port::epoll_server);
  parser.add("--docroot", &cfg.docroot, "serve the files under this directory");
  parser.add("--handshake-timeout", &cfg.handshake_timeout_ms,
             "milliseconds a handshake may take (default 10000)");
  parser.add("--idle-timeout", &cfg.idle_timeout_ms,
             "milliseconds a keep-alive connection may idle (default 60000)");
  parser.add("--shutdown-timeout", &cfg.shutdown_timeout_ms,
             "milliseconds to wait for peers after SIGTERM (default 5000)");
  parser.add("--max-connections", &cfg.max_connections, "refuse more (default 100000)");
  parser.add("--release-buffers", &cfg.release_buffers,
             "on|off: free OpenSSL's record buffers while a connection idles (default: the "
             "library's)");
  parser.add("--verbose", &cfg.verbose, "log every connection");
  parser.add("--quiet", &cfg.quiet, "do not log connection errors");
  cfg.fleet.add(parser);
  parser.parse(argc, argv);
  if (!cfg.docroot.empty() && cfg.docroot.back() == '/') cfg.docroot.pop_back();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  epoll_server server(std::move(cfg));
  return server.run();
}
