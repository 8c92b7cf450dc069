// The MCP engine (toolhost::mcp::session): whole JSON-RPC messages, one per line of the input,
// to a fresh session each time, with the testkit fixture's tools behind it (echo, errors,
// sleeps, nested calls, requests to the client). Every message must be answered or finished;
// nothing may throw out of handle() or crash.
#include <toolhost/config.hpp>
#include <toolhost/host.hpp>
#include <toolhost/serve/mcp_protocol.hpp>
#include <toolhost/serve/mcp_server.hpp>
#include <toolhost/serve/mcp_session.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

// Everything sent for one message; the harness waits a bounded time for its end.
class sink final : public toolhost::mcp::exchange {
public:
    bool send(std::string) override { return true; }
    void finish(std::string) override {
        std::lock_guard lock(m_);
        done_ = true;
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock lock(m_);
        cv_.wait_for(lock, std::chrono::seconds(2), [&] { return done_; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool done_ = false;
};

struct environment {
    fs::path dir;
    std::unique_ptr<toolhost::host> host;
    std::unique_ptr<toolhost::mcp::server> server;

    environment() {
        dir = fs::temp_directory_path() / ("toolhost-fuzz-mcp-" + std::to_string(::getpid()));
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
    ~environment() {
        server.reset();
        host.reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static environment env;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto session = env.server->open_session("fuzz");
    while (!input.empty()) {
        const auto eol = input.find('\n');
        const auto line = input.substr(0, eol);
        input.remove_prefix(eol == std::string_view::npos ? input.size() : eol + 1);
        auto out = std::make_shared<sink>();
        session->handle(line, out);
        out->wait();
    }
    session->close();
    return 0;
}
