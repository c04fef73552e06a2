// Socket and process helpers for the interop tests: loopback TCP sockets, a child process
// with its stdin/stdout/stderr wired to us, and a driver that runs DESIGN.md's drain loop
// over a real socket. Every wait is a poll() with a timeout against an explicit deadline,
// so no test can hang; no helper sleeps for correctness.
#pragma once

#include <tlsengine/tlsengine.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace net {

using steady = std::chrono::steady_clock;

/// How long any single wait in the interop tests may take before the test fails.
inline constexpr std::chrono::seconds default_timeout{20};

/// A point in time after which a loop gives up.
class deadline {
public:
  explicit deadline(steady::duration d = default_timeout) : at_(steady::now() + d) {}
  bool expired() const { return steady::now() >= at_; }
  /// A poll() timeout: the time left, at most cap_ms (so loops re-check their state).
  int poll_ms(int cap_ms = 100) const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - steady::now());
    if (left.count() <= 0) return 0;
    return static_cast<int>(std::min<long long>(left.count(), cap_ms));
  }

private:
  steady::time_point at_;
};

inline std::string errno_text(int e) { return std::string(std::strerror(e)); }

/// Owns a file descriptor.
class unique_fd {
public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

inline void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    throw std::runtime_error("fcntl(O_NONBLOCK): " + errno_text(errno));
}

inline void set_nodelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

inline sockaddr_in loopback_address(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

inline unique_fd tcp_socket() {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error("socket(): " + errno_text(errno));
  return fd;
}

/// A listening socket on 127.0.0.1 with a port chosen by the kernel; `port` receives it.
inline unique_fd listen_loopback(std::uint16_t& port) {
  unique_fd fd = tcp_socket();
  sockaddr_in addr = loopback_address(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("bind(127.0.0.1:0): " + errno_text(errno));
  if (::listen(fd.get(), 8) != 0) throw std::runtime_error("listen(): " + errno_text(errno));
  socklen_t len = sizeof addr;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("getsockname(): " + errno_text(errno));
  port = ntohs(addr.sin_port);
  set_nonblocking(fd.get());
  return fd;
}

/// A port that was free a moment ago (bind port 0, read it, close). Someone else may take it
/// before our child binds it: callers retry on collision.
inline std::uint16_t pick_free_port() {
  std::uint16_t port = 0;
  listen_loopback(port); // the socket closes at once
  return port;
}

/// One non-blocking connect attempt to 127.0.0.1:port, bounded by `limit`. Returns the
/// connected (non-blocking, TCP_NODELAY) socket, or an empty one with `error` set
/// (ECONNREFUSED while nobody listens yet).
inline unique_fd try_connect(std::uint16_t port, const deadline& limit, int& error) {
  error = 0;
  unique_fd fd = tcp_socket();
  set_nonblocking(fd.get());
  set_nodelay(fd.get());
  sockaddr_in addr = loopback_address(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (errno != EINPROGRESS) {
    error = errno;
    return unique_fd();
  }
  for (;;) {
    pollfd p{fd.get(), POLLOUT, 0};
    const int r = ::poll(&p, 1, limit.poll_ms());
    if (r < 0 && errno == EINTR) continue;
    if (r > 0) break;
    if (limit.expired()) {
      error = ETIMEDOUT;
      return unique_fd();
    }
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) {
    error = so_error;
    return unique_fd();
  }
  return fd;
}

/// A child process with its stdin (a socketpair end, so writing never raises SIGPIPE) and
/// its stdout and stderr (pipes, drained whenever we poll) connected to us. The destructor
/// kills and reaps it, whatever happened in the test.
class child_process {
public:
  child_process() = default;
  child_process(child_process&& other) noexcept { *this = std::move(other); }
  child_process& operator=(child_process&& other) noexcept {
    if (this != &other) {
      kill_and_reap();
      pid_ = std::exchange(other.pid_, -1);
      status_ = other.status_;
      exited_ = other.exited_;
      stdin_ = std::move(other.stdin_);
      stdout_ = std::move(other.stdout_);
      stderr_ = std::move(other.stderr_);
      stdin_queue_ = std::move(other.stdin_queue_);
      out = std::move(other.out);
      err = std::move(other.err);
      command_ = std::move(other.command_);
    }
    return *this;
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { kill_and_reap(); }

  /// Starts argv[0] (looked up in PATH). Throws when it cannot be started at all, so a
  /// missing peer fails the run instead of skipping it.
  static child_process spawn(const std::vector<std::string>& argv) {
    child_process child;
    for (const std::string& a : argv)
      child.command_ += (child.command_.empty() ? "" : " ") + a;

    int in_pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0)
      throw std::runtime_error("socketpair(): " + errno_text(errno));
    unique_fd in_ours(in_pair[0]), in_theirs(in_pair[1]);
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2(): " + errno_text(errno));
    unique_fd out_ours(out_pipe[0]), out_theirs(out_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2(): " + errno_text(errno));
    unique_fd err_ours(err_pipe[0]), err_theirs(err_pipe[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears FD_CLOEXEC on the target; every other descriptor of ours is CLOEXEC.
    posix_spawn_file_actions_adddup2(&actions, in_theirs.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_theirs.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_theirs.get(), STDERR_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    // The child starts with default signal handling whatever the test runner set.
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0)
      throw std::runtime_error("cannot start `" + child.command_ + "`: " + errno_text(rc));

    child.pid_ = pid;
    set_nonblocking(out_ours.get());
    set_nonblocking(err_ours.get());
    child.stdin_ = std::move(in_ours);
    child.stdout_ = std::move(out_ours);
    child.stderr_ = std::move(err_ours);
    return child; // the child's ends close here, in the parent
  }

  /// Everything the child printed so far.
  std::string out, err;

  /// Queues text for the child's stdin; it is written (without blocking) whenever we poll
  /// the child, so a child that stops reading stdin cannot stall the test.
  void queue_stdin(const std::string& text) {
    stdin_queue_ += text;
    write_queued_stdin();
  }
  std::size_t queued_stdin() const { return stdin_queue_.size(); }
  /// Writes text to the child's stdin, waiting (bounded) until all of it went. False when
  /// the child is gone or the deadline passed.
  bool write_stdin(const std::string& text, const deadline& limit = deadline()) {
    queue_stdin(text);
    while (!stdin_queue_.empty()) {
      if (!stdin_ || limit.expired()) return false;
      pollfd p{stdin_.get(), POLLOUT, 0};
      ::poll(&p, 1, limit.poll_ms());
      write_queued_stdin();
    }
    return true;
  }
  void close_stdin() {
    stdin_queue_.clear();
    stdin_.reset();
  }

  /// The descriptors to add to a poll() set: stdout and stderr while open, stdin while
  /// queued input waits.
  void add_poll_fds(std::vector<pollfd>& fds) const {
    if (stdout_) fds.push_back(pollfd{stdout_.get(), POLLIN, 0});
    if (stderr_) fds.push_back(pollfd{stderr_.get(), POLLIN, 0});
    if (stdin_ && !stdin_queue_.empty()) fds.push_back(pollfd{stdin_.get(), POLLOUT, 0});
  }
  /// Reads whatever the child printed and writes queued stdin, without blocking.
  void read_output() {
    read_from(stdout_, out);
    read_from(stderr_, err);
    write_queued_stdin();
  }
  /// Waits up to timeout_ms for output (or room for queued stdin), then services both.
  void poll_output(int timeout_ms) {
    std::vector<pollfd> fds;
    add_poll_fds(fds);
    if (!fds.empty()) {
      ::poll(fds.data(), fds.size(), timeout_ms);
    } else if (timeout_ms > 0) {
      ::poll(nullptr, 0, std::min(timeout_ms, 10)); // output closed; waiting for the exit
    }
    read_output();
  }

  bool running() {
    if (pid_ < 0 || exited_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = status;
      return false;
    }
    if (r < 0 && errno == ECHILD) { // reaped by someone else (SIGCHLD ignored): never kill
      exited_ = true;               // its pid again; the status is unknown
      status_ = 255 << 8;
      return false;
    }
    return r == 0 || errno == EINTR;
  }

  /// Waits (bounded) for the child to exit, collecting its output. False on timeout.
  bool wait_exit(const deadline& limit = deadline()) {
    for (;;) {
      read_output();
      if (!running()) {
        read_output();
        return true;
      }
      if (limit.expired()) return false;
      poll_output(limit.poll_ms(20));
    }
  }

  /// Kills the child now (SIGKILL) and reaps it; its sockets close without a TLS goodbye.
  void kill_now() {
    if (pid_ < 0 || exited_) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = status;
    exited_ = true;
    read_output();
  }

  bool exited() const { return exited_; }
  /// The exit code, or 128 + signal number, or -1 while it runs.
  int exit_code() const {
    if (!exited_) return -1;
    if (WIFEXITED(status_)) return WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
    return -1;
  }

  /// The command, its state and its output, for failure messages.
  std::string describe() {
    read_output();
    running();
    std::ostringstream s;
    s << "command: " << command_ << "\n";
    if (exited_)
      s << "exit code: " << exit_code() << "\n";
    else
      s << "still running\n";
    s << "--- stdout ---\n" << out << "\n--- stderr ---\n" << err << "\n--------------";
    return s.str();
  }

private:
  void write_queued_stdin() {
    while (stdin_ && !stdin_queue_.empty()) {
      const ssize_t n = ::send(stdin_.get(), stdin_queue_.data(), stdin_queue_.size(),
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        stdin_queue_.erase(0, static_cast<std::size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) close_stdin(); // child gone
        return;
      }
    }
  }

  static void read_from(unique_fd& fd, std::string& into) {
    char buffer[4096];
    while (fd) {
      const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n > 0) {
        into.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0) {
        fd.reset(); // EOF
      } else if (errno == EINTR) {
        continue;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK) fd.reset();
        return;
      }
    }
  }

  void kill_and_reap() {
    if (pid_ < 0) return;
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      status_ = status;
      exited_ = true;
    }
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
  unique_fd stdin_, stdout_, stderr_;
  std::string stdin_queue_; // written to stdin_ as the child reads
  std::string command_;
};

/// Accepts one connection on a non-blocking listening socket, bounded by `limit`. While it
/// waits it collects `child`'s output and fails early (empty fd) if the child exits.
inline unique_fd accept_one(const unique_fd& listener, child_process& child,
                            const deadline& limit = deadline()) {
  for (;;) {
    const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      set_nodelay(fd);
      return unique_fd(fd);
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
      throw std::runtime_error("accept(): " + errno_text(errno));
    if (limit.expired() || !child.running()) return unique_fd();
    std::vector<pollfd> fds{pollfd{listener.get(), POLLIN, 0}};
    child.add_poll_fds(fds);
    ::poll(fds.data(), fds.size(), limit.poll_ms(50));
    child.read_output();
  }
}

/// How the driver moves bytes between the socket and the engine.
struct io_options {
  /// The most bytes per send() call (smaller values force partial output consumption).
  std::size_t send_chunk = std::numeric_limits<std::size_t>::max();
  /// The most bytes per recv() call, i.e. per feed().
  std::size_t recv_chunk = 16 * 1024;
  /// recv() straight into input_window() and commit_input() instead of feed().
  bool zero_copy_input = false;
};

/// Runs a tlsengine::connection over a connected non-blocking socket with DESIGN.md's drain
/// loop, and records what it observed.
class tls_socket {
public:
  tls_socket(tlsengine::connection& connection, unique_fd fd, io_options options = {})
      : conn_(connection), fd_(std::move(fd)), options_(options) {}

  // ---- what the loop observed ----
  std::string received; ///< all cleartext read
  int secure = 0, ends = 0, errors = 0, sessions = 0;
  std::vector<std::uint8_t> last_session;              ///< the data of the last `session` event
  std::optional<tlsengine::events::error> error_event; ///< the first error event
  bool transport_eof = false; ///< recv() returned 0 (or the socket failed, see socket_error)
  int socket_error = 0;
  std::uint64_t sent_bytes = 0, send_calls = 0;

  /// Called after each drain that produced new cleartext (for echo servers).
  std::function<void(tls_socket&)> on_data;
  /// Called for every event, after the counters above saw it (decisions are answered here).
  std::function<void(tls_socket&, const tlsengine::event&)> on_event;

  tlsengine::connection& connection() { return conn_; }
  bool output_pending() { return !conn_.pending_output().empty(); }
  /// Closes our socket (after the test read what it needs).
  void close_socket() { fd_.reset(); }

  /// Drains events then cleartext, in DESIGN.md's order.
  void drain() {
    for (;;) {
      while (auto e = conn_.next_event()) {
        if (std::holds_alternative<tlsengine::events::secure>(*e)) ++secure;
        if (std::holds_alternative<tlsengine::events::end>(*e)) ++ends;
        if (auto* session = std::get_if<tlsengine::events::session>(&*e)) {
          ++sessions;
          last_session = session->data;
        }
        if (auto* error = std::get_if<tlsengine::events::error>(&*e)) {
          ++errors;
          if (!error_event) error_event = *error;
        }
        if (on_event) on_event(*this, *e);
      }
      std::size_t got = 0;
      char buffer[4096];
      while (std::size_t n = conn_.read(tlsengine::mutable_bytes_view(buffer, sizeof buffer))) {
        received.append(buffer, n);
        got += n;
      }
      if (got != 0 && on_data) on_data(*this); // may write(): events may follow
      if (got == 0) return;
    }
  }

  /// Sends pending output until it is empty or the socket would block. Partial sends are
  /// acknowledged with consume_output(n).
  void flush() {
    while (fd_ && !send_failed_) {
      const tlsengine::bytes_view out = conn_.pending_output();
      if (out.empty()) return;
      const std::size_t want = std::min(out.size(), options_.send_chunk);
      const ssize_t n = ::send(fd_.get(), out.data(), want, MSG_NOSIGNAL);
      if (n > 0) {
        conn_.consume_output(static_cast<std::size_t>(n));
        sent_bytes += static_cast<std::size_t>(n);
        ++send_calls;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      // The peer is gone (EPIPE, ECONNRESET): nothing more can be sent.
      send_failed_ = true;
      if (socket_error == 0) socket_error = errno;
    }
  }

  /// One iteration: drain, flush, wait (up to timeout_ms) for the socket or the child's
  /// output, take what arrived, drain, flush.
  void step(int timeout_ms, child_process* child) {
    drain();
    flush();
    feed_backlog();
    std::vector<pollfd> fds;
    short socket_events = 0;
    if (fd_ && !transport_eof && backlog_.empty()) socket_events |= POLLIN;
    if (fd_ && !send_failed_ && output_pending()) socket_events |= POLLOUT;
    if (socket_events != 0) fds.push_back(pollfd{fd_.get(), socket_events, 0});
    if (child != nullptr) child->add_poll_fds(fds);
    // The engine's timer (deadline() / on_timeout()) shortens the wait.
    if (const auto when = conn_.deadline()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*when - tlsengine::clock::now());
      timeout_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, timeout_ms));
    }
    if (!fds.empty()) {
      ::poll(fds.data(), fds.size(), timeout_ms);
    } else if (timeout_ms > 0) {
      ::poll(nullptr, 0, std::min(timeout_ms, 10));
    }
    if (child != nullptr) child->read_output();
    if ((socket_events & POLLIN) != 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
      receive();
    if (const auto when = conn_.deadline()) {
      const auto now = tlsengine::clock::now();
      if (now >= *when) conn_.on_timeout(now);
    }
    drain();
    flush();
  }

  /// Steps until `done()` holds (true) or the deadline passes (false).
  bool run_until(const std::function<bool()>& done, child_process* child,
                 const deadline& limit = deadline()) {
    for (;;) {
      drain();
      flush();
      if (done()) return true;
      if (limit.expired()) return false;
      step(limit.poll_ms(50), child);
    }
  }

  /// The loop's observations, for failure messages.
  std::string describe() const {
    std::ostringstream s;
    s << "received: \"" << received << "\" secure=" << secure << " ends=" << ends
      << " errors=" << errors << " sessions=" << sessions << " transport_eof=" << transport_eof
      << " socket_error=" << socket_error << " sent_bytes=" << sent_bytes
      << " send_calls=" << send_calls << " bytes_received=" << conn_.bytes_received();
    if (error_event)
      s << "\nerror event: " << error_event->code.category().name() << ":"
        << error_event->code.value() << " \"" << error_event->message
        << "\" alert=" << error_event->alert << " alert_sent=" << error_event->alert_sent;
    if (conn_.error()) s << "\nerror(): " << conn_.error_message();
    return s.str();
  }

private:
  void feed_backlog() {
    while (!backlog_.empty()) {
      const std::size_t taken = conn_.feed(tlsengine::bytes_view(backlog_));
      backlog_.erase(0, taken);
      drain();
      if (taken == 0) return; // backpressure: read() more first
    }
  }

  void receive() {
    if (options_.zero_copy_input) {
      const tlsengine::mutable_bytes_view window = conn_.input_window();
      if (!window.empty()) {
        const std::size_t want = std::min(window.size(), options_.recv_chunk);
        const ssize_t n = ::recv(fd_.get(), window.data(), want, 0);
        if (n > 0) {
          conn_.commit_input(static_cast<std::size_t>(n));
          return;
        }
        on_recv_failure(n);
        return;
      }
      // No window (an error, or the input buffer is full): fall back to feed().
    }
    std::vector<char> buffer(std::min<std::size_t>(options_.recv_chunk, 64 * 1024));
    const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
    if (n > 0) {
      backlog_.append(buffer.data(), static_cast<std::size_t>(n));
      feed_backlog();
      return;
    }
    on_recv_failure(n);
  }

  void on_recv_failure(ssize_t n) {
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n < 0) socket_error = errno; // ECONNRESET: the transport ended all the same
    transport_eof = true;
    conn_.feed_eof();
  }

  tlsengine::connection& conn_;
  unique_fd fd_;
  io_options options_;
  std::string backlog_; // received ciphertext feed() did not take yet
  bool send_failed_ = false;
};

} // namespace net
