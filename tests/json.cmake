# JSON documents, JSON Schema validation (incl. the official draft-7 test suite) and config loading.
# Included from tests/CMakeLists.txt.
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS unit_test_framework)

set(TOOLHOST_JSON_SCHEMA_TEST_SUITE_DIR "/usr/share/json-schema-test-suite" CACHE PATH
    "Root of the JSON Schema Test Suite (holds tests/draft7 and remotes)")

add_executable(test_json ${CMAKE_CURRENT_LIST_DIR}/test_json.cpp)
target_link_libraries(test_json PRIVATE Toolhost::host Boost::unit_test_framework)
target_compile_definitions(test_json PRIVATE
    TOOLHOST_JSON_SCHEMA_TEST_SUITE_DIR="${TOOLHOST_JSON_SCHEMA_TEST_SUITE_DIR}")
add_test(NAME json COMMAND test_json)
