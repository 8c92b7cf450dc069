# Text files compiled into toolhost's binaries, as C++ sources generated at configure time (the
# python plugin's runtime.py, the templates of `toolhost new`).
#
# toolhost_raw_string(<var> <file>): sets <var> to the text of <file> as a C++ raw string
# literal, R"th_embed(...)th_embed", and makes <file> a configure dependency, so that an edit is
# embedded again on the next build. A file that contains the delimiter is an error.
#
# toolhost_write_if_changed(<path> <content>): writes <content> to <path> only when it differs,
# so that a reconfigure does not rebuild what includes it.
include_guard(GLOBAL)

function(toolhost_raw_string var file)
    file(READ "${file}" text)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${file}")
    string(FIND "${text}" ")th_embed\"" clash)
    if(NOT clash EQUAL -1)
        message(FATAL_ERROR "${file} contains the raw string delimiter )th_embed\"")
    endif()
    set(${var} "R\"th_embed(${text})th_embed\"" PARENT_SCOPE)
endfunction()

function(toolhost_write_if_changed path content)
    file(WRITE "${path}.tmp" "${content}")
    configure_file("${path}.tmp" "${path}" COPYONLY)
    file(REMOVE "${path}.tmp")
endfunction()
