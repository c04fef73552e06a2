// Helpers shared by tests/test_interop_matrix.cpp and tests/test_examples.cpp: where the
// example binaries and peer scripts are, starting servers that print their port, temporary
// directories, reading the peers' JSON lines, and one echo exchange of our client engine
// over a socket. Built on tests/net_support.hpp; every wait is bounded, and every child
// is killed and reaped when its net::child_process goes out of scope.
#pragma once

#include "../../examples/common/builtin_certs.hpp"
#include "../net_support.hpp"
#include "../support.hpp"

#include "../catch_compat.hpp"
#include <tlsengine/tlsengine.hpp>

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace peers {

/// The test certificates (tools/gen-test-certs.sh) by file name.
inline std::string cert(const std::string& name) { return test::cert_dir() + "/" + name; }

inline std::string script(const std::string& name) {
  return std::string(TLSENGINE_SOURCE_DIR) + "/tests/interop/" + name;
}

/// <build>/examples/NAME, found from this executable (<build>/tests/tlsengine_tests), or
/// under $TLSENGINE_EXAMPLES_DIR. A missing example fails the test: it never skips.
inline std::string example(const std::string& name) {
  std::string dir;
  if (const char* env = std::getenv("TLSENGINE_EXAMPLES_DIR")) {
    dir = env;
  } else {
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    REQUIRE(n > 0);
    std::string exe(self, static_cast<std::size_t>(n));
    exe.resize(exe.rfind('/')); // <build>/tests
    dir = exe.substr(0, exe.rfind('/')) + "/examples";
  }
  const std::string path = dir + "/" + name;
  INFO("example " << name << " is not built at " << path
                  << " (configure with -DTLSENGINE_BUILD_EXAMPLES=ON; the Asio examples need "
                     "libasio-dev; tools/ci/examples.sh installs every peer)");
  REQUIRE(::access(path.c_str(), X_OK) == 0);
  return path;
}

/// A unique temporary directory, removed with everything in it at the end.
class temp_dir {
public:
  temp_dir() {
    char name[] = "/tmp/tlsengine-examples-XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp: " + net::errno_text(errno));
    path_ = name;
  }
  ~temp_dir() {
    ::nftw(
        path_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) {
          ::remove(p); // best effort: a leftover file must not fail the test
          return 0;
        },
        16, FTW_DEPTH | FTW_PHYS);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream out(file(name), std::ios::binary);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + file(name));
    return file(name);
  }

private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A server child that printed the port it listens on.
struct running_server {
  net::child_process child;
  std::uint16_t port = 0;
};

/// Waits (bounded) until `pattern` matches the child's stdout; returns the first group.
inline std::string wait_for_line(net::child_process& child, const std::regex& pattern,
                                 const std::string& what,
                                 std::chrono::seconds limit = std::chrono::seconds(20)) {
  const net::deadline until(limit);
  std::smatch m;
  for (;;) {
    child.read_output();
    if (std::regex_search(child.out, m, pattern)) return m[1].str();
    if (!child.running()) {
      child.wait_exit(net::deadline(std::chrono::seconds(2)));
      FAIL(what << ": the process exited first\n" << child.describe());
    }
    if (until.expired())
      FAIL(what << ": not within " << limit.count() << " s\n" << child.describe());
    child.poll_output(until.poll_ms(50));
  }
}

/// Starts an example server on a port of the kernel's choice ("--port 0") and reads the
/// port from its "listening on HOST:PORT" line.
inline running_server start_example_server(const std::string& name,
                                           std::vector<std::string> args = {}) {
  std::vector<std::string> argv{example(name), "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  running_server s;
  s.child = net::child_process::spawn(argv);
  const std::string port =
      wait_for_line(s.child, std::regex(R"(listening on [^ ]*:([0-9]+))"), name + " listening");
  s.port = static_cast<std::uint16_t>(std::stoi(port));
  return s;
}

/// Starts a peer script in server mode; it prints {"event":"listening","port":N}.
inline running_server start_script_server(std::vector<std::string> argv) {
  running_server s;
  s.child = net::child_process::spawn(argv);
  const std::string port = wait_for_line(
      s.child, std::regex(R"re("event": ?"listening", ?"port": ?([0-9]+))re"), argv[1]);
  s.port = static_cast<std::uint16_t>(std::stoi(port));
  return s;
}

/// Runs a child to its exit (bounded); fails the test when it does not exit in time.
inline net::child_process run(const std::vector<std::string>& argv, const std::string& input = "",
                              std::chrono::seconds limit = std::chrono::seconds(30)) {
  net::child_process child = net::child_process::spawn(argv);
  const net::deadline until(limit);
  // stdin is written as the child reads it while its output is collected (an echo client
  // stops reading stdin while its stdout is full), then closed: EOF, nothing more to send.
  child.queue_stdin(input);
  while (child.queued_stdin() != 0 && child.running() && !until.expired())
    child.poll_output(until.poll_ms(50));
  child.close_stdin();
  const bool exited = child.wait_exit(until);
  INFO(child.describe());
  REQUIRE(exited);
  return child;
}

/// The JSON lines of a peer script whose "event" is `event`.
inline std::vector<std::string> json_events(const std::string& output, const std::string& event) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  const std::regex match("\"event\": ?\"" + event + "\"");
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, match)) lines.push_back(line);
  return lines;
}

/// A field of a flat JSON object line as text: "TLSv1.3", "true", "0".
inline std::string json_field(const std::string& line, const std::string& key) {
  std::smatch m;
  const std::regex quoted("\"" + key + "\": ?\"((?:[^\"\\\\]|\\\\.)*)\"");
  if (std::regex_search(line, m, quoted)) return m[1].str();
  const std::regex bare("\"" + key + "\": ?([a-z0-9.]+)");
  if (std::regex_search(line, m, bare)) return m[1].str();
  return "<missing " + key + ">";
}

/// Our client engine over a socket to 127.0.0.1:port: sends `message`, waits for it to
/// come back (after whatever greeting), then close_notify both ways.
struct exchange {
  tlsengine::connection conn;
  std::vector<std::uint8_t> session; ///< the last `session` event
  std::string received;
};

inline exchange echo_exchange(std::uint16_t port, const tlsengine::client_options& options,
                              const std::string& message, net::child_process* peer,
                              bool expect_close_notify = true) {
  int error = 0;
  net::unique_fd fd = net::try_connect(port, net::deadline(), error);
  INFO("connect 127.0.0.1:" << port << ": " << net::errno_text(error)
                            << (peer ? "\n" + peer->describe() : ""));
  REQUIRE(fd);
  auto client = tlsengine::connection::client(options);
  REQUIRE(client);
  exchange result;
  result.conn = std::move(*client);
  net::tls_socket s(result.conn, std::move(fd));
  REQUIRE(result.conn.write(message) == message.size());
  const bool echoed = s.run_until(
      [&] {
        return s.errors != 0 || s.transport_eof || s.received.find(message) != std::string::npos;
      },
      peer);
  INFO(s.describe() << (peer ? "\n" + peer->describe() : ""));
  REQUIRE(echoed);
  REQUIRE(s.errors == 0);
  result.conn.end();
  const bool closed =
      s.run_until([&] { return s.errors != 0 || (s.transport_eof && !s.output_pending()); }, peer);
  INFO("after end(): " << s.describe());
  REQUIRE(closed);
  if (expect_close_notify) {
    CHECK(s.errors == 0);
    CHECK(s.ends == 1);
  }
  result.session = s.last_session;
  result.received = s.received;
  return result;
}

/// Client options trusting the built-in demo CA (what example servers run on by default).
inline tlsengine::client_options builtin_client_options() {
  tlsengine::client_options o;
  o.ca = {tlsengine_examples::builtin_ca_pem};
  o.servername = "localhost";
  return o;
}

/// Client options trusting the test CA, presenting the test client certificate.
inline tlsengine::client_options test_client_options(const std::string& version = "") {
  tlsengine::client_options o = test::client_opts();
  o.cert = {test::load("client-chain.pem")};
  o.key = {test::load("client.key")};
  if (!version.empty()) {
    o.min_version = version;
    o.max_version = version;
  }
  return o;
}

} // namespace peers
