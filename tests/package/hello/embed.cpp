// Embeds the host: loads the plugin folder given on the command line and calls hello.greet.
#include <toolhost/host.hpp>

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
    toolhost::host host(std::move(*config));
    host.load_plugins();
    if (!host.start({}).ok()) return 69;
    auto r = host.call("hello", "greet", boost::json::object{});
    if (!r) {
        std::cerr << r.error().to_string() << '\n';
        return 70;
    }
    std::cout << *r << '\n';
    return 0;
}
