# orgquake_precompile_headers(<target> [HEADERS <header>...])
#
# Precompiles, once per target, the third-party headers that nearly every
# file of the project includes (the standard library's containers,
# nlohmann/json, fmt), plus the target's own heavy ones given as HEADERS
# (CLI11 for the command line, Beast for the fakes, Boost.Test for a suite).
# A header is parsed once per target instead of once per file; what it
# instantiates is still compiled per file. Worth it only for a target of
# several files, so single-file targets do not call it.
#
# ORGQUAKE_PCH=OFF builds without, which checks that every file includes
# what it uses.
option(ORGQUAKE_PCH "Precompile the heavy third-party headers, once per target" ON)

set(ORGQUAKE_PCH_COMMON
    <algorithm>
    <chrono>
    <cstdint>
    <filesystem>
    <functional>
    <map>
    <memory>
    <optional>
    <string>
    <string_view>
    <vector>
    <fmt/format.h>
    <nlohmann/json.hpp>)

function(orgquake_precompile_headers target)
  if(NOT ORGQUAKE_PCH)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "HEADERS" ${ARGN})
  target_precompile_headers(${target} PRIVATE ${ORGQUAKE_PCH_COMMON} ${ARG_HEADERS})
endfunction()
