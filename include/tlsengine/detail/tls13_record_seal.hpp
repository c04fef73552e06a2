// tlsengine — seals one TLS 1.3 alert record with a traffic secret, as OpenSSL's record layer
// would. OpenSSL 3.0 has no call to send an alert of our choice once a handshake has moved to
// encrypted records; the engine uses this for exactly one record: the first (sequence 0) under
// the secret it captured from the key log callback. Never exposed.
#pragma once

#include "handles.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace tlsengine::detail {

/// The secret of a key log line "LABEL <client_random> <secret>", or nothing when the line
/// has another label or is malformed.
inline std::vector<std::uint8_t> keylog_secret(std::string_view line, std::string_view label) {
  std::vector<std::uint8_t> secret;
  if (line.size() <= label.size() + 1 || line.substr(0, label.size()) != label ||
      line[label.size()] != ' ')
    return secret;
  line.remove_prefix(label.size() + 1);
  const std::size_t space = line.find(' ');
  if (space == std::string_view::npos) return secret;
  line.remove_prefix(space + 1);
  if (line.size() % 2 != 0 || line.size() > 2 * EVP_MAX_MD_SIZE) return secret;
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < line.size(); i += 2) {
    const int hi = nibble(line[i]), lo = nibble(line[i + 1]);
    if (hi < 0 || lo < 0) return {};
    secret.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return secret;
}

/// HKDF-Expand-Label(secret, label, "", length) of RFC 8446 7.1, by OpenSSL's TLS13-KDF.
inline bool tls13_expand_label(const EVP_MD* digest, const std::vector<std::uint8_t>& secret,
                               const char* label, std::uint8_t* out, std::size_t length) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "TLS13-KDF", nullptr);
  if (kdf == nullptr) return false;
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return false;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  static const char prefix[] = "tls13 ";
  unsigned char empty = 0;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(digest)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, const_cast<char*>(prefix),
                                        sizeof prefix - 1),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, const_cast<char*>(label),
                                        std::char_traits<char>::length(label)),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA, &empty, 0),
      OSSL_PARAM_construct_end()};
  const bool ok = EVP_KDF_derive(ctx, out, length, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

/// The TLS 1.3 record carrying the alert {level, description} encrypted under `secret`
/// with sequence number `sequence`, for the suite `cipher` (AES-GCM, ChaCha20-Poly1305,
/// AES-CCM, AES-CCM_8). Empty when the suite or the secret cannot be used.
inline std::vector<std::uint8_t> seal_tls13_alert(const SSL_CIPHER* cipher,
                                                  const std::vector<std::uint8_t>& secret,
                                                  std::uint8_t level, std::uint8_t description,
                                                  std::uint64_t sequence = 0) {
  std::vector<std::uint8_t> record;
  if (cipher == nullptr || secret.empty()) return record;
  const EVP_MD* digest = SSL_CIPHER_get_handshake_digest(cipher);
  const EVP_CIPHER* aead = EVP_get_cipherbynid(SSL_CIPHER_get_cipher_nid(cipher));
  if (digest == nullptr || aead == nullptr || EVP_MD_get_size(digest) != int(secret.size()))
    return record;
  const bool ccm = EVP_CIPHER_get_mode(aead) == EVP_CIPH_CCM_MODE;
  // The only suite with a short tag is TLS_AES_128_CCM_8_SHA256 (RFC 8446 B.4).
  const std::size_t tag_size =
      (SSL_CIPHER_get_id(cipher) & 0xffff) == (TLS1_3_CK_AES_128_CCM_8_SHA256 & 0xffff) ? 8 : 16;
  const std::size_t key_size = static_cast<std::size_t>(EVP_CIPHER_get_key_length(aead));
  std::uint8_t key[EVP_MAX_KEY_LENGTH], iv[12];
  if (key_size > sizeof key || !tls13_expand_label(digest, secret, "key", key, key_size) ||
      !tls13_expand_label(digest, secret, "iv", iv, sizeof iv))
    return record;
  for (int i = 0; i < 8; ++i) // the per-record nonce (RFC 8446 5.3)
    iv[11 - i] ^= static_cast<std::uint8_t>(sequence >> (8 * i));
  // TLSInnerPlaintext: the alert, then its real content type.
  const std::uint8_t inner[3] = {level, description, SSL3_RT_ALERT};
  const std::size_t length = sizeof inner + tag_size;
  const std::uint8_t header[5] = {SSL3_RT_APPLICATION_DATA, 3, 3,
                                  static_cast<std::uint8_t>(length >> 8),
                                  static_cast<std::uint8_t>(length & 0xff)};
  record.assign(header, header + sizeof header);
  record.resize(sizeof header + length);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0, tail = 0;
  bool ok = ctx != nullptr && EVP_EncryptInit_ex(ctx, aead, nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, sizeof iv, nullptr) == 1 &&
            (!ccm || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_size),
                                         nullptr) == 1) &&
            EVP_EncryptInit_ex(ctx, nullptr, nullptr, key, iv) == 1 &&
            // CCM needs the message length before the additional data.
            (!ccm || EVP_EncryptUpdate(ctx, nullptr, &n, nullptr, sizeof inner) == 1) &&
            EVP_EncryptUpdate(ctx, nullptr, &n, header, sizeof header) == 1 &&
            EVP_EncryptUpdate(ctx, record.data() + sizeof header, &n, inner, sizeof inner) == 1 &&
            n == int(sizeof inner) &&
            EVP_EncryptFinal_ex(ctx, record.data() + sizeof header + n, &tail) == 1 && tail == 0 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_size),
                                record.data() + sizeof header + sizeof inner) == 1;
  EVP_CIPHER_CTX_free(ctx);
  OPENSSL_cleanse(key, sizeof key);
  if (!ok) record.clear();
  return record;
}

} // namespace tlsengine::detail
