# Warnings and sanitizers for toolhost's own targets, as options applied in one place:
# toolhost_apply_build_options(), called once at the end of the top-level CMakeLists.txt, walks
# every target defined under the source tree and gives each the same flags. Nothing goes into
# CMAKE_<LANG>_FLAGS, so a parent project that adds toolhost keeps its own flags, and an
# installed Toolhost package carries none of these.
#
#   TOOLHOST_WARNINGS   -Wall -Wextra -Wpedantic (on when toolhost is the top-level project)
#   TOOLHOST_WERROR     warnings are errors
#   TOOLHOST_SANITIZE   sanitizers to build with, as -fsanitize takes them: "address,undefined",
#                       "thread"; empty for none. The presets asan and tsan set it.
option(TOOLHOST_WARNINGS "Compile toolhost's targets with -Wall -Wextra -Wpedantic" ${PROJECT_IS_TOP_LEVEL})
option(TOOLHOST_WERROR "Treat warnings as errors in toolhost's targets" OFF)
set(TOOLHOST_SANITIZE "" CACHE STRING "Sanitizers for toolhost's targets (-fsanitize=<list>), e.g. address,undefined or thread")

# The flags a program built against this build must use too (the package test's consumer).
set(TOOLHOST_SANITIZER_FLAGS "")
if(TOOLHOST_SANITIZE)
    set(TOOLHOST_SANITIZER_FLAGS "-fsanitize=${TOOLHOST_SANITIZE} -fno-omit-frame-pointer")
    if(TOOLHOST_SANITIZE MATCHES "undefined")
        string(APPEND TOOLHOST_SANITIZER_FLAGS " -fno-sanitize-recover=undefined")
        # Clang 14's "function" check (calls through a pointer of the wrong function type) puts a
        # relative offset before each function, which a coroutine split into sections cannot
        # assemble ("Cannot represent a difference across sections", the OAuth key fetch). GCC
        # has no such check; the asan preset (GCC) is unchanged.
        if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
            string(APPEND TOOLHOST_SANITIZER_FLAGS " -fno-sanitize=function")
        endif()
    endif()
endif()

function(_toolhost_targets_under dir out)
    get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
    get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
    foreach(sub IN LISTS subdirs)
        _toolhost_targets_under("${sub}" more)
        list(APPEND targets ${more})
    endforeach()
    set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(toolhost_apply_build_options)
    set(warnings -Wall -Wextra -Wpedantic $<$<COMPILE_LANGUAGE:CXX>:-Wno-psabi>)
    if(TOOLHOST_WERROR)
        list(APPEND warnings -Werror)
    endif()
    separate_arguments(sanitizer UNIX_COMMAND "${TOOLHOST_SANITIZER_FLAGS}")
    _toolhost_targets_under("${PROJECT_SOURCE_DIR}" targets)
    foreach(t IN LISTS targets)
        get_target_property(type ${t} TYPE)
        if(NOT type MATCHES "^(EXECUTABLE|SHARED_LIBRARY|MODULE_LIBRARY|STATIC_LIBRARY|OBJECT_LIBRARY)$")
            continue()
        endif()
        if(TOOLHOST_WARNINGS)
            target_compile_options(${t} PRIVATE ${warnings})
        endif()
        if(sanitizer)
            target_compile_options(${t} PRIVATE ${sanitizer})
            if(type MATCHES "^(EXECUTABLE|SHARED_LIBRARY|MODULE_LIBRARY)$")
                target_link_options(${t} PRIVATE ${sanitizer})
            endif()
        endif()
    endforeach()
endfunction()
