# ctest: install the given components of nexus to a temporary prefix, then
# configure, build and run a separate project against them, as a user would.
# Inputs: BUILD_DIR, SOURCE_DIR (the consumer project), WORK_DIR, CXX,
# COMPONENTS (install components, `;`-separated).
file(REMOVE_RECURSE "${WORK_DIR}")
foreach(component IN LISTS COMPONENTS)
  execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --component ${component} --prefix "${WORK_DIR}/prefix"
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(rc)
    message(FATAL_ERROR "install of component ${component} failed: ${rc}")
  endif()
  if(NOT EXISTS "${WORK_DIR}/prefix/include/nexus/${component}")
    message(FATAL_ERROR "the headers of ${component} were not installed")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build"
                        "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" "-DCMAKE_CXX_COMPILER=${CXX}"
                        -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer configure failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK_DIR}/build" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer build failed: ${rc}")
endif()
execute_process(COMMAND "${WORK_DIR}/build/consumer" "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(rc OR NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "consumer failed: ${rc}")
endif()
