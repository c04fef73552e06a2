// tlsengine — the out-of-line functions of tlsengine/globals.hpp (see impl/src.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "../globals.hpp"

namespace tlsengine {

TLSENGINE_DECL std::vector<std::string> get_ciphers() {
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
  detail::clear_error_queue();
  return names;
}

TLSENGINE_DECL std::vector<std::string> root_certificates() {
  std::vector<std::string> pems;
  detail::x509_store_ptr store(X509_STORE_new());
  if (!store || X509_STORE_load_file(store.get(), X509_get_default_cert_file()) != 1) {
    detail::clear_error_queue();
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
  detail::clear_error_queue();
  return pems;
}

} // namespace tlsengine
