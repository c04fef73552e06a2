// libFuzzer harness `client`: the input is what a server answers to a client engine.
// Format: [client kind][feed chunk size, 0 = all at once]
//         ([u16 big-endian session length][session], for the resume kinds)
//         [bytes from the server...].
// In deterministic mode (the default) the client's ClientHello is the one recorded, so
// the corpus in fuzz/corpus/client replays real handshakes to the end.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_deterministic_mode();
  fuzz::fixtures::get();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::run_client_input(data, size);
  return 0;
}
