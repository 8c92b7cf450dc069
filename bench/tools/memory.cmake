# The memory tool (plugins/memory): store cost with synchronous FULL and NORMAL, recall cost with
# and without a query as a session grows. Included from bench/CMakeLists.txt.
find_package(benchmark REQUIRED)

add_executable(bench_memory ${CMAKE_CURRENT_LIST_DIR}/bench_memory.cpp)
target_link_libraries(bench_memory PRIVATE Toolhost::host Toolhost::plugin_common benchmark::benchmark)
target_compile_definitions(bench_memory PRIVATE TOOLHOST_BENCH_PLUGIN_DIR="${TOOLHOST_BUILD_PLUGINDIR}")
add_dependencies(bench_memory memory)
