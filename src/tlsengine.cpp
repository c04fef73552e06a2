// tlsengine::compiled — the library of the separately compiled mode: this one translation
// unit defines what the headers declare under TLSENGINE_SEPARATE_COMPILATION (set PUBLIC
// by the CMake target, so every user of the target compiles with it too).
#include <tlsengine/impl/src.hpp>
