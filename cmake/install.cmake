# tlsengine — install rules, the CMake package (tlsengine::tlsengine via
# find_package(tlsengine)), the pkg-config file, and the `docs` target (cmake/docs.cmake).
# Included at the end of the top-level CMakeLists.txt.
#
#   cmake -S . -B build -DTLSENGINE_BUILD_TESTS=OFF -DTLSENGINE_BUILD_EXAMPLES=OFF
#   cmake --install build --prefix /opt/tlsengine
#
# installs
#   include/tlsengine/*.hpp (+ detail/)                 the headers
#   share/cmake/tlsengine/tlsengineConfig.cmake         find_package(tlsengine 0.1 CONFIG)
#   share/cmake/tlsengine/tlsengineConfigVersion.cmake
#   share/cmake/tlsengine/tlsengineTargets.cmake        the imported tlsengine::tlsengine
#   lib/libtlsengine.a                                  tlsengine::compiled, with
#                                                       -DTLSENGINE_COMPILED=ON only
#   share/pkgconfig/tlsengine.pc                        pkg-config --cflags --libs tlsengine
#   share/doc/tlsengine/{LICENSE,README.md,CHANGELOG.md}
# The library is header-only and architecture independent, hence share/ rather than lib/.
# Every installed file locates the prefix relative to itself, so the prefix given to
# `cmake --install --prefix` (or a moved install tree) works.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# On when tlsengine is the top-level project; off under add_subdirectory/FetchContent,
# where the parent decides (set TLSENGINE_INSTALL=ON to install tlsengine with it).
option(TLSENGINE_INSTALL "Generate the install rules of tlsengine" ${TLSENGINE_TOP_LEVEL})

set(TLSENGINE_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_DATADIR}/cmake/tlsengine"
    CACHE STRING "Where tlsengineConfig.cmake is installed (relative to the prefix)")
set(TLSENGINE_PKGCONFIG_INSTALL_DIR "${CMAKE_INSTALL_DATADIR}/pkgconfig"
    CACHE STRING "Where tlsengine.pc is installed (relative to the prefix)")
mark_as_advanced(TLSENGINE_CMAKE_INSTALL_DIR TLSENGINE_PKGCONFIG_INSTALL_DIR)

if(TLSENGINE_INSTALL)
  # The headers. The target's INSTALL_INTERFACE names "include"; a different
  # CMAKE_INSTALL_INCLUDEDIR is added to the exported include directories.
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/tlsengine"
          DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
          FILES_MATCHING PATTERN "*.hpp")

  set(_tlsengine_includes_destination)
  if(NOT CMAKE_INSTALL_INCLUDEDIR STREQUAL "include")
    set(_tlsengine_includes_destination INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
  endif()
  install(TARGETS tlsengine EXPORT tlsengineTargets ${_tlsengine_includes_destination})
  # TLSENGINE_COMPILED=ON: also the static library, tlsengine::compiled.
  if(TLSENGINE_COMPILED)
    install(TARGETS tlsengine_compiled EXPORT tlsengineTargets
            ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
  endif()
  install(EXPORT tlsengineTargets
          NAMESPACE tlsengine::
          FILE tlsengineTargets.cmake
          DESTINATION "${TLSENGINE_CMAKE_INSTALL_DIR}")

  configure_package_config_file(
    "${CMAKE_CURRENT_LIST_DIR}/tlsengineConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/cmake/tlsengineConfig.cmake"
    INSTALL_DESTINATION "${TLSENGINE_CMAKE_INSTALL_DIR}")
  # 0.x: a minor version may break the API, so 0.1 accepts 0.1.y only. Header-only: any
  # architecture (a 32-bit consumer may use a package configured on 64 bits).
  # (With tlsengine::compiled, a static library, the package is for this architecture.)
  set(_tlsengine_arch_independent ARCH_INDEPENDENT)
  if(TLSENGINE_COMPILED)
    set(_tlsengine_arch_independent)
  endif()
  write_basic_package_version_file(
    "${PROJECT_BINARY_DIR}/cmake/tlsengineConfigVersion.cmake"
    VERSION "${PROJECT_VERSION}"
    COMPATIBILITY SameMinorVersion
    ${_tlsengine_arch_independent})
  install(FILES "${PROJECT_BINARY_DIR}/cmake/tlsengineConfig.cmake"
                "${PROJECT_BINARY_DIR}/cmake/tlsengineConfigVersion.cmake"
          DESTINATION "${TLSENGINE_CMAKE_INSTALL_DIR}")

  # pkg-config: paths relative to the .pc file (${pcfiledir}) when the install
  # directories are relative, so `cmake --install --prefix` elsewhere still works.
  if(IS_ABSOLUTE "${TLSENGINE_PKGCONFIG_INSTALL_DIR}")
    set(TLSENGINE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  else()
    file(RELATIVE_PATH _tlsengine_pc_up "/prefix/${TLSENGINE_PKGCONFIG_INSTALL_DIR}" "/prefix")
    string(REGEX REPLACE "/$" "" _tlsengine_pc_up "${_tlsengine_pc_up}")
    set(TLSENGINE_PC_PREFIX "\${pcfiledir}/${_tlsengine_pc_up}")
  endif()
  if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(TLSENGINE_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
  else()
    set(TLSENGINE_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  endif()
  configure_file("${CMAKE_CURRENT_LIST_DIR}/tlsengine.pc.in"
                 "${PROJECT_BINARY_DIR}/cmake/tlsengine.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/cmake/tlsengine.pc"
          DESTINATION "${TLSENGINE_PKGCONFIG_INSTALL_DIR}")

  foreach(_tlsengine_doc LICENSE README.md CHANGELOG.md)
    if(EXISTS "${PROJECT_SOURCE_DIR}/${_tlsengine_doc}")
      install(FILES "${PROJECT_SOURCE_DIR}/${_tlsengine_doc}" DESTINATION "${CMAKE_INSTALL_DOCDIR}")
    endif()
  endforeach()
endif()

# The API reference (Doxygen): the `docs` target, top-level builds only.
include("${CMAKE_CURRENT_LIST_DIR}/docs.cmake")
