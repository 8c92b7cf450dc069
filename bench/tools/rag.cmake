# rag search latency (p50/p90/p99) over 10,000 chunks through the host. Included from
# bench/CMakeLists.txt. Run: build/<dir>/bench/bench_rag
add_executable(bench_rag ${CMAKE_CURRENT_LIST_DIR}/bench_rag.cpp)
target_link_libraries(bench_rag PRIVATE Toolhost::host benchmark::benchmark)
target_compile_definitions(bench_rag PRIVATE TOOLHOST_BENCH_PLUGIN_DIR="${TOOLHOST_BUILD_PLUGINDIR}")
add_dependencies(bench_rag rag)
