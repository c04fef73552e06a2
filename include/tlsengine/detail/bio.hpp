// tlsengine — the custom BIO_METHOD of the data path. OpenSSL reads ciphertext straight
// from the span the caller fed (or from the engine's input buffer when it had to keep
// bytes), and appends records straight into the engine's output buffer. Unlike
// BIO_s_mem there is no intermediate copy and no zero-filling.
#pragma once

#include "byte_buffer.hpp"

#include <openssl/bio.h>

#include <cstring>

namespace tlsengine::detail {

struct bio_endpoint {
  const std::uint8_t* input = nullptr; // ciphertext OpenSSL may read now
  std::size_t input_size = 0;
  byte_buffer* output = nullptr; // where records OpenSSL writes go
  std::uint64_t bytes_read = 0;  // ciphertext in, for the counters
  std::uint64_t bytes_written = 0;
  /// After destroy(): what OpenSSL still writes is not sent, except a fatal alert (the
  /// engine keeps the last write when the info callback reports one).
  bool discard = false;
  byte_buffer last_discarded;
  /// Asked before each read: false while the engine's output, events or cleartext are at
  /// their limits, so that one SSL_* call does bounded work (the input waits).
  bool (*may_read)(const void* owner) = nullptr;
  const void* owner = nullptr;
  /// A record OpenSSL reads at the next record boundary, before any more input: the
  /// engine's one way to make OpenSSL itself fail a connection with the alert it sends
  /// for that record (encrypted with the keys of the moment). See inject().
  bytes_view injected;
  bool injecting = false; // part of `injected` was read: the rest follows at once
  /// Server, TLS 1.2, while the application judges the client's certificate: OpenSSL is
  /// not given the client's ChangeCipherSpec (it would finish the handshake), so that a
  /// rejection can still answer with a plaintext alert inside the handshake.
  bool hold_before_change_cipher_spec = false;
  /// When set, what OpenSSL writes goes here instead of `output` (a client's TLS 1.2
  /// flight while the application judges the stapled OCSP response).
  byte_buffer* held_output = nullptr;
  // Where the records OpenSSL reads begin (a 5-byte header, then the body).
  std::size_t header_got = 0;
  std::uint8_t header[5] = {};
  std::size_t body_left = 0;

  void inject(bytes_view record) noexcept {
    injected = record;
    injecting = false;
  }
  /// A record of no valid content type: OpenSSL refuses it with its own fatal alert, under
  /// the keys of the moment (how the engine ends a handshake OpenSSL cannot be told to end).
  void inject_invalid_record() noexcept {
    static const std::uint8_t invalid[] = {0x63, 0x03, 0x03, 0x00, 0x01, 0x00};
    inject(bytes_view(invalid, sizeof invalid));
  }

  bool at_record_boundary() const noexcept { return header_got == 0 && body_left == 0; }
  void track(const std::uint8_t* p, std::size_t n) noexcept {
    while (n != 0) {
      if (body_left != 0) {
        const std::size_t k = n < body_left ? n : body_left;
        body_left -= k;
        p += k;
        n -= k;
        continue;
      }
      header[header_got++] = *p++;
      --n;
      if (header_got == 5) {
        header_got = 0;
        body_left = (std::size_t(header[3]) << 8) | header[4];
      }
    }
  }

  void set_input(bytes_view in) noexcept {
    input = in.data();
    input_size = in.size();
  }
  std::size_t clear_input() noexcept { // returns what OpenSSL left unread
    const std::size_t left = input_size;
    input = nullptr;
    input_size = 0;
    return left;
  }
};

inline int engine_bio_read(BIO* bio, char* out, std::size_t size, std::size_t* read) {
  auto* endpoint = static_cast<bio_endpoint*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (endpoint != nullptr && !endpoint->injected.empty() &&
      (endpoint->injecting || endpoint->at_record_boundary())) {
    const std::size_t n = size < endpoint->injected.size() ? size : endpoint->injected.size();
    std::memcpy(out, endpoint->injected.data(), n);
    endpoint->injected = endpoint->injected.subview(n, endpoint->injected.size() - n);
    endpoint->injecting = !endpoint->injected.empty();
    *read = n;
    return 1;
  }
  if (endpoint == nullptr || endpoint->input_size == 0 ||
      (endpoint->may_read != nullptr && !endpoint->may_read(endpoint->owner)) ||
      (endpoint->hold_before_change_cipher_spec && endpoint->at_record_boundary() &&
       endpoint->input[0] == 20)) { // SSL3_RT_CHANGE_CIPHER_SPEC
    // No more input for now: OpenSSL sees "want read", never EOF. The engine decides
    // what a transport EOF means (feed_eof()).
    BIO_set_retry_read(bio);
    *read = 0;
    return 0;
  }
  const std::size_t n = size < endpoint->input_size ? size : endpoint->input_size;
  std::memcpy(out, endpoint->input, n);
  endpoint->track(endpoint->input, n);
  endpoint->input += n;
  endpoint->input_size -= n;
  endpoint->bytes_read += n;
  *read = n;
  return 1;
}

inline int engine_bio_write(BIO* bio, const char* in, std::size_t size, std::size_t* written) {
  auto* endpoint = static_cast<bio_endpoint*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (endpoint == nullptr || endpoint->output == nullptr) {
    *written = 0;
    return 0;
  }
  if (endpoint->discard) {
    endpoint->last_discarded.clear();
    endpoint->last_discarded.append(bytes_view(in, size));
    *written = size;
    return 1;
  }
  if (endpoint->held_output != nullptr) {
    endpoint->held_output->append(bytes_view(in, size)); // counted when released
    *written = size;
    return 1;
  }
  endpoint->output->append(bytes_view(in, size));
  endpoint->bytes_written += size;
  *written = size;
  return 1;
}

inline long engine_bio_ctrl(BIO* bio, int cmd, long, void*) {
  auto* endpoint = static_cast<bio_endpoint*>(BIO_get_data(bio));
  switch (cmd) {
  case BIO_CTRL_FLUSH: return 1;
  case BIO_CTRL_PENDING: return endpoint ? static_cast<long>(endpoint->input_size) : 0;
  case BIO_CTRL_WPENDING: return 0;
  case BIO_CTRL_GET_CLOSE: return BIO_get_shutdown(bio);
  case BIO_CTRL_SET_CLOSE: return 1;
  default: return 0;
  }
}

inline int engine_bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

inline int engine_bio_destroy(BIO* bio) {
  BIO_set_data(bio, nullptr);
  return 1;
}

/// The process-wide method table, made once (thread-safe static initialisation).
inline const BIO_METHOD* engine_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tlsengine");
    if (m != nullptr) {
      BIO_meth_set_read_ex(m, engine_bio_read);
      BIO_meth_set_write_ex(m, engine_bio_write);
      BIO_meth_set_ctrl(m, engine_bio_ctrl);
      BIO_meth_set_create(m, engine_bio_create);
      BIO_meth_set_destroy(m, engine_bio_destroy);
    }
    return m;
  }();
  return method;
}

} // namespace tlsengine::detail
