// The scanner child's side of plugin_scanner (toolhost-worker scan): opens each file it is sent,
// in this throwaway process, and answers with what it found. Whatever a library does while it
// loads happens here: a crash or exit ends this process (the host names the file), a hang is
// killed at the host's deadline, and writes to stdout are caught and refuse the library.

#include "isolation/channel.hpp"
#include "isolation/crash_report.hpp"
#include "loading/plugin_scanner.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost/plugin_library.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace toolhost::detail {

namespace {

// Descriptor 1 becomes the write end of a pipe this process reads itself, so that what a
// library prints while it loads can be told apart per file. Non-blocking on both ends: a library
// that prints more than the pipe holds gets EAGAIN, not a hang.
int capture_stdout() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    if (::dup2(p[1], STDOUT_FILENO) < 0) return -1;
    ::close(p[1]);
    return p[0];
}

std::string drain(int fd) {
    std::fflush(stdout);
    std::cout.flush();
    std::string out;
    char buf[4096];
    for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;)
        if (out.size() < 65536) out.append(buf, static_cast<std::size_t>(n));
    return out;
}

scan_result scan_one(const std::string& path, toolhost_abi_version_t abi) {
    auto lib = plugin_library::open(path, abi);
    if (!lib) return scan_result::refused(lib.error());
    const auto& entry = (*lib)->entry();
    scan_result r;
    r.loaded = true;
    r.plugin_name = entry.plugin_name ? entry.plugin_name : "";
    r.plugin_version = entry.plugin_version ? entry.plugin_version : "";
    r.abi = entry.abi_version;
    const std::uint32_t n = entry.tool_count();
    if (n == 0) r.tools.push_back({0, {}, std::nullopt, no_tools_error});
    for (std::uint32_t i = 0; i < n; ++i) {
        auto t = read_abi_tool(entry, i, path);
        r.tools.push_back({i, std::move(t.name), std::move(t.raw), std::move(t.error)});
    }
    // Read after the descriptors: a library may name what it read while describing its tools.
    r.inputs = (*lib)->descriptor_inputs();
    // A tool list that depends on more than the host keeps track of is never cached.
    r.cacheable = !(*lib)->descriptor_inputs_overflow();
    return r;
}

}  // namespace

int run_scan_child(int fd, toolhost_abi_version_t abi) {
    crash_report::never_install();  // the host tells how this process ended, naming the file
    const int printed_fd = capture_stdout();
    // The host reads stderr between answers; a library that writes more than the pipe holds in
    // the meantime loses the rest instead of blocking the scan.
    ::fcntl(STDERR_FILENO, F_SETFL, ::fcntl(STDERR_FILENO, F_GETFL) | O_NONBLOCK);
    channel ch(fd);
    const auto forever = std::chrono::steady_clock::time_point::max();
    if (ch.send(scan_ready, 0, {}, forever) != channel::status::ok) return 0;
    for (;;) {
        auto request = ch.receive(forever, 64 * 1024);
        if (request.state == channel::status::closed) return 0;  // the host is done (or gone)
        if (request.state != channel::status::ok || request.msg.kind != scan_request) return 2;
        scan_result result = scan_one(request.msg.payload, abi);
        if (auto printed = drain(printed_fd); !printed.empty()) {
            if (printed.size() > 200) printed = printed.substr(0, 200) + "...";
            result = scan_result::refused(
                "the library wrote to standard output while loading (" +
                toolhost::json_text(std::string_view(printed)) +
                "); a plugin must never write to stdout, which carries the MCP stdio protocol: log through the "
                "host instead");
        }
        const std::string answer = toolhost::json_text(result.to_json());
        if (ch.send(scan_answer, request.msg.id, answer, forever) != channel::status::ok) return 0;
    }
}

}  // namespace toolhost::detail
