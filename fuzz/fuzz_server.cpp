// libFuzzer harness `server`: the input is what a client sends to a server engine.
// Format: [server kind][feed chunk size, 0 = all at once][bytes from the client...].
// In deterministic mode (the default) the corpus in fuzz/corpus/server replays real
// handshakes (TLS 1.2, 1.3, HelloRetryRequest, mTLS, resumption) to the end.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_deterministic_mode();
  fuzz::fixtures::get();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::run_server_input(data, size);
  return 0;
}
