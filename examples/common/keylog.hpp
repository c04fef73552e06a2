// tlsengine examples — TLS key logging for Wireshark/tshark: `--keylog FILE`, or the
// SSLKEYLOGFILE environment variable that curl, Node, Python and Chromium honour. The
// engine reports each secret as a `keylog` event (connection_options::enable_keylog);
// this appends the lines to the file in the NSS key log format, so that
// `tshark -o tls.keylog_file:FILE` (or Wireshark's TLS preferences) decrypts a capture.
// Anyone holding the file can decrypt the connections: for debugging only.
#pragma once

#include <tlsengine/events.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <variant>

namespace tlsengine_examples {

class keylog_file {
public:
  keylog_file() = default;
  keylog_file(const keylog_file&) = delete;
  keylog_file& operator=(const keylog_file&) = delete;
  ~keylog_file() {
    if (file_ != nullptr) std::fclose(file_);
  }

  /// Opens `path` (the --keylog flag) or else $SSLKEYLOGFILE, for appending; nothing when
  /// neither is set. False with `error` naming the file when it cannot be opened.
  bool open(std::string path, std::string& error) {
    const char* option = "--keylog";
    if (path.empty()) {
      const char* env = std::getenv("SSLKEYLOGFILE");
      if (env == nullptr || *env == '\0') return true;
      path = env;
      option = "SSLKEYLOGFILE";
    }
    if (file_ != nullptr && path == path_) return true; // already open (a second connection)
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (f == nullptr) {
      error = std::string(option) + " " + path + ": " + std::strerror(errno);
      return false;
    }
    if (file_ != nullptr) std::fclose(file_);
    file_ = f;
    path_ = path;
    return true;
  }

  bool enabled() const noexcept { return file_ != nullptr; }
  const std::string& path() const noexcept { return path_; }

  /// Writes the event's line when it is a `keylog` event; flushed at once, so that a
  /// capture can be decrypted while the program still runs.
  void write(const tlsengine::event& e) {
    const auto* line = std::get_if<tlsengine::events::keylog>(&e);
    if (line == nullptr || file_ == nullptr) return;
    std::fprintf(file_, "%s\n", line->line.c_str());
    std::fflush(file_);
  }

private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

/// The one key log file of an example process.
inline keylog_file& keylog() {
  static keylog_file file;
  return file;
}

} // namespace tlsengine_examples
