// tlsengine — what a full handshake established that a resumption cannot see again (the
// signature scheme the peer signed with, the stapled OCSP response), carried in the session
// so that the getters still answer after a resumption. Raw OpenSSL forgets both: a resumed
// handshake has no CertificateVerify and no CertificateStatus.
#pragma once

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tlsengine::detail {

/// Serialized into the session's ticket_appdata (after the client's binding digest on a
/// client, alone on a server), which OpenSSL keeps in tickets, serialized sessions and
/// duplicates.
struct handshake_facts {
  std::string peer_signature_scheme;
  std::vector<std::uint8_t> ocsp_response;

  /// An OCSP response larger than this is not carried (the getter is then empty after a
  /// resumption): a ticket should stay small.
  static constexpr std::size_t max_carried_ocsp = 16 * 1024;

  bool empty() const noexcept { return peer_signature_scheme.empty() && ocsp_response.empty(); }

  /// Appends {tag, 2-byte length, value} entries: 'S' the scheme, 'O' the OCSP response.
  void append_to(std::vector<unsigned char>& out) const {
    append_entry(out, 'S', reinterpret_cast<const unsigned char*>(peer_signature_scheme.data()),
                 peer_signature_scheme.size());
    if (ocsp_response.size() <= max_carried_ocsp)
      append_entry(out, 'O', ocsp_response.data(), ocsp_response.size());
  }

  /// Reads what append_to wrote; unknown tags are skipped, a truncated entry ends parsing.
  static handshake_facts parse(const unsigned char* data, std::size_t length) {
    handshake_facts facts;
    std::size_t at = 0;
    while (data != nullptr && length - at >= 3) {
      const unsigned char tag = data[at];
      const std::size_t size = static_cast<std::size_t>(data[at + 1]) << 8 | data[at + 2];
      at += 3;
      if (length - at < size) break;
      const unsigned char* value = data + at;
      if (tag == 'S') facts.peer_signature_scheme.assign(value, value + size);
      if (tag == 'O') facts.ocsp_response.assign(value, value + size);
      at += size;
    }
    return facts;
  }

private:
  static void append_entry(std::vector<unsigned char>& out, unsigned char tag,
                           const unsigned char* value, std::size_t size) {
    if (size == 0 || size > 0xffff) return;
    out.push_back(tag);
    out.push_back(static_cast<unsigned char>(size >> 8));
    out.push_back(static_cast<unsigned char>(size & 0xff));
    out.insert(out.end(), value, value + size);
  }
};

/// A signature algorithm as Node's getSharedSigalgs() names it: "RSA-PSS+SHA256",
/// "ECDSA+SHA384", "Ed25519".
inline std::string signature_scheme_name(int type, int hash) {
  std::string name;
  switch (type) {
  case EVP_PKEY_RSA: name = "RSA"; break;
  case EVP_PKEY_RSA_PSS: name = "RSA-PSS"; break;
  case EVP_PKEY_EC: name = "ECDSA"; break;
  case EVP_PKEY_ED25519: return "Ed25519";
  case EVP_PKEY_ED448: return "Ed448";
  default: {
    const char* sn = OBJ_nid2sn(type);
    name = sn != nullptr ? sn : "UNDEF";
    break;
  }
  }
  if (hash != NID_undef) {
    const char* sn = OBJ_nid2sn(hash);
    if (sn != nullptr) name += std::string("+") + sn;
  }
  return name;
}

/// What this handshake itself saw (empty on a resumption, which signs nothing).
inline handshake_facts live_handshake_facts(SSL* ssl, bool is_server) {
  handshake_facts facts;
  int type = NID_undef, hash = NID_undef;
  if (SSL_get_peer_signature_type_nid(ssl, &type) == 1) {
    if (SSL_get_peer_signature_nid(ssl, &hash) != 1) hash = NID_undef;
    facts.peer_signature_scheme = signature_scheme_name(type, hash);
  }
  if (!is_server) {
    const unsigned char* response = nullptr;
    const long n = SSL_get_tlsext_status_ocsp_resp(ssl, &response);
    if (response != nullptr && n > 0) facts.ocsp_response.assign(response, response + n);
  }
  return facts;
}

} // namespace tlsengine::detail
