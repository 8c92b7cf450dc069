# toolhost_add_plugin(<target> [OUTPUT_DIRECTORY <dir>] [SOURCES] <source>...)
#
# Builds a toolhost plugin: a MODULE library named <target>.so that links Toolhost::sdk, compiles
# with hidden visibility (and, with g++, -fno-gnu-unique, so that it can be unloaded) and exports
# exactly one symbol, toolhost_plugin_entry_v1. Works the same inside the toolhost tree and out of
# tree after find_package(Toolhost).
include_guard(GLOBAL)

function(toolhost_add_plugin target)
    # The map file sits beside this script, in the source tree and in the installed package.
    set(_TOOLHOST_PLUGIN_MAP "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/toolhost_plugin.map")
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "OUTPUT_DIRECTORY" "SOURCES")
    set(sources ${arg_SOURCES} ${arg_UNPARSED_ARGUMENTS})
    if(NOT sources)
        message(FATAL_ERROR "toolhost_add_plugin(${target}): no source files given")
    endif()
    add_library(${target} MODULE ${sources})
    target_link_libraries(${target} PRIVATE Toolhost::sdk)
    # The C++ helper (toolhost/plugin.hpp) needs C++20; a C-only project has no C++ to set.
    get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
    if("CXX" IN_LIST languages)
        target_compile_features(${target} PRIVATE cxx_std_20)
    endif()
    set_target_properties(${target} PROPERTIES
        PREFIX ""
        C_VISIBILITY_PRESET hidden
        CXX_VISIBILITY_PRESET hidden
        VISIBILITY_INLINES_HIDDEN ON
        LINK_DEPENDS "${_TOOLHOST_PLUGIN_MAP}")
    # -fno-gnu-unique: g++ gives the static locals of inline functions and template static
    # members STB_GNU_UNIQUE binding, and glibc never unloads a library with such a symbol. The
    # host unloads a plugin's old build once a new one replaced it (docs/writing-a-plugin.md).
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANG_AND_ID:CXX,GNU>:-fno-gnu-unique>)
    if(NOT APPLE AND NOT WIN32)
        # --as-needed: a plugin records only the shared libraries it really uses, so a static
        # helper library with many dependencies does not make every plugin load all of them.
        target_link_options(${target} PRIVATE "LINKER:--version-script=${_TOOLHOST_PLUGIN_MAP}" "LINKER:--as-needed")
    endif()
    if(arg_OUTPUT_DIRECTORY)
        set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${arg_OUTPUT_DIRECTORY}")
    endif()
endfunction()
