# Installs the toolhost build tree to a temporary prefix, builds tests/package/hello out of tree
# against the installed package, then loads the plugin with the installed toolhost and with an
# embedding program. Run by ctest as `package`.
foreach(v SOURCE_DIR BUILD_DIR WORK_DIR GENERATOR)
    if(NOT DEFINED ${v})
        message(FATAL_ERROR "${v} is not set")
    endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(plugin_build "${WORK_DIR}/hello-build")

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
    set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f bin/toolhost include/toolhost/toolhost.h include/toolhost/plugin.hpp include/toolhost/host.hpp
          include/toolhost/version.hpp include/toolhost/json_text.hpp include/toolhost/serve/service.hpp
          lib/cmake/Toolhost/ToolhostConfig.cmake lib/cmake/Toolhost/ToolhostPlugin.cmake
          lib/toolhost/plugins/echo.so)
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
message(STATUS "package test passed: ${last_output}")
