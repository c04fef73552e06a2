// tlsengine — the events a connection reports through next_event().
#pragma once

#include "session.hpp"

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

/// Client: a resumable session (TLS 1.2) or a TLS 1.3 ticket arrived. Pass `data` as
/// client_options::session to resume (no parsing: it holds OpenSSL's session); its
/// to_bytes() (or a conversion to std::vector<std::uint8_t>) serializes it for storage.
struct session {
  session_handle data;
};

/// The peer sent close_notify (or the transport ended and truncation is allowed): no more
/// cleartext will arrive. Our side may still write until end().
struct end {
  /// true: the peer's close_notify; false: a transport EOF without it, accepted because
  /// of allow_truncation (the data may have been cut short).
  bool close_notify = true;
};

/// A fatal error. Sticky: connection::error() keeps it. When `alert` is >= 0 it is the
/// TLS alert that was sent (alert_sent) or received (!alert_sent).
struct error {
  std::error_code code;
  std::string message;
  int alert = -1;
  bool alert_sent = false;
};

/// A TLS 1.2 renegotiation completed (either side started it).
struct renegotiated {};

/// TLS 1.3: the peer updated its keys; `requested` when it asked us to update ours (the
/// engine answers automatically).
struct key_update {
  bool requested = false;
};

/// Server: 0-RTT data from the client (server_options::max_early_data). Its own stream,
/// never mixed into read(): it may be a replay (RFC 8446 section 8).
struct early_data {
  std::vector<std::uint8_t> data;
};

/// Both sides, when 0-RTT was attempted: whether the server took the early data. A
/// client whose early data was rejected sends it again after the handshake by itself.
struct early_data_status {
  bool accepted = false;
};

/// One line of the NSS key log format (connection_options::enable_keylog), without the
/// newline: what SSLKEYLOGFILE readers such as Wireshark take.
struct keylog {
  std::string line;
};

/// Server: a session was created (TLS 1.2 session id, or a TLS 1.3 stateful ticket when
/// tickets are off). Store `data` under `id` in an external cache for resume_session.
struct new_session {
  std::vector<std::uint8_t> id;
  std::vector<std::uint8_t> data;
};

/// Client with request_ocsp: the server's stapled OCSP response (empty when none).
/// With client_options::pause_on_ocsp_response it is a decision (`decision` true): the
/// handshake waits for connection::ocsp_result({}) (or resume()) to accept, or
/// ocsp_result(error) to reject with a bad_certificate_status_response alert.
struct ocsp_response {
  std::vector<std::uint8_t> response;
  bool decision = false;
};

/// Decision (server, pause_on_servername): the client asked for `name` (empty: no SNI).
/// Answer with connection::use_context(ctx) or connection::resume() (the context that
/// server::add_context's table picks, or the default one).
struct servername {
  std::string name;
};

/// Decision (server, external_session_cache): the client offers to resume session `id`.
/// Answer with connection::resume_session(data) or connection::resume_session() (none).
struct resume_session {
  std::vector<std::uint8_t> id;
};

/// Decision (server, pause_on_ocsp_request): the client asked for a stapled OCSP
/// response for `certificate` (DER), issued by `issuer` (DER, empty when not in the
/// chain). Answer with connection::set_ocsp_response(bytes) or set_ocsp_response().
struct ocsp_request {
  std::vector<std::uint8_t> certificate;
  std::vector<std::uint8_t> issuer;
};

/// Decision (client, pause_on_certificate_request): the server asked for a client
/// certificate. Answer with connection::use_certificate(cert, key) or resume() (none).
struct certificate_request {
  std::vector<std::string> acceptable_issuers; ///< the server's CA names, one line each
};

/// Decision (pause_on_verify): OpenSSL's chain check (and the host name check on the
/// client) gave `preliminary` ({} when it passed). Answer with
/// connection::verify_result({}) to accept or verify_result(code) to reject.
/// Until then a server holds every byte of application data.
struct verify_peer {
  std::error_code preliminary;
};

} // namespace events

using event =
    std::variant<events::secure, events::session, events::end, events::error, events::keylog,
                 events::renegotiated, events::key_update, events::new_session,
                 events::ocsp_response, events::servername, events::resume_session,
                 events::ocsp_request, events::certificate_request, events::verify_peer,
                 events::early_data, events::early_data_status>;

} // namespace tlsengine
