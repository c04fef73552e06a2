// [attack4] area 3: a client session made under one judge/trust is never offered by a
// client with another one, as a handle or as bytes, on the same or another secure_context.
#include "common.hpp"
using namespace a4;

static int g_identity_calls = 0;

// What the second client saw: resumed, secure, error.
struct seen {
  bool resumed, secure;
  std::string err;
  int identity_calls;
};

static seen attempt(const server& srv, client_options co) {
  g_identity_calls = 0;
  pair p = make(srv, co);
  p.client.on_event = [](side& s, const event& e) {
    if (std::holds_alternative<events::verify_peer>(e)) s.c.verify_result({});
    if (auto* o = std::get_if<events::ocsp_response>(&e))
      if (o->decision) s.c.ocsp_result({});
  };
  p.run();
  return {p.server.c.is_session_reused() || p.client.c.is_session_reused(), p.client.secure == 1,
          p.client.error_text, g_identity_calls};
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  for (const char* proto : {"TLSv1.2", "TLSv1.3"}) {
    for (int untrusted = 0; untrusted < 2; ++untrusted) {
      // untrusted: the server's certificate does not verify (other CA) -> made with
      // reject_unauthorized=false
      server_options so = server_opts(untrusted ? "untrusted" : "server-rsa");
      so.max_version = proto;
      server srv = make_server(so);
      client_options base = client_opts();
      base.max_version = proto;
      auto ctx_r = secure_context::create(base);
      secure_context shared = *ctx_r;
      // The judges.
      struct judge {
        const char* name;
        std::function<void(client_options&)> set;
        bool strict; // rejects what the base (unauthorized-accepting when untrusted) accepted
      };
      std::vector<judge> judges = {
          {"default", [](client_options&) {}, false},
          {"reject_unauthorized=false", [](client_options& o) { o.reject_unauthorized = false; },
           false},
          {"own identity (rejects all)",
           [](client_options& o) {
             o.check_server_identity = [](std::string_view, const certificate_info&) {
               ++g_identity_calls;
               return make_error_code(std::errc::permission_denied);
             };
           },
           true},
          {"own identity (accepts)",
           [](client_options& o) {
             o.check_server_identity = [](std::string_view, const certificate_info&) {
               ++g_identity_calls;
               return std::error_code{};
             };
           },
           false},
          {"pause_on_verify", [](client_options& o) { o.pause_on_verify = true; }, false},
          {"pause_on_ocsp_response", [](client_options& o) { o.pause_on_ocsp_response = true; },
           false},
          {"other CA",
           [](client_options& o) {
             o.ca = {load("other-ca.pem")};
             o.secure_context = {};
           },
           true},
          {"servername other", [](client_options& o) { o.servername = "www.localhost"; }, true},
      };
      for (std::size_t mi = 0; mi < judges.size(); ++mi) {
        for (int use_shared = 0; use_shared < 2; ++use_shared) {
          client_options maker = base;
          if (use_shared) maker.secure_context = shared;
          if (untrusted) maker.reject_unauthorized = false;
          judges[mi].set(maker);
          if (std::string(judges[mi].name) == "other CA" && use_shared) continue;
          pair p1 = make(srv, maker);
          p1.client.on_event = [](side& s, const event& e) {
            if (std::holds_alternative<events::verify_peer>(e)) s.c.verify_result({});
            if (auto* o = std::get_if<events::ocsp_response>(&e))
              if (o->decision) s.c.ocsp_result({});
          };
          p1.run();
          p1.client.c.write(bytes_view("x", 1));
          p1.run();
          if (p1.client.sessions.empty()) continue; // e.g. the rejecting judge
          session_handle made = p1.client.sessions.back();
          for (std::size_t ui = 0; ui < judges.size(); ++ui) {
            for (int as_bytes = 0; as_bytes < 2; ++as_bytes) {
              client_options user = base;
              if (use_shared) user.secure_context = shared;
              judges[ui].set(user);
              if (std::string(judges[ui].name) == "other CA" && use_shared) continue;
              user.session = as_bytes ? session_handle(made.to_bytes()) : made;
              seen s = attempt(srv, user);
              // README: a verified server's session may be shared by reject_unauthorized
              // true/false clients (only an unverified one must not reach a strict client);
              // with untrusted=1 the maker "default" already had reject_unauthorized=false.
              const bool ru_pair = mi <= 1 && ui <= 1;
              const bool same = mi == ui || (ru_pair && (!untrusted || ui == 1));
              // Resuming is only allowed under the very same judge.
              if (s.resumed && !same) {
                std::printf("FINDING %s untrusted=%d shared_ctx=%d bytes=%d: session made by [%s] "
                            "RESUMED by [%s] (secure=%d identity_calls=%d)\n",
                            proto, untrusted, use_shared, as_bytes, judges[mi].name,
                            judges[ui].name, s.secure, s.identity_calls);
                ++failures;
              }
              if (same && !s.resumed && mi != 2)
                std::printf("note %s untrusted=%d shared=%d bytes=%d: [%s] did not resume its own "
                            "session (%s)\n",
                            proto, untrusted, use_shared, as_bytes, judges[mi].name, s.err.c_str());
            }
          }
        }
      }
    }
  }
  return finish("p4_client_binding");
}
