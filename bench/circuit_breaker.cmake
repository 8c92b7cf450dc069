# circuit_breaker: rejection by an open breaker (goal <= 50 ns) and acquire + on_result on a
# closed one. Included from bench/CMakeLists.txt.
find_package(benchmark REQUIRED)

add_executable(bench_circuit_breaker ${CMAKE_CURRENT_LIST_DIR}/bench_circuit_breaker.cpp)
target_link_libraries(bench_circuit_breaker PRIVATE Toolhost::host benchmark::benchmark)
