// tlsengine — the out-of-line functions of tlsengine/server.hpp (see impl/src.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "../server.hpp"
#include "../detail/engine.hpp"

namespace tlsengine {

struct server::state_type {
  tlsengine::secure_context context;
  detail::engine_config config;
  std::shared_ptr<detail::server_state> shared;
};

TLSENGINE_DECL result<server> server::create(const server_options& options) {
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

TLSENGINE_DECL connection server::accept() const {
  if (!state_) return connection();
  return connection(std::make_unique<detail::engine>(state_->context, state_->config));
}

TLSENGINE_DECL const tlsengine::secure_context& server::context() const noexcept {
  return state_->context;
}

TLSENGINE_DECL std::error_code server::add_context(std::string hostname,
                                                   const context_options& options) {
  auto created = secure_context::create(options);
  if (!created) return created.error();
  return add_context(std::move(hostname), *created);
}

TLSENGINE_DECL std::error_code server::add_context(std::string hostname,
                                                   const tlsengine::secure_context& context) {
  if (!state_) return make_error_code(errc::invalid_state);
  if (!context || hostname.empty()) return make_error_code(errc::invalid_argument);
  state_->shared->add_context(std::move(hostname), context);
  return {};
}

TLSENGINE_DECL std::vector<std::uint8_t> server::ticket_keys() const {
  auto ring = ticket_key_ring();
  return ring.empty() ? std::vector<std::uint8_t>() : std::move(ring.front());
}

TLSENGINE_DECL std::error_code server::set_ticket_keys(bytes_view keys) {
  if (!state_) return make_error_code(errc::invalid_state);
  detail::ticket_key_bytes bytes{};
  if (keys.size() != bytes.size()) return make_error_code(errc::invalid_argument);
  std::copy(keys.begin(), keys.end(), bytes.begin());
  state_->shared->set_ticket_keys(bytes);
  return {};
}

TLSENGINE_DECL std::error_code server::rotate_ticket_keys(bytes_view newest) {
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

TLSENGINE_DECL std::error_code
server::set_ticket_key_ring(const std::vector<std::vector<std::uint8_t>>& newest_first) {
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

TLSENGINE_DECL std::vector<std::vector<std::uint8_t>> server::ticket_key_ring() const {
  std::vector<std::vector<std::uint8_t>> out;
  if (!state_) return out;
  if (auto ring = state_->shared->ticket_keys())
    for (const auto& key : *ring)
      out.emplace_back(key.begin(), key.end());
  return out;
}

TLSENGINE_DECL server::server(std::shared_ptr<state_type> state) : state_(std::move(state)) {}

} // namespace tlsengine
