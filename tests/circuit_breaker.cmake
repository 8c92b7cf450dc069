# circuit_breaker: trip on consecutive failures and on a failure rate over a sliding window,
# open/half-open timing and backoff, one probe at a time, stale results, manual control and
# transition callbacks, all on a manual clock. Included from tests/CMakeLists.txt.
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS unit_test_framework)

add_executable(test_circuit_breaker ${CMAKE_CURRENT_LIST_DIR}/test_circuit_breaker.cpp)
target_link_libraries(test_circuit_breaker PRIVATE Toolhost::host Boost::unit_test_framework)
add_test(NAME circuit_breaker COMMAND test_circuit_breaker)
