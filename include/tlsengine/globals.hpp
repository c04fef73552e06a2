// tlsengine — module-level functions and constants of Node's tls: getCiphers(),
// rootCertificates, CLIENT_RENEG_LIMIT / CLIENT_RENEG_WINDOW (the DEFAULT_* constants
// live in context.hpp).
#pragma once

#include "detail/config.hpp"

#include "detail/handles.hpp"
#include "detail/openssl_error.hpp"
#include "options.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

namespace tlsengine {

/// Node's tls.CLIENT_RENEG_LIMIT and tls.CLIENT_RENEG_WINDOW (server_options defaults).
inline constexpr std::size_t client_reneg_limit = 3;
inline constexpr clock::duration client_reneg_window = std::chrono::seconds(600);

/// Node's tls.getCiphers(): the names of the supported cipher suites, lower case.
TLSENGINE_DECL std::vector<std::string> get_ciphers();

/// Node's tls.rootCertificates: the PEM of every certificate in the default trust store
/// (OpenSSL's default CA file — on Debian the ca-certificates bundle). This is the one
/// function of the library that reads a file, because that is what it is for.
TLSENGINE_DECL std::vector<std::string> root_certificates();

} // namespace tlsengine

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#include "impl/globals.hpp"
#endif
