// Interop of tlsengine's handshake features with real peers over loopback TCP:
//   Node.js tls (tests/interop/node/features_server.js and features_client.js): ALPN, SNI
//   (server::add_context, Node's addContext), mutual TLS, and session resumption, with our
//   engine as client and as server;
//   openssl s_client -status / s_server -status_file: OCSP stapling both ways (the
//   ocsp_request decision on our server, request_ocsp and the ocsp_response event on our
//   client).
// The engine runs DESIGN.md's drain loop over a non-blocking socket (a driver that records
// every event, so decision events can be answered). Every wait is bounded by one deadline
// per test; every child process (node, openssl) is killed and reaped by its destructor,
// whatever happened. A missing node or openssl fails the test: it never skips.
#include "net_support.hpp"
#include "support.hpp"

#include "catch_compat.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>
#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#ifndef TLSENGINE_SOURCE_DIR
#error "TLSENGINE_SOURCE_DIR (the repository root) must be defined: the Node scripts live there"
#endif

using namespace tlsengine;

namespace {

// ---- files -----------------------------------------------------------------------------------

std::string cert_path(const std::string& name) { return test::cert_dir() + "/" + name; }

std::string node_script(const std::string& name) {
  return std::string(TLSENGINE_SOURCE_DIR) + "/tests/interop/node/" + name;
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

std::vector<std::uint8_t> file_bytes(const std::string& name) {
  const std::string text = test::load(name);
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

/// The DER of the first certificate of a PEM file, decoded with OpenSSL directly (not with
/// the engine's certificate_info, so that the check stays independent).
std::vector<std::uint8_t> der_of_pem(const std::string& name) {
  const std::string pem = test::load(name);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  std::vector<std::uint8_t> der;
  const int n = cert ? i2d_X509(cert, nullptr) : 0;
  if (n > 0) {
    der.resize(static_cast<std::size_t>(n));
    unsigned char* p = der.data();
    i2d_X509(cert, &p);
  }
  X509_free(cert);
  BIO_free(bio);
  return der;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items)
    out += (out.size() > 1 ? "," : "") + json_string(item);
  return out + "]";
}

std::string to_upper(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// True when `text` has `line` as a whole line.
bool has_line(const std::string& text, const std::string& line) {
  for (std::size_t at = text.find(line); at != std::string::npos; at = text.find(line, at + 1)) {
    const bool starts = at == 0 || text[at - 1] == '\n';
    const std::size_t end = at + line.size();
    const bool ends = end == text.size() || text[end] == '\n';
    if (starts && ends) return true;
  }
  return false;
}

/// Polls the child's output until `line` appears as a whole line on its stdout (true), or
/// the child exits without printing it, or the deadline passes (false).
bool wait_for_line(net::child_process& child, const std::string& line, const net::deadline& limit) {
  for (;;) {
    child.read_output();
    if (has_line(child.out, line)) return true;
    if (!child.running()) {
      child.read_output();
      return has_line(child.out, line);
    }
    if (limit.expired()) return false;
    child.poll_output(limit.poll_ms(50));
  }
}

// ---- a drain-loop driver that keeps every event ------------------------------------------------

/// Runs a connection over a connected non-blocking socket with DESIGN.md's drain loop, like
/// net::tls_socket, but records every event (and passes each one to `on_event`, which may
/// answer a decision) so that tests can look at ocsp_request, ocsp_response and session.
class event_socket {
public:
  event_socket(connection& conn, net::unique_fd fd) : conn_(conn), fd_(std::move(fd)) {}

  std::vector<event> events;
  std::string received;
  int secure = 0, ends = 0, errors = 0, sessions = 0;
  std::vector<std::uint8_t> last_session;
  std::optional<events::error> error_event;
  bool transport_eof = false;
  bool send_failed = false;
  int socket_error = 0;

  /// Called for each event as it is drained (a decision may be answered here).
  std::function<void(connection&, const event&)> on_event;
  /// Called after a drain that produced new cleartext.
  std::function<void(event_socket&)> on_data;

  connection& conn() { return conn_; }
  bool output_pending() { return !conn_.pending_output().empty(); }
  void close_socket() { fd_.reset(); }
  /// The transport is over: EOF seen and our output flushed (or unsendable).
  bool finished() { return transport_eof && (send_failed || !output_pending()); }

  template <class E> const E* find() const {
    for (const event& e : events)
      if (const E* found = std::get_if<E>(&e)) return found;
    return nullptr;
  }
  template <class E> int count() const {
    int n = 0;
    for (const event& e : events)
      n += std::holds_alternative<E>(e) ? 1 : 0;
    return n;
  }

  void drain() {
    for (;;) {
      while (auto e = conn_.next_event()) {
        if (std::holds_alternative<events::secure>(*e)) ++secure;
        if (std::holds_alternative<events::end>(*e)) ++ends;
        if (auto* s = std::get_if<events::session>(&*e)) {
          ++sessions;
          last_session = s->data;
        }
        if (auto* err = std::get_if<events::error>(&*e)) {
          ++errors;
          if (!error_event) error_event = *err;
        }
        events.push_back(*e);
        if (on_event) on_event(conn_, events.back());
      }
      std::size_t got = 0;
      char buffer[4096];
      while (std::size_t n = conn_.read(mutable_bytes_view(buffer, sizeof buffer))) {
        received.append(buffer, n);
        got += n;
      }
      if (got != 0 && on_data) on_data(*this);
      if (got == 0) return;
    }
  }

  void flush() {
    while (fd_ && !send_failed) {
      const bytes_view out = conn_.pending_output();
      if (out.empty()) return;
      const ssize_t n = ::send(fd_.get(), out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        conn_.consume_output(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      send_failed = true;
      if (socket_error == 0) socket_error = errno;
    }
  }

  void step(int timeout_ms, net::child_process* child) {
    drain();
    flush();
    feed_backlog();
    std::vector<pollfd> fds;
    short socket_events = 0;
    if (fd_ && !transport_eof && backlog_.empty()) socket_events |= POLLIN;
    if (fd_ && !send_failed && output_pending()) socket_events |= POLLOUT;
    if (socket_events != 0) fds.push_back(pollfd{fd_.get(), socket_events, 0});
    if (child != nullptr) child->add_poll_fds(fds);
    if (const auto when = conn_.deadline()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*when - clock::now());
      timeout_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, timeout_ms));
    }
    if (!fds.empty())
      ::poll(fds.data(), fds.size(), timeout_ms);
    else if (timeout_ms > 0)
      ::poll(nullptr, 0, std::min(timeout_ms, 10));
    if (child != nullptr) child->read_output();
    if ((socket_events & POLLIN) != 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
      receive();
    if (const auto when = conn_.deadline()) {
      const auto now = clock::now();
      if (now >= *when) conn_.on_timeout(now);
    }
    drain();
    flush();
  }

  bool run_until(const std::function<bool()>& done, net::child_process* child,
                 const net::deadline& limit) {
    for (;;) {
      drain();
      flush();
      if (done()) return true;
      if (limit.expired()) return false;
      step(limit.poll_ms(50), child);
    }
  }

  std::string describe() const {
    std::ostringstream s;
    s << "received: \"" << received << "\" secure=" << secure << " ends=" << ends
      << " errors=" << errors << " sessions=" << sessions << " events=" << events.size()
      << " transport_eof=" << transport_eof << " socket_error=" << socket_error;
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
      const std::size_t taken = conn_.feed(bytes_view(backlog_));
      backlog_.erase(0, taken);
      drain();
      if (taken == 0) return;
    }
  }

  void receive() {
    char buffer[16 * 1024];
    const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      backlog_.append(buffer, static_cast<std::size_t>(n));
      feed_backlog();
      return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n < 0) socket_error = errno;
    transport_eof = true;
    conn_.feed_eof();
  }

  connection& conn_;
  net::unique_fd fd_;
  std::string backlog_;
};

/// Echoes every byte received, uppercased (what features_client.js expects of our server).
void upper_echo(event_socket& s, std::size_t& done) {
  const std::string answer = to_upper(s.received.substr(done));
  done = s.received.size();
  REQUIRE(s.conn().write(answer) == answer.size());
}

// ---- Node.js peers ---------------------------------------------------------------------------

/// features_server.js, listening on a port it chose and printed.
struct node_server {
  net::child_process child;
  std::uint16_t port = 0;

  /// Starts it with `config` (JSON members, without the braces; "dir" is added) and waits
  /// (bounded) for its "listening=PORT" line.
  static node_server start(const std::string& config, const net::deadline& limit) {
    const std::string script = node_script("features_server.js");
    INFO("script: " << script);
    REQUIRE(file_exists(script));
    node_server server;
    std::string json = "{\"dir\":" + json_string(test::cert_dir());
    if (!config.empty()) json += "," + config;
    json += "}";
    server.child = net::child_process::spawn({"node", script, json});
    for (;;) {
      server.child.read_output();
      const std::size_t at = server.child.out.find("listening=");
      const std::size_t nl = at == std::string::npos ? at : server.child.out.find('\n', at);
      if (nl != std::string::npos) {
        server.port = static_cast<std::uint16_t>(std::stoi(server.child.out.substr(at + 10)));
        return server;
      }
      if (!server.child.running())
        FAIL("node server exited before listening\n" << server.child.describe());
      if (limit.expired()) FAIL("node server did not listen in time\n" << server.child.describe());
      server.child.poll_output(limit.poll_ms(50));
    }
  }

  net::unique_fd connect(const net::deadline& limit) {
    int error = 0;
    net::unique_fd fd = net::try_connect(port, limit, error);
    if (!fd)
      FAIL("connect(127.0.0.1:" << port << "): " << net::errno_text(error) << "\n"
                                << child.describe());
    return fd;
  }
};

/// Starts features_client.js with `config` (JSON members without the braces; "dir" and
/// "port" are added).
net::child_process start_node_client(std::uint16_t port, const std::string& config) {
  const std::string script = node_script("features_client.js");
  INFO("script: " << script);
  REQUIRE(file_exists(script));
  std::string json =
      "{\"dir\":" + json_string(test::cert_dir()) + ",\"port\":" + std::to_string(port);
  if (!config.empty()) json += "," + config;
  json += "}";
  return net::child_process::spawn({"node", script, json});
}

/// What our client saw in one exchange with an echoing server.
struct client_run {
  connection conn;
  std::vector<event> events;
  std::vector<std::uint8_t> last_session;
  int sessions = 0;
};

/// One connection of our client over `fd`: writes "hello\n", waits for the uppercased echo
/// (and, if `want_session`, for a `session` event: TLS 1.3 tickets follow the handshake),
/// then closes cleanly (close_notify both ways, then the peer's FIN).
client_run client_exchange(const client_options& co, net::unique_fd fd, net::child_process& peer,
                           bool want_session, const net::deadline& limit) {
  auto created = connection::client(co);
  REQUIRE(created);
  client_run run;
  run.conn = std::move(*created);
  event_socket s(run.conn, std::move(fd));
  REQUIRE(run.conn.write("hello\n") == 6);
  const bool echoed = s.run_until(
      [&] {
        return s.errors != 0 || s.transport_eof ||
               (s.received == "HELLO\n" && (!want_session || s.sessions != 0));
      },
      &peer, limit);
  {
    INFO(s.describe() << "\n" << peer.describe());
    REQUIRE(echoed);
    REQUIRE(s.errors == 0);
    REQUIRE(s.received == "HELLO\n");
  }
  run.conn.end();
  const bool closed = s.run_until([&] { return s.errors != 0 || s.finished(); }, &peer, limit);
  INFO("after end(): " << s.describe() << "\n" << peer.describe());
  REQUIRE(closed);
  CHECK(s.errors == 0);
  CHECK(s.ends == 1);
  CHECK(s.secure == 1);
  run.events = s.events;
  run.last_session = s.last_session;
  run.sessions = s.sessions;
  return run;
}

/// What our server saw of one connection.
struct server_run {
  connection conn;
  std::vector<event> events;
  std::string received;
  int secure = 0, errors = 0;
  std::optional<events::error> error_event;
};

/// Accepts the next connection of `peer` on `listener` into srv.accept(), echoes what
/// arrives uppercased, and runs until the transport is over (or a fatal error was flushed).
server_run serve_one(const server& srv, const net::unique_fd& listener, net::child_process& peer,
                     const net::deadline& limit) {
  net::unique_fd fd = net::accept_one(listener, peer, limit);
  if (!fd) FAIL("the peer did not connect\n" << peer.describe());
  server_run run;
  run.conn = srv.accept();
  event_socket s(run.conn, std::move(fd));
  std::size_t echoed = 0;
  s.on_data = [&](event_socket& sock) { upper_echo(sock, echoed); };
  const bool over = s.run_until(
      [&] { return s.finished() || (s.errors != 0 && (s.send_failed || !s.output_pending())); },
      &peer, limit);
  INFO(s.describe() << "\n" << peer.describe());
  REQUIRE(over);
  s.close_socket();
  run.events = s.events;
  run.received = s.received;
  run.secure = s.secure;
  run.errors = s.errors;
  run.error_event = s.error_event;
  return run;
}

std::string version_json(const std::string& version) {
  return "\"maxVersion\":" + json_string(version);
}

client_options client_for(const std::string& version) {
  client_options co = test::client_opts();
  co.min_version = version;
  co.max_version = version;
  return co;
}

// ---- openssl s_server ------------------------------------------------------------------------

struct running_s_server {
  net::child_process child;
  net::unique_fd socket;
  std::uint16_t port = 0;
};

/// `openssl s_server -accept 127.0.0.1:PORT <args>` on a free port, connected to. After its
/// "ACCEPT" line connect() is retried (bounded) until it succeeds; a port someone else took
/// first ("in use") restarts it on another port.
running_s_server start_s_server(const std::vector<std::string>& args, const net::deadline& limit) {
  std::string last_failure;
  for (int attempt = 0; attempt < 5; ++attempt) {
    running_s_server run;
    run.port = net::pick_free_port();
    std::vector<std::string> argv{"openssl", "s_server", "-accept",
                                  "127.0.0.1:" + std::to_string(run.port)};
    argv.insert(argv.end(), args.begin(), args.end());
    run.child = net::child_process::spawn(argv);
    while (run.child.running()) {
      if (limit.expired()) FAIL("s_server did not accept in time\n" << run.child.describe());
      if (run.child.out.find("ACCEPT") != std::string::npos) {
        int error = 0;
        run.socket = net::try_connect(run.port, limit, error);
        if (run.socket) return run;
        if (error != ECONNREFUSED)
          FAIL("connect(127.0.0.1:" << run.port << "): " << net::errno_text(error) << "\n"
                                    << run.child.describe());
      }
      run.child.poll_output(limit.poll_ms(20));
    }
    run.child.wait_exit(limit);
    last_failure = run.child.describe();
    if (last_failure.find("in use") == std::string::npos)
      FAIL("s_server exited before accepting\n" << last_failure);
  }
  FAIL("no free port for s_server after 5 attempts\n" << last_failure);
  return {};
}

std::string version_flag(const std::string& version) {
  return version == "TLSv1.3" ? "-tls1_3" : "-tls1_2";
}

} // namespace

// ============================================================================================
// ALPN
// ============================================================================================

TEST_CASE("interop features: ALPN, our client against a Node server", "[interop][node]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  node_server node = node_server::start(
      "\"alpn\":" + json_list({"http/1.1"}) + "," + version_json(version), limit);

  client_options co = client_for(version);
  co.alpn_protocols = {"h2", "http/1.1"};
  client_run run = client_exchange(co, node.connect(limit), node.child, false, limit);
  CHECK(run.conn.alpn_protocol() == "http/1.1");
  CHECK(run.conn.protocol() == version);
  INFO(node.child.describe());
  CHECK(wait_for_line(node.child, "1.alpnProtocol=http/1.1", limit));
}

TEST_CASE("interop features: ALPN, a Node client against our server", "[interop][node]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  server_options so = test::server_opts();
  so.alpn_protocols = {"echo"};
  auto srv = server::create(so);
  REQUIRE(srv);

  net::child_process node =
      start_node_client(port, "\"alpn\":" + json_list({"x", "echo"}) + "," + version_json(version));
  server_run run = serve_one(*srv, listener, node, limit);
  const bool exited = node.wait_exit(limit);
  INFO(node.describe());
  REQUIRE(exited);
  CHECK(run.errors == 0);
  CHECK(run.received == "ping 1\n");
  CHECK(run.conn.alpn_protocol() == "echo");
  CHECK(run.conn.protocol() == version);
  CHECK(node.exit_code() == 0);
  CHECK(has_line(node.out, "1.alpnProtocol=echo"));
  CHECK(has_line(node.out, "1.echo=PING 1"));
}

TEST_CASE("interop features: ALPN without overlap, a Node client gets no_application_protocol",
          "[interop][node]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  server_options so = test::server_opts();
  so.alpn_protocols = {"echo"};
  auto srv = server::create(so);
  REQUIRE(srv);

  net::child_process node =
      start_node_client(port, "\"alpn\":" + json_list({"x", "y"}) + "," + version_json(version));
  server_run run = serve_one(*srv, listener, node, limit);
  const bool exited = node.wait_exit(limit);
  INFO(node.describe());
  REQUIRE(exited);
  // Our server refused with a fatal no_application_protocol alert (RFC 7301 3.2).
  CHECK(run.secure == 0);
  REQUIRE(run.errors == 1);
  REQUIRE(run.error_event);
  CHECK(run.error_event->alert == SSL_AD_NO_APPLICATION_PROTOCOL);
  CHECK(run.error_event->alert_sent);
  CHECK_FALSE(run.conn.is_secure());
  CHECK(run.conn.alpn_protocol().empty());
  // Node reports the alert it received.
  CHECK(node.exit_code() == 1);
  CHECK(has_line(node.out, "1.error.code=ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL"));
  CHECK(node.out.find("no application protocol") != std::string::npos);
  CHECK(node.out.find("1.alpnProtocol=") == std::string::npos); // never secure
}

// ============================================================================================
// SNI
// ============================================================================================

namespace {
/// One SNI setup of our server: its default certificate, one add_context entry, the name the
/// Node client sends and the CN it must get.
struct sni_case {
  std::string default_leaf, context_name, context_leaf, client_sni, expected_cn;
};
} // namespace

TEST_CASE("interop features: SNI, a Node client picks our server's add_context certificate",
          "[interop][node]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const sni_case sni = GENERATE(
      // The brief's setup: default server-rsa (localhost), wrong.example's context added.
      sni_case{"server-rsa", "wrong.example", "wronghost", "wrong.example", "wrong.example"},
      sni_case{"server-rsa", "wrong.example", "wronghost", "localhost", "localhost"},
      // Mixed key types: an ECDSA default and an RSA context. The switch must replace the
      // certificate set, not add to it (Node's own addContext keeps the default ECDSA
      // certificate beside the RSA one, and TLS 1.3 then picks the ECDSA one).
      sni_case{"wronghost", "localhost", "server-rsa", "localhost", "localhost"});
  CAPTURE(version, sni.default_leaf, sni.context_leaf, sni.client_sni);
  const net::deadline limit;
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto srv = server::create(test::server_opts(sni.default_leaf));
  REQUIRE(srv);
  context_options added;
  added.cert = {test::load(sni.context_leaf + "-chain.pem")};
  added.key = {test::load(sni.context_leaf + ".key")};
  REQUIRE_FALSE(srv->add_context(sni.context_name, added));

  net::child_process node = start_node_client(
      port, "\"servername\":" + json_string(sni.client_sni) + "," + version_json(version));
  server_run run = serve_one(*srv, listener, node, limit);
  const bool exited = node.wait_exit(limit);
  INFO(node.describe());
  REQUIRE(exited);
  CHECK(run.errors == 0);
  CHECK(run.conn.servername() == sni.client_sni);
  CHECK(run.conn.certificate().subject.get("CN") == sni.expected_cn);
  CHECK(node.exit_code() == 0);
  CHECK(has_line(node.out, "1.peerCN=" + sni.expected_cn));
  CHECK(has_line(node.out, "1.authorized=true")); // chain and host name verified by Node
  CHECK(has_line(node.out, "1.echo=PING 1"));
}

TEST_CASE("interop features: SNI, our client against a Node server with addContext",
          "[interop][node]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  // Node's default certificate is wrong.example's; only SNI "localhost" gets server-ecdsa.
  // (Both ECDSA: Node's addContext adds the context's certificate to the connection's set
  // rather than replacing it, so with an RSA context TLS 1.3 would still pick the default
  // ECDSA certificate, whatever the client.)
  node_server node = node_server::start(
      "\"leaf\":\"wronghost\",\"sni\":{\"localhost\":\"server-ecdsa\"}," + version_json(version),
      limit);

  client_options co = client_for(version);
  co.servername = "localhost";
  client_run run = client_exchange(co, node.connect(limit), node.child, false, limit);
  CHECK(run.conn.servername() == "localhost");
  CHECK(run.conn.authorized());
  CHECK(run.conn.peer_certificate().subject.get("CN") == "localhost");
  CHECK(run.conn.peer_certificate().subject.get("O") == "tlsengine");
  INFO(node.child.describe());
  CHECK(wait_for_line(node.child, "1.servername=localhost", limit));
}

// ============================================================================================
// Mutual TLS
// ============================================================================================

TEST_CASE("interop features: mutual TLS, a Node client certificate to our server",
          "[interop][node]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  server_options so = test::server_opts();
  so.request_cert = true;
  so.ca = {test::load("ca.pem")};
  auto srv = server::create(so);
  REQUIRE(srv);

  net::child_process node =
      start_node_client(port, "\"clientCert\":\"client\"," + version_json(version));
  server_run run = serve_one(*srv, listener, node, limit);
  const bool exited = node.wait_exit(limit);
  INFO(node.describe());
  REQUIRE(exited);
  CHECK(run.errors == 0);
  CHECK(run.secure == 1);
  CHECK(run.conn.authorized());
  CHECK(run.conn.authorization_error().empty());
  CHECK(run.conn.peer_certificate().subject.get("CN") == "tlsengine client");
  CHECK(node.exit_code() == 0);
  CHECK(has_line(node.out, "1.authorized=true"));
  CHECK(has_line(node.out, "1.echo=PING 1"));
}

TEST_CASE("interop features: mutual TLS, our client certificate to a Node server",
          "[interop][node]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  node_server node = node_server::start("\"requestCert\":true," + version_json(version), limit);

  client_options co = client_for(version);
  co.cert = {test::load("client-chain.pem")};
  co.key = {test::load("client.key")};
  client_run run = client_exchange(co, node.connect(limit), node.child, false, limit);
  CHECK(run.conn.authorized());
  CHECK(run.conn.certificate().subject.get("CN") == "tlsengine client");
  INFO(node.child.describe());
  CHECK(wait_for_line(node.child, "1.authorized=true", limit)); // requestCert + rejectUnauthorized
  CHECK(has_line(node.child.out, "1.peerCN=tlsengine client"));
}

// ============================================================================================
// Session resumption
// ============================================================================================

TEST_CASE("interop features: our client resumes a session with a Node server", "[interop][node]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  node_server node = node_server::start(version_json(version), limit);

  client_options co = client_for(version);
  client_run first = client_exchange(co, node.connect(limit), node.child, true, limit);
  CHECK_FALSE(first.conn.is_session_reused());
  REQUIRE(first.sessions >= 1);
  REQUIRE_FALSE(first.last_session.empty());

  co.session = first.last_session;
  client_run second = client_exchange(co, node.connect(limit), node.child, false, limit);
  CHECK(second.conn.is_session_reused());
  CHECK(second.conn.protocol() == version);
  CHECK(second.conn.authorized());
  INFO(node.child.describe());
  CHECK(wait_for_line(node.child, "2.reused=true", limit));
  CHECK(has_line(node.child.out, "1.reused=false"));
}

TEST_CASE("interop features: a Node client resumes a session with our server", "[interop][node]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto srv = server::create(test::server_opts());
  REQUIRE(srv);

  net::child_process node = start_node_client(port, "\"resume\":true," + version_json(version));
  server_run first = serve_one(*srv, listener, node, limit);
  server_run second = serve_one(*srv, listener, node, limit);
  const bool exited = node.wait_exit(limit);
  INFO(node.describe());
  REQUIRE(exited);
  CHECK(first.errors == 0);
  CHECK(second.errors == 0);
  CHECK_FALSE(first.conn.is_session_reused());
  CHECK(second.conn.is_session_reused());
  CHECK(second.conn.protocol() == version);
  CHECK(node.exit_code() == 0);
  CHECK(has_line(node.out, "1.reused=false"));
  CHECK(has_line(node.out, "1.session=received"));
  CHECK(has_line(node.out, "2.reused=true"));
  CHECK(has_line(node.out, "2.protocol=" + version));
  CHECK(has_line(node.out, "done"));
}

// ============================================================================================
// OCSP stapling with openssl
// ============================================================================================

TEST_CASE("interop features: openssl s_client -status gets our ocsp_request answer",
          "[interop][openssl]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  const std::vector<std::uint8_t> staple = file_bytes("ocsp-server-rsa.der");
  const std::vector<std::uint8_t> leaf_der = der_of_pem("server-rsa.pem");
  const std::vector<std::uint8_t> issuer_der = der_of_pem("intermediate.pem");
  REQUIRE_FALSE(staple.empty());
  REQUIRE_FALSE(leaf_der.empty());
  REQUIRE_FALSE(issuer_der.empty());

  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  server_options so = test::server_opts("server-rsa");
  so.pause_on_ocsp_request = true;
  auto srv = server::create(so);
  REQUIRE(srv);

  // Without -quiet: s_client prints the OCSP response to stdout (-quiet discards it).
  net::child_process client = net::child_process::spawn(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
       "localhost", "-CAfile", cert_path("ca.pem"), "-verify_return_error", "-verify_hostname",
       "localhost", "-status", version_flag(version)});
  net::unique_fd fd = net::accept_one(listener, client, limit);
  if (!fd) FAIL("s_client did not connect\n" << client.describe());
  connection conn = srv->accept();
  event_socket s(conn, std::move(fd));
  int requests = 0;
  bool certificate_matches = false, issuer_matches = false;
  std::error_code answer = make_error_code(errc::invalid_state);
  s.on_event = [&](connection& c, const event& e) {
    if (const auto* request = std::get_if<events::ocsp_request>(&e)) {
      ++requests;
      certificate_matches = request->certificate == leaf_der;
      issuer_matches = request->issuer == issuer_der;
      answer = c.set_ocsp_response(bytes_view(staple));
    }
  };

  const bool secured =
      s.run_until([&] { return s.errors != 0 || s.transport_eof || s.secure; }, &client, limit);
  {
    INFO(s.describe() << "\n" << client.describe());
    REQUIRE(secured);
    REQUIRE(s.errors == 0);
    REQUIRE(s.secure == 1);
  }
  CHECK(requests == 1);
  CHECK(certificate_matches);
  CHECK(issuer_matches);
  CHECK_FALSE(answer);
  // Our close_notify, then our FIN: s_client exits, its output complete.
  conn.end();
  const bool closed = s.run_until([&] { return s.errors != 0 || s.finished(); }, &client, limit);
  s.close_socket();
  const bool exited = client.wait_exit(limit);
  INFO(s.describe() << "\n" << client.describe());
  CHECK(closed);
  CHECK(exited);
  CHECK(s.errors == 0);
  CHECK(client.out.find("OCSP Response Status: successful") != std::string::npos);
  CHECK(client.out.find("Cert Status: good") != std::string::npos);
  CHECK(client.out.find("Verify return code: 0 (ok)") != std::string::npos);
  CHECK(client.exit_code() == 0);
}

TEST_CASE("interop features: our client with request_ocsp against openssl s_server -status_file",
          "[interop][openssl]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const net::deadline limit;
  const std::vector<std::uint8_t> staple = file_bytes("ocsp-server-rsa.der");
  REQUIRE_FALSE(staple.empty());

  running_s_server server =
      start_s_server({"-cert", cert_path("server-rsa.pem"), "-key", cert_path("server-rsa.key"),
                      "-cert_chain", cert_path("intermediate.pem"), "-status_file",
                      cert_path("ocsp-server-rsa.der"), "-rev", version_flag(version)},
                     limit);

  client_options co = client_for(version);
  co.request_ocsp = true;
  auto created = connection::client(co);
  REQUIRE(created);
  connection conn = std::move(*created);
  event_socket s(conn, std::move(server.socket));
  REQUIRE(conn.write("hello ocsp\n") == 11);
  const bool echoed =
      s.run_until([&] { return s.errors != 0 || s.transport_eof || s.received == "psco olleh\n"; },
                  &server.child, limit);
  {
    INFO(s.describe() << "\n" << server.child.describe());
    REQUIRE(echoed);
    REQUIRE(s.errors == 0);
  }
  CHECK(conn.authorized());
  CHECK(conn.protocol() == version);
  CHECK(s.count<events::ocsp_response>() == 1);
  const auto* stapled = s.find<events::ocsp_response>();
  REQUIRE(stapled);
  CHECK(stapled->response.size() == staple.size());
  CHECK(stapled->response == staple);

  conn.end();
  const bool closed =
      s.run_until([&] { return s.errors != 0 || s.finished(); }, &server.child, limit);
  INFO("after end(): " << s.describe() << "\n" << server.child.describe());
  CHECK(closed);
  CHECK(s.errors == 0);
}
