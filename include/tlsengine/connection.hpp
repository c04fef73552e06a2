// tlsengine — connection: one TLS connection as a sans-I/O state machine (Node's
// TLSSocket without the socket), and client_options (tls.connect's options).
#pragma once

#include "bytes.hpp"
#include "certificate.hpp"
#include "context.hpp"
#include "detail/engine.hpp"
#include "events.hpp"
#include "identity.hpp"
#include "options.hpp"
#include "result.hpp"
#include "session.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlsengine {

/// tls.connect's options (minus the socket ones). Every createSecureContext option is
/// accepted; or pass an existing context in `secure_context`.
struct client_options : context_options, connection_options {
  tlsengine::secure_context secure_context; ///< used instead of the context fields when set
  /// SNI, and the name checked against the certificate. An IP address is checked but not
  /// sent (SNI carries host names only).
  std::string servername;
  /// The name checked when `servername` is empty (Node's `host`).
  std::string host = "localhost";
  bool reject_unauthorized = true;
  /// Node's checkServerIdentity; empty means tlsengine::check_server_identity.
  check_server_identity_function check_server_identity;
  /// A session from an earlier `session` event, or its bytes (connection::session(),
  /// session_handle::to_bytes()), to resume. It is offered only to the server name it was
  /// made for. Bytes are parsed once per secure_context; a handle is not parsed at all.
  session_handle session;
  /// ALPN protocols to offer, most preferred first (Node's ALPNProtocols).
  alpn_list alpn_protocols;
  /// NPN protocols, most preferred first (Node's NPNProtocols of the v0.x-v8 manuals):
  /// TLS 1.2 only, ALPN takes precedence when the server supports both. Opt-in, but per
  /// secure_context: once a client with this set used a context, every client of that
  /// context offers NPN (OpenSSL has no per-connection switch; the others select
  /// "http/1.1" if a server answers, as Node 0.10 did, and report none).
  alpn_list npn_protocols;
  /// Ask for a stapled OCSP response: the `ocsp_response` event (Node's requestOCSP).
  bool request_ocsp = false;
  /// Opt-in: the `ocsp_response` event becomes a decision inside the handshake (implies
  /// request_ocsp). Answer with ocsp_result(): a rejection sends
  /// bad_certificate_status_response, as OpenSSL's status callback would.
  bool pause_on_ocsp_response = false;
  /// Node's pskCallback: the identity and key for the server's hint.
  psk_client_function psk_callback;
  /// Refuse finite-field DH keys smaller than this (Node's minDHSize); 0: no check.
  int min_dh_size = 1024;
  /// Opt-in `certificate_request` decision: choose the client certificate when the
  /// server asks, with connection::use_certificate() or resume().
  bool pause_on_certificate_request = false;
  /// TLS 1.3 0-RTT: with a `session` whose ticket allows early data, what is written
  /// before the first pending_output() goes out as early data (an `early_data_status`
  /// event says if the server took it; if not it is resent after the handshake).
  bool early_data = false;
  /// A deadline for the handshake (deadline()/on_timeout(), errc::handshake_timeout);
  /// zero: none. Node's `timeout` is a socket idle timeout; this is what a client needs.
  clock::duration handshake_timeout = clock::duration::zero();
  /// RFC 7507: mark a fallback connection (a retry at a lower max_version) so that a
  /// server supporting better refuses it with inappropriate_fallback.
  bool send_fallback_scsv = false;
};

/// Node's renegotiate(options): the verification to apply in the new handshake.
struct renegotiate_options {
  bool reject_unauthorized = true;
  bool request_cert = false; ///< server: ask the client for a certificate this time
};

/// Node's getEphemeralKeyInfo(): {type: "ECDH" or "DH", name: "X25519", size: 253}.
struct ephemeral_key_info {
  std::string type;
  std::string name;
  int size = 0;
};

/// Node's socket.getCipher().
struct cipher_info {
  std::string name;          ///< OpenSSL's name, e.g. "ECDHE-RSA-AES128-GCM-SHA256"
  std::string standard_name; ///< IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
  std::string version;       ///< the protocol version the suite was defined for
};

class server;

/// One TLS connection. Feed it ciphertext, drain events, cleartext and ciphertext out;
/// it owns no socket and never blocks. Movable, not copyable; one thread at a time.
class connection {
public:
  connection() = default;
  connection(connection&& other) noexcept : engine_(std::move(other.engine_)) { adopt(); }
  /// Do not move-assign over (or otherwise drop) a connection from inside one of its own
  /// callbacks: call destroy() there instead (see docs/HARDENING.md).
  connection& operator=(connection&& other) noexcept {
    if (this != &other) {
      engine_ = std::move(other.engine_);
      adopt();
    }
    return *this;
  }
  ~connection() = default;

  /// A client connection; the ClientHello is in pending_output() at once.
  static result<connection> client(const client_options& options) {
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

  explicit operator bool() const noexcept { return engine_ != nullptr; }

  // ---- the data path (DESIGN.md's core contract) ---------------------------------------
  /// Ciphertext in. Takes all of it unless the input limit is reached; returns the count.
  /// After a fatal error or the peer's close_notify input is discarded (and counted taken).
  std::size_t feed(bytes_view ciphertext) { return engine_ ? engine_->feed(ciphertext) : 0; }
  /// The transport closed. Without the peer's close_notify first this is truncation: an
  /// error unless connection_options::allow_truncation.
  void feed_eof() {
    if (engine_) engine_->feed_eof();
  }
  /// Zero-copy input: recv() into this window, then commit_input(n).
  mutable_bytes_view input_window() {
    return engine_ ? engine_->input_window() : mutable_bytes_view();
  }
  void commit_input(std::size_t n) {
    if (engine_) engine_->commit_input(n);
  }

  /// Ciphertext to send, valid until the next call that changes the connection. Cleartext
  /// written since the last drain is encrypted here, sharing full-size records.
  bytes_view pending_output() { return engine_ ? engine_->pending_output() : bytes_view(); }
  void consume_output(std::size_t n) {
    if (engine_) engine_->consume_output(n);
  }

  /// Cleartext out. Before the handshake completes it is buffered and sent after it.
  /// Returns the bytes accepted (fewer when the write buffer is full); `ec` says why none.
  std::size_t write(bytes_view cleartext, std::error_code& ec) {
    if (!engine_) {
      ec = make_error_code(errc::destroyed);
      return 0;
    }
    return engine_->write(cleartext, ec);
  }
  std::size_t write(bytes_view cleartext) {
    std::error_code ignored;
    return write(cleartext, ignored);
  }

  /// Cleartext in: copies up to out.size() bytes; 0 means none now.
  std::size_t read(mutable_bytes_view out) { return engine_ ? engine_->read(out) : 0; }
  /// Zero-copy reading: a view of the decrypted bytes, then consume_plaintext(n).
  bytes_view peek_plaintext() const { return engine_ ? engine_->peek_plaintext() : bytes_view(); }
  void consume_plaintext(std::size_t n) {
    if (engine_) engine_->consume_plaintext(n);
  }

  /// close_notify after the queued data (half-close: reading goes on).
  void end() {
    if (engine_) engine_->end();
  }
  /// Aborts now. A fatal alert already queued stays in pending_output() to be flushed.
  void destroy() {
    if (engine_) engine_->destroy();
  }

  std::optional<event> next_event() { return engine_ ? engine_->next_event() : std::nullopt; }
  std::optional<clock::time_point> deadline() const {
    return engine_ ? engine_->deadline() : std::nullopt;
  }
  void on_timeout(clock::time_point now) {
    if (engine_) engine_->on_timeout(now);
  }

  // ---- state ---------------------------------------------------------------------------
  /// The first fatal error (sticky); empty while the connection is healthy.
  std::error_code error() const noexcept {
    return engine_ ? engine_->error() : make_error_code(errc::destroyed);
  }
  /// The error's full text: OpenSSL's error queue, the verification reason.
  std::string error_message() const { return engine_ ? engine_->error_message() : std::string(); }
  bool is_server() const noexcept { return engine_ && engine_->is_server(); }
  /// The handshake completed and no fatal error happened since.
  bool is_secure() const noexcept {
    return engine_ && engine_->handshake_done() && !engine_->error() && !engine_->destroyed();
  }
  bool is_destroyed() const noexcept { return !engine_ || engine_->destroyed(); }
  /// We sent close_notify / the peer's close_notify arrived.
  bool is_ended() const noexcept { return engine_ && engine_->sent_close(); }
  bool peer_ended() const noexcept { return engine_ && engine_->received_close(); }
  /// The peer's end was a real close_notify (false for an EOF that allow_truncation let
  /// through as `end`, and before any end).
  bool received_close_notify() const noexcept {
    return engine_ && engine_->received_close_notify();
  }
  /// Cleartext accepted by write() and not yet encrypted.
  std::size_t buffered_write_size() const noexcept {
    return engine_ ? engine_->buffered_write_size() : 0;
  }

  // ---- verification (Node's authorized / authorizationError) ----------------------------
  /// The peer's certificate was verified (chain, and host name on the client).
  bool authorized() const {
    if (!engine_ || !engine_->handshake_done() || engine_->verify_error()) return false;
    if (!engine_->ssl()) return false;
    if (engine_->is_server() && !engine_->config().verify_peer) return false;
    X509* peer = SSL_get0_peer_certificate(engine_->ssl());
    return peer != nullptr && SSL_get_verify_result(engine_->ssl()) == X509_V_OK;
  }
  /// Node's authorizationError: "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID", ...;
  /// empty when authorized() or before the handshake.
  std::string authorization_error() const {
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
  /// The verification failure as an error_code (x509_category, or the engine's
  /// cert_altname_invalid), with the reason text in verify_reason().
  std::error_code verify_error() const noexcept {
    return engine_ ? engine_->verify_error() : std::error_code();
  }
  std::string verify_reason() const { return engine_ ? engine_->verify_reason() : std::string(); }

  // ---- decision answers (see the decision events in events.hpp) ---------------------------
  // Each returns {} when taken; errc::invalid_state when no such decision is waiting;
  // errc::destroyed after destroy(). The caller drains as after feed().

  /// `servername`: continue with this context (its certificate, CA, ciphers, versions).
  std::error_code use_context(const secure_context& context) {
    return engine_ ? engine_->use_context(context) : make_error_code(errc::destroyed);
  }
  /// The default answer to the waiting decision: the add_context table's (or the default)
  /// context, no cached session, no OCSP staple, no client certificate, accept the peer.
  std::error_code resume() {
    return engine_ ? engine_->resume() : make_error_code(errc::destroyed);
  }
  /// `resume_session`: the session data stored from a `new_session` event (a cache hit).
  std::error_code resume_session(bytes_view session_data) {
    return engine_ ? engine_->resume_session(session_data) : make_error_code(errc::destroyed);
  }
  /// `resume_session`: a cache miss (full handshake).
  std::error_code resume_session() {
    return engine_ ? engine_->resume_session(std::nullopt) : make_error_code(errc::destroyed);
  }
  /// `ocsp_request`: the DER OCSP response to staple.
  std::error_code set_ocsp_response(bytes_view response) {
    return engine_ ? engine_->set_ocsp_response(response) : make_error_code(errc::destroyed);
  }
  /// `ocsp_request`: nothing to staple.
  std::error_code set_ocsp_response() {
    return engine_ ? engine_->set_ocsp_response(std::nullopt) : make_error_code(errc::destroyed);
  }
  /// `certificate_request`: send this certificate chain (PEM) and key. A bad PEM or key
  /// returns its error and the decision stays open.
  std::error_code use_certificate(std::string_view cert_pem, const key_entry& key) {
    return engine_ ? engine_->use_certificate(cert_pem, key) : make_error_code(errc::destroyed);
  }
  /// `verify_peer`: {} accepts the peer; an error rejects it. An x509_category() code
  /// picks the alert (CERT_REVOKED → certificate_revoked ...), anything else
  /// handshake_failure. A server that rejects sends the alert OpenSSL's own verification
  /// would (the X.509 code's alert; access_denied for a code of another category): in
  /// TLS 1.2 inside the handshake (the client's ChangeCipherSpec was held back), in TLS 1.3
  /// as the first record after the server's flight (no ticket is issued before the
  /// verdict). No application data ever reaches either side before it.
  std::error_code verify_result(std::error_code verdict) {
    return engine_ ? engine_->verify_result(verdict) : make_error_code(errc::destroyed);
  }
  /// `ocsp_response` with `decision` (client, pause_on_ocsp_response): {} accepts the
  /// stapled response (or its absence); an error rejects it: the handshake fails with that
  /// error and a fatal bad_certificate_status_response alert (113).
  std::error_code ocsp_result(std::error_code verdict) {
    return engine_ ? engine_->ocsp_result(verdict) : make_error_code(errc::destroyed);
  }
  /// `verify_peer`: accept the peer but keep `verdict` as the authorization error (Node's
  /// rejectUnauthorized: false): authorized() false, authorization_error() names it.
  std::error_code accept_unauthorized(std::error_code verdict) {
    return engine_ ? engine_->accept_unauthorized(verdict) : make_error_code(errc::destroyed);
  }

  /// Any waiting decision (Node's cb(err)): the handshake fails with `error` (one `error`
  /// event) and the fatal `alert` in pending_output(). A server's servername,
  /// resume_session and ocsp_request send exactly `alert`; a client's verify_peer sends
  /// it when OpenSSL can (certificate_revoked, certificate_expired, unknown_ca,
  /// unsupported_certificate, internal_error; else handshake_failure); a client's
  /// certificate_request always sends internal_error (OpenSSL's certificate callback can
  /// say nothing else); a server's verify_peer sends exactly `alert` (as verify_result);
  /// a client's ocsp_response sends `alert` (TLS 1.3: bad_certificate_status_response or
  /// an alert verification can send).
  std::error_code fail_decision(std::error_code error, int alert = SSL_AD_HANDSHAKE_FAILURE) {
    return engine_ ? engine_->fail_decision(error, alert) : make_error_code(errc::destroyed);
  }

  // ---- lifecycle controls ----------------------------------------------------------------
  /// TLS 1.2 renegotiation (Node's renegotiate()); `renegotiated` event when done. TLS 1.3
  /// has none: OpenSSL's ERR_SSL_WRONG_SSL_VERSION, as Node.
  std::error_code renegotiate(const renegotiate_options& options = {}) {
    return engine_ ? engine_->renegotiate(options.reject_unauthorized, options.request_cert)
                   : make_error_code(errc::destroyed);
  }
  /// Node's disableRenegotiation(): a renegotiation attempt by the peer then fails the
  /// connection with errc::renegotiation_disabled.
  void disable_renegotiation() {
    if (engine_) engine_->disable_renegotiation();
  }
  /// TLS 1.3 KeyUpdate (beyond Node); `request_peer` asks the peer to update its keys too.
  /// The message goes out with the next pending_output().
  std::error_code key_update(bool request_peer = false) {
    return engine_ ? engine_->key_update(request_peer) : make_error_code(errc::destroyed);
  }
  /// Node's enableTrace(): OpenSSL's protocol trace, one call per message.
  void enable_trace(std::function<void(std::string_view)> sink) {
    if (engine_) engine_->enable_trace(std::move(sink));
  }
  /// Node's setMaxSendFragment(): records of at most `size` bytes (512..16384).
  std::error_code set_max_send_fragment(std::size_t size) {
    if (!engine_ || !engine_->ssl()) return make_error_code(errc::destroyed);
    if (engine_->in_openssl()) return make_error_code(errc::invalid_state);
    if (size < 512 || size > 16384) return make_error_code(errc::invalid_max_send_fragment);
    if (SSL_set_max_send_fragment(engine_->ssl(), static_cast<long>(size)) != 1)
      return detail::take_openssl_error_code();
    return {};
  }

  // ---- introspection (Node's getters) ---------------------------------------------------
  /// The most export_keying_material() gives at once.
  static constexpr std::size_t max_keying_material = 255 * 32; // HKDF-Expand, SHA-256
  /// Node's exportKeyingMaterial(length, label, context) (RFC 5705 / 8446 exporters);
  /// errc::invalid_argument for a length of 0 or above max_keying_material.
  result<std::vector<std::uint8_t>>
  export_keying_material(std::size_t length, std::string_view label,
                         std::optional<bytes_view> context = {}) const {
    if (!engine_ || !engine_->ssl()) return make_error_code(errc::destroyed);
    if (!engine_->handshake_done()) return make_error_code(errc::invalid_state);
    // Keying material is a few keys long; TLS 1.3's exporter (HKDF) cannot give more than
    // 255 hash lengths. Refuse absurd lengths instead of allocating them.
    if (length == 0 || length > max_keying_material) return make_error_code(errc::invalid_argument);
    std::vector<std::uint8_t> out(length);
    ERR_clear_error();
    if (SSL_export_keying_material(engine_->ssl(), out.data(), length, label.data(), label.size(),
                                   context ? context->data() : nullptr,
                                   context ? context->size() : 0, context ? 1 : 0) != 1)
      return detail::take_openssl_error_code();
    return out;
  }
  /// Node's getFinished() / getPeerFinished(): the Finished messages' verify_data.
  std::vector<std::uint8_t> finished() const { return finished_message(false); }
  std::vector<std::uint8_t> peer_finished() const { return finished_message(true); }
  /// Client only, as Node: the server's ephemeral key; nullopt on a server or when none.
  std::optional<ephemeral_key_info> ephemeral_key() const {
    if (!engine_ || !engine_->ssl() || engine_->is_server()) return std::nullopt;
    EVP_PKEY* key = nullptr;
    if (SSL_get_peer_tmp_key(engine_->ssl(), &key) != 1 || key == nullptr) {
      ERR_clear_error();
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
  /// The key-exchange group of the handshake, by its IANA name: "x25519", "secp256r1",
  /// "ffdhe2048", or on OpenSSL >= 3.5 the post-quantum hybrid "X25519MLKEM768" (whose
  /// server share is a KEM ciphertext, so ephemeral_key() has nothing to report for it).
  /// Both roles; empty before the handshake and for TLS 1.2 finite-field DHE (OpenSSL picks
  /// its parameters without negotiating a named group). A TLS 1.2 resumption reports the
  /// group of the handshake that made the session; a TLS 1.3 one runs a new exchange.
  std::string negotiated_group() const {
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
  /// Node's getSharedSigalgs(): e.g. {"ECDSA+SHA256", "RSA-PSS+SHA256"}.
  std::vector<std::string> shared_sigalgs() const {
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

  /// The signature scheme the peer signed the handshake with, as shared_sigalgs() names
  /// them ("RSA-PSS+SHA256", "ECDSA+SHA256", "Ed25519"); empty when it signed nothing (a
  /// client without certificate). A resumption signs nothing: it reports the scheme of
  /// the handshake that made the session (carried in the session; raw OpenSSL forgets it).
  std::string peer_signature_scheme() const {
    if (!engine_ || !engine_->handshake_done()) return {};
    return engine_->facts().peer_signature_scheme;
  }
  /// Client with request_ocsp: the DER OCSP response the server stapled (the
  /// `ocsp_response` event's), empty if none. After a resumption, the response of the
  /// handshake that made the session (up to 16 KiB is carried in it).
  std::vector<std::uint8_t> ocsp_response() const {
    if (!engine_ || !engine_->handshake_done()) return {};
    return engine_->facts().ocsp_response;
  }
  /// TLS 1.3: the server answered the first ClientHello with a HelloRetryRequest.
  bool hello_retry_request() const noexcept { return engine_ && engine_->hello_retry(); }
  /// The extended master secret (RFC 7627) was used; TLS 1.3 has it built in: false.
  bool extended_master_secret() const {
    if (!engine_ || !engine_->ssl() || !engine_->handshake_done()) return false;
    if (SSL_version(engine_->ssl()) >= TLS1_3_VERSION) return false;
    return SSL_get_extms_support(engine_->ssl()) == 1;
  }
  /// The peer supports secure renegotiation (RFC 5746).
  bool peer_secure_renegotiation() const {
    if (!engine_ || !engine_->ssl() || !engine_->handshake_done()) return false;
    return SSL_get_secure_renegotiation_support(engine_->ssl()) == 1;
  }

  /// The protocol ALPN agreed on; empty when none.
  std::string alpn_protocol() const {
    if (!engine_ || !engine_->ssl()) return {};
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(engine_->ssl(), &p, &n);
    return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
  }
  /// Node's npnProtocol: what NPN agreed on; empty when none (NPN not asked for, ALPN
  /// took precedence, TLS 1.3, or a client whose list shared nothing with the server's).
  std::string npn_protocol() const { return engine_ ? engine_->npn_protocol() : std::string(); }
  /// Client: the TLS session ticket the server sent (Node's getTLSTicket()); empty if none.
  std::vector<std::uint8_t> tls_ticket() const {
    if (!engine_ || !engine_->ssl()) return {};
    SSL_SESSION* s = SSL_get_session(engine_->ssl());
    const unsigned char* p = nullptr;
    std::size_t n = 0;
    if (s == nullptr) return {};
    SSL_SESSION_get0_ticket(s, &p, &n);
    return p ? std::vector<std::uint8_t>(p, p + n) : std::vector<std::uint8_t>();
  }

  /// "TLSv1.3", "TLSv1.2", ...; empty before the handshake.
  std::string protocol() const {
    if (!engine_ || !engine_->ssl() || !engine_->handshake_done()) return {};
    return SSL_get_version(engine_->ssl());
  }
  std::optional<cipher_info> cipher() const {
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
  /// The peer's certificate (empty when none). `detailed` links issuer_certificate up the
  /// chain, to the trust anchor when verification built one (as Node, which completes the
  /// chain from its trust store), else as far as the peer sent it.
  certificate_info peer_certificate(bool detailed = false) const {
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
  /// Our own certificate (empty when none).
  certificate_info certificate() const {
    if (!engine_ || !engine_->ssl()) return {};
    X509* own = SSL_get_certificate(engine_->ssl());
    return own ? detail::certificate_info_from_x509(own) : certificate_info();
  }
  bool is_session_reused() const {
    return engine_ && engine_->ssl() && SSL_session_reused(engine_->ssl()) == 1;
  }
  /// Client: the SNI sent. Server: the SNI received.
  std::string servername() const {
    if (!engine_ || !engine_->ssl()) return {};
    if (!engine_->is_server()) return engine_->config().sni;
    const char* name = SSL_get_servername(engine_->ssl(), TLSEXT_NAMETYPE_host_name);
    return name ? name : "";
  }
  /// Client: the current session, serialized (resume with client_options::session). For
  /// TLS 1.3 prefer the `session` event: tickets arrive after the handshake.
  std::vector<std::uint8_t> session() const {
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
  /// Byte counters: ciphertext fed/produced, cleartext written/decrypted.
  std::uint64_t bytes_received() const noexcept { return engine_ ? engine_->cipher_bytes_in() : 0; }
  std::uint64_t bytes_sent() const noexcept { return engine_ ? engine_->cipher_bytes_out() : 0; }
  std::uint64_t cleartext_bytes_written() const noexcept {
    return engine_ ? engine_->clear_bytes_out() : 0;
  }
  std::uint64_t cleartext_bytes_read() const noexcept {
    return engine_ ? engine_->clear_bytes_in() : 0;
  }

  /// The underlying SSL, for what tlsengine does not wrap (do not free it, do not do I/O).
  SSL* native_handle() const noexcept { return engine_ ? engine_->ssl() : nullptr; }

private:
  friend class server;
  explicit connection(std::unique_ptr<detail::engine> engine) : engine_(std::move(engine)) {
    adopt();
  }
  void adopt() noexcept {
    if (engine_) engine_->set_owner(this);
  }

  std::vector<std::uint8_t> finished_message(bool peer) const {
    if (!engine_ || !engine_->ssl()) return {};
    std::uint8_t buffer[EVP_MAX_MD_SIZE];
    const std::size_t n = peer ? SSL_get_peer_finished(engine_->ssl(), buffer, sizeof buffer)
                               : SSL_get_finished(engine_->ssl(), buffer, sizeof buffer);
    return std::vector<std::uint8_t>(buffer, buffer + std::min(n, sizeof buffer));
  }

  static bool is_ip_address(const std::string& host) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
    ERR_clear_error();
    if (ip == nullptr) return false;
    ASN1_OCTET_STRING_free(ip);
    return true;
  }

  std::unique_ptr<detail::engine> engine_;
};

/// Inside a callback the engine runs for a connection (alpn_callback,
/// check_server_identity, psk_callback, the enable_trace sink, connection_options::now):
/// that connection, as Node passes the socket as `this`. Null outside such callbacks.
/// Every public call on it is safe there: it works, or returns errc::invalid_state /
/// takes nothing when OpenSSL is mid-call (see docs/HARDENING.md).
inline connection* current_connection() noexcept {
  return static_cast<connection*>(detail::current_callback_owner());
}

} // namespace tlsengine
