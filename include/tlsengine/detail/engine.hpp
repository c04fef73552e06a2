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
#include "handles.hpp"
#include "openssl_error.hpp"
#include "server_state.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstring>

#include <deque>
#include <optional>
#include <string>

namespace tlsengine::detail {

/// Everything a connection needs besides its secure_context, for either role.
struct engine_config {
  bool is_server = false;
  connection_options connection;
  // Verification.
  bool verify_peer = true; // client: always; server: request_cert
  bool reject_unauthorized = true;
  std::string identity_host;                     // client: the name checked against the certificate
  check_server_identity_function check_identity; // empty: the built-in check
  // Client.
  std::string sni; // empty: no server_name extension
  std::vector<std::uint8_t> session;
  bool request_ocsp = false;
  bool pause_on_certificate_request = false;
  bool early_data = false;          // client: send write()s made before the handshake as 0-RTT
  std::uint32_t max_early_data = 0; // server: accept this much 0-RTT data
  psk_client_function psk_client;
  int min_dh_size = 1024;
  // Server.
  std::optional<clock::duration> handshake_timeout;
  std::shared_ptr<server_state> server;
  bool pause_on_servername = false;
  bool external_session_cache = false;
  bool pause_on_ocsp_request = false;
  std::size_t reneg_limit = 3;
  clock::duration reneg_window = std::chrono::seconds(600);
  alpn_callback_function alpn_callback;
  psk_server_function psk_server;
  std::string psk_identity_hint;
  // Both.
  std::vector<std::uint8_t> alpn; // wire format: offered (client) / supported (server)
};

/// Where a decision event stands.
enum class decision_state { none, waiting, answered };
struct decision {
  decision_state state = decision_state::none;
};

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define TLSENGINE_TRY try
#define TLSENGINE_CATCH_ALL catch (...)
#else
#define TLSENGINE_TRY if (true)
#define TLSENGINE_CATCH_ALL else
#endif

class engine final : public engine_hooks {
public:
  engine(secure_context context, engine_config config)
      : context_(std::move(context)), config_(std::move(config)) {
    if (!config_.connection.now) config_.connection.now = [] { return clock::now(); };
    started_ = config_.connection.now();
    endpoint_.output = &out_;
    ERR_clear_error();
    ssl_.reset(SSL_new(context_.native_handle()));
    if (!ssl_) {
      fail_with_openssl(make_error_code(errc::invalid_state));
      return;
    }
    SSL_set_ex_data(ssl_.get(), hooks_ex_index(), static_cast<engine_hooks*>(this));
    BIO* bio = BIO_new(engine_bio_method());
    if (bio == nullptr) {
      fail_with_openssl(make_error_code(errc::invalid_state));
      return;
    }
    BIO_set_data(bio, &endpoint_);
    SSL_set_bio(ssl_.get(), bio, bio); // one BIO, one reference, both directions
    SSL_set_info_callback(ssl_.get(), &engine::info_callback);
    SSL_set_msg_callback(ssl_.get(), &engine::message_callback);
    if (config_.connection.enable_keylog) install_keylog(context_.native_handle());
    if (config_.server) ticket_keys_ = config_.server->ticket_keys(); // kept for this connection

    if (config_.is_server) {
      int mode = SSL_VERIFY_NONE;
      if (config_.verify_peer) {
        mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
        if (config_.reject_unauthorized) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      }
      SSL_set_verify(ssl_.get(), mode, nullptr);
      context_.bind_sessions(ssl_.get());
      // As Node: clients may renegotiate, within client_reneg_limit per window.
      SSL_set_options(ssl_.get(), SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
      if (config_.max_early_data > 0) {
        SSL_set_max_early_data(ssl_.get(), config_.max_early_data);
        // OpenSSL's anti-replay would make tickets stateful and single-use in a server
        // cache we do not keep; early data is instead delivered apart (early_data events)
        // for the application to treat as replayable.
        SSL_set_options(ssl_.get(), SSL_OP_NO_ANTI_REPLAY);
      }
      if (config_.psk_server) {
        SSL_set_psk_server_callback(ssl_.get(), &engine::psk_server_callback);
        if (!config_.psk_identity_hint.empty() &&
            SSL_use_psk_identity_hint(ssl_.get(), config_.psk_identity_hint.c_str()) != 1) {
          fail_with_openssl(make_error_code(errc::invalid_argument));
          return;
        }
      }
      SSL_set_accept_state(ssl_.get());
    } else {
      SSL_set_verify(ssl_.get(), SSL_VERIFY_PEER, nullptr);
      if (!config_.sni.empty() && SSL_set_tlsext_host_name(ssl_.get(), config_.sni.c_str()) != 1) {
        fail_with_openssl(make_error_code(errc::invalid_argument));
        return;
      }
      if (!config_.session.empty() && !apply_session()) return;
      if (!config_.alpn.empty() &&
          SSL_set_alpn_protos(ssl_.get(), config_.alpn.data(),
                              static_cast<unsigned>(config_.alpn.size())) != 0) {
        fail_with_openssl(make_error_code(errc::alpn_invalid));
        return;
      }
      if (config_.request_ocsp) SSL_set_tlsext_status_type(ssl_.get(), TLSEXT_STATUSTYPE_ocsp);
      if (config_.psk_client) SSL_set_psk_client_callback(ssl_.get(), &engine::psk_client_callback);
      SSL_set_connect_state(ssl_.get());
      SSL_SESSION* session = SSL_get_session(ssl_.get());
      early_mode_ =
          config_.early_data && session != nullptr && SSL_SESSION_get_max_early_data(session) > 0;
      // With 0-RTT the ClientHello waits for pending_output(), to carry what was written.
      if (!early_mode_) drive(); // the ClientHello is ready in pending_output() at once
    }
  }

  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  ~engine() { free_ssl(); }

  // ---- ciphertext in -------------------------------------------------------------------
  std::size_t feed(bytes_view data) {
    if (destroyed_ || ssl_ == nullptr) return 0;
    if (error_ || received_close_) return data.size(); // nothing more can be read: discard
    cipher_in_ += data.size();
    std::size_t taken = 0;
    if (in_.empty()) {
      // Fast path: OpenSSL reads the caller's span directly; only leftovers are copied.
      endpoint_.set_input(data);
      drive();
      const std::size_t left = endpoint_.clear_input();
      taken = data.size() - left;
      if (left != 0 && !error_ && !received_close_) {
        const std::size_t keep = std::min(left, config_.connection.max_input_buffer);
        in_.append(data.subview(taken, keep));
        taken += keep;
      } else if (error_ || received_close_) {
        taken = data.size();
      }
    } else {
      const std::size_t room = config_.connection.max_input_buffer > in_.size()
                                   ? config_.connection.max_input_buffer - in_.size()
                                   : 0;
      taken = std::min(room, data.size());
      in_.append(data.subview(0, taken));
      process_buffered_input();
      if (error_ || received_close_) taken = data.size();
    }
    cipher_in_ -= data.size() - taken;
    return taken;
  }

  mutable_bytes_view input_window() {
    if (destroyed_ || error_ || ssl_ == nullptr) return {};
    const std::size_t room = config_.connection.max_input_buffer > in_.size()
                                 ? config_.connection.max_input_buffer - in_.size()
                                 : 0;
    if (room == 0) return {};
    mutable_bytes_view window = in_.prepare(room);
    return mutable_bytes_view(window.data(), room);
  }

  void commit_input(std::size_t n) {
    if (destroyed_ || error_ || ssl_ == nullptr || n == 0) return;
    in_.commit(n);
    cipher_in_ += n;
    process_buffered_input();
  }

  void feed_eof() {
    if (destroyed_ || error_ || transport_eof_) return;
    transport_eof_ = true;
    if (received_close_) return;
    if (!handshake_done_) {
      fail(make_error_code(errc::truncated),
           "the transport closed before the TLS handshake completed");
    } else if (config_.connection.allow_truncation) {
      received_close_ = true;
      events_.emplace_back(events::end{});
    } else {
      fail(make_error_code(errc::truncated),
           "the transport closed without a TLS close_notify (truncation)");
    }
  }

  // ---- ciphertext out ------------------------------------------------------------------
  bytes_view pending_output() {
    if (early_mode_ && !early_started_) send_early_data();
    flush_writes();
    return out_.view();
  }

  void consume_output(std::size_t n) {
    const bool was_full = out_.size() >= config_.connection.max_write_buffer;
    out_.consume(n);
    if (out_.empty()) out_.release_if_empty();
    // Input held back because our own output was full (see read_records) can go on.
    if (was_full && !in_.empty()) process_buffered_input();
  }

  // ---- cleartext -----------------------------------------------------------------------
  std::size_t write(bytes_view data, std::error_code& ec) {
    ec.clear();
    if (destroyed_ || ssl_ == nullptr) {
      ec = make_error_code(errc::destroyed);
      return 0;
    }
    if (error_) {
      ec = error_;
      return 0;
    }
    if (end_requested_) {
      ec = make_error_code(errc::write_after_end);
      return 0;
    }
    const std::size_t queued = staged_.size() + out_.size();
    const std::size_t room = config_.connection.max_write_buffer > queued
                                 ? config_.connection.max_write_buffer - queued
                                 : 0;
    const std::size_t n = std::min(room, data.size());
    if (n == 0) return 0;
    if (handshake_done_ && staged_.empty() && n >= direct_write_threshold) {
      // A large write is encrypted at once from the caller's memory: no staging copy.
      std::size_t written = 0;
      if (!ssl_write(data.subview(0, n), written)) return 0;
      if (written < n) staged_.append(data.subview(written, n - written));
    } else {
      // Small writes wait until pending_output(): everything written since the last
      // drain then shares full-size records.
      staged_.append(data.subview(0, n));
    }
    clear_in_ += n;
    return n;
  }

  std::size_t read(mutable_bytes_view out) {
    if (held_) return 0; // the application has not accepted the peer yet
    const std::size_t n = std::min(out.size(), plain_.size());
    if (n != 0) std::memcpy(out.data(), plain_.view().data(), n);
    consume_plaintext(n);
    return n;
  }

  bytes_view peek_plaintext() const noexcept { return held_ ? bytes_view() : plain_.view(); }

  void consume_plaintext(std::size_t n) {
    if (held_) return;
    plain_.consume(n);
    if (plain_.empty()) {
      if (!in_.empty()) process_buffered_input(); // decrypt what backpressure held back
      if (plain_.empty()) plain_.release_if_empty();
    }
  }

  void end() {
    if (destroyed_ || error_ || end_requested_ || ssl_ == nullptr) return;
    end_requested_ = true;
    // close_notify goes out with the next pending_output(), after the queued data.
  }

  void destroy() {
    if (destroyed_) return;
    destroyed_ = true;
    staged_.clear();
    staged_.release_if_empty();
    plain_.clear();
    plain_.release_if_empty();
    in_.clear();
    in_.release_if_empty();
    free_ssl();
  }

  std::optional<event> next_event() {
    if (events_.empty()) return std::nullopt;
    event e = std::move(events_.front());
    events_.pop_front();
    // Input held back because too many events were waiting can go on.
    if (events_.empty() && !in_.empty() && handshake_done_) process_buffered_input();
    return e;
  }

  std::optional<clock::time_point> deadline() const {
    if (handshake_done_ || error_ || destroyed_ || !config_.handshake_timeout) return std::nullopt;
    return started_ + *config_.handshake_timeout;
  }

  void on_timeout(clock::time_point now) {
    const auto when = deadline();
    if (when && now >= *when)
      fail(make_error_code(errc::handshake_timeout), "TLS handshake timeout");
  }

  // ---- decision answers ------------------------------------------------------------------
  bool waiting_for_decision() const noexcept {
    return sni_.state == decision_state::waiting || resume_.state == decision_state::waiting ||
           ocsp_.state == decision_state::waiting ||
           certificate_request_.state == decision_state::waiting ||
           (verify_.state == decision_state::waiting && !config_.is_server);
  }

  std::error_code use_context(const secure_context& context) {
    if (std::error_code ec = answer_check(sni_)) return ec;
    if (!context) return make_error_code(errc::invalid_argument);
    if (!switch_context(context)) {
      fail(make_error_code(errc::decision_failed), "switching to the SNI context failed");
      return error_;
    }
    return answered(sni_);
  }

  /// The default answer to whichever decision is waiting.
  std::error_code resume() {
    if (destroyed_ || !ssl_) return make_error_code(errc::destroyed);
    if (sni_.state == decision_state::waiting) {
      if (config_.server)
        if (auto chosen = config_.server->lookup(client_hello_sni_)) return use_context(*chosen);
      return answered(sni_);
    }
    if (resume_.state == decision_state::waiting) return resume_session({});
    if (ocsp_.state == decision_state::waiting) return set_ocsp_response({});
    if (certificate_request_.state == decision_state::waiting)
      return answered(certificate_request_);
    if (verify_.state == decision_state::waiting) return verify_result({});
    return make_error_code(errc::invalid_state);
  }

  std::error_code resume_session(std::optional<bytes_view> data) {
    if (std::error_code ec = answer_check(resume_)) return ec;
    if (data && !data->empty()) {
      const unsigned char* p = data->data();
      resume_choice_.reset(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(data->size())));
      ERR_clear_error(); // an unusable session is a cache miss, not an error
    }
    return answered(resume_);
  }

  std::error_code set_ocsp_response(std::optional<bytes_view> response) {
    if (std::error_code ec = answer_check(ocsp_)) return ec;
    if (response && !response->empty()) ocsp_response_ = response->to_vector();
    return answered(ocsp_);
  }

  std::error_code use_certificate(std::string_view cert_pem, const key_entry& key) {
    if (std::error_code ec = answer_check(certificate_request_)) return ec;
    ERR_clear_error();
    bio_ptr bio = memory_bio(cert_pem);
    x509_ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    bool ok = leaf && SSL_use_certificate(ssl_.get(), leaf.get()) == 1;
    while (ok) {
      X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
      if (extra == nullptr) break;
      ok = SSL_add0_chain_cert(ssl_.get(), extra) == 1;
      if (!ok) X509_free(extra);
    }
    ok = ok && only_pem_end_in_queue();
    if (ok) {
      bio_ptr key_bio = memory_bio(key.pem);
      const std::string passphrase = key.passphrase.value_or(std::string());
      evp_pkey_ptr pkey(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, pem_passphrase_callback,
                                                const_cast<std::string*>(&passphrase)));
      ok = pkey && SSL_use_PrivateKey(ssl_.get(), pkey.get()) == 1 &&
           SSL_check_private_key(ssl_.get()) == 1;
    }
    if (!ok) return take_openssl_error_code(); // still waiting: answer again or resume()
    return answered(certificate_request_);
  }

  std::error_code verify_result(std::error_code verdict) {
    if (std::error_code ec = answer_check(verify_)) return ec;
    verify_answer_ = verdict;
    if (config_.is_server) {
      verify_.state = decision_state::answered;
      verify_error_ = verdict;
      if (!held_) return {}; // the handshake has not finished: on_handshake_done decides
      if (verdict) {
        reject_after_handshake();
        return {};
      }
      held_ = false;
      events_.emplace_back(events::secure{});
      return {};
    }
    return answered(verify_);
  }

  // ---- lifecycle controls (issue: renegotiation, key update, trace) ----------------------
  std::error_code renegotiate(bool reject_unauthorized, bool request_cert) {
    if (destroyed_ || !ssl_) return make_error_code(errc::destroyed);
    if (error_) return error_;
    if (!handshake_done_ || SSL_version(ssl_.get()) > TLS1_2_VERSION)
      return make_error_code(errc::invalid_state); // TLS 1.3 has no renegotiation
    config_.reject_unauthorized = reject_unauthorized;
    if (config_.is_server) {
      int mode = SSL_VERIFY_NONE;
      if (request_cert) {
        mode = SSL_VERIFY_PEER;
        if (reject_unauthorized) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      }
      config_.verify_peer = request_cert;
      SSL_set_verify(ssl_.get(), mode, nullptr);
      SSL_set_options(ssl_.get(), SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
    }
    ERR_clear_error();
    if (SSL_renegotiate(ssl_.get()) != 1) return take_openssl_error_code();
    renegotiating_ = true;
    const int r = SSL_do_handshake(ssl_.get()); // writes the HelloRequest / ClientHello
    if (r != 1) handle_failure(r);
    return error_;
  }

  void disable_renegotiation() {
    renegotiation_disabled_ = true;
    // A client refuses the server's HelloRequest; a server sees the ClientHello in its
    // client-hello callback and fails there (OpenSSL's option would only warn).
    if (ssl_ && !config_.is_server) SSL_set_options(ssl_.get(), SSL_OP_NO_RENEGOTIATION);
  }

  std::error_code key_update(bool request_peer) {
    if (destroyed_ || !ssl_) return make_error_code(errc::destroyed);
    if (error_) return error_;
    if (!handshake_done_ || SSL_version(ssl_.get()) != TLS1_3_VERSION)
      return make_error_code(errc::invalid_state);
    ERR_clear_error();
    if (SSL_key_update(ssl_.get(),
                       request_peer ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED) != 1)
      return take_openssl_error_code();
    return {}; // sent with the next pending_output()
  }

  void enable_trace(std::function<void(std::string_view)> sink) { trace_ = std::move(sink); }

  // ---- state and introspection ---------------------------------------------------------
  SSL* ssl() const noexcept { return ssl_.get(); }
  bool is_server() const noexcept { return config_.is_server; }
  bool handshake_done() const noexcept { return handshake_done_; }
  bool destroyed() const noexcept { return destroyed_; }
  bool end_requested() const noexcept { return end_requested_; }
  bool received_close() const noexcept { return received_close_; }
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

  bool apply_session() {
    const unsigned char* p = config_.session.data();
    ssl_session_ptr session(
        d2i_SSL_SESSION(nullptr, &p, static_cast<long>(config_.session.size())));
    if (!session) {
      fail_with_openssl(make_error_code(errc::invalid_argument));
      return false;
    }
    // A session made for another server name is never offered (the server's identity
    // is not checked again on resumption): silently fall back to a full handshake.
    const char* made_for = SSL_SESSION_get0_hostname(session.get());
    if (made_for != nullptr && config_.sni != made_for) return true;
    X509* peer = SSL_SESSION_get0_peer(session.get());
    if (peer != nullptr && !config_.identity_host.empty() && config_.reject_unauthorized &&
        !config_.check_identity && check_server_identity_x509(config_.identity_host, peer))
      return true;
    if (SSL_set_session(ssl_.get(), session.get()) != 1) {
      fail_with_openssl(make_error_code(errc::invalid_argument));
      return false;
    }
    return true;
  }

  void free_ssl() {
    if (!ssl_) return;
    // A connection closed without close_notify would invalidate its session: keep it
    // resumable unless a fatal error already marked it bad.
    if (!error_) SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    BIO* bio = SSL_get_rbio(ssl_.get());
    if (bio != nullptr) BIO_set_data(bio, nullptr);
    ssl_.reset();
  }

  void process_buffered_input() {
    if (error_ || destroyed_ || !ssl_) return;
    endpoint_.set_input(in_.view());
    drive();
    const std::size_t left = endpoint_.clear_input();
    in_.consume(in_.size() - left);
    if (error_ || received_close_) in_.clear();
    if (in_.empty()) in_.release_if_empty();
  }

  /// Advances the handshake, then decrypts into the plaintext buffer while it has room.
  void drive() {
    if (error_ || destroyed_ || !ssl_) return;
    if (!handshake_done_) {
      if (waiting_for_decision()) return;         // paused: the answer resumes the handshake
      if (early_mode_ && !early_started_) return; // the ClientHello waits for pending_output()
      if (config_.is_server && config_.max_early_data > 0 && !early_read_done_ &&
          !read_early_data())
        return;
      ERR_clear_error();
      const int r = SSL_do_handshake(ssl_.get());
      if (r == 1) {
        on_handshake_done();
      } else if (!handle_failure(r)) {
        return;
      }
      if (!handshake_done_) return;
    }
    read_records();
    fail_on_callback_error();
  }

  /// Client: the ClientHello and what was written so far (up to the ticket's limit) as
  /// 0-RTT data; a copy is kept until the server says whether it took it.
  void send_early_data() {
    early_started_ = true;
    const std::size_t limit = SSL_SESSION_get_max_early_data(SSL_get_session(ssl_.get()));
    const bytes_view data = staged_.view().subview(0, limit);
    std::size_t written = 0;
    ERR_clear_error();
    if (!data.empty() &&
        SSL_write_early_data(ssl_.get(), data.data(), data.size(), &written) == 1) {
      early_copy_.append(data.subview(0, written));
      staged_.consume(written);
    } else if (!data.empty()) {
      const int r = 0;
      handle_failure(r);
      if (error_) return;
    }
    drive();
  }

  /// Server: reads 0-RTT data before the handshake goes on; it reaches the application
  /// as `early_data` events, never through read() (it may be a replay: RFC 8446 8).
  bool read_early_data() {
    for (;;) {
      std::uint8_t buffer[4096];
      std::size_t n = 0;
      ERR_clear_error();
      const int r = SSL_read_early_data(ssl_.get(), buffer, sizeof buffer, &n);
      if (r == SSL_READ_EARLY_DATA_SUCCESS) {
        if (n != 0)
          events_.emplace_back(events::early_data{std::vector<std::uint8_t>(buffer, buffer + n)});
        continue;
      }
      if (r == SSL_READ_EARLY_DATA_FINISH) {
        early_read_done_ = true;
        return true;
      }
      handle_failure(0);
      return false; // more input needed, paused, or failed
    }
  }

  void fail_on_callback_error() {
    if (callback_error_ && !error_ && handshake_done_) fail(callback_error_, callback_message_);
  }

  void read_records() {
    // Bounded by what the application has not taken yet: cleartext, but also output the
    // peer makes us produce (KeyUpdate answers...) and events (tickets...), so a peer that
    // floods while never reading meets backpressure instead of growing our memory.
    while (!error_ && !received_close_ && ssl_ &&
           plain_.size() < config_.connection.max_plaintext_buffer &&
           out_.size() < config_.connection.max_write_buffer &&
           events_.size() < max_pending_events) {
      if (endpoint_.input_size == 0 && SSL_has_pending(ssl_.get()) == 0) break;
      mutable_bytes_view space = plain_.prepare(record_size);
      std::size_t n = 0;
      ERR_clear_error();
      const int r = SSL_read_ex(ssl_.get(), space.data(), space.size(), &n);
      if (r == 1) {
        plain_.commit(n);
        clear_out_ += n;
        continue;
      }
      handle_failure(r);
      break;
    }
  }

  /// Interprets a failed SSL_* call. Returns false when the connection cannot go on now.
  bool handle_failure(int r) {
    switch (SSL_get_error(ssl_.get(), r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_CLIENT_HELLO_CB: // a decision event is out: wait for its answer
    case SSL_ERROR_WANT_X509_LOOKUP:
    case SSL_ERROR_WANT_RETRY_VERIFY: return false;
    case SSL_ERROR_ZERO_RETURN:
      if (!handshake_done_) {
        fail(make_error_code(errc::truncated),
             "the peer closed the connection before the TLS handshake completed");
        return false;
      }
      on_close_notify();
      return false;
    case SSL_ERROR_SSL:
      if (callback_error_) {
        std::string text = take_openssl_error().text;
        fail(callback_error_, callback_message_ + " (" + text + ")");
      } else if (verify_error_ && verify_rejected_) {
        std::string text = take_openssl_error().text;
        fail(verify_error_, verify_error_.message() +
                                (verify_reason_.empty() ? std::string() : ": " + verify_reason_) +
                                " (" + text + ")");
      } else {
        fail_with_openssl(make_error_code(errc::invalid_state));
      }
      return false;
    default: fail_with_openssl(make_error_code(errc::invalid_state)); return false;
    }
  }

  void on_handshake_done() {
    handshake_done_ = true;
    if (!config_.is_server && config_.min_dh_size > 0) {
      // As Node: a client refuses weak finite-field DH after the fact.
      EVP_PKEY* key = nullptr;
      if (SSL_get_peer_tmp_key(ssl_.get(), &key) == 1 && key != nullptr) {
        const int bits = EVP_PKEY_get_bits(key);
        const bool weak = EVP_PKEY_get_base_id(key) == EVP_PKEY_DH && bits < config_.min_dh_size;
        EVP_PKEY_free(key);
        if (weak) {
          fail(make_error_code(errc::dh_param_too_small),
               "DH parameter size " + std::to_string(bits) + " is less than " +
                   std::to_string(config_.min_dh_size));
          return;
        }
      }
      ERR_clear_error();
    }
    if (config_.is_server && verify_.state != decision_state::none) {
      // The application decides about the client certificate: until it accepts, no
      // application data goes either way.
      if (verify_.state == decision_state::waiting) {
        held_ = true;
        return;
      }
      if (verify_answer_) {
        reject_after_handshake();
        return;
      }
    }
    report_early_data();
    events_.emplace_back(events::secure{});
  }

  void report_early_data() {
    const int status = SSL_get_early_data_status(ssl_.get());
    const bool tried = config_.is_server ? early_read_done_ && status != SSL_EARLY_DATA_NOT_SENT
                                         : early_started_ && !early_copy_.empty();
    if (!tried) return;
    const bool accepted = status == SSL_EARLY_DATA_ACCEPTED;
    events_.emplace_back(events::early_data_status{accepted});
    if (!config_.is_server && !accepted) {
      // Rejected 0-RTT data is sent again, now as ordinary data, ahead of later writes.
      byte_buffer again;
      again.append(early_copy_.view());
      again.append(staged_.view());
      staged_ = std::move(again);
    }
    early_copy_.clear();
    early_copy_.release_if_empty();
  }

  void on_close_notify() {
    if (received_close_) return;
    received_close_ = true;
    events_.emplace_back(events::end{});
    // Node's allowHalfOpen = false: our close_notify follows, but only once the
    // application has read what came before the peer's, so that it can still answer it.
    if (!config_.connection.allow_half_open) auto_end_pending_ = true;
  }

  bool ssl_write(bytes_view data, std::size_t& written) {
    written = 0;
    while (written < data.size()) {
      std::size_t n = 0;
      ERR_clear_error();
      const int r = SSL_write_ex(ssl_.get(), data.data() + written, data.size() - written, &n);
      if (r == 1) {
        written += n;
        continue;
      }
      handle_failure(r);
      return !error_;
    }
    return true;
  }

  void flush_writes() {
    if (!handshake_done_ || held_ || error_ || destroyed_ || !ssl_) return;
    if (auto_end_pending_ && plain_.empty()) {
      auto_end_pending_ = false;
      end_requested_ = true;
    }
    if (!staged_.empty()) {
      std::size_t written = 0;
      ssl_write(staged_.view(), written);
      staged_.consume(written);
      if (staged_.empty()) staged_.release_if_empty();
    }
    if (SSL_get_key_update_type(ssl_.get()) != SSL_KEY_UPDATE_NONE && !error_) {
      // A pending KeyUpdate (ours, or the answer the peer requested) goes out with the
      // next write; a zero-length write sends it now.
      std::size_t ignored = 0;
      ERR_clear_error();
      const int r = SSL_write_ex(ssl_.get(), "", 0, &ignored);
      if (r != 1) handle_failure(r);
    }
    if (end_requested_ && !shutdown_sent_ && staged_.empty() && !error_) {
      ERR_clear_error();
      SSL_shutdown(ssl_.get()); // queues close_notify; the peer's is read by feed()
      shutdown_sent_ = true;
      ERR_clear_error();
    }
  }

  std::error_code answer_check(const decision& d) const {
    if (destroyed_ || !ssl_) return make_error_code(errc::destroyed);
    if (error_) return error_;
    if (d.state != decision_state::waiting) return make_error_code(errc::invalid_state);
    return {};
  }

  std::error_code answered(decision& d) {
    d.state = decision_state::answered;
    if (in_.empty()) {
      drive();
    } else {
      process_buffered_input();
    }
    return {};
  }

  void fail_with_openssl(std::error_code fallback) {
    openssl_failure failure = take_openssl_error(fallback);
    fail(failure.code, failure.text);
  }

  void fail(std::error_code code, std::string message) {
    if (error_) return;
    error_ = code;
    error_message_ = std::move(message);
    staged_.clear();
    staged_.release_if_empty();
    events_.emplace_back(events::error{error_, error_message_, last_alert_, last_alert_sent_});
  }

  // ---- OpenSSL callbacks: record state, decide nothing that waits ----------------------
  static void info_callback(const SSL* ssl, int where, int value) {
    engine* self = from(ssl);
    if (self == nullptr) return;
    // A server also reports "done" after merely sending a HelloRequest: count only
    // handshakes that saw a renegotiation ClientHello.
    if ((where & SSL_CB_HANDSHAKE_DONE) != 0 && self->handshake_done_ &&
        SSL_version(ssl) <= TLS1_2_VERSION &&
        (!self->config_.is_server || self->renegotiation_hello_seen_)) {
      self->renegotiation_hello_seen_ = false;
      self->renegotiating_ = false;
      self->events_.emplace_back(events::renegotiated{}); // a TLS 1.2 renegotiation ended
      return;
    }
    if ((where & SSL_CB_ALERT) == 0) return;
    // Only fatal alerts matter for the error event; close_notify is a warning.
    if ((value >> 8) == SSL3_AL_FATAL) {
      self->last_alert_ = value & 0xff;
      self->last_alert_sent_ = (where & SSL_CB_WRITE) != 0;
    }
  }

  /// Sees every protocol message: the peer's KeyUpdate and HelloRequest (which no other
  /// callback reports), and the trace.
  static void message_callback(int write_p, int version, int content_type, const void* buf,
                               size_t length, SSL* ssl, void*) {
    engine* self = from(ssl);
    if (self == nullptr) return;
    if (self->trace_) {
      BIO* bio = BIO_new(BIO_s_mem());
      if (bio != nullptr) {
        SSL_trace(write_p, version, content_type, buf, length, ssl, bio);
        char* text = nullptr;
        const long n = BIO_get_mem_data(bio, &text);
        if (n > 0) self->trace_(std::string_view(text, static_cast<std::size_t>(n)));
        BIO_free(bio);
      }
    }
    if (write_p != 0 || content_type != SSL3_RT_HANDSHAKE || length < 1) return;
    const auto* message = static_cast<const unsigned char*>(buf);
    if (message[0] == SSL3_MT_KEY_UPDATE && length >= 5) {
      self->events_.emplace_back(events::key_update{message[4] == SSL_KEY_UPDATE_REQUESTED});
    } else if (message[0] == SSL3_MT_HELLO_REQUEST && self->renegotiation_disabled_) {
      self->record_callback_error(make_error_code(errc::renegotiation_disabled),
                                  "the server tried to renegotiate");
    }
  }

  // ---- OpenSSL callbacks (engine_hooks): record state, decide nothing that waits -------
  /// Decides inside the handshake, so that a rejection sends the proper alert (Node
  /// decides after the handshake and can only close the socket).
  int on_verify(X509_STORE_CTX* store) override {
    if (verify_.state == decision_state::waiting) {
      // Client: OpenSSL restarts verification on every resume; keep pausing.
      SSL_set_retry_verify(ssl_.get());
      return 1;
    }
    if (verify_.state == decision_state::answered) {
      if (!verify_answer_) {
        verify_error_.clear();
        return 1;
      }
      verify_error_ = verify_answer_;
      if (config_.is_server) return 1; // rejected after the handshake (see on_handshake_done)
      verify_rejected_ = true;
      X509_STORE_CTX_set_error(store, verify_answer_.category() == x509_category()
                                          ? verify_answer_.value()
                                          : X509_V_ERR_APPLICATION_VERIFICATION);
      return 0;
    }
    const bool chain_ok = X509_verify_cert(store) > 0;
    std::error_code verdict;
    if (!chain_ok) {
      long code = X509_STORE_CTX_get_error(store);
      if (code == X509_V_OK) code = X509_V_ERR_UNSPECIFIED;
      verdict = std::error_code(static_cast<int>(code), x509_category());
    } else if (!config_.is_server && !config_.identity_host.empty()) {
      verdict = check_identity(X509_STORE_CTX_get0_cert(store));
    }
    verify_error_ = verdict;
    if (config_.connection.pause_on_verify) {
      verify_.state = decision_state::waiting;
      events_.emplace_back(events::verify_peer{verdict});
      if (!config_.is_server) SSL_set_retry_verify(ssl_.get());
      return 1;
    }
    if (!verdict || !config_.reject_unauthorized) return 1;
    verify_rejected_ = true;
    if (chain_ok) X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
    return 0;
  }

  /// A client-initiated renegotiation (this ClientHello comes after the handshake):
  /// refused when disabled, and limited as Node does (client_reneg_limit per window).
  bool renegotiation_allowed(int* alert) {
    if (renegotiating_) return true; // we asked for it
    if (renegotiation_disabled_) {
      record_callback_error(make_error_code(errc::renegotiation_disabled),
                            "the client tried to renegotiate");
      *alert = SSL_AD_NO_RENEGOTIATION;
      return false;
    }
    const clock::time_point now = config_.connection.now();
    while (!renegotiations_.empty() && now - renegotiations_.front() > config_.reneg_window)
      renegotiations_.pop_front();
    renegotiations_.push_back(now);
    if (renegotiations_.size() > config_.reneg_limit) {
      record_callback_error(make_error_code(errc::renegotiation_limit),
                            "TLS session renegotiation attack detected");
      *alert = SSL_AD_HANDSHAKE_FAILURE;
      return false;
    }
    return true;
  }

  std::error_code check_identity(X509* leaf) {
    std::error_code ec;
    std::string reason;
    if (config_.check_identity) {
      TLSENGINE_TRY {
        ec = config_.check_identity(config_.identity_host, certificate_info_from_x509(leaf));
      }
      TLSENGINE_CATCH_ALL { ec = make_error_code(errc::decision_failed); }
    } else {
      ec = check_server_identity_x509(config_.identity_host, leaf, &reason);
    }
    if (ec) verify_reason_ = std::move(reason);
    return ec;
  }

  int on_new_session(SSL_SESSION* session) override {
    if (config_.is_server) {
      if (!config_.external_session_cache) return 0;
      unsigned int id_length = 0;
      const unsigned char* id = SSL_SESSION_get_id(session, &id_length);
      if (id_length == 0) return 0;
      events::new_session e;
      e.id.assign(id, id + id_length);
      e.data = serialize(session);
      if (!e.data.empty()) events_.emplace_back(std::move(e));
      return 0;
    }
    if (SSL_SESSION_is_resumable(session) != 1) return 0;
    events::session e{serialize(session)};
    if (e.data.empty()) return 0;
    // Only the newest session matters: one not yet taken is replaced, not queued again.
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (auto* queued = std::get_if<events::session>(&*it)) {
        *queued = std::move(e);
        return 0;
      }
    }
    events_.emplace_back(std::move(e));
    return 0; // we keep no reference
  }

  static std::vector<std::uint8_t> serialize(SSL_SESSION* session) {
    std::vector<std::uint8_t> out;
    const int size = i2d_SSL_SESSION(session, nullptr);
    if (size <= 0) return out;
    out.resize(static_cast<std::size_t>(size));
    unsigned char* p = out.data();
    i2d_SSL_SESSION(session, &p);
    return out;
  }

  SSL_SESSION* on_get_session(const unsigned char* id, int length) override {
    if (!resume_choice_) return nullptr;
    unsigned int have_length = 0;
    const unsigned char* have = SSL_SESSION_get_id(resume_choice_.get(), &have_length);
    if (static_cast<int>(have_length) != length || std::memcmp(have, id, have_length) != 0 ||
        !may_resume(resume_choice_.get()))
      return nullptr;
    return resume_choice_.release(); // served once; our reference goes to OpenSSL
  }

  bool may_resume(SSL_SESSION* session) override {
    // Never resume a session under another server name than the one it was made for.
    const char* made_for = SSL_SESSION_get0_hostname(session);
    return (made_for == nullptr ? std::string() : std::string(made_for)) == client_hello_sni_;
  }

  int on_client_hello(int* alert) override {
    if (!config_.is_server) return SSL_CLIENT_HELLO_SUCCESS;
    if (handshake_done_) {
      if (!renegotiation_allowed(alert)) return SSL_CLIENT_HELLO_ERROR;
      renegotiation_hello_seen_ = true;
    }
    // Called again on every resume while paused, and after a context switch: idempotent.
    if (sni_.state == decision_state::none) {
      client_hello_sni_ = parse_server_name();
      if (config_.pause_on_servername) {
        sni_.state = decision_state::waiting;
        events_.emplace_back(events::servername{client_hello_sni_});
        return SSL_CLIENT_HELLO_RETRY;
      }
      sni_.state = decision_state::answered;
      if (config_.server) {
        if (auto chosen = config_.server->lookup(client_hello_sni_)) {
          if (!switch_context(*chosen)) {
            *alert = SSL_AD_INTERNAL_ERROR;
            return SSL_CLIENT_HELLO_ERROR;
          }
        }
      }
    }
    if (sni_.state == decision_state::waiting) return SSL_CLIENT_HELLO_RETRY;

    if (config_.external_session_cache && resume_.state == decision_state::none) {
      resume_.state = decision_state::answered;
      std::vector<std::uint8_t> id = offered_session_id();
      if (!id.empty()) {
        resume_.state = decision_state::waiting;
        events_.emplace_back(events::resume_session{std::move(id)});
        return SSL_CLIENT_HELLO_RETRY;
      }
    }
    if (resume_.state == decision_state::waiting) return SSL_CLIENT_HELLO_RETRY;
    return SSL_CLIENT_HELLO_SUCCESS;
  }

  /// The host_name of the server_name extension (SSL_get_servername is not set yet).
  std::string parse_server_name() {
    const unsigned char* p = nullptr;
    std::size_t n = 0;
    if (SSL_client_hello_get0_ext(ssl_.get(), TLSEXT_TYPE_server_name, &p, &n) != 1 || n < 2)
      return {};
    std::size_t list = (std::size_t(p[0]) << 8) | p[1];
    if (list + 2 > n) return {};
    for (std::size_t i = 2; i + 3 <= 2 + list;) {
      const unsigned type = p[i];
      const std::size_t length = (std::size_t(p[i + 1]) << 8) | p[i + 2];
      if (i + 3 + length > 2 + list) return {};
      if (type == TLSEXT_NAMETYPE_host_name)
        return std::string(reinterpret_cast<const char*>(p + i + 3), length);
      i += 3 + length;
    }
    return {};
  }

  /// The key an external cache is asked for: TLS 1.2's session id, or with TLS 1.3 and
  /// stateful tickets the first PSK identity. Never TLS 1.3's random legacy_session_id.
  std::vector<std::uint8_t> offered_session_id() {
    const unsigned char* p = nullptr;
    std::size_t n = 0;
    bool offers_tls13 = false;
    if (SSL_get_max_proto_version(ssl_.get()) == 0 ||
        SSL_get_max_proto_version(ssl_.get()) >= TLS1_3_VERSION) {
      if (SSL_client_hello_get0_ext(ssl_.get(), TLSEXT_TYPE_supported_versions, &p, &n) == 1 &&
          n >= 1) {
        for (std::size_t i = 1; i + 1 < n && i + 1 <= std::size_t(p[0]); i += 2)
          if (p[i] == 0x03 && p[i + 1] == 0x04) offers_tls13 = true;
      }
    }
    if (offers_tls13) {
      if ((SSL_get_options(ssl_.get()) & SSL_OP_NO_TICKET) == 0) return {}; // stateless
      if (SSL_client_hello_get0_ext(ssl_.get(), TLSEXT_TYPE_psk, &p, &n) != 1 || n < 4) return {};
      const std::size_t identity = (std::size_t(p[2]) << 8) | p[3];
      if (4 + identity > n) return {};
      return std::vector<std::uint8_t>(p + 4, p + 4 + identity);
    }
    const std::size_t length = SSL_client_hello_get0_session_id(ssl_.get(), &p);
    return std::vector<std::uint8_t>(p, p + length);
  }

  bool switch_context(const secure_context& chosen) {
    if (!chosen.apply_to(ssl_.get())) {
      ERR_clear_error();
      return false;
    }
    active_context_ = chosen; // keeps the SSL_CTX alive as long as the connection
    if (config_.connection.enable_keylog) install_keylog(chosen.native_handle());
    return true;
  }

  int on_alpn_select(const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                     unsigned int in_length) override {
    if (config_.alpn_callback) {
      alpn_request request;
      request.servername = client_hello_sni_;
      for (unsigned i = 0; i < in_length;) {
        const unsigned n = in[i];
        if (n == 0 || i + 1 + n > in_length) return SSL_TLSEXT_ERR_ALERT_FATAL;
        request.protocols.emplace_back(reinterpret_cast<const char*>(in + i + 1), n);
        i += 1 + n;
      }
      std::optional<std::string> choice;
      TLSENGINE_TRY { choice = config_.alpn_callback(request); }
      TLSENGINE_CATCH_ALL {
        record_callback_error(make_error_code(errc::decision_failed), "the ALPN callback failed");
        return SSL_TLSEXT_ERR_ALERT_FATAL;
      }
      if (!choice) return SSL_TLSEXT_ERR_ALERT_FATAL; // no_application_protocol
      for (unsigned i = 0; i < in_length; i += 1 + in[i]) {
        if (in[i] == choice->size() && std::memcmp(in + i + 1, choice->data(), in[i]) == 0) {
          *out = in + i + 1;
          *out_length = in[i];
          return SSL_TLSEXT_ERR_OK;
        }
      }
      record_callback_error(make_error_code(errc::alpn_invalid),
                            "the ALPN callback chose a protocol the client did not offer: " +
                                *choice);
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (config_.alpn.empty()) return SSL_TLSEXT_ERR_NOACK;
    unsigned char* selected = nullptr;
    // The server's order of preference, as Node; no overlap is a fatal
    // no_application_protocol alert (RFC 7301 3.2).
    if (SSL_select_next_proto(&selected, out_length, config_.alpn.data(),
                              static_cast<unsigned>(config_.alpn.size()), in,
                              in_length) != OPENSSL_NPN_NEGOTIATED)
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }

  int on_certificate_needed() override {
    if (config_.is_server) {
      if (!config_.pause_on_ocsp_request ||
          SSL_get_tlsext_status_type(ssl_.get()) != TLSEXT_STATUSTYPE_ocsp)
        return 1;
      if (ocsp_.state == decision_state::none) {
        ocsp_.state = decision_state::waiting;
        events_.emplace_back(ocsp_request_event());
      }
      return ocsp_.state == decision_state::waiting ? -1 : 1;
    }
    if (!config_.pause_on_certificate_request) return 1;
    if (certificate_request_.state == decision_state::none) {
      certificate_request_.state = decision_state::waiting;
      events::certificate_request e;
      if (const STACK_OF(X509_NAME)* names = SSL_get0_peer_CA_list(ssl_.get())) {
        for (int i = 0; i < sk_X509_NAME_num(names); ++i) {
          char line[512];
          X509_NAME_oneline(sk_X509_NAME_value(names, i), line, sizeof line);
          e.acceptable_issuers.emplace_back(line);
        }
      }
      events_.emplace_back(std::move(e));
    }
    return certificate_request_.state == decision_state::waiting ? -1 : 1;
  }

  events::ocsp_request ocsp_request_event() {
    events::ocsp_request e;
    X509* cert = SSL_get_certificate(ssl_.get());
    auto to_der = [](X509* x) {
      std::vector<std::uint8_t> der;
      const int n = i2d_X509(x, nullptr);
      if (n <= 0) return der;
      der.resize(static_cast<std::size_t>(n));
      unsigned char* p = der.data();
      i2d_X509(x, &p);
      return der;
    };
    if (cert == nullptr) return e;
    e.certificate = to_der(cert);
    STACK_OF(X509)* chain = nullptr;
    if (SSL_get0_chain_certs(ssl_.get(), &chain) == 1 && chain != nullptr) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        X509* candidate = sk_X509_value(chain, i);
        if (X509_check_issued(candidate, cert) == X509_V_OK) {
          e.issuer = to_der(candidate);
          break;
        }
      }
    }
    return e;
  }

  int on_ocsp_status() override {
    if (config_.is_server) {
      if (!ocsp_response_ || ocsp_response_->empty()) return SSL_TLSEXT_ERR_NOACK;
      auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(ocsp_response_->size()));
      if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
      std::memcpy(copy, ocsp_response_->data(), ocsp_response_->size());
      SSL_set_tlsext_status_ocsp_resp(ssl_.get(), copy, static_cast<long>(ocsp_response_->size()));
      return SSL_TLSEXT_ERR_OK;
    }
    if (!config_.request_ocsp) return 1;
    const unsigned char* p = nullptr;
    const long n = SSL_get_tlsext_status_ocsp_resp(ssl_.get(), &p);
    events::ocsp_response e;
    if (p != nullptr && n > 0) e.response.assign(p, p + n);
    events_.emplace_back(std::move(e));
    return 1;
  }

  int on_ticket_key(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                    EVP_MAC_CTX* mac, int encrypt) override {
    if (!ticket_keys_) return encrypt ? -1 : 0;
    const ticket_key_bytes& keys = *ticket_keys_;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                          const_cast<std::uint8_t*>(keys.data() + 16), 16),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end()};
    if (encrypt) {
      std::memcpy(name, keys.data(), 16);
      if (RAND_bytes(iv, 16) != 1 ||
          EVP_EncryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, keys.data() + 32, iv) != 1 ||
          EVP_MAC_CTX_set_params(mac, params) != 1)
        return -1;
      return 1;
    }
    if (std::memcmp(name, keys.data(), 16) != 0) return 0; // another key: full handshake
    if (EVP_DecryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, keys.data() + 32, iv) != 1 ||
        EVP_MAC_CTX_set_params(mac, params) != 1)
      return -1;
    return 1;
  }

  void on_keylog(const char* line) override {
    if (config_.connection.enable_keylog) events_.emplace_back(events::keylog{line});
  }

  static unsigned int psk_client_callback(SSL* ssl, const char* hint, char* identity,
                                          unsigned int max_identity, unsigned char* psk,
                                          unsigned int max_psk) {
    engine* self = from(ssl);
    if (self == nullptr || !self->config_.psk_client) return 0;
    std::optional<psk_credentials> answer;
    TLSENGINE_TRY { answer = self->config_.psk_client(hint ? hint : ""); }
    TLSENGINE_CATCH_ALL { answer.reset(); }
    if (!answer || answer->key.empty() || answer->key.size() > max_psk ||
        answer->identity.size() + 1 > max_identity) {
      self->record_callback_error(make_error_code(errc::decision_failed),
                                  "the PSK callback gave no usable identity and key");
      return 0;
    }
    std::memcpy(identity, answer->identity.c_str(), answer->identity.size() + 1);
    std::memcpy(psk, answer->key.data(), answer->key.size());
    return static_cast<unsigned int>(answer->key.size());
  }

  static unsigned int psk_server_callback(SSL* ssl, const char* identity, unsigned char* psk,
                                          unsigned int max_psk) {
    engine* self = from(ssl);
    if (self == nullptr || !self->config_.psk_server) return 0;
    std::optional<std::vector<std::uint8_t>> key;
    TLSENGINE_TRY { key = self->config_.psk_server(identity ? identity : ""); }
    TLSENGINE_CATCH_ALL { key.reset(); }
    if (!key || key->empty() || key->size() > max_psk) return 0; // unknown identity
    std::memcpy(psk, key->data(), key->size());
    return static_cast<unsigned int>(key->size());
  }

  void record_callback_error(std::error_code code, std::string message) {
    if (callback_error_) return;
    callback_error_ = code;
    callback_message_ = std::move(message);
  }

  void reject_after_handshake() {
    // OpenSSL 3.0 cannot send an arbitrary alert once the handshake is done, and
    // SSL_set_retry_verify is ignored on a server: the connection fails here, no byte of
    // application data was released, and the caller closes the transport.
    held_ = false;
    plain_.clear();
    fail(verify_answer_.category() == x509_category() ? verify_answer_
                                                      : make_error_code(errc::verify_rejected),
         "the application rejected the peer's certificate: " + verify_answer_.message());
  }

  static constexpr std::size_t record_size = 16 * 1024;
  static constexpr std::size_t max_pending_events = 1024;

  secure_context context_;
  engine_config config_;
  ssl_ptr ssl_;
  bio_endpoint endpoint_;
  byte_buffer in_;     // ciphertext OpenSSL has not read yet
  byte_buffer out_;    // ciphertext to send
  byte_buffer plain_;  // cleartext for read()
  byte_buffer staged_; // cleartext written, not yet encrypted
  std::deque<event> events_;
  clock::time_point started_;

  bool handshake_done_ = false;
  bool end_requested_ = false;
  bool shutdown_sent_ = false;
  bool received_close_ = false;
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
  bool held_ = false; // server: application data waits for verify_result()
  std::shared_ptr<const ticket_key_bytes> ticket_keys_;
  std::error_code callback_error_;
  std::string callback_message_;
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
  std::deque<clock::time_point> renegotiations_;
  std::function<void(std::string_view)> trace_;
};

} // namespace tlsengine::detail
