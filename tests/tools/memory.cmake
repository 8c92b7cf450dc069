# The memory tool (plugins/memory): behaviour through the real host, against real SQLite files,
# with real child processes for the multi-process and kill -9 tests.
find_package(SQLite3 REQUIRED)

# The child process that stores entries in a loop (see memory_writer.cpp).
add_executable(memory_writer ${CMAKE_CURRENT_LIST_DIR}/memory_writer.cpp)
target_link_libraries(memory_writer PRIVATE Toolhost::host)

toolhost_add_test(memory tools/test_memory.cpp
    ${PROJECT_SOURCE_DIR}/plugins/memory/rfc3339.cpp
    ${PROJECT_SOURCE_DIR}/plugins/memory/ranking.cpp)
target_include_directories(test_memory PRIVATE ${PROJECT_SOURCE_DIR}/plugins/memory)
target_link_libraries(test_memory PRIVATE Toolhost::plugin_common SQLite::SQLite3)
add_dependencies(test_memory memory memory_writer)
target_compile_definitions(test_memory PRIVATE
    TOOLHOST_MEMORY_PLUGIN="$<TARGET_FILE:memory>"
    TOOLHOST_MEMORY_WRITER="$<TARGET_FILE:memory_writer>"
    TOOLHOST_MEMORY_SAMPLE="${PROJECT_SOURCE_DIR}/plugins/memory/sample/demo.json")
set_tests_properties(memory PROPERTIES TIMEOUT 600)
