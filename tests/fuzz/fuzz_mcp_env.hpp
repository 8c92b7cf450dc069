#pragma once
// What the MCP harnesses (fuzz_mcp, fuzz_stdio) serve: a real host with the testkit fixture's
// tools in a scratch folder, and the MCP engine over it, with short waits so that testkit's
// sleeps and requests to a client nobody plays do not stall the fuzzer. One per process.

#include <toolhost/config.hpp>
#include <toolhost/host.hpp>
#include <toolhost/serve/mcp_server.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>

namespace toolhost::fuzz {

struct mcp_environment {
    std::filesystem::path dir;
    std::unique_ptr<toolhost::host> host;
    std::unique_ptr<toolhost::mcp::server> server;

    explicit mcp_environment(std::string_view name) {
        namespace fs = std::filesystem;
        dir = fs::temp_directory_path() / ("toolhost-fuzz-" + std::string(name) + "-" + std::to_string(::getpid()));
        fs::create_directories(dir / "plugins");
        fs::copy_file(TOOLHOST_FIXTURE_TESTKIT, dir / "plugins" / "testkit.so", fs::copy_options::overwrite_existing);
        auto c = *toolhost::default_config([](std::string_view) { return std::optional<std::string>(); });
        c.plugin_dirs = {dir / "plugins"};
        c.data_dir = dir / "var";
        c.threads = 2;
        c.log_level = "off";
        host = std::make_unique<toolhost::host>(c);
        host->load_plugins();
        if (!host->start({}).ok()) std::abort();
        toolhost::mcp::server_options o;
        o.call_timeout = std::chrono::milliseconds(200);            // testkit's sleep must not stall the fuzzer
        o.client_request_timeout = std::chrono::milliseconds(100);  // nobody answers ask_client here
        server = std::make_unique<toolhost::mcp::server>(*host, o);
    }
    ~mcp_environment() {
        server.reset();
        host.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

}  // namespace toolhost::fuzz
