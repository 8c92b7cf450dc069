# Installs a toolhost build tree to a temporary prefix, builds tests/package/hello out of tree
# against the installed package, then loads the plugin with the installed toolhost and with an
# embedding program. Run by ctest as `package` (the build tree ctest runs in) and as
# `package_shared` (with TOOLHOST_BUILD: a build of its own, made here first).
#
#   SOURCE_DIR, WORK_DIR, GENERATOR      always
#   BUILD_DIR                            the build tree to install (`package`)
#   TOOLHOST_BUILD=<arg>|<arg>...        instead of BUILD_DIR: configure SOURCE_DIR into
#                                        WORK_DIR/toolhost-build with these arguments, build and
#                                        install that (`package_shared`: BUILD_SHARED_LIBS=ON and
#                                        only the libraries and the CLI)
#   C_FLAGS, CXX_FLAGS, LINKER_FLAGS     for the out-of-tree build (sanitizers)
foreach(v SOURCE_DIR WORK_DIR GENERATOR)
    if(NOT DEFINED ${v})
        message(FATAL_ERROR "${v} is not set")
    endif()
endforeach()
if(NOT DEFINED BUILD_DIR AND NOT DEFINED TOOLHOST_BUILD)
    message(FATAL_ERROR "set BUILD_DIR or TOOLHOST_BUILD")
endif()

set(prefix "${WORK_DIR}/prefix")
set(plugin_build "${WORK_DIR}/hello-build")
# The prefix and the out-of-tree build start empty; a build of our own is kept between runs, so
# that a rerun only rebuilds what changed.
file(REMOVE_RECURSE "${prefix}" "${plugin_build}")

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
    set(last_output "${out}" PARENT_SCOPE)
endfunction()

if(DEFINED TOOLHOST_BUILD)
    set(BUILD_DIR "${WORK_DIR}/toolhost-build")
    string(TIMESTAMP started "%s")
    string(REPLACE "|" ";" configure_args "${TOOLHOST_BUILD}")
    run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${BUILD_DIR}" -G "${GENERATOR}" ${configure_args})
    cmake_host_system_information(RESULT cores QUERY NUMBER_OF_LOGICAL_CORES)
    run(${CMAKE_COMMAND} --build "${BUILD_DIR}" --parallel ${cores})
    string(TIMESTAMP finished "%s")
    math(EXPR seconds "${finished} - ${started}")
    message(STATUS "toolhost configured and built in ${BUILD_DIR} in ${seconds} s")
endif()
load_cache("${BUILD_DIR}" READ_WITH_PREFIX cache_ BUILD_SHARED_LIBS TOOLHOST_BUILD_PLUGINS)

set(expected bin/toolhost include/toolhost/toolhost.h include/toolhost/plugin.hpp include/toolhost/host.hpp
    include/toolhost/version.hpp include/toolhost/export.hpp include/toolhost/json_text.hpp
    include/toolhost/serve/service.hpp include/toolhost/serve/export.hpp
    lib/cmake/Toolhost/ToolhostConfig.cmake lib/cmake/Toolhost/ToolhostPlugin.cmake)
if(cache_TOOLHOST_BUILD_PLUGINS)
    list(APPEND expected lib/toolhost/plugins/echo.so)
endif()
if(cache_BUILD_SHARED_LIBS)
    list(APPEND expected lib/libtoolhost.so.0 lib/libtoolhost_serve.so.0)
endif()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f IN LISTS expected)
    if(NOT EXISTS "${prefix}/${f}")
        # Debian's GNUInstallDirs may put libraries under lib/<multiarch>; look there too.
        file(GLOB alt "${prefix}/lib/*/${f}")
        string(REPLACE "lib/" "" rest "${f}")
        file(GLOB alt2 "${prefix}/lib/*/${rest}")
        if(NOT alt AND NOT alt2)
            message(FATAL_ERROR "install is missing ${f}")
        endif()
    endif()
endforeach()

run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package/hello" -B "${plugin_build}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}"
    "-DCMAKE_C_FLAGS=${C_FLAGS}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_MODULE_LINKER_FLAGS=${LINKER_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
run(${CMAKE_COMMAND} --build "${plugin_build}")

# Only the entry symbol leaves the plugin.
run(nm -D --defined-only "${plugin_build}/hello.so")
string(REGEX MATCHALL "[^\n]+" lines "${last_output}")
foreach(line IN LISTS lines)
    if(NOT line MATCHES "toolhost_plugin_entry_v1$")
        message(FATAL_ERROR "hello.so exports more than its entry symbol: ${line}")
    endif()
endforeach()

if(cache_BUILD_SHARED_LIBS)
    # The installed toolhost finds its libraries through RUNPATH $ORIGIN/../lib, never through
    # the build tree or the environment.
    run(readelf -d "${prefix}/bin/toolhost")
    if(NOT last_output MATCHES "NEEDED[^\n]*libtoolhost\\.so\\.0" OR NOT last_output MATCHES "NEEDED[^\n]*libtoolhost_serve\\.so\\.0")
        message(FATAL_ERROR "the installed toolhost is not linked to libtoolhost*.so:\n${last_output}")
    endif()
    string(FIND "${last_output}" "${BUILD_DIR}" build_dir_at)
    if(NOT last_output MATCHES "RUNPATH[^\n]*\\$ORIGIN/\\.\\./lib" OR NOT build_dir_at EQUAL -1)
        message(FATAL_ERROR "the installed toolhost's RUNPATH is not $ORIGIN/../lib alone:\n${last_output}")
    endif()
    set(ENV{LD_LIBRARY_PATH} "")
    # and the build tree's toolhost finds them in the build tree
    run("${BUILD_DIR}/bin/toolhost" --version)
endif()

set(ENV{TOOLHOST_CONFIG} "")
set(ENV{TOOLHOST_PLUGIN_PATH} "")
run("${prefix}/bin/toolhost" --no-default-plugins --plugin-dir "${plugin_build}" call hello greet --json)
if(NOT last_output MATCHES "\"ok\":true" OR NOT last_output MATCHES "hello from out of tree")
    message(FATAL_ERROR "unexpected output from the installed toolhost: ${last_output}")
endif()
run("${plugin_build}/embed" "${plugin_build}")
if(NOT last_output MATCHES "hello from out of tree")
    message(FATAL_ERROR "unexpected output from the embedding program: ${last_output}")
endif()
# The embedding program sees TOOLHOST_STATIC exactly when it links the static libraries.
if(cache_BUILD_SHARED_LIBS)
    set(linkage shared)
else()
    set(linkage static)
endif()
if(NOT last_output MATCHES "linkage: ${linkage}\n")
    message(FATAL_ERROR "the embedding program should have been compiled for ${linkage} libraries: ${last_output}")
endif()
message(STATUS "package test passed: ${last_output}")
