// libFuzzer harness `context`: PEM, DER, PKCS#12 and CRL bytes and option strings ->
// secure_context::create, and a handshake with what it built.
// Format: a list of fields [tag][u16 big-endian length][bytes]; tags (modulo 17):
//    0 cert PEM          1 key PEM            2 ca PEM             3 passphrase
//    4 ciphers           5 ecdh_curve         6 sigalgs            7 min_version
//    8 max_version       9 pfx DER (+ the last passphrase)        10 crl PEM
//   11 cert DER         12 key DER            13 crl DER (each wrapped in PEM armour)
//   14 flags            15 dhparam           16 key PEM with its own passphrase
//                                                 ([passphrase length][passphrase][PEM])
// Options the API does not have (yet) are skipped, detected at compile time.
#include "fuzz_support.hpp"

#include <openssl/pem.h>

#include <string>
#include <type_traits>
#include <utility>

namespace {

template <class T, class = void> struct has_pfx : std::false_type {};
template <class T>
struct has_pfx<T, std::void_t<decltype(std::declval<T&>().pfx)>> : std::true_type {};
template <class T, class = void> struct has_crl : std::false_type {};
template <class T>
struct has_crl<T, std::void_t<decltype(std::declval<T&>().crl)>> : std::true_type {};
template <class T, class = void> struct has_dhparam : std::false_type {};
template <class T>
struct has_dhparam<T, std::void_t<decltype(std::declval<T&>().dhparam)>> : std::true_type {};
template <class T, class = void> struct has_partial_chain : std::false_type {};
template <class T>
struct has_partial_chain<T, std::void_t<decltype(std::declval<T&>().allow_partial_trust_chain)>>
    : std::true_type {};

template <class O> void add_pfx(O& o, std::vector<std::uint8_t> der, const std::string& pass) {
  if constexpr (has_pfx<O>::value) {
    if (pass.empty())
      o.pfx.emplace_back(std::move(der));
    else
      o.pfx.emplace_back(std::move(der), pass);
  }
}
template <class O> void add_crl(O& o, std::string pem) {
  if constexpr (has_crl<O>::value) o.crl.push_back(std::move(pem));
}
template <class O> void set_dhparam(O& o, std::string value) {
  if constexpr (has_dhparam<O>::value) o.dhparam = std::move(value);
}
template <class O> void set_partial_chain(O& o, bool on) {
  if constexpr (has_partial_chain<O>::value) o.allow_partial_trust_chain = on;
}

std::string pem_wrap(const char* label, tlsengine::bytes_view der) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  PEM_write_bio(bio, label, "", der.data(), static_cast<long>(der.size()));
  char* text = nullptr;
  const long n = BIO_get_mem_data(bio, &text);
  std::string out(text != nullptr && n > 0 ? std::string(text, static_cast<std::size_t>(n)) : "");
  BIO_free(bio);
  return out;
}

const long option_bits[] = {SSL_OP_NO_TICKET,
                            SSL_OP_CIPHER_SERVER_PREFERENCE,
                            SSL_OP_NO_TLSv1_3,
                            SSL_OP_NO_TLSv1_2,
                            SSL_OP_ALLOW_CLIENT_RENEGOTIATION,
                            SSL_OP_NO_COMPRESSION,
                            SSL_OP_PRIORITIZE_CHACHA,
                            SSL_OP_NO_RENEGOTIATION};

/// A short handshake with the context on one side and a fixture on the other.
void try_handshake(const tlsengine::secure_context& ctx) {
  tlsengine::connection client, server;
  if (ctx.has_certificate()) {
    tlsengine::server_options so;
    so.secure_context = ctx;
    so.now = fuzz::fake_clock();
    auto srv = tlsengine::server::create(so);
    if (!srv) return;
    fuzz::rng_scope scope(fuzz::stream::server);
    server = srv->accept();
    client = fuzz::new_client(fuzz::client_kind::tls13, {});
  } else {
    tlsengine::client_options co;
    co.secure_context = ctx;
    co.servername = "localhost";
    co.now = fuzz::fake_clock();
    fuzz::rng_scope scope(fuzz::stream::client);
    auto c = tlsengine::connection::client(co);
    if (!c) return;
    client = std::move(*c);
    server = fuzz::new_server(fuzz::server_kind::any);
  }
  fuzz::observed seen_client, seen_server;
  for (int round = 0; round < 50; ++round) {
    const std::size_t moved = fuzz::transfer(client, fuzz::stream::client, server,
                                             fuzz::stream::server, seen_server, fuzz::drain) +
                              fuzz::transfer(server, fuzz::stream::server, client,
                                             fuzz::stream::client, seen_client, fuzz::drain);
    if (moved == 0) break;
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_deterministic_mode();
  fuzz::fixtures::get();
  using o = tlsengine::context_options;
  std::fprintf(stderr, "fuzz_context: options pfx %s, crl %s, dhparam %s, partial chain %s\n",
               has_pfx<o>::value ? "yes" : "no", has_crl<o>::value ? "yes" : "no",
               has_dhparam<o>::value ? "yes" : "no", has_partial_chain<o>::value ? "yes" : "no");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::start_input(fuzz::replay_seed);
  tlsengine::context_options o;
  std::string last_passphrase;
  std::size_t i = 0;
  while (i + 3 <= size) {
    const int tag = data[i] % 17;
    const std::size_t len = std::min((std::size_t(data[i + 1]) << 8) | data[i + 2], size - i - 3);
    const tlsengine::bytes_view field(data + i + 3, len);
    i += 3 + len;
    const std::string text = field.to_string();
    switch (tag) {
    case 0: o.cert.push_back(text); break;
    case 1: o.key.emplace_back(text); break;
    case 2: o.ca.push_back(text); break;
    case 3:
      o.passphrase = text;
      last_passphrase = text;
      break;
    case 4: o.ciphers = text; break;
    case 5: o.ecdh_curve = text; break;
    case 6: o.sigalgs = text; break;
    case 7: o.min_version = text; break;
    case 8: o.max_version = text; break;
    case 9: add_pfx(o, field.to_vector(), last_passphrase); break;
    case 10: add_crl(o, text); break;
    case 11: o.cert.push_back(pem_wrap("CERTIFICATE", field)); break;
    case 12: o.key.emplace_back(pem_wrap("PRIVATE KEY", field)); break;
    case 13: add_crl(o, pem_wrap("X509 CRL", field)); break;
    case 14:
      for (std::size_t b = 0; b < len; ++b) {
        const std::uint8_t v = field[b];
        switch (b) {
        case 0:
          o.honor_cipher_order = v & 1;
          set_partial_chain(o, v & 2);
          break;
        case 1:
          for (std::size_t k = 0; k < 8; ++k)
            if (v & (1u << k)) o.secure_options |= option_bits[k];
          break;
        case 2: o.session_timeout = static_cast<long>(v) * 60 - 1; break;
        case 3: o.session_id_context = field.subview(4).to_string(); break;
        default: break;
        }
      }
      break;
    case 15: set_dhparam(o, text); break;
    case 16: {
      const std::size_t n = len == 0 ? 0 : std::min<std::size_t>(field[0], len - 1);
      o.key.emplace_back(field.subview(1 + n).to_string(), field.subview(1, n).to_string());
      break;
    }
    }
  }
  ERR_clear_error();
  auto ctx = [&] {
    fuzz::rng_scope scope(fuzz::stream::setup);
    return tlsengine::secure_context::create(o);
  }();
  if (!ctx) {
    if (!ctx.error()) fuzz::fail("context: a failed create() without an error code");
    if (ctx.error().message().empty()) fuzz::fail("context: an error without a message");
    // Nothing of a failed create() may leak into the next OpenSSL call of the thread.
    ERR_clear_error();
    return 0;
  }
  try_handshake(*ctx);
  ERR_clear_error();
  return 0;
}
