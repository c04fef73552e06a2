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

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

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
  // Server.
  std::optional<clock::duration> handshake_timeout;
};

class engine {
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
    SSL_set_ex_data(ssl_.get(), ex_index(), this);
    BIO *bio = BIO_new(engine_bio_method());
    if (bio == nullptr) {
      fail_with_openssl(make_error_code(errc::invalid_state));
      return;
    }
    BIO_set_data(bio, &endpoint_);
    SSL_set_bio(ssl_.get(), bio, bio); // one BIO, one reference, both directions
    SSL_set_info_callback(ssl_.get(), &engine::info_callback);
    install_context_callbacks(SSL_get_SSL_CTX(ssl_.get()));

    if (config_.is_server) {
      int mode = SSL_VERIFY_NONE;
      if (config_.verify_peer) {
        mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
        if (config_.reject_unauthorized) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      }
      SSL_set_verify(ssl_.get(), mode, nullptr);
      SSL_set_accept_state(ssl_.get());
    } else {
      SSL_set_verify(ssl_.get(), SSL_VERIFY_PEER, nullptr);
      if (!config_.sni.empty() && SSL_set_tlsext_host_name(ssl_.get(), config_.sni.c_str()) != 1) {
        fail_with_openssl(make_error_code(errc::invalid_argument));
        return;
      }
      if (!config_.session.empty() && !apply_session()) return;
      SSL_set_connect_state(ssl_.get());
      drive(); // the ClientHello is ready in pending_output() at once
    }
  }

  engine(const engine &) = delete;
  engine &operator=(const engine &) = delete;

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
    flush_writes();
    return out_.view();
  }

  void consume_output(std::size_t n) {
    out_.consume(n);
    if (out_.empty()) out_.release_if_empty();
  }

  // ---- cleartext -----------------------------------------------------------------------
  std::size_t write(bytes_view data, std::error_code &ec) {
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
    const std::size_t n = std::min(out.size(), plain_.size());
    if (n != 0) std::memcpy(out.data(), plain_.view().data(), n);
    consume_plaintext(n);
    return n;
  }

  bytes_view peek_plaintext() const noexcept { return plain_.view(); }

  void consume_plaintext(std::size_t n) {
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

  // ---- state and introspection ---------------------------------------------------------
  SSL *ssl() const noexcept { return ssl_.get(); }
  bool is_server() const noexcept { return config_.is_server; }
  bool handshake_done() const noexcept { return handshake_done_; }
  bool destroyed() const noexcept { return destroyed_; }
  bool end_requested() const noexcept { return end_requested_; }
  bool received_close() const noexcept { return received_close_; }
  bool sent_close() const noexcept { return shutdown_sent_; }
  std::error_code error() const noexcept { return error_; }
  const std::string &error_message() const noexcept { return error_message_; }
  std::error_code verify_error() const noexcept { return verify_error_; }
  const std::string &verify_reason() const noexcept { return verify_reason_; }
  const secure_context &context() const noexcept { return context_; }
  const engine_config &config() const noexcept { return config_; }
  std::size_t buffered_write_size() const noexcept { return staged_.size(); }
  std::size_t buffered_input_size() const noexcept { return in_.size(); }
  std::uint64_t cipher_bytes_in() const noexcept { return cipher_in_; }
  std::uint64_t cipher_bytes_out() const noexcept { return endpoint_.bytes_written; }
  std::uint64_t clear_bytes_in() const noexcept { return clear_out_; }
  std::uint64_t clear_bytes_out() const noexcept { return clear_in_; }
  std::size_t buffered_bytes_capacity() const noexcept {
    return in_.capacity() + out_.capacity() + plain_.capacity() + staged_.capacity();
  }

private:
  static constexpr std::size_t direct_write_threshold = 16 * 1024;

  static int ex_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
  }
  static engine *from(const SSL *ssl) {
    return ssl ? static_cast<engine *>(SSL_get_ex_data(ssl, ex_index())) : nullptr;
  }

  static void install_context_callbacks(SSL_CTX *ctx) {
    // Idempotent and identical for every engine, so racing installs are harmless; the
    // callbacks find their engine through the SSL's ex_data.
    SSL_CTX_set_cert_verify_callback(ctx, &engine::verify_callback, nullptr);
    // As Node: no internal store; sessions reach the application as events.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_SERVER |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE |
                                            SSL_SESS_CACHE_NO_AUTO_CLEAR);
    SSL_CTX_sess_set_new_cb(ctx, &engine::new_session_callback);
  }

  bool apply_session() {
    const unsigned char *p = config_.session.data();
    ssl_session_ptr session(
        d2i_SSL_SESSION(nullptr, &p, static_cast<long>(config_.session.size())));
    if (!session || SSL_set_session(ssl_.get(), session.get()) != 1) {
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
    BIO *bio = SSL_get_rbio(ssl_.get());
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
  }

  void read_records() {
    while (!error_ && !received_close_ && ssl_ &&
           plain_.size() < config_.connection.max_plaintext_buffer) {
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
    case SSL_ERROR_WANT_WRITE: return false;
    case SSL_ERROR_ZERO_RETURN: on_close_notify(); return false;
    case SSL_ERROR_SSL:
      if (verify_error_ && verify_rejected_) {
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
    events_.emplace_back(events::secure{});
  }

  void on_close_notify() {
    if (received_close_) return;
    received_close_ = true;
    events_.emplace_back(events::end{});
    if (!config_.connection.allow_half_open) end();
  }

  bool ssl_write(bytes_view data, std::size_t &written) {
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
    if (!handshake_done_ || error_ || destroyed_ || !ssl_) return;
    if (!staged_.empty()) {
      std::size_t written = 0;
      ssl_write(staged_.view(), written);
      staged_.consume(written);
      if (staged_.empty()) staged_.release_if_empty();
    }
    if (end_requested_ && !shutdown_sent_ && staged_.empty() && !error_) {
      ERR_clear_error();
      SSL_shutdown(ssl_.get()); // queues close_notify; the peer's is read by feed()
      shutdown_sent_ = true;
      ERR_clear_error();
    }
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
  static void info_callback(const SSL *ssl, int where, int value) {
    engine *self = from(ssl);
    if (self == nullptr || (where & SSL_CB_ALERT) == 0) return;
    // Only fatal alerts matter for the error event; close_notify is a warning.
    if ((value >> 8) == SSL3_AL_FATAL) {
      self->last_alert_ = value & 0xff;
      self->last_alert_sent_ = (where & SSL_CB_WRITE) != 0;
    }
  }

  static int verify_callback(X509_STORE_CTX *store, void *) {
    SSL *ssl =
        static_cast<SSL *>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    engine *self = from(ssl);
    const int ok = X509_verify_cert(store);
    if (self == nullptr) return ok > 0 ? 1 : 0;
    return self->on_verify(store, ok > 0);
  }

  /// Decides inside the handshake, so that a rejection sends the proper alert (Node
  /// decides after the handshake and can only close the socket).
  int on_verify(X509_STORE_CTX *store, bool chain_ok) {
    if (!chain_ok) {
      long code = X509_STORE_CTX_get_error(store);
      if (code == X509_V_OK) code = X509_V_ERR_UNSPECIFIED;
      verify_error_ = std::error_code(static_cast<int>(code), x509_category());
      if (!config_.reject_unauthorized) return 1;
      verify_rejected_ = true;
      return 0;
    }
    if (!config_.is_server && !config_.identity_host.empty()) {
      X509 *leaf = X509_STORE_CTX_get0_cert(store);
      std::string reason;
      std::error_code ec;
      if (config_.check_identity) {
        ec = config_.check_identity(config_.identity_host, certificate_info_from_x509(leaf));
      } else {
        ec = check_server_identity_x509(config_.identity_host, leaf, &reason);
      }
      if (ec) {
        verify_error_ = ec;
        verify_reason_ = std::move(reason);
        if (!config_.reject_unauthorized) return 1;
        verify_rejected_ = true;
        X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
        return 0;
      }
    }
    return 1;
  }

  static int new_session_callback(SSL *ssl, SSL_SESSION *session) {
    engine *self = from(ssl);
    if (self == nullptr || self->config_.is_server) return 0;
    const int size = i2d_SSL_SESSION(session, nullptr);
    if (size <= 0) return 0;
    events::session e;
    e.data.resize(static_cast<std::size_t>(size));
    unsigned char *p = e.data.data();
    i2d_SSL_SESSION(session, &p);
    self->events_.emplace_back(std::move(e));
    return 0; // we keep no reference
  }

  static constexpr std::size_t record_size = 16 * 1024;

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
};

} // namespace tlsengine::detail
