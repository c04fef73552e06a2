// tlsengine — turning OpenSSL's thread-local error queue into an error_code and its text.
#pragma once

#include "../errors.hpp"

#include <openssl/err.h>

#include <string>
#include <system_error>

namespace tlsengine::detail {

/// Empties this thread's error queue before an SSL_* call whose failure is read from it.
/// Peeking first: clearing an empty queue walks all its slots, on every record.
inline void clear_error_queue() noexcept {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

struct openssl_failure {
  std::error_code code;
  std::string text; // every queued error, OpenSSL's own formatting, oldest first
};

/// The first queued error as the code (as Node reports it), all of them as text; the queue
/// is left empty. `fallback` is used when the queue is empty.
inline openssl_failure
take_openssl_error(std::error_code fallback = make_error_code(errc::invalid_argument)) {
  openssl_failure failure;
  unsigned long first = 0;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    if (first == 0) first = e;
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof buffer);
    if (!failure.text.empty()) failure.text += "; ";
    failure.text += buffer;
    if (data != nullptr && *data != '\0' && (flags & ERR_TXT_STRING) != 0) {
      failure.text += " (";
      failure.text += data;
      failure.text += ")";
    }
  }
  if (first == 0) {
    failure.code = fallback;
    failure.text = fallback.message();
  } else if (ERR_SYSTEM_ERROR(first)) {
    failure.code = std::error_code(static_cast<int>(ERR_GET_REASON(first)), std::system_category());
  } else {
    failure.code =
        std::error_code(static_cast<int>(ERR_PACK(ERR_GET_LIB(first), 0, ERR_GET_REASON(first))),
                        openssl_category());
  }
  return failure;
}

inline std::error_code
take_openssl_error_code(std::error_code fallback = make_error_code(errc::invalid_argument)) {
  return take_openssl_error(fallback).code;
}

} // namespace tlsengine::detail
