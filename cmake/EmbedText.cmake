# orgquake_embed_text(<target> VARIABLE <c++ name> FILES <file>...)
#
# Compiles text files (the schema's SQL, report templates) into <target> as
#   const std::vector<orgquake::EmbeddedFile>& <c++ name>();
# so that the binary is self-contained and the content hash is known at build
# time. The generated source is rebuilt whenever one of the files changes.
set(ORGQUAKE_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_text_script.cmake)

function(orgquake_embed_text target)
  cmake_parse_arguments(ARG "" "VARIABLE" "FILES" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${ARG_VARIABLE}_embedded.cpp)
  set(abs_files)
  foreach(f IN LISTS ARG_FILES)
    get_filename_component(abs ${f} ABSOLUTE)
    list(APPEND abs_files ${abs})
  endforeach()
  string(REPLACE ";" "|" joined "${abs_files}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DVARIABLE=${ARG_VARIABLE} "-DFILES=${joined}"
            -P ${ORGQUAKE_EMBED_SCRIPT}
    DEPENDS ${abs_files} ${ORGQUAKE_EMBED_SCRIPT}
    COMMENT "Embedding ${ARG_VARIABLE}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
