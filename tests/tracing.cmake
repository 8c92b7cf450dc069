# Traces: W3C trace context, span ids, the OTLP/HTTP JSON body, the exporter against a real HTTP
# server on loopback (tests/support/http_server.hpp) and the "tracing" configuration section.
# Included from tests/CMakeLists.txt.
toolhost_add_test(tracing test_tracing.cpp)
# The exporter tests wait on a real server; a hang fails the test instead of stalling the run.
set_tests_properties(tracing PROPERTIES TIMEOUT 180)
