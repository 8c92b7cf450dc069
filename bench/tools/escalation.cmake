# The escalation tool (plugins/escalation): evaluate as messages grow, and create_ticket (a
# committed write) with and without the idempotency replay. Included from bench/CMakeLists.txt.
find_package(benchmark REQUIRED)

add_executable(bench_escalation ${CMAKE_CURRENT_LIST_DIR}/bench_escalation.cpp)
target_link_libraries(bench_escalation PRIVATE Toolhost::host benchmark::benchmark)
target_compile_definitions(bench_escalation PRIVATE TOOLHOST_BENCH_PLUGIN_DIR="${TOOLHOST_BUILD_PLUGINDIR}")
add_dependencies(bench_escalation escalation)
