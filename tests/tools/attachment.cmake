# The attachment tool (plugins/attachment) through the real host, with fixtures from
# tests/tools/data/attachment and archives/executables built byte by byte in the test; and
# attachment -> rag through the host's tool_caller extension.
find_package(Boost 1.81 CONFIG REQUIRED)  # Boost.CRC (header-only) for the zip and PNG fixtures
toolhost_add_test(attachment tools/test_attachment.cpp ${PROJECT_SOURCE_DIR}/plugins/attachment/base64.cpp)
target_include_directories(test_attachment PRIVATE ${PROJECT_SOURCE_DIR}/plugins/attachment)
target_link_libraries(test_attachment PRIVATE Toolhost::plugin_common Boost::headers)
add_dependencies(test_attachment attachment rag)
target_compile_definitions(test_attachment PRIVATE
    TOOLHOST_ATTACHMENT_PLUGIN="$<TARGET_FILE:attachment>"
    TOOLHOST_RAG_PLUGIN="$<TARGET_FILE:rag>"
    TOOLHOST_ATTACHMENT_SAMPLE_DIR="${PROJECT_SOURCE_DIR}/plugins/attachment/sample")
