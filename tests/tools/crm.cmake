# The crm tool (plugins/crm) through the real host: SQLite, and REST against a CRM service on
# loopback that the test implements from the contract in docs/tools/crm.md.
toolhost_add_test(crm tools/test_crm.cpp)
add_dependencies(test_crm crm)
target_link_libraries(test_crm PRIVATE SQLite::SQLite3)
target_compile_definitions(test_crm PRIVATE
    TOOLHOST_CRM_PLUGIN="$<TARGET_FILE:crm>"
    TOOLHOST_CRM_SAMPLE="${PROJECT_SOURCE_DIR}/plugins/crm/sample/customers.json")
