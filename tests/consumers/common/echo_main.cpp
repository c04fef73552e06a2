// tlsengine consumer check: the program every consumer project (tests/consumers/*) builds.
// A client and a server engine wired back to back with tlsengine::pump on the built-in
// demo credentials: handshake, the client's message echoed by the server, a clean close.
// Prints "<name>: OK ..." and exits 0, or says what failed and exits 1.
//
// Built with the include path of one way to get tlsengine (installed package, source
// tree, single header) plus examples/common/ for builtin_certs.hpp.
#include <tlsengine/tlsengine.hpp>

#include "builtin_certs.hpp"

#include <cstdio>
#include <string>
#include <variant>

#ifndef TLSENGINE_CONSUMER_NAME
#define TLSENGINE_CONSUMER_NAME "consumer"
#endif

namespace {

const char* const name = TLSENGINE_CONSUMER_NAME;

int fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "%s: FAILED: %s%s%s\n", name, what, detail.empty() ? "" : ": ",
               detail.c_str());
  return 1;
}

// Events until empty, then cleartext. False on a fatal error.
bool drain(tlsengine::connection& conn, const char* who, std::string& received, bool& ended) {
  while (auto e = conn.next_event()) {
    if (auto* err = std::get_if<tlsengine::events::error>(&*e)) {
      std::fprintf(stderr, "%s: %s error: %s (%s)\n", name, who, err->code.message().c_str(),
                   err->message.c_str());
      return false;
    }
    if (std::holds_alternative<tlsengine::events::end>(*e)) ended = true;
  }
  char buffer[4096];
  while (std::size_t n = conn.read(tlsengine::mutable_bytes_view(buffer, sizeof buffer)))
    received.append(buffer, n);
  return true;
}

} // namespace

#ifdef TLSENGINE_CONSUMER_SECOND_TU
std::string peer_common_name(const tlsengine::connection& conn); // in second_tu.cpp
#endif

int main() {
  tlsengine::server_options so;
  so.cert = {tlsengine_examples::builtin_server_cert_pem};
  so.key = {tlsengine_examples::builtin_server_key_pem};
  auto srv = tlsengine::server::create(so);
  if (!srv) return fail("server::create", srv.error().message());

  tlsengine::client_options co;
  co.ca = {tlsengine_examples::builtin_ca_pem};
  co.servername = "localhost";
  auto client = tlsengine::connection::client(co);
  if (!client) return fail("connection::client", client.error().message());
  tlsengine::connection server_side = srv->accept();

  const std::string message = std::string("hello from ") + name;
  if (client->write(message) != message.size()) return fail("write", "not all taken");

  std::string at_server, at_client;
  bool server_ended = false, client_ended = false, echoed = false;
  for (int round = 0; round < 100; ++round) {
    const std::size_t moved = tlsengine::pump(*client, server_side);
    if (!drain(server_side, "server", at_server, server_ended) ||
        !drain(*client, "client", at_client, client_ended))
      return fail("handshake or echo", client->error_message() + server_side.error_message());
    if (!echoed && at_server.size() >= message.size()) {
      server_side.write(at_server); // the echo, then close_notify
      server_side.end();
      echoed = true;
      continue;
    }
    if (moved == 0 && echoed) break;
  }

  if (!client->authorized()) return fail("client not authorized", client->authorization_error());
#ifdef TLSENGINE_CONSUMER_SECOND_TU
  if (peer_common_name(*client).empty()) return fail("second TU", "no peer common name");
#endif
  if (at_server != message) return fail("server received", at_server);
  if (at_client != message) return fail("echo received", at_client);
  if (!client_ended) return fail("close", "the client saw no close_notify");
  std::printf("%s: OK (%s, %s, %zu bytes echoed)\n", name, client->protocol().c_str(),
              client->cipher() ? client->cipher()->name.c_str() : "?", at_client.size());
  return 0;
}
