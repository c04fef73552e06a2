// libFuzzer harness `pair`: a byte-coded script over a client and a server engine with
// fragmentation, corruption and loss of the bytes in flight (format in pair_script.hpp).
// Wrong cleartext is always a crash; an alteration that does not end in an error is one.
#include "pair_script.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_deterministic_mode();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::pair::run_pair_input(data, size);
  return 0;
}
