// Includes only the amalgamated single header (the build gives no include/ path).
#include "tlsengine/tlsengine.hpp"

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
  so.cert = {load("server-rsa-chain.pem")};
  so.key = {load("server-rsa.key")};
  auto srv = tlsengine::server::create(so);
  tlsengine::client_options co;
  co.ca = {load("ca.pem")};
  co.servername = "localhost";
  auto client = tlsengine::connection::client(co);
  if (!srv || !client) return 1;
  tlsengine::connection server_side = srv->accept();
  client->write("single header");
  tlsengine::pump(*client, server_side);
  char buffer[64];
  const std::size_t n = server_side.read(tlsengine::mutable_bytes_view(buffer, sizeof buffer));
  server_side.write(tlsengine::bytes_view(buffer, n));
  tlsengine::pump(*client, server_side);
  const std::size_t m = client->read(tlsengine::mutable_bytes_view(buffer, sizeof buffer));
  const bool ok = client->authorized() && std::string(buffer, m) == "single header";
  std::printf("%s\n", ok ? "single header: OK" : "single header: FAILED");
  return ok ? 0 : 1;
}
