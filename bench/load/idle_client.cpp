// idle_client: the client of bench/load/idle_rss.sh. Opens --connections TLS connections
// to 127.0.0.1:--port (TLS 1.3 by default settings, the built-in demo CA), sends one
// HTTP/1.1 keep-alive GET on each and reads the response whole, then holds every
// connection open and idle until SIGTERM/SIGINT (or --hold seconds), so that the server's
// memory per idle connection can be read. Single-threaded, epoll, the engine's drain loop.
//
// Prints "ready CONNECTIONS" once every connection is idle, and on exit
// "closed_by_server COUNT" (connections the server closed while they were held).
// Exit status 1 when a connection fails or --timeout passes before all are idle.
// Not a test: bench/load/idle_rss.sh runs it.
#include <tlsengine/tlsengine.hpp>

#include "builtin_certs.hpp"
#include "cli.hpp"
#include "net.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace tlsengine_examples;

namespace {

struct options {
  std::string host = "127.0.0.1", servername = "localhost", path = "/";
  int port = 0, connections = 1000;
  int parallel = 128;  // connections in their handshake at once (the listen backlog)
  int timeout_s = 300; // to get every connection idle
  int hold_s = 3600;   // then hold them at most this long
};

enum class phase { handshake, idle, closed };

struct client_connection {
  int fd = -1;
  tlsengine::connection tls;
  phase state = phase::handshake;
  std::string response;                          // the response so far (freed once idle)
  std::size_t response_size = std::string::npos; // head + Content-Length, once the head is in
  std::uint32_t interest = 0;
};

class idle_client {
public:
  explicit idle_client(options o) : opt_(std::move(o)) {}

  int run() {
    if (!setup()) return 1;
    const auto deadline = tlsengine::clock::now() + std::chrono::seconds(opt_.timeout_s);
    while (idle_ < opt_.connections) {
      while (started_ < opt_.connections && in_flight() < opt_.parallel)
        if (!start_one()) return fail_exit();
      if (!poll_once(deadline)) return fail_exit();
      if (stop_) return fail_exit("interrupted");
    }
    std::printf("ready %d\n", idle_);
    std::fflush(stdout);
    // Hold: nothing is sent; a server that closes a connection is counted.
    const auto hold_until = tlsengine::clock::now() + std::chrono::seconds(opt_.hold_s);
    while (!stop_ && tlsengine::clock::now() < hold_until)
      poll_once(hold_until);
    std::printf("closed_by_server %d\n", closed_);
    return 0;
  }

private:
  bool setup() {
    tlsengine::context_options context;
    context.ca = {builtin_ca_pem};
    auto ctx = tlsengine::secure_context::create(context); // one CA parse for everyone
    if (!ctx) {
      std::fprintf(stderr, "idle_client: %s\n", ctx.error().message().c_str());
      return false;
    }
    client_.secure_context = std::move(*ctx);
    client_.servername = opt_.servername;
    // The client's own memory does not count, but 10,000 connections should stay cheap.
    client_.release_buffers_when_idle = true;
    request_ = "GET " + opt_.path + " HTTP/1.1\r\nHost: " + opt_.servername + "\r\n\r\n";

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    ::sigprocmask(SIG_BLOCK, &signals, nullptr);
    signal_fd_ = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (signal_fd_ < 0 || epoll_fd_ < 0) {
      std::fprintf(stderr, "idle_client: %s\n", errno_text().c_str());
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = signal_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd_, &ev);
    ::signal(SIGPIPE, SIG_IGN);
    raise_file_limit();
    return true;
  }

  int in_flight() const { return started_ - idle_ - closed_; }

  int fail_exit(const std::string& why = {}) {
    if (!why.empty()) error_ = why;
    std::fprintf(stderr, "idle_client: %s (%d of %d connections idle)\n", error_.c_str(), idle_,
                 opt_.connections);
    return 1;
  }

  bool start_one() {
    ++started_;
    // Non-blocking connect: the handshake's first flight waits for EPOLLOUT.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(opt_.port));
    if (fd < 0 || ::inet_pton(AF_INET, opt_.host.c_str(), &to.sin_addr) != 1 ||
        (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)) {
      error_ = "connect " + opt_.host + ":" + std::to_string(opt_.port) + ": " + errno_text();
      return false;
    }
    set_nodelay(fd);
    auto tls = tlsengine::connection::client(client_);
    if (!tls) {
      error_ = tls.error().message();
      return false;
    }
    auto c = std::make_unique<client_connection>();
    c->fd = fd;
    c->tls = std::move(*tls);
    c->tls.write(request_); // queued until the handshake is done
    if (static_cast<std::size_t>(fd) >= connections_.size())
      connections_.resize(static_cast<std::size_t>(fd) + 1024);
    connections_[static_cast<std::size_t>(fd)] = std::move(c);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    connections_[static_cast<std::size_t>(fd)]->interest = ev.events;
    return true;
  }

  /// One epoll_wait. False when a connection failed or the deadline passed.
  bool poll_once(tlsengine::clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - tlsengine::clock::now())
            .count();
    if (left <= 0) {
      error_ = "timed out";
      return false;
    }
    epoll_event events[256];
    const int n =
        ::epoll_wait(epoll_fd_, events, 256, static_cast<int>(std::min<long long>(left, 1000)));
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == signal_fd_) {
        stop_ = true;
        continue;
      }
      client_connection* c = connections_[static_cast<std::size_t>(events[i].data.fd)].get();
      if (c != nullptr && !service(*c, events[i].events)) return false;
    }
    return true;
  }

  /// The drain loop for one connection. False when it failed before becoming idle.
  bool service(client_connection& c, std::uint32_t ready) {
    if ((ready & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
      const tlsengine::mutable_bytes_view window = c.tls.input_window();
      const ssize_t n = window.empty() ? -1 : ::recv(c.fd, window.data(), window.size(), 0);
      if (n > 0) {
        c.tls.commit_input(static_cast<std::size_t>(n));
      } else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && !window.empty())) {
        c.tls.feed_eof();
        return close(c, "the server closed the connection");
      }
    }
    while (auto e = c.tls.next_event()) {
      if (auto* err = std::get_if<tlsengine::events::error>(&*e)) return close(c, err->message);
      if (std::holds_alternative<tlsengine::events::end>(*e))
        return close(c, "the server sent close_notify");
    }
    char buffer[16 * 1024];
    while (const std::size_t n = c.tls.read(tlsengine::mutable_bytes_view(buffer, sizeof buffer))) {
      if (c.state == phase::handshake) c.response.append(buffer, n);
    }
    if (c.state == phase::handshake && !response_valid(c)) return close(c, error_);
    if (c.state == phase::handshake && response_complete(c)) {
      c.state = phase::idle;
      std::string().swap(c.response);
      ++idle_;
    }
    for (auto out = c.tls.pending_output(); !out.empty(); out = c.tls.pending_output()) {
      const ssize_t n = ::send(c.fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      c.tls.consume_output(static_cast<std::size_t>(n));
    }
    const std::uint32_t interest = EPOLLIN | (c.tls.pending_output().empty() ? 0u : EPOLLOUT);
    if (interest != c.interest) {
      epoll_event ev{};
      ev.events = interest;
      ev.data.fd = c.fd;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
      c.interest = interest;
    }
    return true;
  }

  /// Reads the response head once it is in: false when it is not a 200 with a
  /// Content-Length (then error_ says what came).
  bool response_valid(client_connection& c) {
    if (c.response_size != std::string::npos) return true;
    const std::size_t end = c.response.find("\r\n\r\n");
    if (end == std::string::npos) return true; // not all in yet
    const std::string head = c.response.substr(0, end);
    std::size_t at = std::string::npos;
    for (const char* name : {"Content-Length:", "content-length:"})
      if (at == std::string::npos) at = head.find(name);
    if (head.compare(0, 12, "HTTP/1.1 200") != 0 || at == std::string::npos) {
      error_ = "unexpected response: " + head.substr(0, head.find("\r\n"));
      return false;
    }
    c.response_size = end + 4 + std::strtoull(head.c_str() + at + 15, nullptr, 10);
    return true;
  }

  /// The head is in and as many body bytes as its Content-Length said.
  static bool response_complete(const client_connection& c) {
    return c.response_size != std::string::npos && c.response.size() >= c.response_size;
  }

  bool close(client_connection& c, const std::string& why) {
    const bool was_idle = c.state == phase::idle;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    if (was_idle) --idle_;
    ++closed_;
    connections_[static_cast<std::size_t>(c.fd)].reset();
    if (was_idle) return true; // counted; the measurement script reports it
    error_ = why;
    return false;
  }

  options opt_;
  tlsengine::client_options client_;
  std::string request_, error_;
  std::vector<std::unique_ptr<client_connection>> connections_; // indexed by descriptor
  int epoll_fd_ = -1, signal_fd_ = -1;
  int started_ = 0, idle_ = 0, closed_ = 0;
  bool stop_ = false;
};

} // namespace

int main(int argc, char** argv) {
  flag_parser parser("idle_client",
                     "Opens TLS connections, one keep-alive GET each, then holds them idle.");
  options o;
  parser.add("--host", &o.host, "server IPv4 address (default 127.0.0.1)");
  parser.add("--port", &o.port, "server port");
  parser.add("--servername", &o.servername, "SNI and the name checked (default localhost)");
  parser.add("--path", &o.path, "the path to GET (default /)");
  parser.add("--connections", &o.connections, "connections to hold (default 1000)");
  parser.add("--parallel", &o.parallel, "handshakes in progress at once (default 128)");
  parser.add("--timeout", &o.timeout_s, "seconds to get them all idle (default 300)");
  parser.add("--hold", &o.hold_s, "seconds to hold them at most (default 3600)");
  parser.parse(argc, argv);
  if (o.port <= 0 || o.port > 65535 || o.connections <= 0 || o.parallel <= 0)
    parser.fail("--port, --connections and --parallel must be positive");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return idle_client(std::move(o)).run();
}
