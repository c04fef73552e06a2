// Catch2 v2's main(). With Catch2 v3, Catch2::Catch2WithMain provides it and
// tests/CMakeLists.txt leaves this file out.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
