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
set(c_build "${WORK_DIR}/c-only-build")
set(home "${WORK_DIR}/home")  # HOME and XDG_CONFIG_HOME of the installed toolhost
# The prefix and the out-of-tree builds start empty; a build of our own is kept between runs, so
# that a rerun only rebuilds what changed.
file(REMOVE_RECURSE "${prefix}" "${plugin_build}" "${c_build}" "${home}")
file(MAKE_DIRECTORY "${home}")

# run([IN <dir>] <command> <argument>...): fails the test when the command fails; what it wrote
# is in last_output (stdout) and last_error (stderr) afterwards.
function(run)
    set(where)
    if(ARGV0 STREQUAL "IN")
        list(POP_FRONT ARGN in dir)
        set(where WORKING_DIRECTORY "${dir}")
    endif()
    execute_process(COMMAND ${ARGN} ${where} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
    set(last_output "${out}" PARENT_SCOPE)
    set(last_error "${err}" PARENT_SCOPE)
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

# A project in C alone configures and builds (no C++ compiler, no Boost): the C example.
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package/c_only" -B "${c_build}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_C_FLAGS=${C_FLAGS}" "-DCMAKE_MODULE_LINKER_FLAGS=${LINKER_FLAGS}")
run(${CMAKE_COMMAND} --build "${c_build}")
load_cache("${c_build}" READ_WITH_PREFIX c_only_ CMAKE_CXX_COMPILER)
if(c_only_CMAKE_CXX_COMPILER)
    message(FATAL_ERROR "the C-only project has a C++ compiler: ${c_only_CMAKE_CXX_COMPILER}")
endif()

# Only the entry symbol leaves a plugin.
foreach(plugin "${plugin_build}/hello.so" "${c_build}/greeter.so")
    run(nm -D --defined-only "${plugin}")
    string(REGEX MATCHALL "[^\n]+" lines "${last_output}")
    foreach(line IN LISTS lines)
        if(NOT line MATCHES "toolhost_plugin_entry_v1$")
            message(FATAL_ERROR "${plugin} exports more than its entry symbol: ${line}")
        endif()
    endforeach()
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
set(ENV{HOME} "${home}")
set(ENV{XDG_CONFIG_HOME} "")
run("${prefix}/bin/toolhost" --no-default-plugins --plugin-dir "${plugin_build}" call hello greet
    "{\"name\":\"out of tree\"}" --json)
if(NOT last_output MATCHES "\"ok\":true" OR NOT last_output MATCHES "Hello, out of tree!")
    message(FATAL_ERROR "unexpected output from the installed toolhost: ${last_output}")
endif()
run("${prefix}/bin/toolhost" --no-default-plugins --plugin-dir "${c_build}" call greeter greet
    "{\"name\":\"Zoë \\\"the C\\\" one\",\"language\":\"fr\"}")
if(NOT last_output STREQUAL "{\"greeting\":\"Bonjour, Zoë \\\"the C\\\" one!\"}\n")
    message(FATAL_ERROR "unexpected output from the C plugin: ${last_output}")
endif()
run("${plugin_build}/embed" "${plugin_build}")
set(embed_output "${last_output}")
if(NOT last_output MATCHES "Hello, out of tree!")
    message(FATAL_ERROR "unexpected output from the embedding program: ${last_output}")
endif()

# `toolhost new`: a project of each language, made by the installed toolhost, builds against the
# installation and passes its own tests (which load the plugin with that toolhost) on the first try.
set(new_dir "${WORK_DIR}/new")
file(REMOVE_RECURSE "${new_dir}")
foreach(lang c cpp)
    run("${prefix}/bin/toolhost" new "new_${lang}" --lang ${lang} --dir "${new_dir}/${lang}")
    run(${CMAKE_COMMAND} -S "${new_dir}/${lang}" -B "${new_dir}/${lang}/build" -G "${GENERATOR}"
        "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_C_FLAGS=${C_FLAGS}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
        "-DCMAKE_MODULE_LINKER_FLAGS=${LINKER_FLAGS}")
    run(${CMAKE_COMMAND} --build "${new_dir}/${lang}/build")
    run(${CMAKE_CTEST_COMMAND} --test-dir "${new_dir}/${lang}/build" --output-on-failure)
    if(NOT last_output MATCHES "100% tests passed, 0 tests failed out of 2")
        message(FATAL_ERROR "the tests of the new ${lang} project did not all run and pass:\n${last_output}")
    endif()
endforeach()
# Rust with Debian's cargo, offline, when it is there (as sdk/rust/CMakeLists.txt).
if(EXISTS /usr/bin/cargo AND EXISTS /usr/bin/rustc)
    run("${prefix}/bin/toolhost" new new_rust --lang rust --dir "${new_dir}/rust")
    run(IN "${new_dir}/rust" ${CMAKE_COMMAND} -E env "CARGO_HOME=${new_dir}/cargo-home" "RUSTC=/usr/bin/rustc"
        "RUSTDOC=/usr/bin/rustdoc" CARGO_TERM_COLOR=never --unset=RUSTUP_TOOLCHAIN --unset=RUSTC_WRAPPER
        /usr/bin/cargo test --offline)
    if(NOT last_output MATCHES "test toolhost_loads_and_calls_the_plugin \\.\\.\\. ok")
        message(FATAL_ERROR "cargo test of the new Rust project did not run its loading test:\n${last_output}")
    endif()
else()
    message(STATUS "toolhost new --lang rust: not built (no /usr/bin/cargo)")
endif()
# Python, when this toolhost has its python plugin (python3-dev): the project's unittest runs the
# installed toolhost with it.
if(EXISTS "${prefix}/lib/toolhost/python/python.so")
    run("${prefix}/bin/toolhost" new new_python --lang python --dir "${new_dir}/python")
    run(IN "${new_dir}/python" /usr/bin/python3 -m unittest -v)
    if(NOT last_error MATCHES "Ran 3 tests")
        message(FATAL_ERROR "the new Python project did not run its 3 tests:\n${last_error}")
    endif()
else()
    message(STATUS "toolhost new --lang python: not tried (no python plugin installed)")
endif()

# Where the installed toolhost finds its configuration (docs/configuration.md): never in the
# source tree it was built from; its own etc/toolhost, unless the user has one in
# $XDG_CONFIG_HOME/toolhost (~/.config/toolhost), unless TOOLHOST_CONFIG or --config says.
function(expect_config file from)
    run("${prefix}/bin/toolhost" --no-default-plugins validate --json ${ARGN})
    string(JSON got_file GET "${last_output}" config file)
    string(JSON got_from GET "${last_output}" config from)
    if(NOT got_file STREQUAL file OR NOT got_from STREQUAL from)
        message(FATAL_ERROR "expected the configuration ${file} (${from}), got ${got_file} (${got_from})")
    endif()
endfunction()
set(installed_conf "${prefix}/etc/toolhost/toolhost.json")
if(NOT EXISTS "${installed_conf}")
    message(FATAL_ERROR "install is missing etc/toolhost/toolhost.json")
endif()
# The installed file lists the bundled tools; without them `validate` reports each one.
file(WRITE "${home}/plain.json" "{}")
file(COPY_FILE "${home}/plain.json" "${installed_conf}")
expect_config("${installed_conf}" "the installation's etc/toolhost")
file(MAKE_DIRECTORY "${home}/.config/toolhost")
file(COPY_FILE "${home}/plain.json" "${home}/.config/toolhost/toolhost.json")
expect_config("${home}/.config/toolhost/toolhost.json" "$XDG_CONFIG_HOME/toolhost")
file(MAKE_DIRECTORY "${home}/xdg/toolhost")
file(COPY_FILE "${home}/plain.json" "${home}/xdg/toolhost/toolhost.json")
set(ENV{XDG_CONFIG_HOME} "${home}/xdg")
expect_config("${home}/xdg/toolhost/toolhost.json" "$XDG_CONFIG_HOME/toolhost")
set(ENV{TOOLHOST_CONFIG} "${home}/plain.json")
expect_config("${home}/plain.json" "TOOLHOST_CONFIG")
expect_config("${installed_conf}" "--config" --config "${installed_conf}")
file(REMOVE "${installed_conf}" "${home}/xdg/toolhost/toolhost.json" "${home}/.config/toolhost/toolhost.json")
set(ENV{TOOLHOST_CONFIG} "")
run("${prefix}/bin/toolhost" --no-default-plugins validate --json)
if(NOT last_output MATCHES "\"file\":null,\"from\":\"built-in defaults\"")
    message(FATAL_ERROR "expected the built-in defaults: ${last_output}")
endif()
# The embedding program sees TOOLHOST_STATIC exactly when it links the static libraries.
if(cache_BUILD_SHARED_LIBS)
    set(linkage shared)
else()
    set(linkage static)
endif()
if(NOT embed_output MATCHES "linkage: ${linkage}\n")
    message(FATAL_ERROR "the embedding program should have been compiled for ${linkage} libraries: ${embed_output}")
endif()
message(STATUS "package test passed: ${embed_output}")
