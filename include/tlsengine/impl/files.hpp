// tlsengine — the out-of-line functions of tlsengine/files.hpp (see impl/src.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "../files.hpp"

namespace tlsengine {

TLSENGINE_DECL file_result<std::string> load_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return {std::error_code(errno, std::generic_category()), path};
  std::string data;
  char buffer[16 * 1024];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    data.append(buffer, n);
  const bool failed = std::ferror(f) != 0;
  const int saved = errno;
  std::fclose(f);
  if (failed) return {std::error_code(saved != 0 ? saved : EIO, std::generic_category()), path};
  return {std::move(data), path};
}

} // namespace tlsengine

namespace tlsengine::detail {

TLSENGINE_DECL std::error_code count_pem_certificates(const std::string& pem, int& count,
                                                      std::string& text) {
  detail::clear_error_queue();
  count = 0;
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return take_openssl_error_code();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++count;
  }
  // The loop ends with "no start line" at the end of the input: expected once some
  // certificates were read, the whole problem when none were.
  const unsigned long last = ERR_peek_last_error();
  if (count > 0 && ERR_GET_LIB(last) == ERR_LIB_PEM &&
      ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    detail::clear_error_queue();
    return {};
  }
  openssl_failure failure = take_openssl_error(make_error_code(errc::invalid_argument));
  text = std::move(failure.text);
  return failure.code;
}

} // namespace tlsengine::detail

namespace tlsengine {

TLSENGINE_DECL file_result<std::string> load_cert_chain_file(const std::string& path) {
  file_result<std::string> file = load_file(path);
  std::string pem = file ? *file : std::string();
  return detail::checked_certificates(std::move(file), std::move(pem));
}

TLSENGINE_DECL file_result<std::string> load_verify_file(const std::string& path) {
  return load_cert_chain_file(path);
}

TLSENGINE_DECL file_result<key_entry> load_private_key_file(const std::string& path,
                                                            std::optional<std::string> passphrase) {
  file_result<std::string> file = load_file(path);
  if (!file) return {file.error(), path};
  detail::clear_error_queue();
  detail::bio_ptr bio(BIO_new_mem_buf(file->data(), static_cast<int>(file->size())));
  // An empty passphrase (not nullptr) makes OpenSSL fail on an encrypted key instead of
  // prompting on the terminal.
  const std::string pass = passphrase.value_or(std::string());
  EVP_PKEY* key =
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>(pass.c_str()))
          : nullptr;
  if (key == nullptr) {
    detail::openssl_failure failure = detail::take_openssl_error();
    return {failure.code, path, failure.text};
  }
  EVP_PKEY_free(key);
  if (passphrase) return {key_entry(std::move(*file), std::move(*passphrase)), path};
  return {key_entry(std::move(*file)), path};
}

TLSENGINE_DECL file_result<pfx_entry> load_pfx_file(const std::string& path,
                                                    std::optional<std::string> passphrase) {
  file_result<std::string> file = load_file(path);
  if (!file) return {file.error(), path};
  detail::clear_error_queue();
  std::vector<std::uint8_t> der(file->begin(), file->end());
  const unsigned char* p = der.data();
  PKCS12* p12 = d2i_PKCS12(nullptr, &p, static_cast<long>(der.size()));
  // Without a passphrase: an empty one, or none at all (both exist in the wild).
  const bool ok =
      p12 != nullptr &&
      (passphrase ? PKCS12_verify_mac(p12, passphrase->c_str(), -1) == 1
                  : PKCS12_verify_mac(p12, "", 0) == 1 || PKCS12_verify_mac(p12, nullptr, 0) == 1);
  if (p12 != nullptr) PKCS12_free(p12);
  if (!ok) {
    detail::openssl_failure failure = detail::take_openssl_error();
    return {failure.code, path, failure.text};
  }
  if (passphrase) return {pfx_entry(std::move(der), std::move(*passphrase)), path};
  return {pfx_entry(std::move(der)), path};
}

} // namespace tlsengine
