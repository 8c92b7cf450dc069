# worker_pool: the Asio executor contract, exactly-once execution, join/stop semantics and
# waking up after the workers have parked. Included from tests/CMakeLists.txt.
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS unit_test_framework)

add_executable(test_worker_pool ${CMAKE_CURRENT_LIST_DIR}/test_worker_pool.cpp)
target_link_libraries(test_worker_pool PRIVATE Toolhost::host Boost::unit_test_framework)
add_test(NAME worker_pool COMMAND test_worker_pool)
