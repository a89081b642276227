# ctest: each file in compile_fail/ must fail to compile with the message on
# its "// expect:" line (a static_assert of the slab), except control_ok.cpp,
# which must compile. Inputs: CXX, INCLUDE, DIR, WORK.
file(GLOB cases "${DIR}/*.cpp")
file(MAKE_DIRECTORY "${WORK}")
foreach(src IN LISTS cases)
  get_filename_component(name "${src}" NAME_WE)
  file(STRINGS "${src}" expect_line REGEX "^// expect: ")
  string(REGEX REPLACE "^// expect: " "" expect "${expect_line}")
  execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -I${INCLUDE} "${src}"
                  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
  if(expect STREQUAL "OK")
    if(rc)
      message(FATAL_ERROR "${name}: the control case does not compile:\n${err}")
    endif()
    message(STATUS "${name}: compiles")
    continue()
  endif()
  if(NOT rc)
    message(FATAL_ERROR "${name}: compiled, but must be refused")
  endif()
  # The first error must be the slab's own message.
  string(REGEX MATCH "error:[^\n]*" first "${err}")
  if(NOT first MATCHES "${expect}")
    message(FATAL_ERROR "${name}: the first error is not the expected message '${expect}':\n${first}\n\nfull output:\n${err}")
  endif()
  message(STATUS "${name}: refused with '${expect}'")
endforeach()
