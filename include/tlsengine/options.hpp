// tlsengine — per-connection options shared by both roles (client_options, server_options).
#pragma once

#include "certificate.hpp"
#include "context.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <system_error>

namespace tlsengine {

/// The only clock the engine reads, through connection_options::now.
using clock = std::chrono::steady_clock;

/// Node's checkServerIdentity(hostname, cert): return {} to accept the certificate.
using check_server_identity_function =
    std::function<std::error_code(std::string_view hostname, const certificate_info &cert)>;

/// How a connection buffers and behaves, independent of the TLS configuration.
struct connection_options {
  /// Ciphertext the engine keeps when OpenSSL cannot take it yet (feed() takes no more).
  std::size_t max_input_buffer = 64 * 1024;
  /// Decrypted bytes waiting for read(); above this the engine stops decrypting.
  std::size_t max_plaintext_buffer = 64 * 1024;
  /// Cleartext queued by write() plus ciphertext not yet sent; write() takes no more.
  std::size_t max_write_buffer = 1024 * 1024;
  /// A transport EOF without close_notify becomes `end` instead of an error.
  bool allow_truncation = false;
  /// Node's allowHalfOpen: when false, our close_notify follows the peer's automatically.
  bool allow_half_open = false;
  /// The clock behind deadline() and timeouts; replace it in tests and simulations.
  std::function<clock::time_point()> now;
};

} // namespace tlsengine
