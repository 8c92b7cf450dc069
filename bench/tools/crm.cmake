# The crm tool (plugins/crm), SQLite backend: lookups by id, e-mail and phone, and search as the
# customer table grows. Included from bench/CMakeLists.txt.
find_package(benchmark REQUIRED)

add_executable(bench_crm ${CMAKE_CURRENT_LIST_DIR}/bench_crm.cpp)
target_link_libraries(bench_crm PRIVATE Toolhost::host benchmark::benchmark)
target_compile_definitions(bench_crm PRIVATE TOOLHOST_BENCH_PLUGIN_DIR="${TOOLHOST_BUILD_PLUGINDIR}")
add_dependencies(bench_crm crm)
