# The plugins' shared HTTP client (plugins/common) and the loopback test server (tests/support).
toolhost_add_test(http_client tools/test_http_client.cpp)
target_link_libraries(test_http_client PRIVATE Toolhost::plugin_common)
