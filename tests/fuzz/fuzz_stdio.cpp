// MCP over stdio (toolhost::serve::stdio_server): the input is what a client writes to the
// server's stdin, framing and all (newline-delimited messages, partial lines, NUL bytes, a last
// line without its newline), read through a pipe until end of file, with the testkit fixture's
// tools behind it. The server must end when its input ends, whatever came before.
#include "fuzz_mcp_env.hpp"

#include <toolhost/serve/mcp_server.hpp>
#include <toolhost/serve/stdio_server.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static toolhost::fuzz::mcp_environment env("stdio");
    static const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
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
        toolhost::serve::stdio_server server(*env.server, fds[0], null_fd);
        server.run(std::chrono::milliseconds(500));
    }
    writer.join();
    ::close(fds[0]);
    return 0;
}
