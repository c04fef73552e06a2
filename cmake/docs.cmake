# tlsengine — the API reference: `cmake --build build --target docs` runs Doxygen on
# docs/Doxyfile.in over include/tlsengine (detail/ excluded) into build/docs/html.
# Any Doxygen warning fails the target. Defined only when tlsengine is the top-level
# project (a parent's own `docs` target keeps its name) and Doxygen is found.
if(NOT TLSENGINE_TOP_LEVEL)
  return()
endif()

find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
  message(STATUS "tlsengine: Doxygen not found, no `docs` target")
  return()
endif()

set(TLSENGINE_DOCS_OUTPUT_DIR "${PROJECT_BINARY_DIR}/docs")
configure_file("${PROJECT_SOURCE_DIR}/docs/Doxyfile.in" "${PROJECT_BINARY_DIR}/docs/Doxyfile" @ONLY)
file(GLOB_RECURSE _tlsengine_doc_inputs CONFIGURE_DEPENDS
     "${PROJECT_SOURCE_DIR}/include/tlsengine/*.hpp" "${PROJECT_SOURCE_DIR}/docs/*.md")
list(APPEND _tlsengine_doc_inputs "${PROJECT_SOURCE_DIR}/README.md")
add_custom_command(
  OUTPUT "${TLSENGINE_DOCS_OUTPUT_DIR}/html/index.html"
  COMMAND "${CMAKE_COMMAND}" -E remove_directory "${TLSENGINE_DOCS_OUTPUT_DIR}/html"
  COMMAND Doxygen::doxygen "${PROJECT_BINARY_DIR}/docs/Doxyfile"
  DEPENDS "${PROJECT_BINARY_DIR}/docs/Doxyfile" ${_tlsengine_doc_inputs}
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
  COMMENT "Generating the API reference with Doxygen (warnings are errors)"
  VERBATIM)
add_custom_target(docs DEPENDS "${TLSENGINE_DOCS_OUTPUT_DIR}/html/index.html")
