// [attack3] a translation unit compiled in the default header-only mode (no
// TLSENGINE_SEPARATE_COMPILATION), linked into a program built with the compiled library.
#include <tlsengine/tlsengine.hpp>
bool is_timeout(std::error_code ec) { return ec == tlsengine::errc::handshake_timeout; }
