// tlsengine — module-level functions and constants of Node's tls: getCiphers(),
// rootCertificates, CLIENT_RENEG_LIMIT / CLIENT_RENEG_WINDOW (the DEFAULT_* constants
// live in context.hpp).
#pragma once

#include "detail/handles.hpp"
#include "options.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

namespace tlsengine {

/// Node's tls.CLIENT_RENEG_LIMIT and tls.CLIENT_RENEG_WINDOW (server_options defaults).
inline constexpr std::size_t client_reneg_limit = 3;
inline constexpr clock::duration client_reneg_window = std::chrono::seconds(600);

/// Node's tls.getCiphers(): the names of the supported cipher suites, lower case.
inline std::vector<std::string> get_ciphers() {
  std::vector<std::string> names;
  detail::ssl_ctx_ptr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return names;
  SSL_CTX_set_cipher_list(ctx.get(), "ALL:COMPLEMENTOFALL");
  detail::ssl_ptr ssl(SSL_new(ctx.get()));
  if (!ssl) return names;
  STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(ssl.get());
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    std::string name = SSL_CIPHER_get_name(sk_SSL_CIPHER_value(ciphers, i));
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  ERR_clear_error();
  return names;
}

/// Node's tls.rootCertificates: the PEM of every certificate in the default trust store
/// (OpenSSL's default CA file — on Debian the ca-certificates bundle). This is the one
/// function of the library that reads a file, because that is what it is for.
inline std::vector<std::string> root_certificates() {
  std::vector<std::string> pems;
  detail::x509_store_ptr store(X509_STORE_new());
  if (!store || X509_STORE_load_file(store.get(), X509_get_default_cert_file()) != 1) {
    ERR_clear_error();
    return pems;
  }
  STACK_OF(X509)* all = X509_STORE_get1_all_certs(store.get());
  for (int i = 0; all != nullptr && i < sk_X509_num(all); ++i) {
    detail::bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), sk_X509_value(all, i)) != 1) continue;
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    if (n > 0) pems.emplace_back(data, static_cast<std::size_t>(n));
  }
  sk_X509_pop_free(all, X509_free);
  ERR_clear_error();
  return pems;
}

} // namespace tlsengine
