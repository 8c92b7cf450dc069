// MCP over stdio (toolhost::serve::stdio_server): the input is what a client writes to the
// server's stdin, framing and all (newline-delimited messages, partial lines, NUL bytes, a last
// line without its newline), read through a pipe until end of file, with the testkit fixture's
// tools behind it. The server must end when its input ends, whatever came before.
#include <toolhost/config.hpp>
#include <toolhost/host.hpp>
#include <toolhost/serve/mcp_server.hpp>
#include <toolhost/serve/stdio_server.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

struct environment {
    fs::path dir;
    std::unique_ptr<toolhost::host> host;
    std::unique_ptr<toolhost::mcp::server> server;
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);

    environment() {
        dir = fs::temp_directory_path() / ("toolhost-fuzz-stdio-" + std::to_string(::getpid()));
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
        o.call_timeout = std::chrono::milliseconds(200);
        o.client_request_timeout = std::chrono::milliseconds(100);
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
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
    // The writer feeds the input and closes: the server sees end of file after the last byte.
    std::thread writer([&] {
        std::size_t at = 0;
        while (at < size) {
            const auto n = ::write(fds[1], data + at, size - at);
            if (n <= 0) break;
            at += static_cast<std::size_t>(n);
        }
        ::close(fds[1]);
    });
    {
        toolhost::serve::stdio_server server(*env.server, fds[0], env.null_fd);
        server.run(std::chrono::milliseconds(500));
    }
    writer.join();
    ::close(fds[0]);
    return 0;
}
