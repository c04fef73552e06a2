// tlsengine — check_server_identity: Node's tls.checkServerIdentity(hostname, cert).
//
// A port of Node 20's lib/tls.js (checkServerIdentity, check, splitHost, unfqdn,
// splitEscapedAltNames) with net.isIP and cares_wrap's canonicalizeIP. Both entry points
// (certificate_info and X509*) gather the same three lists — DNS names and canonical IP
// addresses from Node's subjectaltname string, CNs from the subject — and share one matcher.
#pragma once

#include "detail/config.hpp"

#include "certificate.hpp"
#include "errors.hpp"

#include <openssl/x509.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace tlsengine {

namespace detail {
namespace identity_impl {

/// Node's IPv4Reg: four decimal octets 0-255 without leading zeros.
TLSENGINE_DECL bool parse_ipv4(std::string_view s, std::uint8_t out[4]) noexcept;

/// libuv's inet_pton6 (the language of Node's IPv6Reg without the zone).
TLSENGINE_DECL bool parse_ipv6(std::string_view s, std::uint8_t out[16]) noexcept;

/// libuv's inet_ntop4/inet_ntop6 (RFC 5952 style: lowercase, longest zero run of at least
/// two groups compressed, IPv4-compatible and IPv4-mapped addresses in dotted form).
TLSENGINE_DECL std::string format_ipv6(const std::uint8_t b[16]);

/// Node's net.isIP(s) != 0.
TLSENGINE_DECL bool is_ip(std::string_view s) noexcept;

/// Node's canonicalizeIP (cares_wrap): nullopt where Node returns undefined.
TLSENGINE_DECL std::optional<std::string> canonicalize_ip(std::string_view s);

/// What checkServerIdentity looks at.
struct identity_names {
  std::string_view altnames;    ///< cert.subjectaltname, for the reason text
  std::vector<std::string> dns; ///< "DNS:" entries
  std::vector<std::string> ips; ///< canonicalized "IP Address:" entries ("" = undefined)
  std::vector<std::string> cns; ///< subject CN values
};

TLSENGINE_DECL bool starts_with(std::string_view s, std::string_view prefix) noexcept;
TLSENGINE_DECL bool ends_with(std::string_view s, std::string_view suffix) noexcept;

/// Node's split of cert.subjectaltname: splitEscapedAltNames when the string contains a
/// quote, else split(', '). False where Node throws ERR_TLS_CERT_ALTNAME_FORMAT.
TLSENGINE_DECL bool split_alt_names(std::string_view s, std::vector<std::string>& out);

/// Fills names.dns and names.ips from names.altnames (as Node: only "DNS:" and
/// "IP Address:" entries count).
TLSENGINE_DECL bool parse_alt_names(identity_names& names);

/// Node's unfqdn: drops one trailing '.'.
TLSENGINE_DECL std::string_view unfqdn(std::string_view host) noexcept;

/// Node's splitHost: unfqdn, lowercase A-Z only (locale-independent), split on '.'.
TLSENGINE_DECL std::vector<std::string> split_host(std::string_view host);

/// Node's check(hostParts, pattern, wildcards = true).
TLSENGINE_DECL bool check(const std::vector<std::string>& host_parts, std::string_view pattern);

TLSENGINE_DECL std::string join(const std::vector<std::string>& items, std::string_view sep);

/// The body of Node's checkServerIdentity, after the names were gathered.
TLSENGINE_DECL std::error_code match(std::string_view hostname, const identity_names& names,
                                     std::string* reason);

TLSENGINE_DECL std::error_code check_names(std::string_view hostname, identity_names& names,
                                           std::string* reason);

} // namespace identity_impl

/// The same check on an X509* (e.g. inside the handshake), without building the whole
/// certificate_info: the subjectaltname string and the subject CNs are all it needs.
/// A null `cert` is checked as a certificate without names.
TLSENGINE_DECL std::error_code check_server_identity_x509(std::string_view hostname, X509* cert,
                                                          std::string* reason = nullptr);

} // namespace detail

/// Node's tls.checkServerIdentity(hostname, cert): {} when `hostname` matches the
/// certificate, errc::cert_altname_invalid otherwise, with Node's reason text in *reason
/// (e.g. "Host: foo.com. is not in the cert's altnames: DNS:bar.com").
TLSENGINE_DECL std::error_code check_server_identity(std::string_view hostname,
                                                     const certificate_info& cert,
                                                     std::string* reason = nullptr);

} // namespace tlsengine

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#include "impl/identity.hpp"
#endif
