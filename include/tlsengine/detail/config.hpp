// tlsengine — build mode. Header-only by default: every function is defined in the
// headers. With TLSENGINE_SEPARATE_COMPILATION defined (in every translation unit, e.g.
// through the tlsengine::compiled CMake target) the headers only declare the non-template
// functions, and one translation unit includes <tlsengine/impl/src.hpp> to define them.
#pragma once

#if defined(TLSENGINE_SEPARATE_COMPILATION)
#define TLSENGINE_DECL
#else
#define TLSENGINE_DECL inline
#endif
