// beast_https_server: an HTTPS server with Boost.Beast's HTTP/1.1 over
// tlsengine::asio::stream on Boost.Asio (TLSENGINE_USE_BOOST_ASIO), with completion handlers.
// Where a Beast program would use ssl::stream<tcp::socket>, it uses the sans-I/O engine:
// the same async_handshake(server), http::async_read / async_write, async_shutdown.
//
//   ./build/examples/beast_https_server      # https://localhost:8446/ (the demo CA:
//   curl --cacert examples/certs/ca.pem https://localhost:8446/)
#define TLSENGINE_USE_BOOST_ASIO
#include <tlsengine/asio.hpp>
#include <tlsengine/tlsengine.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "../common/cli.hpp"
#include "../common/net.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

namespace net = boost::asio;
namespace http = boost::beast::http;
using net::ip::tcp;
using namespace tlsengine_examples;
using tls_stream = tlsengine::asio::stream<tcp::socket>;

namespace {

constexpr char page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tlsengine + Beast</title>"
    "</head>\n<body><h1>Hello from Boost.Beast over tlsengine</h1></body></html>\n";

bool request_cert = false; // --request-cert: whether clients were asked for a certificate

http::response<http::string_body> answer(const http::request<http::string_body>& request) {
  const bool found = request.target() == "/";
  http::response<http::string_body> response{found ? http::status::ok : http::status::not_found,
                                             request.version()};
  response.set(http::field::server, "tlsengine-beast");
  response.set(http::field::content_type,
               found ? "text/html; charset=utf-8" : "text/plain; charset=utf-8");
  response.keep_alive(request.keep_alive());
  if (request.method() != http::verb::head) response.body() = found ? page : "404 Not Found\n";
  response.prepare_payload();
  return response;
}

/// One connection: handshake, then requests and responses until either side ends, then
/// close_notify. Completion handlers (C++17) keep it buildable with every compiler Boost
/// supports; a shared_ptr keeps the session alive while an operation is in flight.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, tlsengine::connection connection, std::string peer)
      : tls_(std::move(socket), std::move(connection)), peer_(std::move(peer)) {
    tls_.set_event_handler([](const tlsengine::event& e) { keylog().write(e); });
  }

  void start() {
    // ssl::stream's form; the handshake is bounded by server_options::handshake_timeout.
    tls_.async_handshake(tlsengine::asio::stream_base::server, [self = shared_from_this()](
                                                                   boost::system::error_code ec) {
      if (ec) return self->log("handshake failed", ec);
      std::printf("%s\n",
                  server_connected(self->tls_.connection(), self->peer_, request_cert).c_str());
      self->read_request();
    });
  }

private:
  void read_request() {
    request_ = {};
    http::async_read(tls_, buffer_, request_,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       // The client's close_notify between requests: a normal ending.
                       if (ec == http::error::end_of_stream || ec == net::error::eof)
                         return self->shutdown();
                       if (ec) return self->log("read", ec);
                       self->respond();
                     });
  }

  void respond() {
    std::printf("%s: %s %s\n", peer_.c_str(), std::string(request_.method_string()).c_str(),
                std::string(request_.target()).c_str());
    response_ = answer(request_);
    http::async_write(tls_, response_,
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->log("write", ec);
                        if (self->response_.keep_alive()) return self->read_request();
                        self->shutdown();
                      });
  }

  void shutdown() {
    tls_.async_shutdown([self = shared_from_this()](boost::system::error_code) {});
  }

  void log(const char* what, const boost::system::error_code& ec) {
    std::printf("%s: %s: %s\n", peer_.c_str(), what, ec.message().c_str());
  }

  tls_stream tls_;
  std::string peer_;
  boost::beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

void accept_next(tcp::acceptor& acceptor, tlsengine::server& server) {
  acceptor.async_accept([&acceptor, &server](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      std::printf("accept: %s\n", ec.message().c_str());
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      const std::string peer = address_text(socket.remote_endpoint(ec).data());
      std::make_shared<session>(std::move(socket), server.accept(), peer)->start();
    }
    accept_next(acceptor, server);
  });
}

} // namespace

int main(int argc, char** argv) {
  flag_parser parser("beast_https_server",
                     "An HTTPS server: Boost.Beast over tlsengine::asio::stream (Boost.Asio).");
  tls_flags flags;
  flags.add_server_flags(parser, default_port::beast_https_server);
  parser.parse(argc, argv);
  request_cert = flags.request_cert;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  tlsengine::server_options options;
  std::string error;
  if (!server_options_from(flags, options, error)) {
    std::fprintf(stderr, "beast_https_server: %s\n", error.c_str());
    return 1;
  }
  if (flags.alpn.empty()) options.alpn_protocols = {"http/1.1"};
  options.handshake_timeout = std::chrono::seconds(10);
  options.allow_half_open = true; // answer the request in progress, then close_notify
  auto server = tlsengine::server::create(options);
  if (!server) {
    std::fprintf(stderr, "beast_https_server: TLS configuration (%s): %s\n",
                 flags.sources().c_str(), server.error().message().c_str());
    return 1;
  }

  net::io_context io;
  boost::system::error_code ec;
  tcp::acceptor acceptor(io);
  const auto endpoints = tcp::resolver(io).resolve(flags.host, std::to_string(flags.port), ec);
  if (ec || endpoints.empty()) {
    std::fprintf(stderr, "beast_https_server: %s: %s\n", flags.host.c_str(),
                 ec ? ec.message().c_str() : "no address");
    return 1;
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "beast_https_server: listen %s:%d: %s\n", flags.host.c_str(), flags.port,
                 ec.message().c_str());
    return 1;
  }
  const tcp::endpoint local = acceptor.local_endpoint();
  std::printf("listening on %s:%u\n", local.address().to_string().c_str(),
              static_cast<unsigned>(local.port()));

  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
  accept_next(acceptor, *server);
  io.run();
  return 0;
}
