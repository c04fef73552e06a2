// tlsengine examples — command-line flags and the TLS options they build. Certificate,
// key and CA files are used when given; otherwise the built-in demo credentials
// (builtin_certs.hpp: PUBLIC keys, for trying the examples on your own machine only).
#pragma once

#include <tlsengine/tlsengine.hpp>

#include <tlsengine/files.hpp>

#include "builtin_certs.hpp"
#include "keylog.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace tlsengine_examples {

/// Default ports: one per example, so that the README's list runs side by side.
namespace default_port {
inline constexpr int posix_echo_server = 8443;
inline constexpr int epoll_server = 8444;
inline constexpr int asio_echo_server = 8445;
inline constexpr int beast_https_server = 8446;
} // namespace default_port

/// A tiny flag parser: "--name value", "--name=value" and boolean "--name".
class flag_parser {
public:
  flag_parser(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  void add(const char* name, std::string* value, const char* help) {
    flags_.push_back({name, value, help});
  }
  void add(const char* name, int* value, const char* help) {
    flags_.push_back({name, value, help});
  }
  void add(const char* name, bool* value, const char* help) {
    flags_.push_back({name, value, help});
  }
  /// A flag that does something at once and exits (--print-ca).
  void add_action(const char* name, std::function<void()> action, const char* help) {
    flags_.push_back({name, std::move(action), help});
  }

  /// Parses argv. Prints usage and exits 0 on --help; prints the error and exits 2 on a
  /// bad command line (examples have no better way to recover from that).
  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        usage(stdout);
        std::exit(0);
      }
      std::string value;
      bool has_value = false;
      if (const auto eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg.resize(eq);
        has_value = true;
      }
      flag* f = find(arg);
      if (f == nullptr) fail("unknown flag " + arg);
      if (auto* action = std::get_if<std::function<void()>>(&f->target)) {
        if (has_value) fail(arg + " takes no value");
        (*action)();
        std::exit(0);
      }
      if (auto* b = std::get_if<bool*>(&f->target)) {
        if (has_value) fail(arg + " takes no value");
        **b = true;
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argc) fail(arg + " needs a value");
        value = argv[++i];
      }
      if (auto* s = std::get_if<std::string*>(&f->target)) {
        **s = value;
      } else if (auto* n = std::get_if<int*>(&f->target)) {
        char* end = nullptr;
        errno = 0;
        const long parsed = std::strtol(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || errno != 0 || parsed < 0 || parsed > 2147483647L)
          fail(arg + ": not a non-negative integer: " + value);
        **n = static_cast<int>(parsed);
      }
    }
  }

  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s\n", program_.c_str(), message.c_str());
    usage(stderr);
    std::exit(2);
  }

private:
  struct flag {
    std::string name;
    std::variant<std::string*, int*, bool*, std::function<void()>> target;
    std::string help;
  };

  flag* find(const std::string& name) {
    for (flag& f : flags_)
      if (f.name == name) return &f;
    return nullptr;
  }

  void usage(std::FILE* out) const {
    std::fprintf(out, "usage: %s [flags]\n%s\n\nflags:\n", program_.c_str(), summary_.c_str());
    for (const flag& f : flags_) {
      std::string shown = f.name;
      if (std::holds_alternative<std::string*>(f.target)) shown += " TEXT";
      if (std::holds_alternative<int*>(f.target)) shown += " N";
      std::fprintf(out, "  %-24s %s\n", shown.c_str(), f.help.c_str());
    }
  }

  std::string program_, summary_;
  std::vector<flag> flags_;
};

/// The TLS flags every example shares (the same names as Node's options where they exist).
struct tls_flags {
  std::string host;
  int port = 0;
  std::string cert, key, ca, servername, alpn, min_version, max_version, keylog;
  bool request_cert = false;

  void add_server_flags(flag_parser& p, int default_port) {
    host = "127.0.0.1";
    port = default_port;
    port_help =
        "port to listen on (default " + std::to_string(default_port) + "; 0: any free port)";
    p.add("--host", &host, "address to listen on (default 127.0.0.1)");
    p.add("--port", &port, port_help.c_str());
    p.add("--cert", &cert, "certificate chain PEM file (default: built-in demo certificate)");
    p.add("--key", &key, "private key PEM file (default: built-in demo key)");
    p.add("--ca", &ca, "CA PEM file for client certificates (default: built-in demo CA)");
    p.add("--alpn", &alpn, "ALPN protocols to accept, comma-separated, by preference");
    p.add("--request-cert", &request_cert, "require a client certificate signed by --ca");
    add_common_flags(p);
  }

  void add_client_flags(flag_parser& p, int default_port) {
    host = "localhost";
    port = default_port;
    port_help = "server port (default " + std::to_string(default_port) + ")";
    p.add("--host", &host, "server to connect to (default localhost)");
    p.add("--port", &port, port_help.c_str());
    p.add("--cert", &cert, "client certificate chain PEM file (default: built-in demo client)");
    p.add("--key", &key, "client private key PEM file (default: built-in demo client key)");
    p.add("--ca", &ca, "CA PEM file that signed the server (default: built-in demo CA)");
    p.add("--servername", &servername, "SNI and name to verify (default: --host)");
    p.add("--alpn", &alpn, "ALPN protocols to offer, comma-separated");
    add_common_flags(p);
  }

  /// Says which files and options a configuration error may come from.
  std::string sources() const {
    std::string text;
    auto add = [&](const char* option, const std::string& value) {
      if (value.empty()) return;
      text += text.empty() ? "" : ", ";
      text += std::string(option) + " " + value;
    };
    add("--cert", cert);
    add("--key", key);
    add("--ca", ca);
    add("--alpn", alpn);
    add("--min-version", min_version);
    add("--max-version", max_version);
    return text.empty() ? "built-in demo credentials" : text;
  }

private:
  void add_common_flags(flag_parser& p) {
    p.add("--min-version", &min_version, "lowest TLS version: TLSv1.2 (default) or TLSv1.3");
    p.add("--max-version", &max_version, "highest TLS version: TLSv1.3 (default) or TLSv1.2");
    p.add("--keylog", &keylog,
          "append TLS secrets to FILE for Wireshark (default: $SSLKEYLOGFILE if set)");
    p.add_action(
        "--print-ca", [] { std::fputs(builtin_ca_pem, stdout); },
        "print the built-in demo CA (PEM) and exit: curl --cacert, openssl -CAfile");
  }

  std::string port_help;
};

/// Reads a whole file; false with `error` naming it when it cannot.
inline bool read_file(const std::string& path, std::string& out, std::string& error) {
  auto file = tlsengine::load_file(path);
  if (!file) {
    error = file.message();
    return false;
  }
  out = std::move(*file);
  return true;
}

inline std::vector<std::string> split_list(const std::string& text, char separator = ',') {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(separator, start);
    if (end == std::string::npos) end = text.size();
    if (end > start) items.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

namespace detail {

/// Fills the fields shared by both roles.
template <class Options>
bool load_common(const tls_flags& flags, const char* builtin_cert, const char* builtin_key,
                 Options& o, std::string& error) {
  if (flags.cert.empty() != flags.key.empty()) {
    error = "--cert and --key go together";
    return false;
  }
  std::string cert = builtin_cert, key = builtin_key, ca = builtin_ca_pem;
  if (!flags.cert.empty()) {
    auto loaded = tlsengine::load_cert_chain_file(flags.cert);
    if (!loaded) return error = "--cert " + loaded.message(), false;
    cert = std::move(*loaded);
  }
  if (!flags.key.empty()) {
    auto loaded = tlsengine::load_private_key_file(flags.key);
    if (!loaded) return error = "--key " + loaded.message(), false;
    key = std::move(loaded->pem);
  }
  if (!flags.ca.empty()) {
    auto loaded = tlsengine::load_verify_file(flags.ca);
    if (!loaded) return error = "--ca " + loaded.message(), false;
    ca = std::move(*loaded);
  }
  if (!keylog().open(flags.keylog, error)) return false;
  o.enable_keylog = keylog().enabled();
  o.cert = {cert};
  o.key = {key};
  o.ca = {ca};
  if (!flags.min_version.empty()) o.min_version = flags.min_version;
  if (!flags.max_version.empty()) o.max_version = flags.max_version;
  if (!flags.alpn.empty()) o.alpn_protocols = split_list(flags.alpn);
  return true;
}

} // namespace detail

/// Server options from the flags: the certificate and key files, or the built-in ones.
inline bool server_options_from(const tls_flags& flags, tlsengine::server_options& o,
                                std::string& error) {
  if (!detail::load_common(flags, builtin_server_cert_pem, builtin_server_key_pem, o, error))
    return false;
  o.request_cert = flags.request_cert; // with reject_unauthorized (default): required
  return true;
}

/// Client options from the flags. The client certificate (a file, or the built-in demo
/// client) is only sent when a server asks for one.
inline bool client_options_from(const tls_flags& flags, tlsengine::client_options& o,
                                std::string& error) {
  if (!detail::load_common(flags, builtin_client_cert_pem, builtin_client_key_pem, o, error))
    return false;
  o.host = flags.host;
  o.servername = flags.servername.empty() ? flags.host : flags.servername;
  return true;
}

/// One line about a secure connection: "TLSv1.3 TLS_AES_256_GCM_SHA384 alpn=echo
/// resumed=no", and the client's CN when it presented an authorized certificate.
inline std::string describe(const tlsengine::connection& c) {
  const auto cipher = c.cipher();
  const std::string alpn = c.alpn_protocol();
  std::string line = c.protocol() + " " + (cipher ? cipher->standard_name : std::string("-")) +
                     " alpn=" + (alpn.empty() ? std::string("-") : alpn) +
                     " resumed=" + (c.is_session_reused() ? "yes" : "no");
  if (c.is_server() && c.authorized())
    line += " client=\"" + std::string(c.peer_certificate().subject.get("CN")) + "\"";
  return line;
}

/// The server's line about a new secure connection, in words a person reads right:
/// without --request-cert no client certificate was asked for (the usual HTTPS case, not a
/// failure); with it, whether the client's certificate was verified, and why not.
inline std::string server_connected(const tlsengine::connection& c, const std::string& peer,
                                    bool requested_cert) {
  if (!requested_cert)
    return "server connected from " + peer + " (no client certificate requested): " + describe(c);
  if (c.authorized()) return "server connected authorized from " + peer + ": " + describe(c);
  const std::string why = c.authorization_error();
  return "server connected unauthorized from " + peer +
         " (client certificate: " + (why.empty() ? std::string("none sent") : why) +
         "): " + describe(c);
}

} // namespace tlsengine_examples
