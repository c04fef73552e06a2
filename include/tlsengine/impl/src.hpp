// tlsengine — the implementation, for separate compilation. Include this header in exactly
// one .cpp file of a program built with TLSENGINE_SEPARATE_COMPILATION defined everywhere
// (the tlsengine::compiled CMake target does both): that file then defines every
// non-template function the headers declare, and the engine, once.
#pragma once

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#error                                                                                             \
    "tlsengine/impl/src.hpp is for TLSENGINE_SEPARATE_COMPILATION builds: define it in every translation unit"
#endif

#include "../tlsengine.hpp"

#include "certificate.hpp"
#include "connection.hpp"
#include "context.hpp"
#include "errors.hpp"
#include "files.hpp"
#include "globals.hpp"
#include "identity.hpp"
#include "server.hpp"
#include "session.hpp"
