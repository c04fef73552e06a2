// tlsengine — the connection state machine: drives SSL_* over the engine's BIO and turns
// what OpenSSL reports into buffers, events and one sticky error. Not public: use
// tlsengine::connection.
#pragma once

#include "../certificate.hpp"
#include "../context.hpp"
#include "../events.hpp"
#include "../identity.hpp"
#include "../options.hpp"
#include "bio.hpp"
#include "byte_buffer.hpp"
#include "event_queue.hpp"
#include "handles.hpp"
#include "openssl_error.hpp"
#include "server_state.hpp"
#include "engine_config.hpp"
#include "handshake_facts.hpp"
#include "session_policy.hpp"
#include "tls13_record_seal.hpp"
#include "verdict_alert.hpp"
#include "reentrancy.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstring>

#include <optional>
#include <string>

namespace tlsengine::detail {

class engine final : public engine_hooks {
public:
  engine(secure_context context, engine_config config);
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;
  ~engine() { free_ssl(); }

  /// Client: builds the ClientHello (unless it waits for 0-RTT data). Called by
  /// connection once it owns the engine, so that callbacks made meanwhile (the PSK
  /// probe) already reach their connection.
  void start();
  /// The connection object that owns this engine: what current_connection() returns
  /// inside its callbacks.
  void set_owner(void* owner) noexcept { owner_ = owner; }
  /// Inside a call into OpenSSL (so inside one of this connection's callbacks, when asked
  /// from one): public calls then take the re-entrant path (see HARDENING.md).
  bool in_openssl() const noexcept { return openssl_depth_ > 0; }

  // ---- ciphertext in -------------------------------------------------------------------
  std::size_t feed(bytes_view data);
  mutable_bytes_view input_window();
  void commit_input(std::size_t n);
  void feed_eof();

  // ---- ciphertext out ------------------------------------------------------------------
  bytes_view pending_output();
  void consume_output(std::size_t n);

  // ---- cleartext -----------------------------------------------------------------------
  std::size_t write(bytes_view data, std::error_code& ec);
  std::size_t read(mutable_bytes_view out);
  bytes_view peek_plaintext() const noexcept { return held_ ? bytes_view() : plain_.view(); }

  void consume_plaintext(std::size_t n);
  void end();
  void destroy();
  std::optional<event> next_event();
  std::optional<clock::time_point> deadline() const;
  void on_timeout(clock::time_point now);

  // ---- decision answers ------------------------------------------------------------------
  bool waiting_for_decision() const noexcept;
  std::error_code use_context(const secure_context& context);

  /// The default answer to whichever decision is waiting.
  std::error_code resume();
  std::error_code resume_session(std::optional<bytes_view> data);
  std::error_code set_ocsp_response(std::optional<bytes_view> response);
  std::error_code use_certificate(std::string_view cert_pem, const key_entry& key);
  std::error_code verify_result(std::error_code verdict);
  /// Node's cb(err): the waiting decision fails the handshake with `code` and `alert`.
  std::error_code fail_decision(std::error_code code, int alert);
  /// verify_peer: accept the peer, keeping `verdict` as the authorization error.
  std::error_code accept_unauthorized(std::error_code verdict);
  /// Client, pause_on_ocsp_response: {} accepts the stapled response, an error rejects it
  /// (bad_certificate_status_response).
  std::error_code ocsp_result(std::error_code verdict);

  // ---- lifecycle controls (issue: renegotiation, key update, trace) ----------------------
  std::error_code renegotiate(bool reject_unauthorized, bool request_cert);
  void disable_renegotiation();
  std::error_code key_update(bool request_peer);
  void enable_trace(std::function<void(std::string_view)> sink) { trace_ = std::move(sink); }

  // ---- state and introspection ---------------------------------------------------------
  /// The SSL; null after destroy() (even while a callback that destroyed it still runs).
  SSL* ssl() const noexcept { return destroyed_ ? nullptr : ssl_.get(); }
  bool is_server() const noexcept { return config_.is_server; }
  bool handshake_done() const noexcept { return handshake_done_; }
  bool destroyed() const noexcept { return destroyed_; }
  bool end_requested() const noexcept { return end_requested_; }
  bool received_close() const noexcept { return received_close_; }
  bool hello_retry() const noexcept { return hello_retry_; }
  /// The handshake's facts: this one's, or on a resumption those of the handshake that
  /// made the session.
  handshake_facts facts() const;
  /// Node's npnProtocol: the protocol NPN agreed on; empty when none (no NPN, ALPN took
  /// precedence, TLS 1.3, or a client whose list did not overlap the server's).
  std::string npn_protocol() const;
  bool received_close_notify() const noexcept { return received_close_ && !truncated_; }
  bool sent_close() const noexcept { return shutdown_sent_; }
  std::error_code error() const noexcept { return error_; }
  const std::string& error_message() const noexcept { return error_message_; }
  std::error_code verify_error() const noexcept { return verify_error_; }
  const std::string& verify_reason() const noexcept { return verify_reason_; }
  const secure_context& context() const noexcept { return context_; }
  const engine_config& config() const noexcept { return config_; }
  std::size_t buffered_write_size() const noexcept { return staged_.size(); }
  std::uint64_t cipher_bytes_in() const noexcept { return cipher_in_; }
  std::uint64_t cipher_bytes_out() const noexcept { return endpoint_.bytes_written; }
  std::uint64_t clear_bytes_in() const noexcept { return clear_out_; }
  std::uint64_t clear_bytes_out() const noexcept { return clear_in_; }

private:
  static constexpr std::size_t direct_write_threshold = 16 * 1024;

  static engine* from(const SSL* ssl) { return static_cast<engine*>(hooks_of(ssl)); }

  /// The one guard around every call into OpenSSL, held by each public entry point that
  /// may make one. Nested (a callback calling back in) it only counts; when the outermost
  /// one ends, a destroy() made meanwhile frees the SSL and the buffers, none of which
  /// OpenSSL or the engine can still be using then.
  class openssl_guard {
  public:
    explicit openssl_guard(engine& e) noexcept : engine_(e) { ++engine_.openssl_depth_; }
    ~openssl_guard() {
      if (--engine_.openssl_depth_ != 0) return;
      if (engine_.destroyed_) {
        engine_.release();
      } else {
        engine_.release_after_failure();
      }
    }
    openssl_guard(const openssl_guard&) = delete;
    openssl_guard& operator=(const openssl_guard&) = delete;

  private:
    engine& engine_;
  };

  /// Runs a user callback (ALPN, identity check, PSK, trace, clock) with
  /// current_connection() set to this connection. Returns false when the callback
  /// destroyed or failed the connection: the caller then aborts the handshake (with an
  /// alert) instead of reading state the callback may have changed.
  template <class F> bool call_user(F&& f) {
    {
      callback_owner_scope scope(owner_);
      // What the application's own OpenSSL calls leave in this thread's error queue is
      // not ours: OpenSSL would read it as the failure of the call that is running.
      ERR_set_mark();
      f();
      ERR_pop_to_mark();
    }
    return !destroyed_ && !error_;
  }

  /// Frees the SSL and every buffer except the pending output (after destroy()).
  void release();
  /// After a fatal error, once its alert was handed out: frees the SSL and the buffers,
  /// keeping what error(), the counters and the unread cleartext still need.
  void release_after_failure();
  /// The BIO's question before each read: are output, events and cleartext under their
  /// limits? Keeps the work of one SSL_* call bounded (see read_records).
  static bool input_allowed(const void* self) noexcept;

  // ---- setup (engine_setup.hpp) ----------------------------------------------------------
  void free_ssl();

  // ---- data path (engine_data_path.hpp) --------------------------------------------------
  void process_buffered_input();
  /// Advances the handshake, then decrypts into the plaintext buffer while it has room.
  void drive();
  void read_records();
  /// Interprets a failed SSL_* call. Returns false when the connection cannot go on now.
  bool handle_failure(int r);
  bool ssl_write(bytes_view data, std::size_t& written);
  void flush_writes();
  void release_buffers_if_idle();
  static bool free_buffers_is_safe() noexcept;
  void fail_with_openssl(std::error_code fallback);
  void fail(std::error_code code, std::string message);

  // ---- decisions (engine_decisions.hpp) --------------------------------------------------
  std::error_code answer_check(const decision& d) const;
  std::error_code answered(decision& d);
  void reject_after_handshake();
  /// Server verify_peer: the alert a rejection sends, and the error it fails with.
  int verify_reject_alert() const;
  std::error_code verify_reject_code() const;
  /// Server, TLS 1.2: the rejection inside the handshake (the client's ChangeCipherSpec
  /// was held back): a plaintext fatal alert, as OpenSSL's own verification would send.
  void reject_in_handshake();
  /// Server, TLS 1.3: the tickets held back while verify_peer waited, now that it accepted.
  void issue_held_tickets();
  /// Client, TLS 1.3 pause_on_ocsp_response: pauses the verify callback (where the
  /// stapled response is already parsed) until ocsp_result(); returns the callback's answer.
  int ocsp_gate(X509_STORE_CTX* store);
  events::ocsp_response ocsp_response_event(bool decision);

  // ---- handshake end, renegotiation, 0-RTT (engine_lifecycle.hpp) ------------------------
  void on_handshake_done();
  void report_early_data();
  void on_close_notify();
  /// A client-initiated renegotiation (this ClientHello comes after the handshake):
  /// refused when disabled, and limited as Node does (client_reneg_limit per window).
  bool renegotiation_allowed(int* alert);
  /// Client: the ClientHello and what was written so far (up to the ticket's limit) as
  /// 0-RTT data; a copy is kept until the server says whether it took it.
  void send_early_data();
  /// Server: reads 0-RTT data before the handshake goes on; it reaches the application
  /// as `early_data` events, never through read() (it may be a replay: RFC 8446 8).
  bool read_early_data();

  // ---- OpenSSL callbacks: record state, decide nothing that waits (engine_openssl_hooks.hpp)
  // Every override is declared `inline`: an override declared without it is the class's
  // key function (Itanium ABI), so each user TU that merely includes the header would emit
  // the vtable and, through it, the whole engine (include cost x2, 70 KB of code per TU).
  // tools/ci/include-cost.sh fails if a one-line TU emits code again.
  static void info_callback(const SSL* ssl, int where, int value);
  /// Sees every protocol message: the peer's KeyUpdate and HelloRequest (which no other
  /// callback reports), and the trace.
  static void message_callback(int write_p, int version, int content_type, const void* buf,
                               size_t length, SSL* ssl, void*);
  /// Decides inside the handshake, so that a rejection sends the proper alert (Node
  /// decides after the handshake and can only close the socket).
  inline int on_verify(X509_STORE_CTX* store) override;
  std::error_code check_identity(X509* leaf);
  inline int on_client_hello(int* alert) override;
  /// The host_name of the server_name extension (SSL_get_servername is not set yet).
  std::string parse_server_name();
  inline int on_alpn_select(const unsigned char** out, unsigned char* out_length,
                            const unsigned char* in, unsigned int in_length) override;
  inline int on_certificate_needed() override;
  events::ocsp_request ocsp_request_event();
  inline int on_ocsp_status() override;
  inline void on_keylog(const char* line) override;
  static unsigned int psk_client_callback(SSL* ssl, const char* hint, char* identity,
                                          unsigned int max_identity, unsigned char* psk,
                                          unsigned int max_psk);
  static unsigned int psk_server_callback(SSL* ssl, const char* identity, unsigned char* psk,
                                          unsigned int max_psk);
  void record_callback_error(std::error_code code, std::string message);
  void fail_on_callback_error();
  inline int on_build_client_hello(int* alert) override;
  /// Server, inside a ClientHello callback that can only answer with a fixed alert: the
  /// handshake ends with `alert` instead (see send_plaintext_alert).
  void abort_first_flight(int alert, std::error_code code, std::string message);
  void send_plaintext_alert();

  // ---- sessions, identity binding, SNI switch (engine_sessions.hpp) ----------------------
  bool apply_session();
  inline int on_new_session(SSL_SESSION* session) override;
  static std::vector<std::uint8_t> serialize(SSL_SESSION* session);
  inline SSL_SESSION* on_get_session(const unsigned char* id, int length) override;
  inline bool may_resume(SSL_SESSION* session) override;
  inline int on_generate_ticket() override;

  // ---- NPN (engine_npn.hpp) ---------------------------------------------------------------
  inline int on_npn_advertise(const unsigned char** out, unsigned int* out_length) override;
  inline int on_npn_select(unsigned char** out, unsigned char* out_length, const unsigned char* in,
                           unsigned int in_length) override;
  /// Server: records this handshake's facts in `session` (its ticket or cache entry).
  void store_facts(SSL_SESSION* session);
  /// TLS 1.2 client: a resumption whose ticket the server renewed hands out the new
  /// session (OpenSSL calls no new-session hook for it).
  void report_renewed_ticket();
  /// What this server connection asks of the client's certificate now.
  verify_policy session_policy() const;
  /// Client: what this connection's sessions are bound to (client_session_binding).
  const std::vector<unsigned char>& client_binding() const;
  /// The context in use: the SNI choice once made.
  const secure_context& session_context() const;
  /// The key an external cache is asked for: TLS 1.2's session id, or with TLS 1.3 and
  /// stateful tickets the first PSK identity. Never TLS 1.3's random legacy_session_id.
  std::vector<std::uint8_t> offered_session_id();
  bool switch_context(const secure_context& chosen);
  inline int on_ticket_key(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                           EVP_MAC_CTX* mac, int encrypt) override;

  static constexpr std::size_t record_size = 16 * 1024;
  static constexpr std::size_t max_pending_events = 1024;
  static constexpr std::size_t max_undelivered_sessions = 4;
  /// The largest OCSP response a server staples (a 16 KiB message, less its header).
  static constexpr std::size_t max_ocsp_response = 16 * 1024 - 4;
  static constexpr int max_key_updates_in_row = 32; // BoringSSL's kMaxKeyUpdates

  secure_context context_;
  engine_config config_;
  ssl_ptr ssl_;
  bio_endpoint endpoint_;
  byte_buffer in_;     // ciphertext OpenSSL has not read yet
  byte_buffer out_;    // ciphertext to send
  byte_buffer plain_;  // cleartext for read()
  byte_buffer staged_; // cleartext written, not yet encrypted
  pending_queue<event> events_;
  clock::time_point started_;

  bool handshake_done_ = false;
  bool end_requested_ = false;
  bool shutdown_sent_ = false;
  bool received_close_ = false;
  bool truncated_ = false;           // received_close_ by an EOF that allow_truncation accepted
  bool hello_retry_ = false;         // a HelloRetryRequest was sent or received
  bool ticket_in_handshake_ = false; // TLS 1.2 client: a NewSessionTicket in this handshake
  bool npn_overlap_ = false;         // client: the server's NPN list had one of ours
  bool transport_eof_ = false;
  bool destroyed_ = false;
  bool verify_rejected_ = false;
  int last_alert_ = -1;
  bool last_alert_sent_ = false;
  std::error_code error_;
  std::string error_message_;
  std::error_code verify_error_;
  std::string verify_reason_;
  std::uint64_t cipher_in_ = 0;
  std::uint64_t clear_in_ = 0;  // cleartext accepted by write()
  std::uint64_t clear_out_ = 0; // cleartext decrypted for read()

  // Decisions.
  decision sni_, resume_, ocsp_, certificate_request_, verify_;
  std::string client_hello_sni_;
  secure_context active_context_; // after an SNI switch
  ssl_session_ptr resume_choice_;
  std::optional<std::vector<std::uint8_t>> ocsp_response_;
  std::error_code verify_answer_;
  std::error_code recorded_verdict_;  // accepted anyway (accept_unauthorized)
  bool held_ = false;                 // server: application data waits for verify_result()
  int verify_reject_alert_ = -1;      // server: fail_decision's alert for verify_peer
  bool verify_failed_by_app_ = false; // server: fail_decision (not verify_result) rejected
  int tickets_held_ = -1; // server, TLS 1.3: SSL_get_num_tickets while verify_peer waits
  // Server with pause_on_verify: SERVER_TRAFFIC_SECRET_0 (from the key log callback, never
  // exposed) and the records OpenSSL wrote under it (-1: not derived yet), to seal the
  // rejection's alert as the first record under that key.
  std::vector<std::uint8_t> server_app_secret_;
  int records_under_app_key_ = -1;
  // Client, pause_on_ocsp_response.
  decision ocsp_verdict_;
  std::error_code ocsp_answer_;
  int ocsp_reject_alert_ = -1;   // fail_decision's alert
  int ocsp_gate_x509_error_ = 0; // TLS 1.3: the verdict kept across the verify retries
  byte_buffer held_flight_;      // TLS 1.2: what OpenSSL wrote after the status callback
  std::shared_ptr<const ticket_key_ring> ticket_keys_;
  std::error_code callback_error_;
  std::string callback_message_;
  int plaintext_alert_ = -1;             // server: the alert that replaces the first flight
  std::size_t plaintext_alert_mark_ = 0; // out_'s size when it was decided
  int refuse_hello_alert_ = -1;
  bool certificate_request_failed_ = false; // client: the cert callback answers 0          //
                                            // client: abort the next ClientHello with this
  // Renegotiation, key update, trace.
  bool renegotiation_disabled_ = false;
  bool renegotiating_ = false;
  bool auto_end_pending_ = false; // allow_half_open = false: end() once cleartext is read
  // 0-RTT.
  bool early_mode_ = false;      // client: a session that allows early data
  bool early_started_ = false;   // client: ClientHello sent
  bool early_read_done_ = false; // server: SSL_read_early_data finished
  byte_buffer early_copy_;       // client: 0-RTT data until accepted or resent
  bool renegotiation_hello_seen_ = false;
  std::vector<clock::time_point> renegotiations_; // within reneg_window (a few at most)
  std::function<void(std::string_view)> trace_;
  // Re-entrancy.
  int openssl_depth_ = 0;      // openssl_guard nesting
  int key_updates_in_row_ = 0; // received without application data between them
  void* owner_ = nullptr;      // the connection object, for current_connection()
};

} // namespace tlsengine::detail

// The definitions, by responsibility.
#include "engine_setup.hpp"
#include "engine_data_path.hpp"
#include "engine_decisions.hpp"
#include "engine_lifecycle.hpp"
#include "engine_openssl_hooks.hpp"
#include "engine_sessions.hpp"
#include "engine_npn.hpp"
