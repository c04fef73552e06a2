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

#include "detail/config.hpp"

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
TLSENGINE_DECL file_result<std::string> load_file(const std::string& path);

namespace detail {

/// Counts the PEM certificates in `pem`; on a parse error before the end, the error.
TLSENGINE_DECL std::error_code count_pem_certificates(const std::string& pem, int& count,
                                                      std::string& text);

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
TLSENGINE_DECL file_result<std::string> load_cert_chain_file(const std::string& path);

/// Trusted CA certificates (PEM, one or more) for context_options::ca — Asio's
/// load_verify_file(). Fails unless the file holds PEM certificates.
TLSENGINE_DECL file_result<std::string> load_verify_file(const std::string& path);

/// A private key (PEM, PKCS#8 or traditional, encrypted or not) for context_options::key.
/// An encrypted key is checked with `passphrase` ("bad decrypt" when it is wrong).
TLSENGINE_DECL file_result<key_entry>
load_private_key_file(const std::string& path, std::optional<std::string> passphrase = {});

/// A PKCS#12 bundle for context_options::pfx, checked with `passphrase`.
TLSENGINE_DECL file_result<pfx_entry> load_pfx_file(const std::string& path,
                                                    std::optional<std::string> passphrase = {});

} // namespace tlsengine

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#include "impl/files.hpp"
#endif
