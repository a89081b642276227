# nexus_warnings(target...): the project's warning flags on each of its own
# compiled targets. They are set per target, not per directory, so that
# nothing else compiled in this tree (and no project that installs nexus and
# links its INTERFACE libraries) inherits them. Targets that compile nothing
# (INTERFACE libraries, custom targets) are skipped.
function(nexus_warnings)
  foreach(target IN LISTS ARGN)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE" OR type MATCHES "_LIBRARY$" AND NOT type STREQUAL "INTERFACE_LIBRARY")
      target_compile_options(${target} PRIVATE -Wall -Wextra $<$<BOOL:${NEXUS_WERROR}>:-Werror>)
    endif()
  endforeach()
endfunction()

# nexus_conversion_warnings(target...): also -Wconversion -Wsign-conversion,
# on the compiled libraries and the apps. Between them they instantiate the
# header-only libraries' code paths, so an implicit narrowing or sign change
# in slab/, orderbook/ or feed/ fails the build there. (The tests and the
# benchmarks, which mix int literals and sizes freely, are not held to it.)
function(nexus_conversion_warnings)
  foreach(target IN LISTS ARGN)
    target_compile_options(${target} PRIVATE -Wconversion -Wsign-conversion)
  endforeach()
endfunction()
