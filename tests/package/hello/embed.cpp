// Embeds the host: loads the plugin folder given on the command line and calls hello.greet; then
// uses what a program gets across the library boundary when toolhost is a shared library: an
// exception thrown inside libtoolhost and caught here, and the MCP engine of Toolhost::serve.
#include <toolhost/host.hpp>
#include <toolhost/serve/mcp.hpp>

#include <iostream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: embed PLUGIN_DIR\n";
        return 64;
    }
    auto config = toolhost::default_config(toolhost::process_env);
    if (!config) return 78;
    config->plugin_dirs = {argv[1]};
    config->data_dir = std::filesystem::temp_directory_path() / "toolhost-embed-test";
    // The host opens plugin files in toolhost-worker: the package says where it is installed.
    toolhost::host_options options;
    options.config = std::move(*config);
    options.loader.worker = TOOLHOST_WORKER_PATH;
    toolhost::host host(std::move(options));
    host.load_plugins();
    if (!host.start({}).ok()) return 69;
    auto r = host.call("hello", "greet", boost::json::object{{"name", "out of tree"}});
    if (!r) {
        std::cerr << r.error().to_string() << '\n';
        return 70;
    }
    std::cout << *r << '\n';

    // call_result::value() throws toolhost::tool_exception from inside the library; it is caught
    // here only if both sides agree on its type.
    try {
        host.call("no_such_tool", "greet", boost::json::object{}).value();
        std::cerr << "no exception for an unknown tool\n";
        return 70;
    } catch (const toolhost::tool_exception& e) {
        if (e.error().code != toolhost::status_code::not_found) {
            std::cerr << "unexpected error: " << e.error().to_string() << '\n';
            return 70;
        }
    }

    toolhost::mcp::server mcp(host, {});
    if (!mcp.resolve("hello_greet")) {
        std::cerr << "the MCP server does not list hello_greet (" << mcp.tools().size() << " tools)\n";
        return 70;
    }
#ifdef TOOLHOST_STATIC
    std::cout << "linkage: static\n";
#else
    std::cout << "linkage: shared\n";
#endif
    host.shutdown();
    return 0;
}
