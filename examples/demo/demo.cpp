// tlsengine demo: a client and a server engine wired back to back in memory, on the
// built-in demo certificates. Handshake, one echo, a clean close — no sockets at all.
#include <tlsengine/tlsengine.hpp>

#include "builtin_certs.hpp"
#include "keylog.hpp"

#include <cstdio>
#include <string>

namespace {

// The drain loop every tlsengine user writes: events until empty, then cleartext.
bool drain(tlsengine::connection& conn, const char* who, std::string& received) {
  while (auto e = conn.next_event()) {
    tlsengine_examples::keylog().write(*e); // --keylog FILE / SSLKEYLOGFILE
    if (auto* err = std::get_if<tlsengine::events::error>(&*e)) {
      std::fprintf(stderr, "%s: error: %s\n", who, err->message.c_str());
      return false;
    }
    if (std::holds_alternative<tlsengine::events::end>(*e)) std::printf("%s: peer closed\n", who);
  }
  char buffer[4096];
  while (std::size_t n = conn.read(tlsengine::mutable_bytes_view(buffer, sizeof buffer)))
    received.append(buffer, n);
  return true;
}

} // namespace

int main(int argc, char** argv) {
  using namespace tlsengine;
  // No sockets here, so nothing to capture; the key log still shows what a capture needs.
  std::string keylog_error;
  const std::string keylog_path = argc == 3 && std::string(argv[1]) == "--keylog" ? argv[2] : "";
  if (!tlsengine_examples::keylog().open(keylog_path, keylog_error)) {
    std::fprintf(stderr, "demo: %s\n", keylog_error.c_str());
    return 1;
  }
  server_options sopts;
  sopts.enable_keylog = tlsengine_examples::keylog().enabled();
  sopts.cert = {tlsengine_examples::builtin_server_cert_pem};
  sopts.key = {tlsengine_examples::builtin_server_key_pem};
  auto srv = server::create(sopts);
  if (!srv) {
    std::fprintf(stderr, "server: %s\n", srv.error().message().c_str());
    return 1;
  }

  client_options copts;
  copts.enable_keylog = tlsengine_examples::keylog().enabled();
  copts.ca = {tlsengine_examples::builtin_ca_pem};
  copts.servername = "localhost";
  auto client = connection::client(copts);
  if (!client) {
    std::fprintf(stderr, "client: %s\n", client.error().message().c_str());
    return 1;
  }
  connection server_side = srv->accept();

  client->write("hello, tlsengine"); // buffered until the handshake completes
  std::string at_server, at_client;
  bool echoed = false;
  for (;;) {
    const std::size_t moved = pump(*client, server_side);
    if (!drain(server_side, "server", at_server) || !drain(*client, "client", at_client)) return 1;
    if (!at_server.empty() && !echoed) { // echo what arrived, then close
      server_side.write(at_server);
      server_side.end();
      echoed = true;
      continue;
    }
    if (moved == 0) break;
  }

  const auto cipher = client->cipher();
  std::printf("protocol:      %s\n", client->protocol().c_str());
  std::printf("cipher:        %s (%s)\n", cipher ? cipher->name.c_str() : "-",
              cipher ? cipher->standard_name.c_str() : "-");
  std::printf("authorized:    %s\n", client->authorized() ? "true" : "false");
  std::string subject = client->peer_certificate().subject.to_string(); // "O=..\nCN=.."
  for (char& c : subject)
    c = c == '\n' ? ' ' : c;
  std::printf("peer subject:  %s\n", subject.c_str());
  std::printf("server got:    %s\n", at_server.c_str());
  std::printf("client got:    %s\n", at_client.c_str());
  const bool ok = client->authorized() && at_client == "hello, tlsengine";
  std::printf("%s\n", ok ? "demo: OK" : "demo: FAILED");
  return ok ? 0 : 1;
}
