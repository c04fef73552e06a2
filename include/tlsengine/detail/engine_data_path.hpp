// tlsengine — engine, the data path: ciphertext in and out, cleartext in and out, events, and the
// loop that drives SSL_do_handshake / SSL_read_ex / SSL_write_ex and interprets their failures. Not
// public: included by engine.hpp, which declares the class.
#pragma once

#include "engine.hpp"

namespace tlsengine::detail {

// ---- ciphertext in -------------------------------------------------------------------
inline std::size_t engine::feed(bytes_view data) {
  if (destroyed_) return 0;
  if (error_ || received_close_) return data.size(); // nothing more can be read: discard
  if (ssl_ == nullptr) return 0;
  // From inside a callback OpenSSL is reading the previous input: this waits (taken: 0).
  if (in_openssl()) return 0;
  openssl_guard guard(*this);
  cipher_in_ += data.size();
  std::size_t taken = 0;
  if (in_.empty()) {
    // Fast path: OpenSSL reads the caller's span directly; only leftovers are copied.
    endpoint_.set_input(data);
    drive();
    const std::size_t left = endpoint_.clear_input();
    taken = data.size() - left;
    if (destroyed_) {
      taken = data.size();
    } else if (left != 0 && !error_ && !received_close_) {
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
    if (error_ || received_close_ || destroyed_) taken = data.size();
  }
  cipher_in_ -= data.size() - taken;
  release_buffers_if_idle();
  return taken;
}

inline mutable_bytes_view engine::input_window() {
  if (destroyed_ || error_ || ssl_ == nullptr || in_openssl()) return {};
  const std::size_t room = config_.connection.max_input_buffer > in_.size()
                               ? config_.connection.max_input_buffer - in_.size()
                               : 0;
  if (room == 0) return {};
  mutable_bytes_view window = in_.prepare(room);
  return mutable_bytes_view(window.data(), room);
}

inline void engine::commit_input(std::size_t n) {
  if (destroyed_ || error_ || ssl_ == nullptr || n == 0 || in_openssl()) return;
  openssl_guard guard(*this);
  in_.commit(n);
  cipher_in_ += n;
  process_buffered_input();
  release_buffers_if_idle();
}

inline void engine::feed_eof() {
  if (destroyed_ || error_ || transport_eof_) return;
  transport_eof_ = true;
  if (received_close_) return;
  if (!handshake_done_) {
    // Node's words for the client's case (ECONNRESET).
    fail(make_error_code(errc::truncated),
         config_.is_server ? "the transport closed before the TLS handshake completed"
                           : "Client network socket disconnected before secure TLS "
                             "connection was established");
  } else if (config_.connection.allow_truncation) {
    received_close_ = true;
    truncated_ = true;
    events_.emplace_back(events::end{false});
  } else {
    fail(make_error_code(errc::truncated),
         "the transport closed without a TLS close_notify (truncation)");
  }
}

// ---- ciphertext out ------------------------------------------------------------------
inline bytes_view engine::pending_output() {
  if (in_openssl()) return out_.view(); // from a callback: what is there, nothing encrypted
  openssl_guard guard(*this);
  if (early_mode_ && !early_started_ && !destroyed_ && ssl_) send_early_data();
  flush_writes();
  return out_.view();
}

inline void engine::consume_output(std::size_t n) {
  const bool was_full = out_.size() >= config_.connection.max_write_buffer;
  out_.consume(n);
  if (in_openssl()) return; // OpenSSL may be appending: no release, no processing
  if (out_.empty()) out_.release_if_empty();
  if (error_) {
    release_after_failure(); // the alert is out: OpenSSL's state is of no more use
    return;
  }
  // Input held back because our own output was full (see read_records) can go on.
  if (was_full && !in_.empty()) {
    openssl_guard guard(*this);
    process_buffered_input();
  }
  release_buffers_if_idle();
}

// ---- cleartext -----------------------------------------------------------------------
inline std::size_t engine::write(bytes_view data, std::error_code& ec) {
  ec.clear();
  if (destroyed_) {
    ec = make_error_code(errc::destroyed);
    return 0;
  }
  if (error_) {
    ec = error_;
    return 0;
  }
  if (ssl_ == nullptr) {
    ec = make_error_code(errc::destroyed);
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
  if (handshake_done_ && staged_.empty() && n >= direct_write_threshold && !in_openssl()) {
    openssl_guard guard(*this);
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

inline std::size_t engine::read(mutable_bytes_view out) {
  if (held_) return 0; // the application has not accepted the peer yet
  // From a callback: OpenSSL may be decrypting into the plaintext buffer; read after.
  if (in_openssl()) return 0;
  const std::size_t n = std::min(out.size(), plain_.size());
  if (n != 0) std::memcpy(out.data(), plain_.view().data(), n);
  consume_plaintext(n);
  return n;
}

inline void engine::consume_plaintext(std::size_t n) {
  if (held_ || in_openssl()) return;
  plain_.consume(n);
  if (plain_.empty()) {
    if (!in_.empty()) { // decrypt what backpressure held back
      openssl_guard guard(*this);
      process_buffered_input();
    }
    if (plain_.empty()) plain_.release_if_empty();
    release_buffers_if_idle();
  }
}

inline void engine::end() {
  if (destroyed_ || error_ || end_requested_ || ssl_ == nullptr) return;
  end_requested_ = true;
  // close_notify goes out with the next pending_output(), after the queued data.
}

inline void engine::destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  endpoint_.clear_input();  // OpenSSL reads nothing more
  endpoint_.discard = true; // and what it writes now is not sent, but a fatal alert
  // Inside a callback OpenSSL (and the engine below it) still use the SSL and the
  // buffers: the outermost openssl_guard frees them when it ends.
  if (!in_openssl()) release();
}

inline std::optional<event> engine::next_event() {
  if (events_.empty()) return std::nullopt;
  event e = std::move(events_.front());
  events_.pop_front();
  // Input held back because too many events were waiting can go on.
  if (events_.empty() && !in_.empty() && handshake_done_ && !in_openssl()) {
    openssl_guard guard(*this);
    process_buffered_input();
  }
  return e;
}

inline std::optional<clock::time_point> engine::deadline() const {
  if (handshake_done_ || error_ || destroyed_ || !config_.handshake_timeout) return std::nullopt;
  // A timeout too long to represent means "never" (saturate instead of wrapping around).
  const clock::duration timeout = *config_.handshake_timeout;
  if (timeout > clock::duration::zero() &&
      started_.time_since_epoch() > clock::duration::max() - timeout)
    return clock::time_point::max();
  return started_ + timeout;
}

inline void engine::on_timeout(clock::time_point now) {
  const auto when = deadline();
  if (when && now >= *when) fail(make_error_code(errc::handshake_timeout), "TLS handshake timeout");
}

inline void engine::process_buffered_input() {
  if (error_ || destroyed_ || !ssl_) return;
  endpoint_.set_input(in_.view());
  drive();
  const std::size_t left = endpoint_.clear_input();
  in_.consume(in_.size() - left);
  if (error_ || received_close_ || destroyed_) in_.clear();
  if (in_.empty()) in_.release_if_empty();
}

/// Advances the handshake, then decrypts into the plaintext buffer while it has room.
inline void engine::drive() {
  if (error_ || destroyed_ || !ssl_) return;
  if (!handshake_done_) {
    if (waiting_for_decision()) return;         // paused: the answer resumes the handshake
    if (early_mode_ && !early_started_) return; // the ClientHello waits for pending_output()
    if (config_.is_server && config_.max_early_data > 0 && !early_read_done_ && !read_early_data())
      return;
    clear_error_queue();
    const int r = SSL_do_handshake(ssl_.get());
    if (destroyed_) return; // a callback destroyed the connection: nothing more to read
    if (plaintext_alert_ >= 0) {
      send_plaintext_alert();
      return;
    }
    if (r == 1) {
      on_handshake_done();
    } else if (!handle_failure(r)) {
      fail_on_callback_error();
      return;
    }
    if (!handshake_done_) return;
  }
  read_records();
  fail_on_callback_error();
}

inline void engine::read_records() {
  // While a server's verify_peer waits nothing is read: no application data, and no
  // KeyUpdate that would make OpenSSL write under the key a rejection's alert needs.
  if (held_) return;
  // Bounded by what the application has not taken yet: cleartext, but also output the
  // peer makes us produce (KeyUpdate answers...) and events (tickets...), so a peer that
  // floods while never reading meets backpressure instead of growing our memory.
  while (!error_ && !received_close_ && !destroyed_ && ssl_ &&
         plain_.size() < config_.connection.max_plaintext_buffer &&
         out_.size() < config_.connection.max_write_buffer && events_.size() < max_pending_events) {
    if (endpoint_.input_size == 0 && SSL_has_pending(ssl_.get()) == 0) break;
    mutable_bytes_view space = plain_.prepare(record_size);
    std::size_t n = 0;
    clear_error_queue();
    const int r = SSL_read_ex(ssl_.get(), space.data(), space.size(), &n);
    if (r == 1) {
      plain_.commit(n);
      clear_out_ += n;
      if (n != 0) key_updates_in_row_ = 0;
      continue;
    }
    handle_failure(r);
    break;
  }
}

/// Interprets a failed SSL_* call. Returns false when the connection cannot go on now.
inline bool engine::handle_failure(int r) {
  if (destroyed_) { // by a callback: whatever OpenSSL says next is of no interest
    clear_error_queue();
    return false;
  }
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

inline bool engine::ssl_write(bytes_view data, std::size_t& written) {
  written = 0;
  while (written < data.size()) {
    std::size_t n = 0;
    clear_error_queue();
    const int r = SSL_write_ex(ssl_.get(), data.data() + written, data.size() - written, &n);
    if (destroyed_) return false;
    if (r == 1) {
      written += n;
      continue;
    }
    handle_failure(r);
    return !error_;
  }
  return true;
}

inline void engine::flush_writes() {
  if (!handshake_done_ || held_ || error_ || destroyed_ || !ssl_) return;
  if (auto_end_pending_ && plain_.empty()) {
    auto_end_pending_ = false;
    end_requested_ = true;
  }
  if (!staged_.empty()) {
    // OpenSSL reads from `sending`; a write() made from a callback meanwhile (the trace)
    // appends to a fresh staged_ instead of moving the bytes being encrypted.
    byte_buffer sending;
    std::swap(sending, staged_);
    std::size_t written = 0;
    ssl_write(sending.view(), written);
    if (destroyed_ || error_) return;
    sending.consume(written);
    sending.append(staged_.view());
    std::swap(sending, staged_);
    if (staged_.empty()) staged_.release_if_empty();
  }
  if (destroyed_) return;
  // After our close_notify nothing more is sent, not even the KeyUpdate the peer asked for.
  if (SSL_get_key_update_type(ssl_.get()) != SSL_KEY_UPDATE_NONE && !error_ && !shutdown_sent_) {
    // A pending KeyUpdate (ours, or the answer the peer requested) goes out with the
    // next write; a zero-length write sends it now.
    std::size_t ignored = 0;
    clear_error_queue();
    const int r = SSL_write_ex(ssl_.get(), "", 0, &ignored);
    if (r != 1) handle_failure(r);
  }
  if (end_requested_ && !shutdown_sent_ && staged_.empty() && !error_ && !destroyed_) {
    clear_error_queue();
    SSL_shutdown(ssl_.get()); // queues close_notify; the peer's is read by feed()
    shutdown_sent_ = true;
    clear_error_queue();
  }
}

/// With release_buffers_when_idle: once everything is drained both ways, OpenSSL's record
/// buffers (about 34 KiB) are freed; the next record allocates them again (as nginx's
/// SSL_MODE_RELEASE_BUFFERS, but once per drain rather than once per record).
inline void engine::release_buffers_if_idle() {
  if (!config_.connection.release_buffers_when_idle || !handshake_done_ || error_ || destroyed_ ||
      !ssl_ || !out_.empty() || !plain_.empty() || !staged_.empty() || !in_.empty() ||
      SSL_has_pending(ssl_.get()) != 0 || !free_buffers_is_safe())
    return;
  SSL_free_buffers(ssl_.get()); // refuses (0) while a record is half read or written
}

/// SSL_free_buffers() could free a record not yet processed before 3.0.14, 3.1.6, 3.2.2
/// and 3.3.1 (CVE-2024-4741): older libraries keep their buffers.
inline bool engine::free_buffers_is_safe() noexcept {
  static const bool safe = [] {
    const unsigned long v = OpenSSL_version_num();
    const unsigned long minor = (v >> 20) & 0xff, patch = (v >> 4) & 0xff;
    if ((v >> 28) != 3) return (v >> 28) > 3;
    switch (minor) {
    case 0: return patch >= 14;
    case 1: return patch >= 6;
    case 2: return patch >= 2;
    case 3: return patch >= 1;
    default: return true;
    }
  }();
  return safe;
}

inline void engine::fail_with_openssl(std::error_code fallback) {
  openssl_failure failure = take_openssl_error(fallback);
  const std::error_code too_long(
      static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_EXCESSIVE_MESSAGE_SIZE)), openssl_category());
  if (failure.code == too_long && config_.connection.max_cert_list != 0) {
    // The usual cause, said plainly (OpenSSL only says "excessive message size").
    fail(make_error_code(errc::certificate_list_too_long),
         "the peer's certificate list is longer than max_cert_list (" +
             std::to_string(config_.connection.max_cert_list) + " bytes): " + failure.text);
    return;
  }
  fail(failure.code, failure.text);
}

inline void engine::fail(std::error_code code, std::string message) {
  if (error_) return;
  error_ = code;
  error_message_ = std::move(message);
  staged_.clear();
  staged_.release_if_empty();
  events_.emplace_back(events::error{error_, error_message_, last_alert_, last_alert_sent_});
}

} // namespace tlsengine::detail
