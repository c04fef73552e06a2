// [attack4] FINDING (minimal): a session made by a client whose own check_server_identity
// accepted the server is resumed by a client whose own check_server_identity rejects every
// server; that judge is never called (README: "a session they did not see is not resumed").
// Exit 1 = reproduced.
#include "common.hpp"
using namespace a4;

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  for (const char* proto : {"TLSv1.2", "TLSv1.3"}) {
    server srv = make_server(server_opts());
    client_options lax = client_opts();
    lax.max_version = proto;
    lax.check_server_identity = [](std::string_view, const certificate_info&) {
      return std::error_code{};
    };
    pair p1 = make(srv, lax);
    p1.run();
    p1.client.c.write(bytes_view("x", 1));
    p1.run();
    A4_CHECK(!p1.client.sessions.empty(), "no session");
    if (p1.client.sessions.empty()) continue;

    int pin_calls = 0;
    client_options pinned = client_opts(); // e.g. certificate pinning that this server fails
    pinned.max_version = proto;
    pinned.check_server_identity = [&](std::string_view, const certificate_info&) {
      ++pin_calls;
      return make_error_code(std::errc::permission_denied);
    };
    // Without a session the pinning judge refuses the server:
    pair p2 = make(srv, pinned);
    p2.run();
    std::printf("%s full handshake: secure=%d judge calls=%d error=%s\n", proto, p2.client.secure,
                pin_calls, p2.client.error_text.c_str());
    // With the lax client's session (bytes, as from a shared store):
    pin_calls = 0;
    pinned.session = session_handle(p1.client.sessions.back().to_bytes());
    pair p3 = make(srv, pinned);
    p3.run();
    std::printf("%s with lax session: secure=%d reused=%d judge calls=%d authorized=%d\n", proto,
                p3.client.secure, p3.client.c.is_session_reused(), pin_calls,
                p3.client.c.authorized());
    A4_CHECK(
        !(p3.client.secure && p3.client.c.is_session_reused()),
        "%s: the rejecting judge's connection resumed the lax judge's session without being asked",
        proto);
  }
  return finish("p5_own_identity_reuse");
}
