# boost::asio::thread_pool against toolhost::worker_pool: one-caller latency (p50/p99) and
# throughput with 1/16/256 calls in flight. Included from bench/CMakeLists.txt.
find_package(benchmark REQUIRED)

add_executable(bench_worker_pool ${CMAKE_CURRENT_LIST_DIR}/bench_worker_pool.cpp)
target_link_libraries(bench_worker_pool PRIVATE Toolhost::host benchmark::benchmark)
