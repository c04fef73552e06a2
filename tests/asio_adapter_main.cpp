// tlsengine/asio.hpp under standalone Asio and, built again with
// TLSENGINE_USE_BOOST_ASIO, under Boost.Asio: a real loopback TCP connection between a
// client and a server stream. ssl::stream's async_handshake(role) form: the right roles
// handshake and echo; a role that contradicts the connection fails with
// errc::invalid_argument; an engine error reaches the completion handler in the
// signature's error_code type with the engine's message.
#include <tlsengine/asio.hpp>
#include <tlsengine/tlsengine.hpp>

#if defined(TLSENGINE_USE_BOOST_ASIO)
#include <boost/asio.hpp>
namespace net = boost::asio;
using completion_error = boost::system::error_code;
static const char* const flavour = "Boost.Asio";
#else
#include <asio.hpp>
namespace net = asio;
using completion_error = std::error_code;
static const char* const flavour = "standalone Asio";
#endif

#include "../examples/common/builtin_certs.hpp"

#include <cstdio>
#include <string>
#include <type_traits>

using tcp = net::ip::tcp;
using tls_stream = tlsengine::asio::stream<tcp::socket>;
using tlsengine::asio::stream_base;
static_assert(std::is_same_v<tlsengine::asio::error_code, completion_error>);

static int failures = 0;
#define CHECK(condition)                                                                           \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed [%s]\n", __FILE__, __LINE__, #condition,       \
                   flavour);                                                                       \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

namespace {

tlsengine::server make_server() {
  tlsengine::server_options so;
  so.cert = {tlsengine_examples::builtin_server_cert_pem};
  so.key = {tlsengine_examples::builtin_server_key_pem};
  auto server = tlsengine::server::create(so);
  CHECK(server);
  return std::move(*server);
}

tlsengine::connection make_client(bool trust_demo_ca) {
  tlsengine::client_options co;
  co.servername = "localhost";
  if (trust_demo_ca)
    co.ca = {tlsengine_examples::builtin_ca_pem};
  else
    co.ca = {tlsengine_examples::builtin_client_cert_pem}; // an intermediate: not a root
  auto c = tlsengine::connection::client(co);
  CHECK(c);
  return std::move(*c);
}

/// A connected pair of TCP sockets on loopback.
void socket_pair(net::io_context& io, tcp::socket& a, tcp::socket& b) {
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  a.connect(acceptor.local_endpoint());
  acceptor.accept(b);
}

void right_roles_handshake_and_echo() {
  net::io_context io;
  tcp::socket cs(io), ss(io);
  socket_pair(io, cs, ss);
  tlsengine::server server = make_server();
  tls_stream client(std::move(cs), make_client(true));
  tls_stream srv(std::move(ss), server.accept());
  completion_error client_ec = net::error::fault, server_ec = net::error::fault;
  std::string echoed(4, '\0');
  char buffer[4];
  client.async_handshake(stream_base::client, [&](completion_error ec) {
    client_ec = ec;
    if (ec) return;
    net::async_write(client, net::buffer("ping", 4), [&](completion_error, std::size_t) {
      net::async_read(client, net::buffer(echoed), [&](completion_error, std::size_t) {});
    });
  });
  srv.async_handshake(stream_base::server, [&](completion_error ec) {
    server_ec = ec;
    if (ec) return;
    net::async_read(srv, net::buffer(buffer), [&](completion_error e, std::size_t n) {
      if (!e) net::async_write(srv, net::buffer(buffer, n), [](completion_error, std::size_t) {});
    });
  });
  io.run();
  CHECK(!client_ec);
  CHECK(!server_ec);
  CHECK(client.connection().authorized());
  CHECK(echoed == "ping");
}

void wrong_role_is_refused() {
  net::io_context io;
  tcp::socket cs(io), ss(io);
  socket_pair(io, cs, ss);
  tlsengine::server server = make_server();
  tls_stream srv(std::move(ss), server.accept());
  completion_error ec;
  bool done = false;
  srv.async_handshake(stream_base::client, [&](completion_error e) {
    ec = e;
    done = true;
  });
  io.run();
  CHECK(done);
  CHECK(ec.value() == static_cast<int>(tlsengine::errc::invalid_argument));
  CHECK(std::string(ec.category().name()) == "tlsengine");
  CHECK(!srv.connection().error()); // nothing happened to the connection itself
}

void engine_error_in_the_completion_signature() {
  net::io_context io;
  tcp::socket cs(io), ss(io);
  socket_pair(io, cs, ss);
  tlsengine::server server = make_server();
  tls_stream client(std::move(cs), make_client(false));
  tls_stream srv(std::move(ss), server.accept());
  completion_error client_ec, server_ec;
  int done = 0;
  client.async_handshake(stream_base::client, [&](completion_error ec) {
    client_ec = ec;
    ++done;
  });
  srv.async_handshake(stream_base::server, [&](completion_error ec) {
    server_ec = ec;
    ++done;
  });
  while (done < 2 && io.run_one() > 0) {
  }
  CHECK(done == 2);
  // Both failed: nothing of theirs may stay pending (a handshake deadline timer left armed
  // kept run() from returning until server_options::handshake_timeout expired).
  io.poll();
  CHECK(io.stopped());
  CHECK(client_ec);
  CHECK(server_ec); // the client's alert arrived: the engine sent it before completing
  const std::error_code original = client.connection().error();
  CHECK(original);
  CHECK(client_ec.value() == original.value());
  CHECK(client_ec.message() == original.message());
  CHECK(std::string(client_ec.category().name()) == original.category().name());
}

} // namespace

int main() {
  right_roles_handshake_and_echo();
  wrong_role_is_refused();
  engine_error_in_the_completion_signature();
  if (failures == 0) std::printf("asio adapter (%s): all checks passed\n", flavour);
  return failures == 0 ? 0 : 1;
}
