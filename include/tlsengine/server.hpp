// tlsengine — server: Node's tls.Server without the listening socket. It holds the
// configuration; accept() makes a server-side connection for each new transport.
#pragma once

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

  static result<server> create(const server_options& options) {
    tlsengine::secure_context context = options.secure_context;
    if (!context) {
      auto created = secure_context::create(options);
      if (!created) return created.error();
      context = std::move(*created);
    }
    if (!context.has_certificate() && !options.psk_callback)
      return make_error_code(errc::missing_certificate);
    if (options.alpn_protocols.is_set() && options.alpn_callback)
      return make_error_code(errc::invalid_argument); // Node: ERR_TLS_ALPN_CALLBACK_WITH_PROTOCOLS
    auto state = std::make_shared<state_type>();
    state->shared = std::make_shared<detail::server_state>();
    state->config.server = state->shared;
    if (options.alpn_protocols.is_set()) {
      auto wire = options.alpn_protocols.encode();
      if (!wire) return wire.error();
      state->config.alpn = std::move(*wire);
    }
    state->config.alpn_callback = options.alpn_callback;
    if (options.npn_protocols.is_set()) {
      auto wire = options.npn_protocols.encode();
      if (!wire) return wire.error();
      state->config.npn = std::move(*wire);
    }
    state->config.pause_on_servername = options.pause_on_servername;
    state->config.external_session_cache = options.external_session_cache;
    state->config.pause_on_ocsp_request = options.pause_on_ocsp_request;
    state->config.psk_server = options.psk_callback;
    state->config.psk_identity_hint = options.psk_identity_hint;
    state->config.reneg_limit = options.client_reneg_limit;
    state->config.max_early_data = options.max_early_data;
    state->config.reneg_window = options.client_reneg_window;
    detail::ticket_key_bytes keys{};
    if (!options.ticket_keys.empty()) {
      if (options.ticket_keys.size() != keys.size()) return make_error_code(errc::invalid_argument);
      std::copy(options.ticket_keys.begin(), options.ticket_keys.end(), keys.begin());
    } else if (RAND_bytes(keys.data(), static_cast<int>(keys.size())) != 1) {
      return detail::take_openssl_error_code();
    }
    state->shared->set_previous_ticket_keys(options.previous_ticket_keys);
    state->shared->set_ticket_keys(keys);
    state->context = std::move(context);
    state->config.is_server = true;
    state->config.connection = options;
    state->config.verify_peer = options.request_cert;
    state->config.reject_unauthorized = options.reject_unauthorized;
    if (options.handshake_timeout > clock::duration::zero())
      state->config.handshake_timeout = options.handshake_timeout;
    return server(std::move(state));
  }

  explicit operator bool() const noexcept { return state_ != nullptr; }

  /// A new server-side connection: feed it what the client sends.
  connection accept() const {
    if (!state_) return connection();
    return connection(std::make_unique<detail::engine>(state_->context, state_->config));
  }

  const tlsengine::secure_context& context() const noexcept { return state_->context; }

  /// Node's server.addContext: connections whose SNI matches `hostname` ("*" stands for
  /// one label's characters) use this context; the latest added wins.
  std::error_code add_context(std::string hostname, const context_options& options) {
    auto created = secure_context::create(options);
    if (!created) return created.error();
    return add_context(std::move(hostname), *created);
  }
  std::error_code add_context(std::string hostname, const tlsengine::secure_context& context) {
    if (!state_) return make_error_code(errc::invalid_state);
    if (!context || hostname.empty()) return make_error_code(errc::invalid_argument);
    state_->shared->add_context(std::move(hostname), context);
    return {};
  }

  /// The 48 bytes of the newest session ticket key (Node's getTicketKeys()).
  std::vector<std::uint8_t> ticket_keys() const {
    auto ring = ticket_key_ring();
    return ring.empty() ? std::vector<std::uint8_t>() : std::move(ring.front());
  }
  /// Node's setTicketKeys(): one key replaces the ring; new connections use it, those under
  /// way keep theirs.
  std::error_code set_ticket_keys(bytes_view keys) {
    if (!state_) return make_error_code(errc::invalid_state);
    detail::ticket_key_bytes bytes{};
    if (keys.size() != bytes.size()) return make_error_code(errc::invalid_argument);
    std::copy(keys.begin(), keys.end(), bytes.begin());
    state_->shared->set_ticket_keys(bytes);
    return {};
  }

  /// Key rotation: `newest` (48 bytes; empty: random) encrypts the tickets of new
  /// connections; tickets under the former keys, up to previous_ticket_keys of them, still
  /// resume and are renewed under the newest. Connections under way keep their keys.
  std::error_code rotate_ticket_keys(bytes_view newest = {}) {
    if (!state_) return make_error_code(errc::invalid_state);
    detail::ticket_key_bytes bytes{};
    if (newest.empty()) {
      if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        return detail::take_openssl_error_code();
    } else if (newest.size() != bytes.size()) {
      return make_error_code(errc::invalid_argument);
    } else {
      std::copy(newest.begin(), newest.end(), bytes.begin());
    }
    state_->shared->rotate_ticket_keys(bytes);
    return {};
  }
  /// The whole ring at once, newest first (a fleet's shared keys): 48 bytes each, at least
  /// one; keys beyond the newest and previous_ticket_keys older ones are dropped.
  std::error_code set_ticket_key_ring(const std::vector<std::vector<std::uint8_t>>& newest_first) {
    if (!state_) return make_error_code(errc::invalid_state);
    if (newest_first.empty()) return make_error_code(errc::invalid_argument);
    detail::ticket_key_ring ring;
    for (const auto& key : newest_first) {
      if (key.size() != std::tuple_size<detail::ticket_key_bytes>::value)
        return make_error_code(errc::invalid_argument);
      ring.emplace_back();
      std::copy(key.begin(), key.end(), ring.back().begin());
    }
    state_->shared->set_ticket_key_ring(std::move(ring));
    return {};
  }
  /// The keys accepted now, newest first (48 bytes each; the first 16 are the key's name).
  std::vector<std::vector<std::uint8_t>> ticket_key_ring() const {
    std::vector<std::vector<std::uint8_t>> out;
    if (!state_) return out;
    if (auto ring = state_->shared->ticket_keys())
      for (const auto& key : *ring)
        out.emplace_back(key.begin(), key.end());
    return out;
  }

private:
  struct state_type {
    tlsengine::secure_context context;
    detail::engine_config config;
    std::shared_ptr<detail::server_state> shared;
  };
  explicit server(std::shared_ptr<state_type> state) : state_(std::move(state)) {}
  std::shared_ptr<state_type> state_;
};

} // namespace tlsengine
