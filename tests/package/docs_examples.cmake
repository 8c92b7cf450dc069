# The C and C++ examples of docs/writing-a-plugin.md are tests/package/c_only/greeter.c and
# tests/package/hello/hello.cpp, which the package test builds and calls: this test fails when
# the page and the files differ (from each file's first #include to its end).
foreach(v SOURCE_DIR)
    if(NOT DEFINED ${v})
        message(FATAL_ERROR "${v} is not set")
    endif()
endforeach()
file(READ "${SOURCE_DIR}/docs/writing-a-plugin.md" page)
foreach(example tests/package/hello/hello.cpp tests/package/c_only/greeter.c)
    file(READ "${SOURCE_DIR}/${example}" code)
    string(FIND "${code}" "#include" first)
    string(SUBSTRING "${code}" ${first} -1 code)
    string(FIND "${page}" "${code}" at)
    if(at EQUAL -1)
        message(FATAL_ERROR "docs/writing-a-plugin.md does not show ${example} as it is: copy the file "
                            "(from its first #include) into the page's code block")
    endif()
endforeach()
message(STATUS "docs/writing-a-plugin.md shows hello.cpp and greeter.c as they are")
