// beast_https_server: an HTTPS server with Boost.Beast's HTTP/1.1 over
// tlsengine::asio::stream on Boost.Asio (TLSENGINE_USE_BOOST_ASIO) and C++20 coroutines.
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

net::awaitable<void> session(tcp::socket socket, tlsengine::connection connection) {
  boost::system::error_code ec;
  const std::string peer = address_text(socket.remote_endpoint(ec).data());
  tls_stream tls(std::move(socket), std::move(connection));
  tls.set_event_handler([](const tlsengine::event& e) { keylog().write(e); });
  // ssl::stream's form; the handshake is bounded by server_options::handshake_timeout.
  co_await tls.async_handshake(tlsengine::asio::stream_base::server,
                               net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    std::printf("%s: handshake failed: %s\n", peer.c_str(), ec.message().c_str());
    co_return;
  }
  std::printf("%s\n", server_connected(tls.connection(), peer, request_cert).c_str());

  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> request;
    co_await http::async_read(tls, buffer, request, net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::end_of_stream || ec == net::error::eof) break; // close_notify
    if (ec) {
      std::printf("%s: read: %s\n", peer.c_str(), ec.message().c_str());
      co_return;
    }
    std::printf("%s: %s %s\n", peer.c_str(), std::string(request.method_string()).c_str(),
                std::string(request.target()).c_str());
    http::response<http::string_body> response = answer(request);
    co_await http::async_write(tls, response, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      std::printf("%s: write: %s\n", peer.c_str(), ec.message().c_str());
      co_return;
    }
    if (!response.keep_alive()) break;
  }
  co_await tls.async_shutdown(net::redirect_error(net::use_awaitable, ec)); // close_notify
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, tlsengine::server server) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      std::printf("accept: %s\n", ec.message().c_str());
      co_return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    net::co_spawn(acceptor.get_executor(), session(std::move(socket), server.accept()),
                  net::detached);
  }
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
  net::co_spawn(io, accept_loop(acceptor, std::move(*server)), net::detached);
  io.run();
  return 0;
}
