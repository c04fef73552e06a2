// tlsengine — the out-of-line functions of tlsengine/identity.hpp (see impl/src.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "../identity.hpp"

namespace tlsengine::detail::identity_impl {

TLSENGINE_DECL bool parse_ipv4(std::string_view s, std::uint8_t out[4]) noexcept {
  int octets = 0;
  std::size_t i = 0;
  while (true) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    unsigned value = 0;
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (i - start == 3) return false;
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
    }
    if (i - start > 1 && s[start] == '0') return false;
    if (value > 255) return false;
    out[octets++] = static_cast<std::uint8_t>(value);
    if (octets == 4) return i == s.size();
    if (i >= s.size() || s[i] != '.') return false;
    ++i;
  }
}

TLSENGINE_DECL bool parse_ipv6(std::string_view s, std::uint8_t out[16]) noexcept {
  std::uint8_t tmp[16] = {};
  std::size_t tp = 0;
  const std::size_t endp = 16;
  std::size_t colonp = SIZE_MAX;
  std::size_t i = 0;
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (i >= s.size() || s[i] != ':') return false;
  }
  std::size_t curtok = i;
  int seen_xdigits = 0;
  unsigned val = 0;
  while (i < s.size()) {
    const char ch = s[i++];
    const int hex = cert_impl::hex_value(ch);
    if (hex >= 0) {
      val = (val << 4) | static_cast<unsigned>(hex);
      if (++seen_xdigits > 4) return false;
      continue;
    }
    if (ch == ':') {
      curtok = i;
      if (seen_xdigits == 0) {
        if (colonp != SIZE_MAX) return false;
        colonp = tp;
        continue;
      }
      if (i >= s.size()) return false;
      if (tp + 2 > endp) return false;
      tmp[tp++] = static_cast<std::uint8_t>((val >> 8) & 0xFF);
      tmp[tp++] = static_cast<std::uint8_t>(val & 0xFF);
      seen_xdigits = 0;
      val = 0;
      continue;
    }
    if (ch == '.' && tp + 4 <= endp) {
      if (parse_ipv4(s.substr(curtok), tmp + tp)) {
        tp += 4;
        seen_xdigits = 0;
        i = s.size();
        break;
      }
    }
    return false;
  }
  if (seen_xdigits != 0) {
    if (tp + 2 > endp) return false;
    tmp[tp++] = static_cast<std::uint8_t>((val >> 8) & 0xFF);
    tmp[tp++] = static_cast<std::uint8_t>(val & 0xFF);
  }
  if (colonp != SIZE_MAX) {
    if (tp == endp) return false;
    const std::size_t n = tp - colonp;
    for (std::size_t k = 1; k <= n; ++k) {
      tmp[endp - k] = tmp[colonp + n - k];
      tmp[colonp + n - k] = 0;
    }
    tp = endp;
  }
  if (tp != endp) return false;
  for (int k = 0; k < 16; ++k)
    out[k] = tmp[k];
  return true;
}

TLSENGINE_DECL std::string format_ipv6(const std::uint8_t b[16]) {
  unsigned words[8];
  for (int i = 0; i < 8; ++i)
    words[i] = (static_cast<unsigned>(b[2 * i]) << 8) | b[2 * i + 1];
  int best_base = -1, best_len = 0, cur_base = -1, cur_len = 0;
  for (int i = 0; i < 8; ++i) {
    if (words[i] == 0) {
      if (cur_base == -1) {
        cur_base = i;
        cur_len = 1;
      } else {
        ++cur_len;
      }
    } else if (cur_base != -1) {
      if (best_base == -1 || cur_len > best_len) {
        best_base = cur_base;
        best_len = cur_len;
      }
      cur_base = -1;
    }
  }
  if (cur_base != -1 && (best_base == -1 || cur_len > best_len)) {
    best_base = cur_base;
    best_len = cur_len;
  }
  if (best_base != -1 && best_len < 2) best_base = -1;
  std::string out;
  char buf[24];
  for (int i = 0; i < 8; ++i) {
    if (best_base != -1 && i >= best_base && i < best_base + best_len) {
      if (i == best_base) out += ':';
      continue;
    }
    if (i != 0) out += ':';
    if (i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xFFFF))) {
      std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
      out += buf;
      return out;
    }
    std::snprintf(buf, sizeof buf, "%x", words[i]);
    out += buf;
  }
  if (best_base != -1 && best_base + best_len == 8) out += ':';
  return out;
}

TLSENGINE_DECL bool is_ip(std::string_view s) noexcept {
  std::uint8_t buf[16];
  if (parse_ipv4(s, buf)) return true;
  const std::size_t percent = s.find('%');
  if (percent != std::string_view::npos) {
    const std::string_view zone = s.substr(percent + 1);
    if (zone.empty()) return false;
    for (const char c : zone) {
      const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      c == '-' || c == '.' || c == ':';
      if (!ok) return false;
    }
  }
  return parse_ipv6(s.substr(0, percent), buf);
}

TLSENGINE_DECL std::optional<std::string> canonicalize_ip(std::string_view s) {
  std::uint8_t buf[16];
  if (parse_ipv4(s, buf)) {
    char text[16];
    std::snprintf(text, sizeof text, "%u.%u.%u.%u", buf[0], buf[1], buf[2], buf[3]);
    return std::string(text);
  }
  const std::size_t percent = s.find('%'); // libuv drops an IPv6 zone
  if (percent != std::string_view::npos && percent > 45) return std::nullopt;
  if (!parse_ipv6(s.substr(0, percent), buf)) return std::nullopt;
  return format_ipv6(buf);
}

TLSENGINE_DECL bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

TLSENGINE_DECL bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

TLSENGINE_DECL bool split_alt_names(std::string_view s, std::vector<std::string>& out) {
  if (s.find('"') == std::string_view::npos) {
    std::size_t start = 0;
    while (true) {
      const std::size_t sep = s.find(", ", start);
      if (sep == std::string_view::npos) {
        out.emplace_back(s.substr(start));
        return true;
      }
      out.emplace_back(s.substr(start, sep - start));
      start = sep + 2;
    }
  }
  std::string current;
  std::size_t offset = 0;
  while (offset < s.size()) {
    const std::size_t next_sep = s.find(',', offset);
    const std::size_t next_quote = s.find('"', offset);
    if (next_quote != std::string_view::npos &&
        (next_sep == std::string_view::npos || next_quote < next_sep)) {
      current.append(s.substr(offset, next_quote - offset));
      std::string decoded;
      const std::size_t len = cert_impl::match_json_string(s.substr(next_quote), &decoded);
      if (len == 0) return false;
      current += decoded;
      offset = next_quote + len;
    } else if (next_sep != std::string_view::npos) {
      current.append(s.substr(offset, next_sep - offset));
      out.push_back(std::move(current));
      current.clear();
      offset = next_sep + 2;
    } else {
      current.append(s.substr(offset));
      offset = s.size();
    }
  }
  out.push_back(std::move(current));
  return true;
}

TLSENGINE_DECL bool parse_alt_names(identity_names& names) {
  if (names.altnames.empty()) return true;
  std::vector<std::string> parts;
  if (!split_alt_names(names.altnames, parts)) return false;
  for (const std::string& part : parts) {
    const std::string_view name = part;
    if (starts_with(name, "DNS:")) {
      names.dns.emplace_back(name.substr(4));
    } else if (starts_with(name, "IP Address:")) {
      names.ips.push_back(canonicalize_ip(name.substr(11)).value_or(std::string()));
    }
  }
  return true;
}

TLSENGINE_DECL std::string_view unfqdn(std::string_view host) noexcept {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

TLSENGINE_DECL std::vector<std::string> split_host(std::string_view host) {
  host = unfqdn(host);
  std::vector<std::string> parts(1);
  for (const char c : host) {
    if (c == '.') {
      parts.emplace_back();
    } else {
      parts.back() += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  return parts;
}

TLSENGINE_DECL bool check(const std::vector<std::string>& host_parts, std::string_view pattern) {
  if (pattern.empty()) return false; // empty strings never match
  const std::vector<std::string> pattern_parts = split_host(pattern);
  if (host_parts.size() != pattern_parts.size()) return false;
  for (const std::string& part : pattern_parts) {
    if (part.empty()) return false; // "bad..example.com"
    // U-labels, control characters and blanks: only U+0021..U+007F are allowed.
    for (const char c : part) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x21 || u > 0x7F) return false;
    }
  }
  for (std::size_t i = host_parts.size() - 1; i > 0; --i) {
    if (host_parts[i] != pattern_parts[i]) return false;
  }
  const std::string_view host_sub = host_parts[0];
  const std::string_view pattern_sub = pattern_parts[0];
  const std::size_t star = pattern_sub.find('*');
  // No wildcard, or an A-label (no substitution inside punycode): compare verbatim.
  if (star == std::string_view::npos || pattern_sub.find("xn--") != std::string_view::npos) {
    return host_sub == pattern_sub;
  }
  if (pattern_sub.find('*', star + 1) != std::string_view::npos) return false; // two '*'
  if (pattern_parts.size() <= 2) return false;                                 // *.tld
  const std::string_view prefix = pattern_sub.substr(0, star);
  const std::string_view suffix = pattern_sub.substr(star + 1);
  if (prefix.size() + suffix.size() > host_sub.size()) return false;
  return starts_with(host_sub, prefix) && ends_with(host_sub, suffix);
}

TLSENGINE_DECL std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += sep;
    out += items[i];
  }
  return out;
}

TLSENGINE_DECL std::error_code match(std::string_view hostname, const identity_names& names,
                                     std::string* reason) {
  const std::string_view host = unfqdn(hostname); // without the trailing dot in messages
  bool valid = false;
  std::string why;
  // Node's `subject?.CN` truthiness: one empty CN is falsy, an array of several is not.
  const bool has_cn = names.cns.size() > 1 || (names.cns.size() == 1 && !names.cns[0].empty());
  if (is_ip(host)) {
    const std::optional<std::string> ip = canonicalize_ip(host);
    for (const std::string& candidate : names.ips) {
      if (ip && !candidate.empty() && candidate == *ip) valid = true;
    }
    if (!valid && reason != nullptr) {
      why = "IP: ";
      why += host;
      why += " is not in the cert's list: ";
      why += join(names.ips, ", ");
    }
  } else if (!names.dns.empty() || has_cn) {
    const std::vector<std::string> host_parts = split_host(host);
    if (!names.dns.empty()) {
      for (const std::string& pattern : names.dns) {
        if (check(host_parts, pattern)) {
          valid = true;
          break;
        }
      }
      if (!valid && reason != nullptr) {
        why = "Host: ";
        why += host;
        why += ". is not in the cert's altnames: ";
        why += names.altnames;
      }
    } else {
      // Match against the Common Name only if no DNS name exists.
      for (const std::string& cn : names.cns) {
        if (check(host_parts, cn)) {
          valid = true;
          break;
        }
      }
      if (!valid && reason != nullptr) {
        why = "Host: ";
        why += host;
        why += ". is not cert's CN: ";
        why += join(names.cns, ","); // a JS array prints its items joined by ','
      }
    }
  } else if (reason != nullptr) {
    why = "Cert does not contain a DNS name";
  }
  if (valid) return {};
  if (reason != nullptr) *reason = std::move(why);
  return make_error_code(errc::cert_altname_invalid);
}

TLSENGINE_DECL std::error_code check_names(std::string_view hostname, identity_names& names,
                                           std::string* reason) {
  if (!parse_alt_names(names)) {
    // Node throws ERR_TLS_CERT_ALTNAME_FORMAT here.
    if (reason != nullptr) *reason = "Invalid subject alternative name string";
    return make_error_code(errc::cert_altname_invalid);
  }
  return match(hostname, names, reason);
}

} // namespace tlsengine::detail::identity_impl

namespace tlsengine::detail {

TLSENGINE_DECL std::error_code check_server_identity_x509(std::string_view hostname, X509* cert,
                                                          std::string* reason) {
  identity_impl::identity_names names;
  std::string altnames;
  if (cert != nullptr) {
    cert_impl::error_queue_guard guard;
    altnames = cert_impl::subject_alt_name_string(cert);
    names.cns = cert_impl::name_entries(X509_get_subject_name(cert)).get_all("CN");
  }
  names.altnames = altnames;
  return identity_impl::check_names(hostname, names, reason);
}

} // namespace tlsengine::detail

namespace tlsengine {

TLSENGINE_DECL std::error_code check_server_identity(std::string_view hostname,
                                                     const certificate_info& cert,
                                                     std::string* reason) {
  detail::identity_impl::identity_names names;
  names.altnames = cert.subjectaltname;
  names.cns = cert.subject.get_all("CN");
  return detail::identity_impl::check_names(hostname, names, reason);
}

} // namespace tlsengine
