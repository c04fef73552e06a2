// tlsengine — the out-of-line functions of tlsengine/context.hpp (see impl/src.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "../context.hpp"

namespace tlsengine {

TLSENGINE_DECL key_entry::key_entry(std::string pem_text, std::string pass)
    : pem(std::move(pem_text)), passphrase(std::move(pass)) {}

TLSENGINE_DECL pfx_entry::pfx_entry(std::vector<std::uint8_t> der, std::string pass)
    : buf(std::move(der)), passphrase(std::move(pass)) {}

} // namespace tlsengine

namespace tlsengine::detail {

TLSENGINE_DECL int parse_tls_version(std::string_view name) noexcept {
  if (name == "TLSv1") return TLS1_VERSION;
  if (name == "TLSv1.1") return TLS1_1_VERSION;
  if (name == "TLSv1.2") return TLS1_2_VERSION;
  if (name == "TLSv1.3") return TLS1_3_VERSION;
  return -1;
}

TLSENGINE_DECL std::error_code secure_protocol_versions(std::string_view method, int& min,
                                                        int& max) {
  std::string_view base = method;
  for (std::string_view suffix : {"_client_method", "_server_method", "_method"}) {
    if (base.size() > suffix.size() && base.substr(base.size() - suffix.size()) == suffix) {
      base = base.substr(0, base.size() - suffix.size());
      break;
    }
  }
  const bool is_method = base.size() != method.size();
  if (is_method && base == "TLS") {
    min = TLS1_VERSION;
    max = TLS1_3_VERSION;
  } else if (is_method && base == "SSLv23") {
    min = TLS1_VERSION;
    max = TLS1_2_VERSION; // as Node: SSLv23_method stops at TLS 1.2
  } else if (is_method && (base == "TLSv1" || base == "TLSv1_1" || base == "TLSv1_2")) {
    min = max = base == "TLSv1"     ? TLS1_VERSION
                : base == "TLSv1_1" ? TLS1_1_VERSION
                                    : TLS1_2_VERSION;
  } else {
    return make_error_code(errc::invalid_protocol_method); // SSLv2/SSLv3 disabled, or unknown
  }
  return {};
}

TLSENGINE_DECL int pem_passphrase_callback(char* buffer, int size, int, void* user) {
  const auto* passphrase = static_cast<const std::string*>(user);
  if (passphrase == nullptr || size <= 0) return -1; // never prompt on a terminal
  const int n =
      static_cast<int>(passphrase->size()) < size ? static_cast<int>(passphrase->size()) : size;
  std::memcpy(buffer, passphrase->data(), static_cast<std::size_t>(n));
  return n;
}

TLSENGINE_DECL bio_ptr memory_bio(std::string_view text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

TLSENGINE_DECL bool only_pem_end_in_queue() {
  const unsigned long e = ERR_peek_last_error();
  if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
    detail::clear_error_queue();
    return true;
  }
  return e == 0;
}

TLSENGINE_DECL std::error_code configure_ciphers(SSL_CTX* ctx, const std::string& ciphers,
                                                 std::string& list12, std::string& suites13) {
  // Node's rule: names starting with TLS_ are TLS 1.3 suites, the rest a TLS 1.2 list.
  std::size_t start = 0;
  const std::string& all = ciphers.empty() ? std::string(default_ciphers) : ciphers;
  while (start <= all.size()) {
    std::size_t end = all.find(':', start);
    if (end == std::string::npos) end = all.size();
    const std::string item = all.substr(start, end - start);
    if (!item.empty()) {
      std::string& target = item.rfind("TLS_", 0) == 0 ? suites13 : list12;
      if (!target.empty()) target += ':';
      target += item;
    }
    start = end + 1;
  }
  if (list12.empty() && suites13.empty()) return make_error_code(errc::invalid_argument);
  if (SSL_CTX_set_cipher_list(ctx, list12.c_str()) != 1) {
    const unsigned long e = ERR_peek_last_error();
    // An empty TLS 1.2 list deliberately disables TLS 1.2 suites, as in Node.
    if (!(list12.empty() && ERR_GET_REASON(e) == SSL_R_NO_CIPHER_MATCH))
      return take_openssl_error_code();
    detail::clear_error_queue();
  }
  if (SSL_CTX_set_ciphersuites(ctx, suites13.c_str()) != 1) return take_openssl_error_code();
  return {};
}

TLSENGINE_DECL std::error_code load_certificates(SSL_CTX* ctx,
                                                 const std::vector<std::string>& chains) {
  for (const std::string& pem : chains) {
    bio_ptr bio = memory_bio(pem);
    x509_ptr leaf(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr));
    if (!leaf) return take_openssl_error_code();
    if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) return take_openssl_error_code();
    // The rest of the PEM is the chain of this certificate (it becomes the current one).
    if (SSL_CTX_clear_chain_certs(ctx) != 1) return take_openssl_error_code();
    while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
        X509_free(extra);
        return take_openssl_error_code();
      }
    }
    if (!only_pem_end_in_queue()) return take_openssl_error_code();
  }
  return {};
}

TLSENGINE_DECL std::error_code load_keys(SSL_CTX* ctx, const std::vector<key_entry>& keys,
                                         const std::string& shared_passphrase) {
  for (const key_entry& entry : keys) {
    bio_ptr bio = memory_bio(entry.pem);
    const std::string& passphrase = entry.passphrase ? *entry.passphrase : shared_passphrase;
    evp_pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, pem_passphrase_callback,
                                             const_cast<std::string*>(&passphrase)));
    if (!key) return take_openssl_error_code();
    // Certificates are loaded first so that a key that does not match fails here
    // ("key values mismatch") instead of being dropped silently by OpenSSL.
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) return take_openssl_error_code();
  }
  return {};
}

TLSENGINE_DECL std::error_code load_trust(SSL_CTX* ctx, const std::vector<std::string>& cas) {
  if (cas.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) return take_openssl_error_code();
    return {};
  }
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const std::string& pem : cas) {
    bio_ptr bio = memory_bio(pem);
    int count = 0;
    while (X509* cert = PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr)) {
      ++count;
      const bool ok =
          X509_STORE_add_cert(store, cert) == 1 && SSL_CTX_add_client_CA(ctx, cert) == 1;
      X509_free(cert);
      if (!ok) return take_openssl_error_code();
    }
    if (count == 0 || !only_pem_end_in_queue()) return take_openssl_error_code();
  }
  return {};
}

TLSENGINE_DECL std::error_code ssl_reason(int reason) {
  return std::error_code(static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, reason)), openssl_category());
}

TLSENGINE_DECL std::error_code check_keys(SSL_CTX* ctx, std::size_t certificates,
                                          std::size_t keys) {
  if (certificates == 0 && keys == 0) return {};
  std::size_t pairs = 0;
  for (long r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); r == 1;
       r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
    if (SSL_CTX_check_private_key(ctx) != 1) return take_openssl_error_code();
    ++pairs;
  }
  detail::clear_error_queue();
  if (pairs < certificates) return ssl_reason(SSL_R_NO_PRIVATE_KEY_ASSIGNED);
  if (pairs < keys) return ssl_reason(SSL_R_NO_CERTIFICATE_ASSIGNED);
  return {};
}

TLSENGINE_DECL std::error_code load_pfx(SSL_CTX* ctx, const std::vector<pfx_entry>& bundles,
                                        const std::string& shared_passphrase) {
  for (const pfx_entry& entry : bundles) {
    const unsigned char* p = entry.buf.data();
    std::unique_ptr<PKCS12, openssl_deleter<PKCS12, PKCS12_free>> p12(
        d2i_PKCS12(nullptr, &p, static_cast<long>(entry.buf.size())));
    if (!p12) return take_openssl_error_code();
    const std::string& passphrase = entry.passphrase ? *entry.passphrase : shared_passphrase;
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* chain = nullptr;
    if (PKCS12_parse(p12.get(), passphrase.c_str(), &key, &cert, &chain) != 1)
      return take_openssl_error_code();
    evp_pkey_ptr key_owner(key);
    x509_ptr cert_owner(cert);
    std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> chain_owner(
        chain, [](STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); });
    if (cert == nullptr || key == nullptr) return ssl_reason(SSL_R_NO_CERTIFICATE_ASSIGNED);
    if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_clear_chain_certs(ctx) != 1)
      return take_openssl_error_code();
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i)
      if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i)) != 1)
        return take_openssl_error_code();
    if (SSL_CTX_use_PrivateKey(ctx, key) != 1) return take_openssl_error_code();
  }
  return {};
}

TLSENGINE_DECL std::error_code load_crls(SSL_CTX* ctx, const std::vector<std::string>& crls) {
  if (crls.empty()) return {};
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const std::string& pem : crls) {
    bio_ptr bio = memory_bio(pem);
    int count = 0;
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      ++count;
      const int ok = X509_STORE_add_crl(store, crl);
      X509_CRL_free(crl);
      if (ok != 1) return take_openssl_error_code();
    }
    if (count == 0 || !only_pem_end_in_queue()) return take_openssl_error_code();
  }
  // As Node: every certificate of the chain is checked against its issuer's CRL.
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  return {};
}

TLSENGINE_DECL std::error_code load_dhparam(SSL_CTX* ctx, const std::string& dhparam) {
  if (dhparam.empty()) return {};
  if (dhparam == "auto") {
    if (SSL_CTX_set_dh_auto(ctx, 1) != 1) return take_openssl_error_code();
    return {};
  }
  bio_ptr bio = memory_bio(dhparam);
  evp_pkey_ptr params(PEM_read_bio_Parameters(bio.get(), nullptr));
  if (!params) return take_openssl_error_code();
  if (EVP_PKEY_get_base_id(params.get()) != EVP_PKEY_DH)
    return make_error_code(errc::invalid_argument);
  if (EVP_PKEY_get_bits(params.get()) < 1024) return make_error_code(errc::dh_param_too_small);
  if (SSL_CTX_set0_tmp_dh_pkey(ctx, params.get()) != 1) return take_openssl_error_code();
  params.release(); // owned by the context now
  return {};
}

TLSENGINE_DECL unsigned int identity_digest(SSL_CTX* ctx, unsigned char* out) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  bool ok = md != nullptr && EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1;
  static const char label[] = "tlsengine session id context";
  ok = ok && EVP_DigestUpdate(md, label, sizeof label) == 1;
  for (long r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); ok && r == 1;
       r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
    unsigned char* der = nullptr;
    const int n = i2d_X509(SSL_CTX_get0_certificate(ctx), &der);
    if (n > 0) ok = EVP_DigestUpdate(md, der, static_cast<std::size_t>(n)) == 1;
    OPENSSL_free(der);
  }
  ok = ok && EVP_DigestFinal_ex(md, digest, &length) == 1;
  EVP_MD_CTX_free(md);
  detail::clear_error_queue();
  if (!ok) length = 0;
  if (length > SSL_MAX_SID_CTX_LENGTH) length = SSL_MAX_SID_CTX_LENGTH;
  std::memcpy(out, digest, length);
  return length;
}

TLSENGINE_DECL void complete_chains(SSL_CTX* ctx) {
  for (long r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); r == 1;
       r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
    STACK_OF(X509)* chain = nullptr;
    if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1 && chain != nullptr && sk_X509_num(chain) > 0)
      continue; // the configured chain is sent as it is
    // Whatever part of the chain the store has (the root included, as the automatic
    // chain did); nothing when the issuer is unknown.
    SSL_CTX_build_cert_chain(ctx,
                             SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR | SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR);
  }
  detail::clear_error_queue();
  SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
}

} // namespace tlsengine::detail

namespace tlsengine {

TLSENGINE_DECL result<secure_context> secure_context::create(const context_options& options) {
  detail::clear_error_queue();
  auto state = std::make_shared<detail::context_state>();
  state->ctx.reset(SSL_CTX_new(TLS_method()));
  if (!state->ctx) return detail::take_openssl_error_code();
  SSL_CTX* ctx = state->ctx.get();

  state->min_version = detail::parse_tls_version(options.min_version);
  state->max_version = detail::parse_tls_version(options.max_version);
  if (!options.secure_protocol.empty()) {
    if (options.min_version != default_min_version || options.max_version != default_max_version)
      return make_error_code(errc::protocol_version_conflict);
    if (std::error_code ec = detail::secure_protocol_versions(
            options.secure_protocol, state->min_version, state->max_version))
      return ec;
  }
  if (state->min_version < 0 || state->max_version < 0 || state->min_version > state->max_version)
    return make_error_code(errc::invalid_argument);
  if (SSL_CTX_set_min_proto_version(ctx, state->min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, state->max_version) != 1)
    return detail::take_openssl_error_code();

  if (std::error_code ec =
          detail::configure_ciphers(ctx, options.ciphers, state->cipher_list, state->ciphersuites))
    return ec;
  // Node's behaviour: a cipher list without TLS 1.3 suites means TLS 1.2 at most (and
  // one with only TLS 1.3 suites, TLS 1.3 only), rather than OpenSSL's "no ciphers
  // available" at the first handshake.
  if (state->ciphersuites.empty() && state->max_version > TLS1_2_VERSION &&
      state->min_version <= TLS1_2_VERSION) {
    state->max_version = TLS1_2_VERSION;
    SSL_CTX_set_max_proto_version(ctx, state->max_version);
  }
  if (state->cipher_list.empty() && state->min_version < TLS1_3_VERSION &&
      state->max_version >= TLS1_3_VERSION) {
    state->min_version = TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx, state->min_version);
  }
  if (options.honor_cipher_order) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (options.secure_options != 0)
    SSL_CTX_set_options(ctx, static_cast<uint64_t>(options.secure_options));
  if (!options.ecdh_curve.empty() && options.ecdh_curve != "auto" &&
      SSL_CTX_set1_groups_list(ctx, options.ecdh_curve.c_str()) != 1)
    return detail::take_openssl_error_code();
  if (!options.sigalgs.empty() && SSL_CTX_set1_sigalgs_list(ctx, options.sigalgs.c_str()) != 1)
    return detail::take_openssl_error_code();
  if (!options.client_sigalgs.empty() &&
      SSL_CTX_set1_client_sigalgs_list(ctx, options.client_sigalgs.c_str()) != 1)
    return detail::take_openssl_error_code();

  if (std::error_code ec = detail::load_certificates(ctx, options.cert)) return ec;
  if (std::error_code ec = detail::load_keys(ctx, options.key, options.passphrase)) return ec;
  if (std::error_code ec = detail::load_pfx(ctx, options.pfx, options.passphrase)) return ec;
  if (std::error_code ec = detail::check_keys(ctx, options.cert.size() + options.pfx.size(),
                                              options.key.size() + options.pfx.size()))
    return ec;
  state->has_certificate = SSL_CTX_get0_certificate(ctx) != nullptr;
  if (std::error_code ec = detail::load_trust(ctx, options.ca)) return ec;
  if (std::error_code ec = detail::load_crls(ctx, options.crl)) return ec;
  if (options.allow_partial_trust_chain)
    X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx), X509_V_FLAG_PARTIAL_CHAIN);
  const std::vector<unsigned char> trust =
      detail::trust_digest(SSL_CTX_get_cert_store(ctx), options.ca.empty());
  if (std::error_code ec = detail::load_dhparam(ctx, options.dhparam)) return ec;
  detail::complete_chains(ctx);

  // Sessions are bound to the identity that made them: the default session id context
  // is a digest of this context's certificates, so a session (or ticket) made under one
  // SNI context is never resumed under another. Server connections add their
  // verification policy (session_binding).
  unsigned char sid[SSL_MAX_SID_CTX_LENGTH];
  unsigned int sid_length = 0;
  if (!options.session_id_context.empty()) {
    sid_length = static_cast<unsigned>(
        std::min<std::size_t>(options.session_id_context.size(), SSL_MAX_SID_CTX_LENGTH));
    std::memcpy(sid, options.session_id_context.data(), sid_length);
  } else {
    sid_length = detail::identity_digest(ctx, sid);
  }
  // Servers get it per connection (apply_to): on a client it would break TLS 1.3
  // external PSKs, whose sessions carry no context.
  state->session_id_context.assign(sid, sid + sid_length);
  state->trust = trust;
  for (unsigned char flags = 0; flags < detail::client_binding_count; ++flags)
    state->client_bindings[flags] = detail::client_session_binding(trust, flags);
  for (std::size_t flags = 0; flags < detail::verify_policy::policy_count; ++flags)
    state->session_bindings[flags] = detail::session_binding(
        state->session_id_context, trust,
        detail::verify_policy::from_flags(static_cast<unsigned char>(flags)));
  if (!options.session_id_context.empty() &&
      SSL_CTX_set_session_id_context(ctx, sid, sid_length) != 1)
    return detail::take_openssl_error_code();
  detail::install_callbacks(ctx);
  SSL_CTX_set_timeout(ctx, options.session_timeout);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return secure_context(std::move(state));
}

TLSENGINE_DECL const std::vector<unsigned char>&
secure_context::session_binding(const detail::verify_policy& policy) const {
  static const std::vector<unsigned char> none;
  return state_ ? state_->session_bindings[policy.flags()] : none;
}

TLSENGINE_DECL const std::vector<unsigned char>& secure_context::trust_digest() const {
  static const std::vector<unsigned char> none;
  return state_ ? state_->trust : none;
}

TLSENGINE_DECL const std::vector<unsigned char>&
secure_context::client_session_binding(unsigned char flags) const {
  static const std::vector<unsigned char> none;
  return state_ && flags < detail::client_binding_count ? state_->client_bindings[flags] : none;
}

TLSENGINE_DECL bool secure_context::bind_sessions(SSL* ssl,
                                                  const detail::verify_policy& policy) const {
  const std::vector<unsigned char>& binding = session_binding(policy);
  return !binding.empty() && SSL_set_session_id_context(ssl, binding.data(),
                                                        static_cast<unsigned>(binding.size())) == 1;
}

TLSENGINE_DECL session_handle secure_context::parsed_session(bytes_view bytes) const {
  return state_ ? state_->client_sessions.find_or_parse(bytes) : session_handle();
}

TLSENGINE_DECL bool secure_context::apply_to(SSL* ssl, const detail::verify_policy& policy) const {
  if (!state_) return false;
  SSL_CTX* ctx = state_->ctx.get();
  return SSL_set_SSL_CTX(ssl, ctx) != nullptr && bind_sessions(ssl, policy) &&
         SSL_set_min_proto_version(ssl, state_->min_version) == 1 &&
         SSL_set_max_proto_version(ssl, state_->max_version) == 1 &&
         (state_->cipher_list.empty() ||
          SSL_set_cipher_list(ssl, state_->cipher_list.c_str()) == 1) &&
         SSL_set_ciphersuites(ssl, state_->ciphersuites.c_str()) == 1 &&
         (SSL_set_options(ssl, SSL_CTX_get_options(ctx)), true);
}

TLSENGINE_DECL secure_context::secure_context(std::shared_ptr<detail::context_state> state)
    : state_(std::move(state)) {}

} // namespace tlsengine
