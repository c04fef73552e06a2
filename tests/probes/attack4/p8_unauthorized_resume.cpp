// [attack4] area 3: a session whose server was NOT verified (reject_unauthorized=false, or
// pause_on_verify + accept_unauthorized) resumed by a client of the same binding: the
// resumed connection must still say authorized()=false and name the error, and a
// pause_on_verify client must not get a verified-looking resumption without a verify_peer.
#include "common.hpp"
using namespace a4;

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  for (const char* proto : {"TLSv1.2", "TLSv1.3"}) {
    for (int mode = 0; mode < 2; ++mode) {
      server srv = make_server(server_opts("untrusted"));
      client_options co = client_opts();
      co.max_version = proto;
      if (mode == 0)
        co.reject_unauthorized = false;
      else
        co.pause_on_verify = true;
      int verify_events = 0;
      auto on = [&](side& s, const event& e) {
        if (auto* v = std::get_if<events::verify_peer>(&e)) {
          ++verify_events;
          s.c.accept_unauthorized(v->preliminary ? v->preliminary
                                                 : make_error_code(std::errc::permission_denied));
        }
      };
      pair p1 = make(srv, co);
      p1.client.on_event = on;
      p1.run();
      p1.client.c.write(bytes_view("x", 1));
      p1.run();
      std::printf("%s mode=%d first: secure=%d authorized=%d err=%s verify_events=%d\n", proto,
                  mode, p1.client.secure, p1.client.c.authorized(),
                  p1.client.c.authorization_error().c_str(), verify_events);
      if (p1.client.sessions.empty()) {
        std::printf("  no session\n");
        continue;
      }
      for (int bytes_form = 0; bytes_form < 2; ++bytes_form) {
        verify_events = 0;
        client_options c2 = co;
        c2.session = bytes_form ? session_handle(p1.client.sessions.back().to_bytes())
                                : p1.client.sessions.back();
        pair p2 = make(srv, c2);
        p2.client.on_event = on;
        p2.run();
        std::printf(
            "  resume (bytes=%d): secure=%d reused=%d authorized=%d err=%s verify_events=%d\n",
            bytes_form, p2.client.secure, p2.client.c.is_session_reused(), p2.client.c.authorized(),
            p2.client.c.authorization_error().c_str(), verify_events);
        A4_CHECK(!(p2.client.secure && p2.client.c.authorized()),
                 "an unverified server reported authorized after resumption");
      }
    }
  }
  return finish("p8_unauthorized_resume");
}
