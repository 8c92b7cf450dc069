# Resilience building blocks: the metrics registry (exposition format checked by promtool, from
# Debian's prometheus package) and the retry policy and budget. Included from tests/CMakeLists.txt.
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS json unit_test_framework)

add_executable(test_metrics ${CMAKE_CURRENT_LIST_DIR}/test_metrics.cpp)
target_link_libraries(test_metrics PRIVATE Toolhost::host Boost::json Boost::unit_test_framework)
add_test(NAME metrics COMMAND test_metrics)

add_executable(test_retry_policy ${CMAKE_CURRENT_LIST_DIR}/test_retry_policy.cpp)
target_link_libraries(test_retry_policy PRIVATE Toolhost::host Boost::unit_test_framework)
add_test(NAME retry_policy COMMAND test_retry_policy)
