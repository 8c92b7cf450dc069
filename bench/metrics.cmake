# Hot-path cost of the metrics registry: counter inc and histogram observe, from one thread and
# from several threads on the same child. Included from bench/CMakeLists.txt.
find_package(benchmark REQUIRED)

add_executable(bench_metrics ${CMAKE_CURRENT_LIST_DIR}/bench_metrics.cpp)
target_link_libraries(bench_metrics PRIVATE Toolhost::host benchmark::benchmark)
