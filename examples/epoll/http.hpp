// epoll_server — the small HTTP/1.1 subset it speaks: request heads (no request bodies
// beyond a Content-Length to skip), keep-alive, GET and HEAD.
#pragma once

#include <cctype>
#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>

namespace http {

inline constexpr std::size_t max_head_size = 16 * 1024;
inline constexpr std::size_t max_body_size = 1024 * 1024; // skipped, never stored

struct request {
  std::string method, target;
  int minor_version = 1;     // HTTP/1.x
  bool keep_alive = true;    // after this request
  std::size_t head_size = 0; // bytes of the request line and headers, with the blank line
  std::size_t body_size = 0; // Content-Length
};

enum class parse_status { complete, incomplete, bad_request, too_large, not_implemented };

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

/// True when the comma-separated header value lists `token` (Connection: keep-alive, ...).
inline bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

/// Parses the request head at the start of `in` (bytes already received).
inline parse_status parse(std::string_view in, request& out) {
  const std::size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos)
    return in.size() > max_head_size ? parse_status::too_large : parse_status::incomplete;
  if (end + 4 > max_head_size) return parse_status::too_large;
  out = request{};
  out.head_size = end + 4;
  std::string_view head = in.substr(0, end + 2); // every line ends with \r\n

  // Request line: METHOD SP TARGET SP HTTP/1.x
  std::size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return parse_status::bad_request;
  out.method = std::string(line.substr(0, sp1));
  out.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string_view version = line.substr(sp2 + 1);
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || out.target.empty() ||
      out.method.empty())
    return parse_status::bad_request;
  if (version[7] != '0' && version[7] != '1') return parse_status::bad_request;
  out.minor_version = version[7] - '0';

  bool close = false, keep_alive = false, has_length = false;
  while (!head.empty()) {
    eol = head.find("\r\n");
    const std::string_view header = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const std::size_t colon = header.find(':');
    if (colon == std::string_view::npos || colon == 0) return parse_status::bad_request;
    const std::string_view name = header.substr(0, colon);
    const std::string_view value = trim(header.substr(colon + 1));
    if (iequals(name, "connection")) {
      close = close || has_token(value, "close");
      keep_alive = keep_alive || has_token(value, "keep-alive");
    } else if (iequals(name, "content-length")) {
      std::size_t n = 0;
      if (value.empty() || has_length) return parse_status::bad_request;
      for (char c : value) {
        if (c < '0' || c > '9') return parse_status::bad_request;
        n = n * 10 + static_cast<std::size_t>(c - '0');
        if (n > max_body_size) return parse_status::too_large;
      }
      out.body_size = n;
      has_length = true;
    } else if (iequals(name, "transfer-encoding")) {
      return parse_status::not_implemented; // chunked request bodies are not supported
    }
  }
  // HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 closes unless asked.
  out.keep_alive = out.minor_version == 1 ? !close : keep_alive && !close;
  return parse_status::complete;
}

inline const char* reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Content Too Large";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  default: return "Unknown";
  }
}

inline const char* content_type(std::string_view path) {
  const std::size_t dot = path.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : path.substr(dot + 1);
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "txt") return "text/plain; charset=utf-8";
  if (ext == "css") return "text/css";
  if (ext == "js") return "text/javascript";
  if (ext == "json") return "application/json";
  if (ext == "png") return "image/png";
  if (ext == "svg") return "image/svg+xml";
  return "application/octet-stream";
}

/// The Date header's value, formatted once per second.
inline const std::string& date_now() {
  static std::time_t cached_at = 0;
  static std::string cached;
  const std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    char text[64];
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = text;
    cached_at = now;
  }
  return cached;
}

/// A response head with Content-Length.
inline std::string head(int status, const char* type, std::size_t length, bool keep_alive) {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  h += "Server: tlsengine-epoll\r\nDate: " + date_now() + "\r\n";
  h += "Content-Type: " + std::string(type) + "\r\n";
  h += "Content-Length: " + std::to_string(length) + "\r\n";
  h += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return h;
}

} // namespace http
