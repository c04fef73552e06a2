// asio_echo_server: the echo server of posix_echo_server ("welcome!", then every byte
// back), on Asio with C++20 coroutines and tlsengine::asio::stream. One io_context on one
// thread; each connection is a coroutine.
//
// Runs on the built-in demo certificate unless --cert/--key are given.

// Asio 1.22 enables co_await for clang only with <experimental/coroutine>, which
// libstdc++ does not have; clang's C++20 coroutines work with <coroutine> all the same.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(ASIO_HAS_CO_AWAIT)
#define ASIO_HAS_CO_AWAIT 1
#define ASIO_HAS_STD_COROUTINE 1
#endif

#include <asio.hpp>
#include <tlsengine/asio.hpp>
#include <tlsengine/tlsengine.hpp>

#include "../common/cli.hpp"

#include <chrono>
#include <cstdio>
#include <string>

using namespace tlsengine_examples;
using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

std::string endpoint_text(const tcp::endpoint& e) {
  const std::string address = e.address().to_string();
  return (e.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(e.port());
}

bool request_cert = false; // --request-cert: whether clients were asked for a certificate

awaitable<void> echo_session(tcp::socket socket, tlsengine::connection connection) {
  std::error_code ec;
  const std::string peer = endpoint_text(socket.remote_endpoint(ec));
  socket.set_option(tcp::no_delay(true), ec);
  tlsengine::asio::stream<tcp::socket> tls(std::move(socket), std::move(connection));
  tls.set_event_handler([](const tlsengine::event& e) { keylog().write(e); });

  // Bounded by server_options::handshake_timeout (the engine's deadline()).
  co_await tls.async_handshake(redirect_error(use_awaitable, ec));
  if (ec) {
    std::printf("%s: handshake failed: %s\n", peer.c_str(), ec.message().c_str());
    co_return; // the fatal alert was sent; the socket closes with `tls`
  }
  const tlsengine::connection& c = tls.connection();
  std::printf("%s\n", server_connected(c, peer, request_cert).c_str());

  static constexpr char welcome[] = "welcome!\n";
  co_await asio::async_write(tls, asio::buffer(welcome, sizeof welcome - 1),
                             redirect_error(use_awaitable, ec));
  char data[16 * 1024];
  while (!ec) {
    const std::size_t n =
        co_await tls.async_read_some(asio::buffer(data), redirect_error(use_awaitable, ec));
    if (ec) break;
    co_await asio::async_write(tls, asio::buffer(data, n), redirect_error(use_awaitable, ec));
  }
  if (ec != asio::error::eof) { // eof: the client's close_notify
    std::printf("%s: %s\n", peer.c_str(), ec.message().c_str());
    co_return;
  }
  std::printf("%s ended\n", peer.c_str());
  // Everything before the client's close_notify was echoed: answer it with ours. The
  // client's is already in, so this completes once ours is sent.
  co_await tls.async_shutdown(redirect_error(use_awaitable, ec));
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, tlsengine::server server) {
  for (;;) {
    std::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return; // the acceptor was closed
    if (ec) { // EMFILE and friends: wait a moment rather than spin
      std::printf("accept: %s\n", ec.message().c_str());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), echo_session(std::move(socket), server.accept()),
                   asio::detached);
  }
}

} // namespace

int main(int argc, char** argv) {
  flag_parser parser("asio_echo_server", "A TLS echo server on Asio and C++20 coroutines.");
  tls_flags flags;
  flags.add_server_flags(parser, default_port::asio_echo_server);
  parser.parse(argc, argv);
  request_cert = flags.request_cert;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  tlsengine::server_options options;
  std::string error;
  if (!server_options_from(flags, options, error)) {
    std::fprintf(stderr, "asio_echo_server: %s\n", error.c_str());
    return 1;
  }
  options.handshake_timeout = std::chrono::seconds(10);
  // We send close_notify ourselves after echoing what came before the client's; the
  // engine answering at once would refuse those echo writes.
  options.allow_half_open = true;
  auto server = tlsengine::server::create(options);
  if (!server) {
    std::fprintf(stderr, "asio_echo_server: TLS configuration (%s): %s\n", flags.sources().c_str(),
                 server.error().message().c_str());
    return 1;
  }

  asio::io_context io;
  tcp::acceptor acceptor(io);
  std::error_code ec;
  const auto endpoints = tcp::resolver(io).resolve(flags.host, std::to_string(flags.port), ec);
  if (ec || endpoints.empty()) {
    std::fprintf(stderr, "asio_echo_server: %s: %s\n", flags.host.c_str(),
                 ec ? ec.message().c_str() : "no address");
    return 1;
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "asio_echo_server: listen %s: %s\n", endpoint_text(endpoint).c_str(),
                 ec.message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", endpoint_text(acceptor.local_endpoint()).c_str());

  // SIGTERM/SIGINT: stop the loop; sockets close as the process exits.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { io.stop(); });
  asio::co_spawn(io, accept_loop(acceptor, std::move(*server)), asio::detached);
  io.run();
  return 0;
}
