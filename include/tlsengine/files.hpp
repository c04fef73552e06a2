// tlsengine — loading credentials from files: what Asio's use_certificate_chain_file() /
// load_verify_file() and Node's `fs.readFileSync` idiom give. Each loader reads the file,
// checks that it holds what the option expects (so a wrong file fails here, naming the
// file, instead of later as a bare OpenSSL reason), and returns the text or bytes to put
// into context_options. No exceptions: a file_result<T> is a result<T> that remembers
// the path, and message() says "<path>: <reason>".
//
//   tlsengine::server_options o;
//   auto cert = tlsengine::load_cert_chain_file("server.pem");
//   if (!cert) return fail(cert.message());   // "server.pem: No such file or directory"
//   o.cert = {*cert};
#pragma once

#include "context.hpp"
#include "detail/handles.hpp"
#include "detail/openssl_error.hpp"
#include "result.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace tlsengine {

/// A result<T> that knows which file it came from, so that its error can name it.
template <class T> class file_result : public result<T> {
public:
  file_result(T value, std::string path) : result<T>(std::move(value)), path_(std::move(path)) {}
  file_result(std::error_code ec, std::string path, std::string detail = {})
      : result<T>(ec), path_(std::move(path)), detail_(std::move(detail)) {}

  const std::string& path() const noexcept { return path_; }
  /// "<path>: <reason>" (with OpenSSL's full error text when it has more); empty on success.
  std::string message() const {
    if (this->has_value()) return {};
    return path_ + ": " + (detail_.empty() ? this->error().message() : detail_);
  }

private:
  std::string path_, detail_;
};

/// The whole file, as bytes in a string (PEM text or DER/PKCS#12 bytes). Named load_file,
/// not read_file, so that it never collides with a read_file of the user's own under
/// `using namespace tlsengine`.
inline file_result<std::string> load_file(const std::string& path) {
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

namespace detail {

/// Counts the PEM certificates in `pem`; on a parse error before the end, the error.
inline std::error_code count_pem_certificates(const std::string& pem, int& count,
                                              std::string& text) {
  ERR_clear_error();
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
    ERR_clear_error();
    return {};
  }
  openssl_failure failure = take_openssl_error(make_error_code(errc::invalid_argument));
  text = std::move(failure.text);
  return failure.code;
}

template <class T>
file_result<T> checked_certificates(file_result<std::string> file, T value_if_ok) {
  if (!file) return {file.error(), file.path()};
  int count = 0;
  std::string text;
  if (const std::error_code ec = count_pem_certificates(*file, count, text))
    return {ec, file.path(), text};
  return {std::move(value_if_ok), file.path()};
}

} // namespace detail

/// A certificate chain (PEM: leaf first, then intermediates) for context_options::cert —
/// Asio's use_certificate_chain_file(). Fails unless the file holds PEM certificates.
inline file_result<std::string> load_cert_chain_file(const std::string& path) {
  file_result<std::string> file = load_file(path);
  std::string pem = file ? *file : std::string();
  return detail::checked_certificates(std::move(file), std::move(pem));
}

/// Trusted CA certificates (PEM, one or more) for context_options::ca — Asio's
/// load_verify_file(). Fails unless the file holds PEM certificates.
inline file_result<std::string> load_verify_file(const std::string& path) {
  return load_cert_chain_file(path);
}

/// A private key (PEM, PKCS#8 or traditional, encrypted or not) for context_options::key.
/// An encrypted key is checked with `passphrase` ("bad decrypt" when it is wrong).
inline file_result<key_entry> load_private_key_file(const std::string& path,
                                                    std::optional<std::string> passphrase = {}) {
  file_result<std::string> file = load_file(path);
  if (!file) return {file.error(), path};
  ERR_clear_error();
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

/// A PKCS#12 bundle for context_options::pfx, checked with `passphrase`.
inline file_result<pfx_entry> load_pfx_file(const std::string& path,
                                            std::optional<std::string> passphrase = {}) {
  file_result<std::string> file = load_file(path);
  if (!file) return {file.error(), path};
  ERR_clear_error();
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
