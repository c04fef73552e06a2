// tlsengine — the events a connection reports through next_event().
#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

namespace tlsengine {
namespace events {

/// The handshake completed (Node's secureConnect / secureConnection). The getters
/// (protocol(), cipher(), authorized(), peer_certificate(), ...) are now meaningful.
struct secure {};

/// Client: a resumable session (TLS 1.2) or a TLS 1.3 ticket arrived. `data` is opaque;
/// pass it as client_options::session to resume.
struct session {
  std::vector<std::uint8_t> data;
};

/// The peer sent close_notify (or the transport ended and truncation is allowed): no more
/// cleartext will arrive. Our side may still write until end().
struct end {};

/// A fatal error. Sticky: connection::error() keeps it. When `alert` is >= 0 it is the
/// TLS alert that was sent (alert_sent) or received (!alert_sent).
struct error {
  std::error_code code;
  std::string message;
  int alert = -1;
  bool alert_sent = false;
};

} // namespace events

using event = std::variant<events::secure, events::session, events::end, events::error>;

} // namespace tlsengine
