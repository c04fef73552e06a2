// asio_client: a TLS client on Asio with completion handlers (C++17) and
// tlsengine::asio::stream. It sends --message to an echo server and waits for it to come
// back, or with --http PATH sends an HTTP/1.1 GET and reads the response to the end;
// what it received goes to stdout, status lines to stderr. The whole exchange is
// bounded by --timeout.
#include <asio.hpp>
#include <tlsengine/asio.hpp>
#include <tlsengine/tlsengine.hpp>

#include "../common/cli.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

using namespace tlsengine_examples;
using asio::ip::tcp;

namespace {

class client : public std::enable_shared_from_this<client> {
public:
  client(asio::io_context& io, tlsengine::connection connection, std::string request, bool http,
         std::string expect)
      : io_(io), resolver_(io), timer_(io), tls_(tcp::socket(io), std::move(connection)),
        request_(std::move(request)), http_(http), expect_(std::move(expect)) {
    tls_.set_event_handler([](const tlsengine::event& e) { keylog().write(e); });
  }

  void start(const std::string& host, int port, int timeout_ms) {
    timer_.expires_after(std::chrono::milliseconds(timeout_ms));
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec) return; // cancelled: we finished in time
      self->fail("timed out");
    });
    resolver_.async_resolve(
        host, std::to_string(port),
        [self = shared_from_this()](std::error_code ec, const tcp::resolver::results_type& r) {
          if (ec) return self->fail("resolve: " + ec.message());
          self->connect(r);
        });
  }

  int status() const { return status_; }

private:
  void connect(const tcp::resolver::results_type& endpoints) {
    asio::async_connect(tls_.next_layer(), endpoints,
                        [self = shared_from_this()](std::error_code ec, const tcp::endpoint&) {
                          if (ec) return self->fail("connect: " + ec.message());
                          self->tls_.next_layer().set_option(tcp::no_delay(true), ec);
                          self->handshake();
                        });
  }

  void handshake() {
    tls_.async_handshake([self = shared_from_this()](std::error_code ec) {
      if (ec) return self->fail("handshake: " + ec.message());
      const tlsengine::connection& c = self->tls_.connection();
      std::fprintf(stderr, "client connected %s (%s)\n",
                   c.authorized() ? "authorized" : "unauthorized", describe(c).c_str());
      self->send();
    });
  }

  void send() {
    // asio::async_write over the TLS stream: it calls async_write_some until all is taken.
    asio::async_write(tls_, asio::buffer(request_),
                      [self = shared_from_this()](std::error_code ec, std::size_t) {
                        if (ec) return self->fail("write: " + ec.message());
                        self->receive();
                      });
  }

  void receive() {
    tls_.async_read_some(
        asio::buffer(buffer_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
          self->received_.append(self->buffer_, n);
          if (ec == asio::error::eof) { // the server's close_notify
            if (self->http_) return self->finish();
            return self->fail("the server closed before echoing everything");
          }
          if (ec) return self->fail("read: " + ec.message());
          if (!self->http_ && self->received_.find(self->expect_) != std::string::npos)
            return self->shutdown();
          self->receive();
        });
  }

  void shutdown() {
    // close_notify, then the server's answer (the timer bounds the wait).
    tls_.async_shutdown([self = shared_from_this()](std::error_code ec) {
      if (ec) return self->fail("shutdown: " + ec.message());
      self->finish();
    });
  }

  void finish() {
    std::fwrite(received_.data(), 1, received_.size(), stdout);
    std::fflush(stdout);
    status_ = 0;
    stop();
  }

  void fail(const std::string& what) {
    std::fprintf(stderr, "asio_client: %s\n", what.c_str());
    status_ = 1;
    stop();
  }

  void stop() {
    timer_.cancel();
    std::error_code ignored;
    tls_.next_layer().close(ignored); // pending operations complete with operation_aborted
    io_.stop();
  }

  asio::io_context& io_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  tlsengine::asio::stream<tcp::socket> tls_;
  std::string request_;
  bool http_;
  std::string expect_, received_;
  char buffer_[16 * 1024];
  int status_ = 1;
};

} // namespace

int main(int argc, char** argv) {
  flag_parser parser("asio_client", "A TLS client on Asio: an echo round trip or an HTTP GET.");
  tls_flags flags;
  // By default the echo round trip with asio_echo_server; --http PATH asks epoll_server.
  flags.add_client_flags(parser, default_port::asio_echo_server);
  const int echo_port = flags.port;
  std::string message = "hello from asio_client\n", http_path;
  int timeout_ms = 10'000;
  parser.add("--message", &message, "text to send to an echo server");
  parser.add("--http", &http_path, "send GET PATH (HTTP/1.1) instead and print the response");
  parser.add("--timeout", &timeout_ms, "milliseconds for the whole exchange (default 10000)");
  parser.parse(argc, argv);
  if (!http_path.empty() && flags.port == echo_port) flags.port = default_port::epoll_server;

  tlsengine::client_options options;
  std::string error;
  if (!client_options_from(flags, options, error)) {
    std::fprintf(stderr, "asio_client: %s\n", error.c_str());
    return 1;
  }
  auto connection = tlsengine::connection::client(options);
  if (!connection) {
    std::fprintf(stderr, "asio_client: TLS configuration (%s): %s\n", flags.sources().c_str(),
                 connection.error().message().c_str());
    return 1;
  }
  const bool http = !http_path.empty();
  const std::string request = http ? "GET " + http_path +
                                         " HTTP/1.1\r\nHost: " + options.servername +
                                         "\r\nConnection: close\r\n\r\n"
                                   : message;

  asio::io_context io;
  auto c = std::make_shared<client>(io, std::move(*connection), request, http, message);
  c->start(flags.host, flags.port, timeout_ms);
  io.run();
  return c->status();
}
