// tlsengine — server: Node's tls.Server without the listening socket. It holds the
// configuration; accept() makes a server-side connection for each new transport.
#pragma once

#include "connection.hpp"
#include "context.hpp"
#include "options.hpp"
#include "result.hpp"

#include <chrono>
#include <memory>
#include <optional>

namespace tlsengine {

/// tls.createServer's options. Every createSecureContext option is accepted; or pass an
/// existing context in `secure_context`.
struct server_options : context_options, connection_options {
  tlsengine::secure_context secure_context; ///< used instead of the context fields when set
  bool request_cert = false;                ///< ask clients for a certificate
  bool reject_unauthorized = true; ///< with request_cert: refuse clients that fail verification
  /// The handshake must complete within this time (deadline() / on_timeout()); zero: none.
  clock::duration handshake_timeout = std::chrono::seconds(120);
};

/// Shareable by connections on many threads; accept() itself is thread-safe.
class server {
public:
  server() = default;

  static result<server> create(const server_options &options) {
    tlsengine::secure_context context = options.secure_context;
    if (!context) {
      auto created = secure_context::create(options);
      if (!created) return created.error();
      context = std::move(*created);
    }
    if (!context.has_certificate() && SSL_CTX_get0_certificate(context.native_handle()) == nullptr)
      return make_error_code(errc::missing_certificate);
    auto state = std::make_shared<state_type>();
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

  const tlsengine::secure_context &context() const noexcept { return state_->context; }

private:
  struct state_type {
    tlsengine::secure_context context;
    detail::engine_config config;
  };
  explicit server(std::shared_ptr<state_type> state) : state_(std::move(state)) {}
  std::shared_ptr<state_type> state_;
};

} // namespace tlsengine
