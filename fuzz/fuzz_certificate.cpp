// libFuzzer harness `certificate`: DER -> certificate_info::from_der and
// check_server_identity. Format: [hostname length (mod 64)][hostname][DER certificate].
// Differential checks: the certificate_info path and the X509* path of the identity check
// (the one the handshake uses) must agree, and from_pem of the same certificate must give
// the same object.
#include "fuzz_support.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_deterministic_mode();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t host_len = std::min<std::size_t>(data[0] % 64, size - 1);
  const std::string host(reinterpret_cast<const char*>(data + 1), host_len);
  const tlsengine::bytes_view der(data + 1 + host_len, size - 1 - host_len);

  auto info = tlsengine::certificate_info::from_der(der);
  if (!info) {
    if (!info.error()) fuzz::fail("certificate: a failed from_der() without an error code");
    if (ERR_peek_error() != 0) fuzz::fail("certificate: from_der() left the error queue dirty");
    return 0;
  }
  // raw is OpenSSL's re-encoding: it differs from the input when the input is BER rather
  // than DER (e.g. a BIT STRING with bits set in its unused trailing bits), and OpenSSL 3.0
  // may even re-encode what it cannot parse back (an AlgorithmIdentifier parameter with
  // the constructed tag 0x20 comes back as 00 00). When raw parses, it is a fixed point.
  if (info->raw.size() != der.size() ||
      !std::equal(info->raw.begin(), info->raw.end(), der.begin())) {
    ERR_set_mark();
    auto again = tlsengine::certificate_info::from_der(info->raw);
    ERR_pop_to_mark();
    if (again && (again->raw != info->raw || again->fingerprint256 != info->fingerprint256))
      fuzz::fail("certificate: raw does not parse back to itself");
  }
  (void)info->subject.to_string();
  (void)info->issuer.to_string();

  std::string reason_info, reason_x509;
  const std::error_code by_info = tlsengine::check_server_identity(host, *info, &reason_info);
  const unsigned char* p = der.data();
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) fuzz::fail("certificate: from_der() accepted what d2i_X509 refuses");
  const std::error_code by_x509 =
      tlsengine::detail::check_server_identity_x509(host, cert, &reason_x509);
  if (by_info != by_x509 || reason_info != reason_x509)
    fuzz::fail("certificate: the identity checks disagree:",
               "[" + by_info.message() + "] " + reason_info + " vs [" + by_x509.message() + "] " +
                   reason_x509);

  // The PEM path (the same bytes in PEM armour) must give the same certificate.
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio(bio, "CERTIFICATE", "", der.data(), static_cast<long>(der.size()));
  char* text = nullptr;
  const long n = BIO_get_mem_data(bio, &text);
  auto from_pem = tlsengine::certificate_info::from_pem(std::string_view(text, std::size_t(n)));
  BIO_free(bio);
  X509_free(cert);
  if (!from_pem || from_pem->fingerprint256 != info->fingerprint256 ||
      from_pem->subjectaltname != info->subjectaltname ||
      from_pem->subject.to_string() != info->subject.to_string())
    fuzz::fail("certificate: from_pem and from_der differ");
  ERR_clear_error();
  return 0;
}
