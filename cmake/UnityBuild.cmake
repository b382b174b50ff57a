# Unity builds for the parts (not the test suites).
#
# Most of a file's compile time here is code generation for the templates of
# header-only libraries (nlohmann/json, fmt, CLI11, Beast) that every file
# instantiates again; the linker then throws the copies away. Compiling a
# part's files in batches generates each instantiation once per batch: a
# clean build of everything takes about half the CPU. Batches of
# ORGQUAKE_UNITY_BATCH files keep an edit's rebuild short and both cores
# busy. Every file of a part must therefore keep its file-local names
# distinct from the part's other files.
#
# The test suites stay one object per file: GCC treats a source included
# into a unity file as a header and warns about fixtures in anonymous
# namespaces, and test files compile at -O0, where batching gains little.
#
# ORGQUAKE_UNITY=OFF builds every file on its own, which checks that each
# includes what it uses.
option(ORGQUAKE_UNITY "Compile each part's files in batches (unity build)" ON)
set(ORGQUAKE_UNITY_BATCH 8 CACHE STRING "Files per unity batch")

macro(orgquake_unity_build_for_parts)
  set(CMAKE_UNITY_BUILD ${ORGQUAKE_UNITY})
  set(CMAKE_UNITY_BUILD_BATCH_SIZE ${ORGQUAKE_UNITY_BATCH})
endmacro()

macro(orgquake_unity_build_off)
  set(CMAKE_UNITY_BUILD OFF)
endmacro()
