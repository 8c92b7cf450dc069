# The official MCP TypeScript SDK client (tests/mcp/node_modules, installed by
# scripts/setup-deps.sh) against `toolhost serve --stdio` and `toolhost serve --http`, serving the
# testkit fixture and the bundled echo plugin: tests/mcp/sdk_client.test.mjs, run by Node.js 22
# from node_modules. Skipped (exit 77) when node_modules is missing. The configuration, plugin
# folder and server logs of the last run stay in <build>/tests/mcp/sdk_client/.
set(_mcp_dir ${CMAKE_CURRENT_LIST_DIR})
if(TOOLHOST_BUILD_PLUGINS)
    add_test(NAME mcp_sdk_client
        COMMAND sh -c [=[
if [ ! -x "$1/node_modules/.bin/node" ] || [ ! -d "$1/node_modules/@modelcontextprotocol/sdk" ]; then
  echo "SKIPPED: the MCP TypeScript SDK is not installed in $1/node_modules; run scripts/setup-deps.sh" >&2
  exit 77
fi
cd "$1" && exec ./node_modules/.bin/node --test-reporter=spec sdk_client.test.mjs "$2" "$3" "$4" "$5"
]=] sh ${_mcp_dir}
            $<TARGET_FILE:toolhost>
            $<TARGET_FILE:fixture_testkit>
            $<TARGET_FILE:echo>
            ${PROJECT_BINARY_DIR}/tests/mcp/sdk_client)
    set_tests_properties(mcp_sdk_client PROPERTIES
        SKIP_RETURN_CODE 77
        TIMEOUT 300
        LABELS mcp)
endif()
unset(_mcp_dir)
