// Built with -fno-exceptions -fno-rtti: the whole public API must compile and work
// without exceptions. A handshake and an echo through pump(), exit code 0 on success.
#include <tlsengine/tlsengine.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

static std::string load(const char* name) {
  std::ifstream in(std::string(TLSENGINE_TEST_CERT_DIR) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int main() {
  tlsengine::server_options so;
  so.cert = {load("server-ecdsa-chain.pem")};
  so.key = {load("server-ecdsa.key")};
  auto srv = tlsengine::server::create(so);
  tlsengine::client_options co;
  co.ca = {load("ca.pem")};
  co.servername = "localhost";
  auto client = tlsengine::connection::client(co);
  if (!srv || !client) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }
  tlsengine::connection server_side = srv->accept();
  client->write("no exceptions");
  tlsengine::pump(*client, server_side);
  char buffer[64];
  const std::size_t n = server_side.read(tlsengine::mutable_bytes_view(buffer, sizeof buffer));
  server_side.write(tlsengine::bytes_view(buffer, n));
  tlsengine::pump(*client, server_side);
  const std::size_t m = client->read(tlsengine::mutable_bytes_view(buffer, sizeof buffer));
  const bool ok = client->authorized() && std::string(buffer, m) == "no exceptions";
  std::printf("%s\n", ok ? "noexcept handshake: OK" : "noexcept handshake: FAILED");
  return ok ? 0 : 1;
}
