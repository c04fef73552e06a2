// tlsengine — the alert a certificate verdict maps to, as OpenSSL's own verification sends it
// (ssl_x509err2alert in ssl/statem/statem_lib.c, which OpenSSL does not export).
#pragma once

#include "../errors.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <system_error>

namespace tlsengine::detail {

/// The alert OpenSSL sends when verification fails with `x509_code`.
inline int alert_for_x509_code(long x509_code) {
  switch (x509_code) {
  case X509_V_ERR_APPLICATION_VERIFICATION: return SSL_AD_HANDSHAKE_FAILURE;
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CRL_HAS_EXPIRED: return SSL_AD_CERTIFICATE_EXPIRED;
  case X509_V_ERR_CERT_REVOKED: return SSL_AD_CERTIFICATE_REVOKED;
  case X509_V_ERR_CERT_SIGNATURE_FAILURE:
  case X509_V_ERR_CRL_SIGNATURE_FAILURE: return SSL_AD_DECRYPT_ERROR;
  case X509_V_ERR_INVALID_PURPOSE: return SSL_AD_UNSUPPORTED_CERTIFICATE;
  case X509_V_ERR_INVALID_CALL:
  case X509_V_ERR_OUT_OF_MEM:
  case X509_V_ERR_STORE_LOOKUP:
  case X509_V_ERR_UNSPECIFIED: return SSL_AD_INTERNAL_ERROR;
  case X509_V_ERR_CERT_CHAIN_TOO_LONG:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_INVALID_CA:
  case X509_V_ERR_PATH_LENGTH_EXCEEDED:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_CRL:
  case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return SSL_AD_UNKNOWN_CA;
  case X509_V_ERR_CA_KEY_TOO_SMALL:
  case X509_V_ERR_EC_KEY_EXPLICIT_PARAMS:
  case X509_V_ERR_CA_MD_TOO_WEAK:
  case X509_V_ERR_CERT_NOT_YET_VALID:
  case X509_V_ERR_CERT_REJECTED:
  case X509_V_ERR_CERT_UNTRUSTED:
  case X509_V_ERR_CRL_NOT_YET_VALID:
  case X509_V_ERR_DANE_NO_MATCH:
  case X509_V_ERR_EE_KEY_TOO_SMALL:
  case X509_V_ERR_EMAIL_MISMATCH:
  case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
  case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
  case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
  case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
  case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
  case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
  case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE: return SSL_AD_BAD_CERTIFICATE;
  default: return SSL_AD_CERTIFICATE_UNKNOWN;
  }
}

/// The X.509 code a verification verdict goes to OpenSSL as: its own when it is one,
/// else X509_V_ERR_APPLICATION_VERIFICATION.
inline int x509_code_of(std::error_code verdict) {
  return verdict.category() == x509_category() ? verdict.value()
                                               : X509_V_ERR_APPLICATION_VERIFICATION;
}

/// An alert the client's verification can send, as the X.509 code OpenSSL maps to it.
inline int x509_code_for_alert(int alert) {
  switch (alert) {
  case SSL_AD_CERTIFICATE_REVOKED: return X509_V_ERR_CERT_REVOKED;
  case SSL_AD_CERTIFICATE_EXPIRED: return X509_V_ERR_CERT_HAS_EXPIRED;
  case SSL_AD_UNKNOWN_CA: return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
  case SSL_AD_UNSUPPORTED_CERTIFICATE: return X509_V_ERR_INVALID_PURPOSE;
  case SSL_AD_INTERNAL_ERROR: return X509_V_ERR_OUT_OF_MEM;
  default: return X509_V_ERR_APPLICATION_VERIFICATION; // handshake_failure
  }
}

} // namespace tlsengine::detail
