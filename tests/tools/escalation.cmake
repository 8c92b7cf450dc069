# The escalation tool (plugins/escalation) through the real host, with a loopback webhook server.
toolhost_add_test(escalation tools/test_escalation.cpp)
add_dependencies(test_escalation escalation)
target_link_libraries(test_escalation PRIVATE SQLite::SQLite3)
target_compile_definitions(test_escalation PRIVATE TOOLHOST_ESCALATION_PLUGIN="$<TARGET_FILE:escalation>")
