# The rag tool (plugins/rag): chunker and text extraction as units (compiled in), and every
# operation through the real host against real SQLite files.
toolhost_add_test(rag tools/test_rag.cpp
    ${PROJECT_SOURCE_DIR}/plugins/rag/chunker.cpp
    ${PROJECT_SOURCE_DIR}/plugins/rag/extract.cpp
    ${PROJECT_SOURCE_DIR}/plugins/rag/query.cpp)
target_include_directories(test_rag PRIVATE ${PROJECT_SOURCE_DIR}/plugins/rag)
target_link_libraries(test_rag PRIVATE Toolhost::plugin_common)
add_dependencies(test_rag rag)
target_compile_definitions(test_rag PRIVATE
    TOOLHOST_RAG_PLUGIN="$<TARGET_FILE:rag>"
    TOOLHOST_RAG_SAMPLE_DIR="${PROJECT_SOURCE_DIR}/plugins/rag/sample")
