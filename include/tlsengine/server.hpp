// tlsengine — server: Node's tls.Server without the listening socket. It holds the
// configuration; accept() makes a server-side connection for each new transport.
#pragma once

#include "detail/config.hpp"

#include "connection.hpp"
#include "globals.hpp"
#include "context.hpp"
#include "options.hpp"
#include "result.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

namespace tlsengine {

/// tls.createServer's options. Every createSecureContext option is accepted; or pass an
/// existing context in `secure_context`.
struct server_options : context_options, connection_options {
  tlsengine::secure_context secure_context; ///< used instead of the context fields when set
  bool request_cert = false;                ///< ask clients for a certificate
  bool reject_unauthorized = true; ///< with request_cert: refuse clients that fail verification
  /// The handshake must complete within this time (deadline() / on_timeout()); zero: none.
  clock::duration handshake_timeout = std::chrono::seconds(120);
  /// ALPN protocols supported, in the server's order of preference.
  alpn_list alpn_protocols;
  /// Node's ALPNCallback; exclusive with alpn_protocols.
  alpn_callback_function alpn_callback;
  /// NPN protocols advertised to TLS 1.2 clients that offer NPN (Node's NPNProtocols of
  /// the v0.x-v8 manuals); a client offering ALPN too gets ALPN.
  alpn_list npn_protocols;
  /// Opt-in `servername` decision (else the add_context table decides at once).
  bool pause_on_servername = false;
  /// `new_session` events and the `resume_session` decision: the application keeps the
  /// session cache (TLS 1.2 session ids; TLS 1.3 when secure_options has SSL_OP_NO_TICKET).
  bool external_session_cache = false;
  /// Opt-in `ocsp_request` decision when a client asks for a stapled response.
  bool pause_on_ocsp_request = false;
  /// Node's pskCallback (server side): the key for an identity.
  psk_server_function psk_callback;
  std::string psk_identity_hint;
  /// 48 bytes in Node's layout (name, HMAC secret, AES key); empty: random.
  std::vector<std::uint8_t> ticket_keys;
  /// After rotate_ticket_keys(), tickets under this many former keys still resume (and
  /// get a new ticket under the newest key).
  std::size_t previous_ticket_keys = 2;
  /// Node's tls.CLIENT_RENEG_LIMIT / CLIENT_RENEG_WINDOW: more client-initiated TLS 1.2
  /// renegotiations than this within the window fail the connection.
  /// TLS 1.3 0-RTT: accept up to this many bytes of early data (0: none). Tickets then
  /// allow early data; it arrives as `early_data` events, apart from read().
  std::uint32_t max_early_data = 0;
  std::size_t client_reneg_limit = tlsengine::client_reneg_limit;
  clock::duration client_reneg_window = tlsengine::client_reneg_window;
};

/// Shareable by connections on many threads; accept() itself is thread-safe.
class server {
public:
  server() = default;

  static result<server> create(const server_options& options);

  explicit operator bool() const noexcept { return state_ != nullptr; }

  /// A new server-side connection: feed it what the client sends.
  connection accept() const;

  const tlsengine::secure_context& context() const noexcept;

  /// Node's server.addContext: connections whose SNI matches `hostname` ("*" stands for
  /// one label's characters) use this context; the latest added wins.
  std::error_code add_context(std::string hostname, const context_options& options);
  std::error_code add_context(std::string hostname, const tlsengine::secure_context& context);

  /// The 48 bytes of the newest session ticket key (Node's getTicketKeys()).
  std::vector<std::uint8_t> ticket_keys() const;
  /// Node's setTicketKeys(): one key replaces the ring; new connections use it, those under
  /// way keep theirs.
  std::error_code set_ticket_keys(bytes_view keys);

  /// Key rotation: `newest` (48 bytes; empty: random) encrypts the tickets of new
  /// connections; tickets under the former keys, up to previous_ticket_keys of them, still
  /// resume and are renewed under the newest. Connections under way keep their keys.
  std::error_code rotate_ticket_keys(bytes_view newest = {});
  /// The whole ring at once, newest first (a fleet's shared keys): 48 bytes each, at least
  /// one; keys beyond the newest and previous_ticket_keys older ones are dropped.
  std::error_code set_ticket_key_ring(const std::vector<std::vector<std::uint8_t>>& newest_first);
  /// The keys accepted now, newest first (48 bytes each; the first 16 are the key's name).
  std::vector<std::vector<std::uint8_t>> ticket_key_ring() const;

private:
  struct state_type; // in impl/server.hpp: the engine configuration stays out of users' TUs
  explicit server(std::shared_ptr<state_type> state);
  std::shared_ptr<state_type> state_;
};

} // namespace tlsengine

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#include "impl/server.hpp"
#endif
