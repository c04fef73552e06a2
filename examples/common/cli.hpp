// tlsengine examples — command-line flags and the TLS options they build. Certificate,
// key and CA files are used when given; otherwise the built-in demo credentials
// (builtin_certs.hpp: PUBLIC keys, for trying the examples on your own machine only).
#pragma once

#include <tlsengine/tlsengine.hpp>

#include "builtin_certs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace tlsengine_examples {

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
    std::variant<std::string*, int*, bool*> target;
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
  int port = 8443;
  std::string cert, key, ca, servername, alpn, min_version, max_version;
  bool request_cert = false;

  void add_server_flags(flag_parser& p) {
    host = "127.0.0.1";
    p.add("--host", &host, "address to listen on (default 127.0.0.1)");
    p.add("--port", &port, "port to listen on (default 8443; 0: any free port)");
    p.add("--cert", &cert, "certificate chain PEM file (default: built-in demo certificate)");
    p.add("--key", &key, "private key PEM file (default: built-in demo key)");
    p.add("--ca", &ca, "CA PEM file for client certificates (default: built-in demo CA)");
    p.add("--alpn", &alpn, "ALPN protocols to accept, comma-separated, by preference");
    p.add("--request-cert", &request_cert, "require a client certificate signed by --ca");
    add_version_flags(p);
  }

  void add_client_flags(flag_parser& p) {
    host = "localhost";
    p.add("--host", &host, "server to connect to (default localhost)");
    p.add("--port", &port, "server port (default 8443)");
    p.add("--cert", &cert, "client certificate chain PEM file (default: built-in demo client)");
    p.add("--key", &key, "client private key PEM file (default: built-in demo client key)");
    p.add("--ca", &ca, "CA PEM file that signed the server (default: built-in demo CA)");
    p.add("--servername", &servername, "SNI and name to verify (default: --host)");
    p.add("--alpn", &alpn, "ALPN protocols to offer, comma-separated");
    add_version_flags(p);
  }

private:
  void add_version_flags(flag_parser& p) {
    p.add("--min-version", &min_version, "lowest TLS version: TLSv1.2 (default) or TLSv1.3");
    p.add("--max-version", &max_version, "highest TLS version: TLSv1.3 (default) or TLSv1.2");
  }
};

/// Reads a whole file; false with `error` set when it cannot.
inline bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = path + ": read error";
    return false;
  }
  out = ss.str();
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

/// The file's contents, or the built-in PEM when no file was given.
inline bool file_or_builtin(const std::string& path, const char* builtin, std::string& out,
                            std::string& error) {
  if (path.empty()) {
    out = builtin;
    return true;
  }
  return read_file(path, out, error);
}

/// Fills the fields shared by both roles.
template <class Options>
bool load_common(const tls_flags& flags, const char* builtin_cert, const char* builtin_key,
                 Options& o, std::string& error) {
  if (flags.cert.empty() != flags.key.empty()) {
    error = "--cert and --key go together";
    return false;
  }
  std::string cert, key, ca;
  if (!file_or_builtin(flags.cert, builtin_cert, cert, error) ||
      !file_or_builtin(flags.key, builtin_key, key, error) ||
      !file_or_builtin(flags.ca, builtin_ca_pem, ca, error))
    return false;
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

} // namespace tlsengine_examples
