// A second translation unit of the consumer: with tlsengine::compiled both TUs see only
// declarations and the definitions come from the library, once (no duplicate symbols).
#include <tlsengine/tlsengine.hpp>

#include <string>

std::string peer_common_name(const tlsengine::connection& conn) {
  return std::string(conn.peer_certificate().subject.get("CN"));
}
