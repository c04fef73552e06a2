// tlsengine — connection: one TLS connection as a sans-I/O state machine (Node's
// TLSSocket without the socket), and client_options (tls.connect's options).
#pragma once

#include "detail/config.hpp"

#include "bytes.hpp"
#include "certificate.hpp"
#include "context.hpp"
#include "events.hpp"
#include "identity.hpp"
#include "options.hpp"
#include "result.hpp"
#include "session.hpp"
#include "detail/reentrancy.hpp"

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
  /// Node's checkServerIdentity; empty means tlsengine::check_server_identity. Like Node's,
  /// it runs on every connection, resumed or not (then with the session's certificate).
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
namespace detail {
class engine;
}

/// One TLS connection. Feed it ciphertext, drain events, cleartext and ciphertext out;
/// it owns no socket and never blocks. Movable, not copyable; one thread at a time.
class connection {
public:
  connection() noexcept;
  connection(connection&& other) noexcept;
  /// Do not move-assign over (or otherwise drop) a connection from inside one of its own
  /// callbacks: call destroy() there instead (see docs/HARDENING.md).
  connection& operator=(connection&& other) noexcept;
  ~connection();

  /// A client connection; the ClientHello is in pending_output() at once.
  static result<connection> client(const client_options& options);

  explicit operator bool() const noexcept { return engine_ != nullptr; }

  // ---- the data path (DESIGN.md's core contract) ---------------------------------------
  /// Ciphertext in. Takes all of it unless the input limit is reached; returns the count.
  /// After a fatal error or the peer's close_notify input is discarded (and counted taken).
  std::size_t feed(bytes_view ciphertext);
  /// The transport closed. Without the peer's close_notify first this is truncation: an
  /// error unless connection_options::allow_truncation.
  void feed_eof();
  /// Zero-copy input: recv() into this window, then commit_input(n).
  mutable_bytes_view input_window();
  void commit_input(std::size_t n);

  /// Ciphertext to send, valid until the next call that changes the connection. Cleartext
  /// written since the last drain is encrypted here, sharing full-size records.
  bytes_view pending_output();
  void consume_output(std::size_t n);

  /// Cleartext out. Before the handshake completes it is buffered and sent after it.
  /// Returns the bytes accepted (fewer when the write buffer is full); `ec` says why none.
  std::size_t write(bytes_view cleartext, std::error_code& ec);
  std::size_t write(bytes_view cleartext);

  /// Cleartext in: copies up to out.size() bytes; 0 means none now.
  std::size_t read(mutable_bytes_view out);
  /// Zero-copy reading: a view of the decrypted bytes, then consume_plaintext(n).
  bytes_view peek_plaintext() const;
  void consume_plaintext(std::size_t n);

  /// close_notify after the queued data (half-close: reading goes on).
  void end();
  /// Aborts now. A fatal alert already queued stays in pending_output() to be flushed.
  void destroy();

  std::optional<event> next_event();
  std::optional<clock::time_point> deadline() const;
  void on_timeout(clock::time_point now);

  // ---- state ---------------------------------------------------------------------------
  /// The first fatal error (sticky); empty while the connection is healthy.
  std::error_code error() const noexcept;
  /// The error's full text: OpenSSL's error queue, the verification reason.
  std::string error_message() const;
  bool is_server() const noexcept;
  /// The handshake completed and no fatal error happened since.
  bool is_secure() const noexcept;
  bool is_destroyed() const noexcept;
  /// We sent close_notify / the peer's close_notify arrived.
  bool is_ended() const noexcept;
  bool peer_ended() const noexcept;
  /// The peer's end was a real close_notify (false for an EOF that allow_truncation let
  /// through as `end`, and before any end).
  bool received_close_notify() const noexcept;
  /// Cleartext accepted by write() and not yet encrypted.
  std::size_t buffered_write_size() const noexcept;

  // ---- verification (Node's authorized / authorizationError) ----------------------------
  /// The peer's certificate was verified (chain, and host name on the client).
  bool authorized() const;
  /// Node's authorizationError: "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID", ...;
  /// empty when authorized() or before the handshake.
  std::string authorization_error() const;
  /// The verification failure as an error_code (x509_category, or the engine's
  /// cert_altname_invalid), with the reason text in verify_reason().
  std::error_code verify_error() const noexcept;
  std::string verify_reason() const;

  // ---- decision answers (see the decision events in events.hpp) ---------------------------
  // Each returns {} when taken; errc::invalid_state when no such decision is waiting;
  // errc::destroyed after destroy(). The caller drains as after feed().

  /// `servername`: continue with this context (its certificate, CA, ciphers, versions).
  std::error_code use_context(const secure_context& context);
  /// The default answer to the waiting decision: the add_context table's (or the default)
  /// context, no cached session, no OCSP staple, no client certificate, accept the peer.
  std::error_code resume();
  /// `resume_session`: the session data stored from a `new_session` event (a cache hit).
  std::error_code resume_session(bytes_view session_data);
  /// `resume_session`: a cache miss (full handshake).
  std::error_code resume_session();
  /// `ocsp_request`: the DER OCSP response to staple.
  std::error_code set_ocsp_response(bytes_view response);
  /// `ocsp_request`: nothing to staple.
  std::error_code set_ocsp_response();
  /// `certificate_request`: send this certificate chain (PEM) and key. A bad PEM or key
  /// returns its error and the decision stays open.
  std::error_code use_certificate(std::string_view cert_pem, const key_entry& key);
  /// `verify_peer`: {} accepts the peer; an error rejects it. An x509_category() code
  /// picks the alert (CERT_REVOKED → certificate_revoked ...), anything else
  /// handshake_failure. A server that rejects sends the alert OpenSSL's own verification
  /// would (the X.509 code's alert; access_denied for a code of another category): in
  /// TLS 1.2 inside the handshake (the client's ChangeCipherSpec was held back), in TLS 1.3
  /// as the first record after the server's flight (no ticket is issued before the
  /// verdict). No application data ever reaches either side before it.
  std::error_code verify_result(std::error_code verdict);
  /// `ocsp_response` with `decision` (client, pause_on_ocsp_response): {} accepts the
  /// stapled response (or its absence); an error rejects it: the handshake fails with that
  /// error and a fatal bad_certificate_status_response alert (113).
  std::error_code ocsp_result(std::error_code verdict);
  /// `verify_peer`: accept the peer but keep `verdict` as the authorization error (Node's
  /// rejectUnauthorized: false): authorized() false, authorization_error() names it.
  std::error_code accept_unauthorized(std::error_code verdict);

  /// Any waiting decision (Node's cb(err)): the handshake fails with `error` (one `error`
  /// event) and the fatal `alert` in pending_output(). A server's servername,
  /// resume_session and ocsp_request send exactly `alert`; a client's verify_peer sends
  /// it when OpenSSL can (certificate_revoked, certificate_expired, unknown_ca,
  /// unsupported_certificate, internal_error; else handshake_failure); a client's
  /// certificate_request always sends internal_error (OpenSSL's certificate callback can
  /// say nothing else); a server's verify_peer sends exactly `alert` (as verify_result);
  /// a client's ocsp_response sends `alert` (TLS 1.3: bad_certificate_status_response or
  /// an alert verification can send).
  std::error_code fail_decision(std::error_code error, int alert = SSL_AD_HANDSHAKE_FAILURE);

  // ---- lifecycle controls ----------------------------------------------------------------
  /// TLS 1.2 renegotiation (Node's renegotiate()); `renegotiated` event when done. TLS 1.3
  /// has none: OpenSSL's ERR_SSL_WRONG_SSL_VERSION, as Node.
  std::error_code renegotiate(const renegotiate_options& options = {});
  /// Node's disableRenegotiation(): a renegotiation attempt by the peer then fails the
  /// connection with errc::renegotiation_disabled.
  void disable_renegotiation();
  /// TLS 1.3 KeyUpdate (beyond Node); `request_peer` asks the peer to update its keys too.
  /// The message goes out with the next pending_output().
  std::error_code key_update(bool request_peer = false);
  /// Node's enableTrace(): OpenSSL's protocol trace, one call per message.
  void enable_trace(std::function<void(std::string_view)> sink);
  /// Node's setMaxSendFragment(): records of at most `size` bytes (512..16384).
  std::error_code set_max_send_fragment(std::size_t size);

  // ---- introspection (Node's getters) ---------------------------------------------------
  /// The most export_keying_material() gives at once.
  static constexpr std::size_t max_keying_material = 255 * 32; // HKDF-Expand, SHA-256
  /// Node's exportKeyingMaterial(length, label, context) (RFC 5705 / 8446 exporters);
  /// errc::invalid_argument for a length of 0 or above max_keying_material.
  result<std::vector<std::uint8_t>>
  export_keying_material(std::size_t length, std::string_view label,
                         std::optional<bytes_view> context = {}) const;
  /// Node's getFinished() / getPeerFinished(): the Finished messages' verify_data.
  std::vector<std::uint8_t> finished() const;
  std::vector<std::uint8_t> peer_finished() const;
  /// Client only, as Node: the server's ephemeral key; nullopt on a server or when none.
  std::optional<ephemeral_key_info> ephemeral_key() const;
  /// The key-exchange group of the handshake, by its IANA name: "x25519", "secp256r1",
  /// "ffdhe2048", or on OpenSSL >= 3.5 the post-quantum hybrid "X25519MLKEM768" (whose
  /// server share is a KEM ciphertext, so ephemeral_key() has nothing to report for it).
  /// Both roles; empty before the handshake and for TLS 1.2 finite-field DHE (OpenSSL picks
  /// its parameters without negotiating a named group). A TLS 1.2 resumption reports the
  /// group of the handshake that made the session; a TLS 1.3 one runs a new exchange.
  std::string negotiated_group() const;
  /// Node's getSharedSigalgs(): e.g. {"ECDSA+SHA256", "RSA-PSS+SHA256"}.
  std::vector<std::string> shared_sigalgs() const;

  /// The signature scheme the peer signed the handshake with, as shared_sigalgs() names
  /// them ("RSA-PSS+SHA256", "ECDSA+SHA256", "Ed25519"); empty when it signed nothing
  /// (a resumption, a client without certificate).
  std::string peer_signature_scheme() const;
  /// Client with request_ocsp: the DER OCSP response the server stapled (the
  /// `ocsp_response` event's), empty if none. After a resumption, the response of the
  /// handshake that made the session (up to 16 KiB is carried in it).
  std::vector<std::uint8_t> ocsp_response() const;
  /// TLS 1.3: the server answered the first ClientHello with a HelloRetryRequest.
  bool hello_retry_request() const noexcept;
  /// The extended master secret (RFC 7627) was used; TLS 1.3 has it built in: false.
  bool extended_master_secret() const;
  /// The peer supports secure renegotiation (RFC 5746).
  bool peer_secure_renegotiation() const;

  /// The protocol ALPN agreed on; empty when none.
  std::string alpn_protocol() const;
  /// Node's npnProtocol: what NPN agreed on; empty when none (NPN not asked for, ALPN
  /// took precedence, TLS 1.3, or a client whose list shared nothing with the server's).
  std::string npn_protocol() const;
  /// Client: the TLS session ticket the server sent (Node's getTLSTicket()); empty if none.
  std::vector<std::uint8_t> tls_ticket() const;

  /// "TLSv1.3", "TLSv1.2", ...; empty before the handshake.
  std::string protocol() const;
  std::optional<cipher_info> cipher() const;
  /// The peer's certificate (empty when none). `detailed` links issuer_certificate up the
  /// chain, to the trust anchor when verification built one (as Node, which completes the
  /// chain from its trust store), else as far as the peer sent it.
  certificate_info peer_certificate(bool detailed = false) const;
  /// Our own certificate (empty when none).
  certificate_info certificate() const;
  bool is_session_reused() const;
  /// Client: the SNI sent. Server: the SNI received.
  std::string servername() const;
  /// Client: the current session, serialized (resume with client_options::session). For
  /// TLS 1.3 prefer the `session` event: tickets arrive after the handshake.
  std::vector<std::uint8_t> session() const;
  /// Byte counters: ciphertext fed/produced, cleartext written/decrypted.
  std::uint64_t bytes_received() const noexcept;
  std::uint64_t bytes_sent() const noexcept;
  std::uint64_t cleartext_bytes_written() const noexcept;
  std::uint64_t cleartext_bytes_read() const noexcept;

  /// The underlying SSL, for what tlsengine does not wrap (do not free it, do not do I/O).
  SSL* native_handle() const noexcept;

private:
  friend class server;
  explicit connection(std::unique_ptr<detail::engine> engine);
  void adopt() noexcept;

  std::vector<std::uint8_t> finished_message(bool peer) const;

  static bool is_ip_address(const std::string& host);

  std::unique_ptr<detail::engine> engine_;
};

/// Inside a callback the engine runs for a connection (alpn_callback,
/// check_server_identity, psk_callback, the enable_trace sink, connection_options::now):
/// that connection, as Node passes the socket as `this`. Null outside such callbacks.
/// Every public call on it is safe there: it works, or returns errc::invalid_state /
/// takes nothing when OpenSSL is mid-call (see docs/HARDENING.md).
TLSENGINE_DECL connection* current_connection() noexcept;

} // namespace tlsengine

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#include "impl/connection.hpp"
#endif
