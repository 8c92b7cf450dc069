# cmake -DC_LAYOUT=<exe> -DRUST_LAYOUT=<exe> [-DINJECT_FAULT=ON] -P compare_layout.cmake
#
# Runs both layout printers (sdk/rust/layout/abi_layout.c as a C compiler sees the headers,
# sdk/rust/toolhost-sdk/examples/abi_layout.rs as the Rust mirrors are) and fails, listing every
# differing line, unless they print exactly the same lines: each struct's size and alignment,
# each field's offset and size, each constant and extension id.
#
# INJECT_FAULT=ON moves one field of the Rust output by 8 bytes before comparing, as a wrong
# field type would: the test registered with it must fail (WILL_FAIL), which proves that the
# comparison can.
foreach(var C_LAYOUT RUST_LAYOUT)
    if(NOT EXISTS "${${var}}")
        message(FATAL_ERROR "${var}: '${${var}}' does not exist")
    endif()
endforeach()

function(run_printer exe out_var)
    execute_process(COMMAND "${exe}" OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "${exe} failed (${rc}): ${err}")
    endif()
    string(REGEX REPLACE "\n$" "" out "${out}")
    string(REPLACE ";" "\\;" out "${out}")
    string(REPLACE "\n" ";" lines "${out}")
    set(${out_var} "${lines}" PARENT_SCOPE)
endfunction()

run_printer("${C_LAYOUT}" c_lines)
run_printer("${RUST_LAYOUT}" rust_lines)

if(INJECT_FAULT)
    list(FIND rust_lines "field toolhost_call_t.attempt offset 80 size 4" at)
    if(at EQUAL -1)
        message(FATAL_ERROR "INJECT_FAULT: the line to alter is not there (not x86-64/AArch64 LP64?)")
    endif()
    list(REMOVE_AT rust_lines ${at})
    list(INSERT rust_lines ${at} "field toolhost_call_t.attempt offset 88 size 4")
endif()

list(LENGTH c_lines c_count)
list(LENGTH rust_lines rust_count)
if(c_count EQUAL 0)
    message(FATAL_ERROR "the C layout printer printed nothing")
endif()
set(differences 0)
set(report "")
if(c_count GREATER rust_count)
    set(count ${c_count})
else()
    set(count ${rust_count})
endif()
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
    set(c_line "<missing>")
    set(rust_line "<missing>")
    if(i LESS c_count)
        list(GET c_lines ${i} c_line)
    endif()
    if(i LESS rust_count)
        list(GET rust_lines ${i} rust_line)
    endif()
    if(NOT c_line STREQUAL rust_line)
        math(EXPR differences "${differences} + 1")
        math(EXPR line_no "${i} + 1")
        string(APPEND report "  line ${line_no}:\n    C:    ${c_line}\n    Rust: ${rust_line}\n")
    endif()
endforeach()

if(differences GREATER 0)
    message(FATAL_ERROR "the Rust ABI mirrors differ from the C headers in ${differences} line(s):\n${report}")
endif()
message(STATUS "the Rust ABI mirrors match the C headers: ${c_count} sizes, offsets and constants")
