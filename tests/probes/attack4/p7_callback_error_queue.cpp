// [attack4] FINDING (minimal): an application callback whose own OpenSSL call failed (it
// leaves entries in OpenSSL's thread error queue, as any PEM parse or EVP call may) fails a
// healthy handshake, reporting the application's junk as the connection's error. Seen with
// the enable_trace sink and alpn_callback; check_server_identity and `now` are immune.
// Exit 1 = reproduced.
#include "common.hpp"
#include <openssl/err.h>
using namespace a4;

static void app_own_failed_parse() { // e.g. logging code that tries to decode something
  if (std::getenv("NOJUNK")) return; // control run: the same handshakes succeed
  BIO* b = BIO_new_mem_buf("not a certificate", -1);
  X509_free(PEM_read_bio_X509(b, nullptr, nullptr, nullptr)); // fails: "no start line"
  BIO_free(b);
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* names[] = {"trace sink", "alpn_callback", "psk_callback (server)",
                         "psk_callback (client)"};
  for (const char* proto : {"TLSv1.2", "TLSv1.3"}) {
    for (int w = 0; w < 4; ++w) {
      server_options so = server_opts();
      so.max_version = proto;
      client_options co = client_opts();
      co.max_version = proto;
      co.alpn_protocols = {"h2"};
      if (w == 1)
        so.alpn_callback = [](const alpn_request& r) -> std::optional<std::string> {
          app_own_failed_parse();
          return r.protocols.front();
        };
      if (w >= 2) {
        so.ciphers = co.ciphers = std::string(proto) == "TLSv1.2" ? "PSK-AES128-GCM-SHA256" : "";
        so.psk_callback = [w](std::string_view) -> std::optional<std::vector<std::uint8_t>> {
          if (w == 2) app_own_failed_parse();
          return std::vector<std::uint8_t>(32, 1);
        };
        co.psk_callback = [w](std::string_view hint) -> std::optional<psk_credentials> {
          if (w == 3) app_own_failed_parse();
          if (is_psk_probe(hint) && std::string(hint.data() ? "" : "") == "" && false)
            return std::nullopt;
          return psk_credentials{"id", std::vector<std::uint8_t>(32, 1)};
        };
      }
      server srv = make_server(so);
      pair p = make(srv, co);
      if (!p.client.c) {
        std::printf("%s %s: client() failed\n", proto, names[w]);
        ++failures;
        continue;
      }
      if (w == 0) p.server.c.enable_trace([](std::string_view) { app_own_failed_parse(); });
      p.run();
      const bool ok =
          p.client.secure == 1 && p.server.secure == 1 && !p.client.errors && !p.server.errors;
      std::printf("%s %-22s: %s client=[%s] server=[%s]\n", proto, names[w],
                  ok ? "ok    " : "FAILED", p.client.error_text.c_str(),
                  p.server.error_text.c_str());
      A4_CHECK(ok, "%s: junk from %s failed a healthy handshake", proto, names[w]);
      ERR_clear_error();
    }
  }
  return finish("p7_callback_error_queue");
}
