// tlsengine — the out-of-line functions of tlsengine/certificate.hpp (see impl/src.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "../certificate.hpp"

namespace tlsengine {

TLSENGINE_DECL std::string_view distinguished_name::get(std::string_view key) const noexcept {
  for (const auto& entry : entries) {
    if (entry.first == key) return entry.second;
  }
  return {};
}

TLSENGINE_DECL std::vector<std::string> distinguished_name::get_all(std::string_view key) const {
  std::vector<std::string> values;
  for (const auto& entry : entries) {
    if (entry.first == key) values.push_back(entry.second);
  }
  return values;
}

} // namespace tlsengine

namespace tlsengine::detail::cert_impl {

TLSENGINE_DECL bio_ptr new_mem_bio() noexcept { return bio_ptr(BIO_new(BIO_s_mem())); }

TLSENGINE_DECL std::string take_bio(BIO* bio) {
  if (bio == nullptr) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out;
  if (len > 0 && data != nullptr) out.assign(data, static_cast<std::size_t>(len));
  (void)BIO_reset(bio);
  return out;
}

TLSENGINE_DECL void append_hex_byte(std::string& out, unsigned value, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  out += digits[(value >> 4) & 0xF];
  out += digits[value & 0xF];
}

TLSENGINE_DECL std::string colon_hex(const unsigned char* data, std::size_t len) {
  std::string out;
  out.reserve(len * 3);
  for (std::size_t i = 0; i < len; ++i) {
    if (i != 0) out += ':';
    append_hex_byte(out, data[i], true);
  }
  return out;
}

TLSENGINE_DECL void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

TLSENGINE_DECL int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

TLSENGINE_DECL std::size_t match_json_string(std::string_view s, std::string* decoded) {
  if (s.empty() || s[0] != '"') return 0;
  std::string out;
  std::uint32_t pending_high = 0; // a high surrogate waiting for its low half
  auto flush_high = [&] {
    if (pending_high != 0) append_utf8(out, pending_high);
    pending_high = 0;
  };
  std::size_t i = 1;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      flush_high();
      if (decoded != nullptr) *decoded = std::move(out);
      return i + 1;
    }
    if (c < 0x20) return 0;
    if (c != '\\') {
      flush_high();
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) return 0;
    const char e = s[i + 1];
    char simple = 0;
    switch (e) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': break;
    default: return 0;
    }
    if (e != 'u') {
      flush_high();
      out += simple;
      i += 2;
      continue;
    }
    if (i + 6 > s.size()) return 0;
    std::uint32_t cp = 0;
    for (std::size_t k = i + 2; k < i + 6; ++k) {
      const int v = hex_value(s[k]);
      if (v < 0) return 0;
      cp = (cp << 4) | static_cast<std::uint32_t>(v);
    }
    i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      flush_high();
      pending_high = cp;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF && pending_high != 0) {
      append_utf8(out, 0x10000 + ((pending_high - 0xD800) << 10) + (cp - 0xDC00));
      pending_high = 0;
    } else {
      flush_high();
      append_utf8(out, cp);
    }
  }
  return 0;
}

TLSENGINE_DECL bool is_safe_alt_name(const unsigned char* name, std::size_t len,
                                     bool utf8) noexcept {
  for (std::size_t i = 0; i < len; ++i) {
    const unsigned char c = name[i];
    switch (c) {
    case '"':
    case '\\':
    case ',':
    case '\'': return false;
    default:
      if (utf8) {
        if (c < ' ' || c == 0x7F) return false;
      } else if (c < ' ' || c > '~') {
        return false;
      }
    }
  }
  return true;
}

TLSENGINE_DECL void print_alt_name(std::string& out, const unsigned char* name, std::size_t len,
                                   bool utf8, const char* safe_prefix) {
  if (name == nullptr) len = 0;
  if (is_safe_alt_name(name, len, utf8)) {
    if (safe_prefix != nullptr) {
      out += safe_prefix;
      out += ':';
    }
    if (len != 0) out.append(reinterpret_cast<const char*>(name), len);
    return;
  }
  out += '"';
  if (safe_prefix != nullptr) {
    out += safe_prefix;
    out += ':';
  }
  for (std::size_t i = 0; i < len; ++i) {
    const unsigned char c = name[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if ((c >= ' ' && c != ',' && c <= '~') || (utf8 && (c & 0x80) != 0)) {
      out += static_cast<char>(c);
    } else {
      // Control or non-ASCII character: treated as Latin-1.
      out += "\\u00";
      append_hex_byte(out, c, false);
    }
  }
  out += '"';
}

TLSENGINE_DECL void print_latin1(std::string& out, const ASN1_STRING* s, const char* prefix) {
  if (s == nullptr) {
    print_alt_name(out, nullptr, 0, false, prefix);
    return;
  }
  print_alt_name(out, ASN1_STRING_get0_data(s), static_cast<std::size_t>(ASN1_STRING_length(s)),
                 false, prefix);
}

TLSENGINE_DECL void print_utf8(std::string& out, const ASN1_STRING* s, const char* prefix) {
  if (s == nullptr) {
    print_alt_name(out, nullptr, 0, true, prefix);
    return;
  }
  print_alt_name(out, ASN1_STRING_get0_data(s), static_cast<std::size_t>(ASN1_STRING_length(s)),
                 true, prefix);
}

TLSENGINE_DECL bool print_general_name(std::string& out, const GENERAL_NAME* gen) {
  if (gen == nullptr) return false;
  switch (gen->type) {
  case GEN_DNS:
    out += "DNS:";
    print_latin1(out, gen->d.dNSName);
    return true;
  case GEN_EMAIL:
    out += "email:";
    print_latin1(out, gen->d.rfc822Name);
    return true;
  case GEN_URI:
    out += "URI:";
    print_latin1(out, gen->d.uniformResourceIdentifier);
    return true;
  case GEN_DIRNAME: {
    out += "DirName:";
    bio_ptr tmp = new_mem_bio();
    if (!tmp) return false;
    constexpr unsigned long flags =
        XN_FLAG_RFC2253 & ~static_cast<unsigned long>(ASN1_STRFLGS_ESC_MSB | ASN1_STRFLGS_ESC_CTRL);
    if (X509_NAME_print_ex(tmp.get(), gen->d.directoryName, 0, flags) < 0) return false;
    const std::string text = take_bio(tmp.get());
    print_alt_name(out, reinterpret_cast<const unsigned char*>(text.data()), text.size(), true,
                   nullptr);
    return true;
  }
  case GEN_IPADD: {
    out += "IP Address:";
    const ASN1_OCTET_STRING* ip = gen->d.iPAddress;
    const int len = ip != nullptr ? ASN1_STRING_length(ip) : 0;
    const unsigned char* b = ip != nullptr ? ASN1_STRING_get0_data(ip) : nullptr;
    char buf[64];
    if (len == 4) {
      std::snprintf(buf, sizeof buf, "%d.%d.%d.%d", b[0], b[1], b[2], b[3]);
      out += buf;
    } else if (len == 16) {
      for (int j = 0; j < 8; ++j) {
        const unsigned pair = (static_cast<unsigned>(b[2 * j]) << 8) | b[2 * j + 1];
        std::snprintf(buf, sizeof buf, j == 0 ? "%X" : ":%X", pair);
        out += buf;
      }
    } else {
      std::snprintf(buf, sizeof buf, "<invalid length=%d>", len);
      out += buf;
    }
    return true;
  }
  case GEN_RID: {
    char oid[256];
    if (OBJ_obj2txt(oid, sizeof oid, gen->d.registeredID, 1) < 0) oid[0] = '\0';
    out += "Registered ID:";
    out += oid;
    return true;
  }
  case GEN_OTHERNAME: {
    const OTHERNAME* other = gen->d.otherName;
    bool unicode = true;
    const char* prefix = nullptr;
    switch (other != nullptr ? OBJ_obj2nid(other->type_id) : NID_undef) {
    case NID_id_on_SmtpUTF8Mailbox: prefix = "SmtpUTF8Mailbox"; break;
    case NID_XmppAddr: prefix = "XmppAddr"; break;
    case NID_SRVName:
      prefix = "SRVName";
      unicode = false;
      break;
    case NID_ms_upn: prefix = "UPN"; break;
    case NID_NAIRealm: prefix = "NAIRealm"; break;
    default: break;
    }
    const int value_type =
        (other != nullptr && other->value != nullptr) ? other->value->type : V_ASN1_UNDEF;
    if (prefix == nullptr || (unicode && value_type != V_ASN1_UTF8STRING) ||
        (!unicode && value_type != V_ASN1_IA5STRING)) {
      out += "othername:<unsupported>";
    } else {
      out += "othername:";
      if (unicode) {
        print_utf8(out, other->value->value.utf8string, prefix);
      } else {
        print_latin1(out, other->value->value.ia5string, prefix);
      }
    }
    return true;
  }
  case GEN_X400: out += "X400Name:<unsupported>"; return true;
  case GEN_EDIPARTY: out += "EdiPartyName:<unsupported>"; return true;
  default: return false;
  }
}

TLSENGINE_DECL std::string subject_alt_name_string(const X509* cert) {
  if (cert == nullptr) return {};
  const int index = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
  if (index < 0) return {};
  X509_EXTENSION* ext = X509_get_ext(cert, index);
  if (ext == nullptr) return {};
  std::unique_ptr<GENERAL_NAMES, general_names_free_t> names(
      static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
  if (!names) return {};
  std::string out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    if (i != 0) out += ", ";
    if (!print_general_name(out, sk_GENERAL_NAME_value(names.get(), i))) return {};
  }
  return out;
}

TLSENGINE_DECL std::vector<std::pair<std::string, std::string>>
info_access_entries(const X509* cert) {
  std::vector<std::pair<std::string, std::string>> entries;
  if (cert == nullptr) return entries;
  const int index = X509_get_ext_by_NID(cert, NID_info_access, -1);
  if (index < 0) return entries;
  X509_EXTENSION* ext = X509_get_ext(cert, index);
  if (ext == nullptr) return entries;
  std::unique_ptr<AUTHORITY_INFO_ACCESS, aia_free_t> descs(
      static_cast<AUTHORITY_INFO_ACCESS*>(X509V3_EXT_d2i(ext)));
  if (!descs) return entries;
  for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(descs.get()); ++i) {
    const ACCESS_DESCRIPTION* desc = sk_ACCESS_DESCRIPTION_value(descs.get(), i);
    char method[80];
    if (i2t_ASN1_OBJECT(method, sizeof method, desc->method) <= 0) method[0] = '\0';
    std::string line = method;
    line += " - ";
    if (!print_general_name(line, desc->location)) return {};
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue; // never produced by print_general_name
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == '"') {
      std::string decoded;
      if (match_json_string(value, &decoded) != 0) value = std::move(decoded);
    }
    entries.emplace_back(line.substr(0, colon), std::move(value));
  }
  return entries;
}

TLSENGINE_DECL distinguished_name name_entries(const X509_NAME* name) {
  distinguished_name dn;
  if (name == nullptr) return dn;
  const int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    if (entry == nullptr) return {};
    const ASN1_OBJECT* type = X509_NAME_ENTRY_get_object(entry);
    const int nid = OBJ_obj2nid(type);
    std::string key;
    const char* sn = nid != NID_undef ? OBJ_nid2sn(nid) : nullptr;
    if (sn != nullptr) {
      key = sn;
    } else {
      char oid[80];
      if (OBJ_obj2txt(oid, sizeof oid, type, 1) < 0) oid[0] = '\0';
      key = oid;
    }
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (len < 0) return {};
    std::unique_ptr<unsigned char, openssl_free_t> holder(utf8);
    dn.entries.emplace_back(std::move(key), std::string(reinterpret_cast<const char*>(utf8),
                                                        static_cast<std::size_t>(len)));
  }
  return dn;
}

TLSENGINE_DECL std::string print_time(BIO* bio, const ASN1_TIME* t) {
  if (bio == nullptr || t == nullptr) return {};
  ASN1_TIME_print(bio, t); // on failure OpenSSL writes "Bad time value", as Node shows
  return take_bio(bio);
}

TLSENGINE_DECL std::string digest_fingerprint(const X509* cert, const EVP_MD* md) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (md == nullptr || X509_digest(cert, md, buf, &len) != 1) return {};
  return colon_hex(buf, len);
}

TLSENGINE_DECL void fill_public_key(certificate_info& info, X509* cert, BIO* bio) {
  EVP_PKEY* pkey = X509_get0_pubkey(cert);
  if (pkey == nullptr) return;
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    BIGNUM* n_raw = nullptr;
    BIGNUM* e_raw = nullptr;
    const int have_n = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n_raw);
    bn_ptr n(n_raw);
    const int have_e = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e_raw);
    bn_ptr e(e_raw);
    if (have_n != 1 || have_e != 1 || !n || !e) return;
    if (bio != nullptr && BN_print(bio, n.get()) == 1) info.modulus = take_bio(bio);
    info.bits = BN_num_bits(n.get());
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(BN_get_word(e.get())));
    info.exponent = buf;
    const int len = i2d_PUBKEY(pkey, nullptr);
    if (len > 0) {
      info.pubkey.resize(static_cast<std::size_t>(len));
      unsigned char* p = info.pubkey.data();
      if (i2d_PUBKEY(pkey, &p) != len) info.pubkey.clear();
    }
  } else if (EVP_PKEY_is_a(pkey, "EC")) {
    const int bits = EVP_PKEY_get_bits(pkey);
    if (bits > 0) info.bits = bits;
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0,
                                        &len) == 1 &&
        len > 0) {
      info.pubkey.resize(len);
      if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                          info.pubkey.data(), info.pubkey.size(), &len) == 1) {
        info.pubkey.resize(len);
      } else {
        info.pubkey.clear();
      }
    }
    char group[80];
    std::size_t group_len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &group_len) == 1) {
      const int nid = OBJ_txt2nid(group);
      if (nid != NID_undef) {
        if (const char* sn = OBJ_nid2sn(nid)) info.asn1_curve = sn;
        if (const char* nist = EC_curve_nid2nist(nid)) info.nist_curve = nist;
      }
    }
  }
}

TLSENGINE_DECL std::error_code parse_error(bool queue_was_empty, int fallback_lib,
                                           int fallback_reason) {
  unsigned long code = queue_was_empty ? ERR_peek_error() : ERR_peek_last_error();
  if (code == 0) code = ERR_PACK(fallback_lib, 0, fallback_reason);
  return std::error_code(static_cast<int>(code), openssl_category());
}

TLSENGINE_DECL void append_escaped_name_value(std::string& out, std::string_view value) {
  // Character boundaries of the UTF-8 value: only the first and the last character get
  // the leading/trailing-space and leading-'#' rules (OpenSSL's do_buf: for a
  // one-character value, only the "last" rule applies).
  std::size_t last_start = value.size();
  if (!value.empty()) {
    last_start = value.size() - 1;
    while (last_start > 0 && (static_cast<unsigned char>(value[last_start]) & 0xC0) == 0x80) {
      --last_start;
    }
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const bool is_last = i == last_start;
    const bool is_first = i == 0 && !is_last;
    if (c >= 0x80) {
      out += static_cast<char>(c);
    } else if (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' ||
               (c == ' ' && (is_first || is_last)) || (c == '#' && is_first)) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      out += '\\';
      append_hex_byte(out, c, true);
    } else {
      out += static_cast<char>(c);
    }
  }
}

} // namespace tlsengine::detail::cert_impl

namespace tlsengine::detail {

TLSENGINE_DECL certificate_info certificate_info_from_x509(X509* cert) {
  using namespace cert_impl;
  certificate_info info;
  if (cert == nullptr) return info;
  error_queue_guard guard;
  cert_impl::bio_ptr bio = new_mem_bio(); // not detail::bio_ptr (handles.hpp)

  info.subject = name_entries(X509_get_subject_name(cert));
  info.issuer = name_entries(X509_get_issuer_name(cert));
  info.subjectaltname = subject_alt_name_string(cert);
  info.info_access = info_access_entries(cert);
  info.ca = X509_check_ca(cert) == 1;
  fill_public_key(info, cert, bio.get());
  info.valid_from = print_time(bio.get(), X509_get0_notBefore(cert));
  info.valid_to = print_time(bio.get(), X509_get0_notAfter(cert));
  info.fingerprint = digest_fingerprint(cert, EVP_sha1());
  info.fingerprint256 = digest_fingerprint(cert, EVP_sha256());
  info.fingerprint512 = digest_fingerprint(cert, EVP_sha512());

  std::unique_ptr<EXTENDED_KEY_USAGE, eku_free_t> eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  if (eku) {
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
      char oid[256];
      if (OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku.get(), i), 1) >= 0) {
        info.ext_key_usage.emplace_back(oid);
      }
    }
  }

  if (const ASN1_INTEGER* serial = X509_get0_serialNumber(cert)) {
    bn_ptr bn(ASN1_INTEGER_to_BN(serial, nullptr));
    if (bn) {
      std::unique_ptr<char, openssl_free_t> hex(BN_bn2hex(bn.get()));
      if (hex) info.serial_number = hex.get();
    }
  }

  const int der_len = i2d_X509(cert, nullptr);
  if (der_len > 0) {
    info.raw.resize(static_cast<std::size_t>(der_len));
    unsigned char* p = info.raw.data();
    if (i2d_X509(cert, &p) != der_len) info.raw.clear();
  }
  return info;
}

TLSENGINE_DECL certificate_info certificate_info_with_chain(X509* leaf, STACK_OF(X509) * chain) {
  if (leaf == nullptr) return {};
  std::vector<X509*> remaining;
  {
    cert_impl::error_queue_guard guard;
    const int n = chain != nullptr ? sk_X509_num(chain) : 0;
    for (int i = 0; i < n; ++i) {
      X509* c = sk_X509_value(chain, i);
      if (c == nullptr || c == leaf) continue;
      if (i == 0 && X509_cmp(c, leaf) == 0) continue; // the leaf itself, as a client sees it
      remaining.push_back(c);
    }
  }
  std::vector<X509*> path{leaf};
  {
    cert_impl::error_queue_guard guard;
    X509* current = leaf;
    while (X509_check_issued(current, current) != X509_V_OK) {
      auto it = remaining.begin();
      for (; it != remaining.end(); ++it) {
        if (X509_check_issued(*it, current) == X509_V_OK) break;
      }
      if (it == remaining.end()) break;
      current = *it;
      remaining.erase(it);
      path.push_back(current);
    }
  }
  std::shared_ptr<const certificate_info> issuer;
  for (std::size_t i = path.size(); i-- > 1;) {
    certificate_info info = certificate_info_from_x509(path[i]);
    info.issuer_certificate = std::move(issuer);
    issuer = std::make_shared<const certificate_info>(std::move(info));
  }
  certificate_info leaf_info = certificate_info_from_x509(leaf);
  leaf_info.issuer_certificate = std::move(issuer);
  return leaf_info;
}

} // namespace tlsengine::detail

namespace tlsengine {

TLSENGINE_DECL std::string distinguished_name::distinguished_name::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i != 0) out += '\n';
    out += entries[i].first;
    out += '=';
    detail::cert_impl::append_escaped_name_value(out, entries[i].second);
  }
  return out;
}

TLSENGINE_DECL result<certificate_info>
certificate_info::certificate_info::from_der(bytes_view der) {
  using namespace detail::cert_impl;
  const bool queue_was_empty = ERR_peek_error() == 0;
  ERR_set_mark();
  if (der.size() > static_cast<std::size_t>(LONG_MAX)) {
    ERR_pop_to_mark();
    return std::error_code(static_cast<int>(ERR_PACK(ERR_LIB_ASN1, 0, ASN1_R_TOO_LONG)),
                           openssl_category());
  }
  if (der.empty()) {
    ERR_pop_to_mark();
    return std::error_code(static_cast<int>(ERR_PACK(ERR_LIB_ASN1, 0, ASN1_R_TOO_SMALL)),
                           openssl_category());
  }
  const unsigned char* p = der.data();
  x509_ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    std::error_code ec = parse_error(queue_was_empty, ERR_LIB_ASN1, ASN1_R_TOO_SMALL);
    ERR_pop_to_mark();
    return ec;
  }
  if (p != der.data() + der.size()) {
    // Bytes after the certificate: not one DER certificate.
    ERR_pop_to_mark();
    return std::error_code(static_cast<int>(ERR_PACK(ERR_LIB_ASN1, 0, ASN1_R_TOO_LONG)),
                           openssl_category());
  }
  ERR_pop_to_mark();
  return detail::certificate_info_from_x509(cert.get());
}

TLSENGINE_DECL result<certificate_info>
certificate_info::certificate_info::from_pem(std::string_view pem) {
  using namespace detail::cert_impl;
  const bool queue_was_empty = ERR_peek_error() == 0;
  ERR_set_mark();
  if (pem.size() > static_cast<std::size_t>(INT_MAX)) {
    ERR_pop_to_mark();
    return std::error_code(static_cast<int>(ERR_PACK(ERR_LIB_PEM, 0, PEM_R_NO_START_LINE)),
                           openssl_category());
  }
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    std::error_code ec = parse_error(queue_was_empty, ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
    ERR_pop_to_mark();
    return ec;
  }
  // A password callback that never asks: an encrypted PEM block fails instead of prompting.
  pem_password_cb* no_password = [](char*, int, int, void*) -> int { return 0; };
  x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr));
  if (!cert) {
    std::error_code ec = parse_error(queue_was_empty, ERR_LIB_PEM, PEM_R_NO_START_LINE);
    ERR_pop_to_mark();
    return ec;
  }
  ERR_pop_to_mark();
  return detail::certificate_info_from_x509(cert.get());
}

} // namespace tlsengine
