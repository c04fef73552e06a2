// tlsengine — what an engine is made from besides its secure_context (engine_config), the
// state of a decision event, and the exception guard used around user callbacks.
// Not public.
#pragma once

#include "../certificate.hpp"
#include "../context.hpp"
#include "../identity.hpp"
#include "../options.hpp"
#include "../session.hpp"
#include "server_state.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  session_handle session;
  bool request_ocsp = false;
  bool pause_on_ocsp_response = false;
  bool pause_on_certificate_request = false;
  bool early_data = false;          // client: send write()s made before the handshake as 0-RTT
  std::uint32_t max_early_data = 0; // server: accept this much 0-RTT data
  bool send_fallback_scsv = false;  // client: RFC 7507
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
  std::vector<std::uint8_t> npn;  // wire format: NPN, the same roles (TLS 1.2 only)
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

} // namespace tlsengine::detail
