// [attack3] mixed build modes: this TU has TLSENGINE_SEPARATE_COMPILATION (as tlsengine::compiled
// gives it); header_only_tu.cpp does not. It links without a diagnostic, and at -O2 an
// error_code made by the library no longer compares equal to errc::handshake_timeout in the
// header-only TU: two engine_category() singletons. Run: bash run.sh (exit 1 = reproduced).
#include <tlsengine/tlsengine.hpp>
#include <cstdio>
bool is_timeout(std::error_code ec); // in header_only_tu.cpp, compiled WITHOUT the define
bool is_timeout_here(std::error_code ec) { return ec == tlsengine::errc::handshake_timeout; }
int main() {
  tlsengine::client_options co;
  co.handshake_timeout = std::chrono::seconds(1);
  auto c = tlsengine::connection::client(co);
  c->on_timeout(tlsengine::clock::now() + std::chrono::seconds(5));
  std::printf("error=%s [%s] same TU: %d, other TU: %d\n", c->error().message().c_str(),
              c->error().category().name(), is_timeout_here(c->error()), is_timeout(c->error()));
  return is_timeout(c->error()) ? 0 : 1;
}
