// Catch2 v2 (Debian 12: 2.13, one header) and v3 (Debian 13: 3.7, a compiled library with
// one header per feature) spell their includes differently; the tests include this header
// and use only what both versions offer. tests/CMakeLists.txt defines TLSENGINE_CATCH2_V3
// when it found v3.
#pragma once

#if defined(TLSENGINE_CATCH2_V3) && TLSENGINE_CATCH2_V3
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>
#else
#include <catch2/catch.hpp>
#endif
