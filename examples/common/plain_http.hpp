// tlsengine examples — what an HTTPS server answers to plain HTTP on its TLS port.
// OpenSSL recognises a cleartext request line where a TLS record should start
// (SSL_R_HTTP_REQUEST, "http request"); like nginx, the server then answers in cleartext
// with a 400 page that says what happened, instead of a TLS alert that a person typing
// http:// by mistake never sees.
#pragma once

#include <tlsengine/errors.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <system_error>

namespace tlsengine_examples {

/// The engine failed because the peer spoke plain HTTP to the TLS port.
inline bool is_plain_http_request(const std::error_code& ec) {
  return ec == std::error_code(static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_HTTP_REQUEST)),
                               tlsengine::openssl_category());
}

/// nginx's answer (its 497 handling), sent in cleartext before closing the connection.
inline constexpr char plain_http_response[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/html\r\n"
    "Content-Length: 220\r\n"
    "Connection: close\r\n"
    "\r\n"
    "<html>\r\n"
    "<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n"
    "<body>\r\n"
    "<center><h1>400 Bad Request</h1></center>\r\n"
    "<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
    "</body>\r\n"
    "</html>\r\n";

} // namespace tlsengine_examples
