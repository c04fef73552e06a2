// tlsengine — the out-of-line functions of tlsengine/connection.hpp (see impl/src.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "../connection.hpp"
#include "../detail/engine.hpp"

namespace tlsengine {

// Out of line: destroying the engine needs its complete type.
TLSENGINE_DECL connection::connection() noexcept = default;
TLSENGINE_DECL connection::~connection() = default;

TLSENGINE_DECL connection::connection(connection&& other) noexcept
    : engine_(std::move(other.engine_)) {
  adopt();
}

TLSENGINE_DECL connection& connection::operator=(connection&& other) noexcept {
  if (this != &other) {
    engine_ = std::move(other.engine_);
    adopt();
  }
  return *this;
}

TLSENGINE_DECL result<connection> connection::client(const client_options& options) {
  tlsengine::secure_context context = options.secure_context;
  if (!context) {
    auto created = secure_context::create(options);
    if (!created) return created.error();
    context = std::move(*created);
  }
  detail::engine_config config;
  config.is_server = false;
  config.connection = options;
  config.verify_peer = true;
  config.reject_unauthorized = options.reject_unauthorized;
  config.identity_host = options.servername.empty() ? options.host : options.servername;
  if (!options.servername.empty() && !is_ip_address(options.servername))
    config.sni = options.servername;
  config.check_identity = options.check_server_identity;
  config.session = options.session;
  if (options.alpn_protocols.is_set()) {
    auto wire = options.alpn_protocols.encode();
    if (!wire) return wire.error();
    config.alpn = std::move(*wire);
  }
  if (options.npn_protocols.is_set()) {
    auto wire = options.npn_protocols.encode();
    if (!wire) return wire.error();
    config.npn = std::move(*wire);
    detail::install_npn_select(context.native_handle());
  }
  config.request_ocsp = options.request_ocsp;
  config.pause_on_ocsp_response = options.pause_on_ocsp_response;
  config.psk_client = options.psk_callback;
  config.min_dh_size = options.min_dh_size;
  config.pause_on_certificate_request = options.pause_on_certificate_request;
  config.early_data = options.early_data;
  config.send_fallback_scsv = options.send_fallback_scsv;
  if (options.handshake_timeout > clock::duration::zero())
    config.handshake_timeout = options.handshake_timeout;
  connection c(std::make_unique<detail::engine>(std::move(context), std::move(config)));
  c.engine_->start(); // the ClientHello, now that callbacks can reach `c`
  // A callback (the PSK probe) may have moved the connection elsewhere: it lives on there.
  if (!c.engine_) return make_error_code(errc::invalid_state);
  // Setup failures (a bad session blob) are reported now rather than on first use.
  if (c.engine_->error() && !c.engine_->handshake_done() && c.engine_->cipher_bytes_out() == 0)
    return c.engine_->error();
  return c;
}

TLSENGINE_DECL std::size_t connection::feed(bytes_view ciphertext) {
  return engine_ ? engine_->feed(ciphertext) : 0;
}

TLSENGINE_DECL void connection::feed_eof() {
  if (engine_) engine_->feed_eof();
}

TLSENGINE_DECL mutable_bytes_view connection::input_window() {
  return engine_ ? engine_->input_window() : mutable_bytes_view();
}

TLSENGINE_DECL void connection::commit_input(std::size_t n) {
  if (engine_) engine_->commit_input(n);
}

TLSENGINE_DECL bytes_view connection::pending_output() {
  return engine_ ? engine_->pending_output() : bytes_view();
}

TLSENGINE_DECL void connection::consume_output(std::size_t n) {
  if (engine_) engine_->consume_output(n);
}

TLSENGINE_DECL std::size_t connection::write(bytes_view cleartext, std::error_code& ec) {
  if (!engine_) {
    ec = make_error_code(errc::destroyed);
    return 0;
  }
  return engine_->write(cleartext, ec);
}

TLSENGINE_DECL std::size_t connection::write(bytes_view cleartext) {
  std::error_code ignored;
  return write(cleartext, ignored);
}

TLSENGINE_DECL std::size_t connection::read(mutable_bytes_view out) {
  return engine_ ? engine_->read(out) : 0;
}

TLSENGINE_DECL bytes_view connection::peek_plaintext() const {
  return engine_ ? engine_->peek_plaintext() : bytes_view();
}

TLSENGINE_DECL void connection::consume_plaintext(std::size_t n) {
  if (engine_) engine_->consume_plaintext(n);
}

TLSENGINE_DECL void connection::end() {
  if (engine_) engine_->end();
}

TLSENGINE_DECL void connection::destroy() {
  if (engine_) engine_->destroy();
}

TLSENGINE_DECL std::optional<event> connection::next_event() {
  return engine_ ? engine_->next_event() : std::nullopt;
}

TLSENGINE_DECL std::optional<clock::time_point> connection::deadline() const {
  return engine_ ? engine_->deadline() : std::nullopt;
}

TLSENGINE_DECL void connection::on_timeout(clock::time_point now) {
  if (engine_) engine_->on_timeout(now);
}

TLSENGINE_DECL std::error_code connection::error() const noexcept {
  return engine_ ? engine_->error() : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::string connection::error_message() const {
  return engine_ ? engine_->error_message() : std::string();
}

TLSENGINE_DECL bool connection::is_server() const noexcept {
  return engine_ && engine_->is_server();
}

TLSENGINE_DECL bool connection::is_secure() const noexcept {
  return engine_ && engine_->handshake_done() && !engine_->error() && !engine_->destroyed();
}

TLSENGINE_DECL bool connection::is_destroyed() const noexcept {
  return !engine_ || engine_->destroyed();
}

TLSENGINE_DECL bool connection::is_ended() const noexcept {
  return engine_ && engine_->sent_close();
}

TLSENGINE_DECL bool connection::peer_ended() const noexcept {
  return engine_ && engine_->received_close();
}

TLSENGINE_DECL bool connection::received_close_notify() const noexcept {
  return engine_ && engine_->received_close_notify();
}

TLSENGINE_DECL std::size_t connection::buffered_write_size() const noexcept {
  return engine_ ? engine_->buffered_write_size() : 0;
}

TLSENGINE_DECL bool connection::authorized() const {
  if (!engine_ || !engine_->handshake_done() || engine_->verify_error()) return false;
  if (!engine_->ssl()) return false;
  if (engine_->is_server() && !engine_->config().verify_peer) return false;
  X509* peer = SSL_get0_peer_certificate(engine_->ssl());
  return peer != nullptr && SSL_get_verify_result(engine_->ssl()) == X509_V_OK;
}

TLSENGINE_DECL std::string connection::authorization_error() const {
  if (!engine_) return {};
  if (engine_->verify_error()) return error_code_name(engine_->verify_error());
  if (!engine_->ssl()) return {};
  if (!engine_->handshake_done() || authorized()) return {};
  // A server that asked for no certificate has nothing to report (as Node).
  if (engine_->is_server() && !engine_->config().verify_peer) return {};
  if (SSL_get0_peer_certificate(engine_->ssl()) == nullptr)
    return std::string(verify_code_name(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT));
  return std::string(verify_code_name(SSL_get_verify_result(engine_->ssl())));
}

TLSENGINE_DECL std::error_code connection::verify_error() const noexcept {
  return engine_ ? engine_->verify_error() : std::error_code();
}

TLSENGINE_DECL std::string connection::verify_reason() const {
  return engine_ ? engine_->verify_reason() : std::string();
}

TLSENGINE_DECL std::error_code connection::use_context(const secure_context& context) {
  return engine_ ? engine_->use_context(context) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::resume() {
  return engine_ ? engine_->resume() : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::resume_session(bytes_view session_data) {
  return engine_ ? engine_->resume_session(session_data) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::resume_session() {
  return engine_ ? engine_->resume_session(std::nullopt) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::set_ocsp_response(bytes_view response) {
  return engine_ ? engine_->set_ocsp_response(response) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::set_ocsp_response() {
  return engine_ ? engine_->set_ocsp_response(std::nullopt) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::use_certificate(std::string_view cert_pem,
                                                           const key_entry& key) {
  return engine_ ? engine_->use_certificate(cert_pem, key) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::verify_result(std::error_code verdict) {
  return engine_ ? engine_->verify_result(verdict) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::ocsp_result(std::error_code verdict) {
  return engine_ ? engine_->ocsp_result(verdict) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::accept_unauthorized(std::error_code verdict) {
  return engine_ ? engine_->accept_unauthorized(verdict) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::fail_decision(std::error_code error, int alert) {
  return engine_ ? engine_->fail_decision(error, alert) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL std::error_code connection::renegotiate(const renegotiate_options& options) {
  return engine_ ? engine_->renegotiate(options.reject_unauthorized, options.request_cert)
                 : make_error_code(errc::destroyed);
}

TLSENGINE_DECL void connection::disable_renegotiation() {
  if (engine_) engine_->disable_renegotiation();
}

TLSENGINE_DECL std::error_code connection::key_update(bool request_peer) {
  return engine_ ? engine_->key_update(request_peer) : make_error_code(errc::destroyed);
}

TLSENGINE_DECL void connection::enable_trace(std::function<void(std::string_view)> sink) {
  if (engine_) engine_->enable_trace(std::move(sink));
}

TLSENGINE_DECL std::error_code connection::set_max_send_fragment(std::size_t size) {
  if (!engine_ || !engine_->ssl()) return make_error_code(errc::destroyed);
  if (engine_->in_openssl()) return make_error_code(errc::invalid_state);
  if (size < 512 || size > 16384) return make_error_code(errc::invalid_max_send_fragment);
  if (SSL_set_max_send_fragment(engine_->ssl(), static_cast<long>(size)) != 1)
    return detail::take_openssl_error_code();
  return {};
}

TLSENGINE_DECL result<std::vector<std::uint8_t>>
connection::export_keying_material(std::size_t length, std::string_view label,
                                   std::optional<bytes_view> context) const {
  if (!engine_ || !engine_->ssl()) return make_error_code(errc::destroyed);
  if (!engine_->handshake_done()) return make_error_code(errc::invalid_state);
  // Keying material is a few keys long; TLS 1.3's exporter (HKDF) cannot give more than
  // 255 hash lengths. Refuse absurd lengths instead of allocating them.
  if (length == 0 || length > max_keying_material) return make_error_code(errc::invalid_argument);
  std::vector<std::uint8_t> out(length);
  detail::clear_error_queue();
  if (SSL_export_keying_material(engine_->ssl(), out.data(), length, label.data(), label.size(),
                                 context ? context->data() : nullptr, context ? context->size() : 0,
                                 context ? 1 : 0) != 1)
    return detail::take_openssl_error_code();
  return out;
}

TLSENGINE_DECL std::vector<std::uint8_t> connection::finished() const {
  return finished_message(false);
}

TLSENGINE_DECL std::vector<std::uint8_t> connection::peer_finished() const {
  return finished_message(true);
}

TLSENGINE_DECL std::optional<ephemeral_key_info> connection::ephemeral_key() const {
  if (!engine_ || !engine_->ssl() || engine_->is_server()) return std::nullopt;
  EVP_PKEY* key = nullptr;
  if (SSL_get_peer_tmp_key(engine_->ssl(), &key) != 1 || key == nullptr) {
    detail::clear_error_queue();
    return std::nullopt;
  }
  ephemeral_key_info info;
  info.size = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
  case EVP_PKEY_DH: info.type = "DH"; break;
  case EVP_PKEY_EC: {
    info.type = "ECDH";
    char group[64] = {0};
    std::size_t n = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &n) == 1) info.name = group;
    break;
  }
  case EVP_PKEY_X25519:
    info.type = "ECDH";
    info.name = "X25519";
    break;
  case EVP_PKEY_X448:
    info.type = "ECDH";
    info.name = "X448";
    break;
  default: break;
  }
  EVP_PKEY_free(key);
  return info;
}

TLSENGINE_DECL std::string connection::negotiated_group() const {
  if (!engine_ || !engine_->ssl() || !engine_->handshake_done()) return {};
  SSL* ssl = engine_->ssl();
  // OpenSSL 3.0 reads the group from the session, which a server has none of before the
  // ClientHello: never ask before the handshake is done.
  if (SSL_get_session(ssl) == nullptr) return {};
  const int id = static_cast<int>(SSL_get_negotiated_group(ssl));
  if (id == 0) return {};
  // A group without an OpenSSL NID comes back as TLSEXT_nid_unknown | its TLS id, which
  // SSL_group_to_name() also resolves.
  const char* name = SSL_group_to_name(ssl, id);
  return name != nullptr ? name : std::string();
}

TLSENGINE_DECL std::vector<std::string> connection::shared_sigalgs() const {
  std::vector<std::string> out;
  if (!engine_ || !engine_->ssl()) return out;
  const int count =
      SSL_get_shared_sigalgs(engine_->ssl(), 0, nullptr, nullptr, nullptr, nullptr, nullptr);
  for (int i = 0; i < count; ++i) {
    int sign = 0, hash = 0;
    SSL_get_shared_sigalgs(engine_->ssl(), i, &sign, &hash, nullptr, nullptr, nullptr);
    out.push_back(detail::signature_scheme_name(sign, hash));
  }
  return out;
}

TLSENGINE_DECL std::string connection::peer_signature_scheme() const {
  if (!engine_ || !engine_->handshake_done()) return {};
  return engine_->facts().peer_signature_scheme;
}

TLSENGINE_DECL std::vector<std::uint8_t> connection::ocsp_response() const {
  if (!engine_ || !engine_->handshake_done()) return {};
  return engine_->facts().ocsp_response;
}

TLSENGINE_DECL bool connection::hello_retry_request() const noexcept {
  return engine_ && engine_->hello_retry();
}

TLSENGINE_DECL bool connection::extended_master_secret() const {
  if (!engine_ || !engine_->ssl() || !engine_->handshake_done()) return false;
  if (SSL_version(engine_->ssl()) >= TLS1_3_VERSION) return false;
  return SSL_get_extms_support(engine_->ssl()) == 1;
}

TLSENGINE_DECL bool connection::peer_secure_renegotiation() const {
  if (!engine_ || !engine_->ssl() || !engine_->handshake_done()) return false;
  return SSL_get_secure_renegotiation_support(engine_->ssl()) == 1;
}

TLSENGINE_DECL std::string connection::alpn_protocol() const {
  if (!engine_ || !engine_->ssl()) return {};
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(engine_->ssl(), &p, &n);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}

TLSENGINE_DECL std::string connection::npn_protocol() const {
  return engine_ ? engine_->npn_protocol() : std::string();
}

TLSENGINE_DECL std::vector<std::uint8_t> connection::tls_ticket() const {
  if (!engine_ || !engine_->ssl()) return {};
  SSL_SESSION* s = SSL_get_session(engine_->ssl());
  const unsigned char* p = nullptr;
  std::size_t n = 0;
  if (s == nullptr) return {};
  SSL_SESSION_get0_ticket(s, &p, &n);
  return p ? std::vector<std::uint8_t>(p, p + n) : std::vector<std::uint8_t>();
}

TLSENGINE_DECL std::string connection::protocol() const {
  if (!engine_ || !engine_->ssl() || !engine_->handshake_done()) return {};
  return SSL_get_version(engine_->ssl());
}

TLSENGINE_DECL std::optional<cipher_info> connection::cipher() const {
  if (!engine_ || !engine_->ssl()) return std::nullopt;
  const SSL_CIPHER* c = SSL_get_current_cipher(engine_->ssl());
  if (c == nullptr) return std::nullopt;
  cipher_info info;
  info.name = SSL_CIPHER_get_name(c);
  const char* standard = SSL_CIPHER_standard_name(c);
  info.standard_name = standard ? standard : info.name;
  info.version = SSL_CIPHER_get_version(c);
  return info;
}

TLSENGINE_DECL certificate_info connection::peer_certificate(bool detailed) const {
  if (!engine_ || !engine_->ssl()) return {};
  X509* peer = SSL_get0_peer_certificate(engine_->ssl());
  if (peer == nullptr) return {};
  if (!detailed) return detail::certificate_info_from_x509(peer);
  STACK_OF(X509)* verified = SSL_get0_verified_chain(engine_->ssl());
  if (verified != nullptr && sk_X509_num(verified) > 0 &&
      X509_cmp(sk_X509_value(verified, 0), peer) == 0)
    return detail::certificate_info_with_chain(peer, verified);
  return detail::certificate_info_with_chain(peer, SSL_get_peer_cert_chain(engine_->ssl()));
}

TLSENGINE_DECL certificate_info connection::certificate() const {
  if (!engine_ || !engine_->ssl()) return {};
  X509* own = SSL_get_certificate(engine_->ssl());
  return own ? detail::certificate_info_from_x509(own) : certificate_info();
}

TLSENGINE_DECL bool connection::is_session_reused() const {
  return engine_ && engine_->ssl() && SSL_session_reused(engine_->ssl()) == 1;
}

TLSENGINE_DECL std::string connection::servername() const {
  if (!engine_ || !engine_->ssl()) return {};
  if (!engine_->is_server()) return engine_->config().sni;
  const char* name = SSL_get_servername(engine_->ssl(), TLSEXT_NAMETYPE_host_name);
  return name ? name : "";
}

TLSENGINE_DECL std::vector<std::uint8_t> connection::session() const {
  if (!engine_ || !engine_->ssl()) return {};
  SSL_SESSION* s = SSL_get_session(engine_->ssl());
  if (s == nullptr || SSL_SESSION_is_resumable(s) != 1) return {};
  const int size = i2d_SSL_SESSION(s, nullptr);
  if (size <= 0) return {};
  std::vector<std::uint8_t> out(static_cast<std::size_t>(size));
  unsigned char* p = out.data();
  i2d_SSL_SESSION(s, &p);
  return out;
}

TLSENGINE_DECL std::uint64_t connection::bytes_received() const noexcept {
  return engine_ ? engine_->cipher_bytes_in() : 0;
}

TLSENGINE_DECL std::uint64_t connection::bytes_sent() const noexcept {
  return engine_ ? engine_->cipher_bytes_out() : 0;
}

TLSENGINE_DECL std::uint64_t connection::cleartext_bytes_written() const noexcept {
  return engine_ ? engine_->clear_bytes_out() : 0;
}

TLSENGINE_DECL std::uint64_t connection::cleartext_bytes_read() const noexcept {
  return engine_ ? engine_->clear_bytes_in() : 0;
}

TLSENGINE_DECL SSL* connection::native_handle() const noexcept {
  return engine_ ? engine_->ssl() : nullptr;
}

TLSENGINE_DECL connection::connection(std::unique_ptr<detail::engine> engine)
    : engine_(std::move(engine)) {
  adopt();
}

TLSENGINE_DECL void connection::adopt() noexcept {
  if (engine_) engine_->set_owner(this);
}

TLSENGINE_DECL std::vector<std::uint8_t> connection::finished_message(bool peer) const {
  if (!engine_ || !engine_->ssl()) return {};
  std::uint8_t buffer[EVP_MAX_MD_SIZE];
  const std::size_t n = peer ? SSL_get_peer_finished(engine_->ssl(), buffer, sizeof buffer)
                             : SSL_get_finished(engine_->ssl(), buffer, sizeof buffer);
  return std::vector<std::uint8_t>(buffer, buffer + std::min(n, sizeof buffer));
}

TLSENGINE_DECL bool connection::is_ip_address(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  detail::clear_error_queue();
  if (ip == nullptr) return false;
  ASN1_OCTET_STRING_free(ip);
  return true;
}

TLSENGINE_DECL connection* current_connection() noexcept {
  return static_cast<connection*>(detail::current_callback_owner());
}

} // namespace tlsengine
