// tlsengine — per-connection options shared by both roles (client_options, server_options).
#pragma once

#include "certificate.hpp"
#include "bytes.hpp"
#include "context.hpp"
#include "result.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <system_error>

namespace tlsengine {

/// The only clock the engine reads, through connection_options::now.
using clock = std::chrono::steady_clock;

/// Node's checkServerIdentity(hostname, cert): return {} to accept the certificate.
using check_server_identity_function =
    std::function<std::error_code(std::string_view hostname, const certificate_info& cert)>;

/// ALPN protocol names: a list of strings, or Node's wire format ([length][name]...).
class alpn_list {
public:
  alpn_list() = default; ///< not set: no ALPN
  alpn_list(std::initializer_list<std::string> names) : names_(names), set_(true) {}
  alpn_list(std::vector<std::string> names) : names_(std::move(names)), set_(true) {}
  /// Parses the wire format; a malformed buffer makes the list invalid (an error when
  /// the options are used).
  static alpn_list wire(bytes_view wire_format) {
    alpn_list list;
    list.set_ = true;
    for (std::size_t i = 0; i < wire_format.size();) {
      const std::size_t n = wire_format[i];
      if (n == 0 || i + 1 + n > wire_format.size()) {
        list.valid_ = false;
        break;
      }
      list.names_.emplace_back(wire_format.subview(i + 1, n).as_string_view());
      i += 1 + n;
    }
    return list;
  }
  bool is_set() const noexcept { return set_; }
  const std::vector<std::string>& names() const noexcept { return names_; }
  /// The wire format, or an error: an empty list, an empty name or one over 255 bytes.
  result<std::vector<std::uint8_t>> encode() const {
    if (!valid_ || names_.empty()) return make_error_code(errc::alpn_invalid);
    std::vector<std::uint8_t> out;
    for (const std::string& name : names_) {
      if (name.empty() || name.size() > 255) return make_error_code(errc::alpn_invalid);
      out.push_back(static_cast<std::uint8_t>(name.size()));
      out.insert(out.end(), name.begin(), name.end());
    }
    return out;
  }

private:
  std::vector<std::string> names_;
  bool set_ = false;
  bool valid_ = true;
};

/// What a server's ALPN callback sees (Node's ALPNCallback argument).
struct alpn_request {
  std::string servername;
  std::vector<std::string> protocols;
};
/// Returns the protocol to select (one of request.protocols), or nothing to refuse the
/// connection with a no_application_protocol alert. A protocol the client did not offer
/// fails it with internal_error (errc::alpn_invalid).
using alpn_callback_function = std::function<std::optional<std::string>(const alpn_request&)>;

/// A client's PSK answer (Node's {psk, identity}).
struct psk_credentials {
  std::string identity;
  std::vector<std::uint8_t> key;
};
/// Client: given the server's identity hint (may be empty), the identity and key to use,
/// or nothing to abort the handshake (with a handshake_failure alert).
/// OpenSSL also asks once before the server has spoken, while it builds a ClientHello that
/// may offer TLS 1.3: that probe's hint is a null string_view (is_psk_probe(hint)), and
/// answering nothing to it only means "no TLS 1.3 external PSK" (TLS 1.2 PSK goes on).
using psk_client_function = std::function<std::optional<psk_credentials>(std::string_view hint)>;
/// True for the hint of the ClientHello probe (see psk_client_function); a real hint,
/// even an empty one, is never null.
inline bool is_psk_probe(std::string_view hint) noexcept { return hint.data() == nullptr; }
/// Server: the key for a client's identity, or nothing to refuse it.
using psk_server_function =
    std::function<std::optional<std::vector<std::uint8_t>>(std::string_view identity)>;

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
  /// Emit `keylog` events (NSS key log lines, for Wireshark) — Node's 'keylog' event.
  bool enable_keylog = false;
  /// Opt-in decision event `verify_peer` after OpenSSL's own checks (beyond Node).
  bool pause_on_verify = false;
  /// Free OpenSSL's record buffers (about 34 KiB per connection) whenever everything is
  /// drained both ways, as nginx does with SSL_MODE_RELEASE_BUFFERS: an idle connection
  /// then holds about 60% less. The next record allocates them again, which costs about
  /// 2% on 16 KiB writes and 30% on small request/response messages: off by default.
  bool release_buffers_when_idle = false;
  /// The largest certificate list accepted from the peer, in bytes (OpenSSL's max cert
  /// list); 0: OpenSSL's default (100 KiB). A longer one fails the handshake with
  /// errc::certificate_list_too_long.
  std::size_t max_cert_list = 0;
};

} // namespace tlsengine
