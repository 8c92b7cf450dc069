// A child process for the memory tool's durability and multi-process tests: loads the memory
// plugin through the real host and stores entries in a loop, printing "<id> <n>" on stdout
// (flushed) for every store the tool acknowledged, so the parent knows exactly what must survive.
//
//     memory_writer <plugin_dir> <data_dir> <tag> <count> [synchronous]
//
// Stores `count` entries (0: until killed) in session "writers" with content "entry <n> from
// <tag>". Exits 0 when done, 1 on the first failed store, 2 on bad usage or a failed start.
#include <toolhost/host.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace json = boost::json;

int main(int argc, char** argv) {
    if (argc < 5 || argc > 6) {
        std::cerr << "usage: memory_writer <plugin_dir> <data_dir> <tag> <count> [normal|full]\n";
        return 2;
    }
    const std::string tag = argv[3];
    const long count = std::strtol(argv[4], nullptr, 10);

    auto config = toolhost::default_config([](std::string_view) { return std::optional<std::string>(); });
    if (!config) return 2;
    config->plugin_dirs = {argv[1]};
    config->data_dir = argv[2];
    config->threads = 2;
    config->log_level = "error";
    toolhost::tool_settings memory;
    memory.pointer = "/tools/memory";
    memory.config = json::object{{"seed_sample", false}, {"storage", "sqlite"}};
    if (argc == 6) memory.config["synchronous"] = argv[5];
    config->tools["memory"] = memory;

    toolhost::host host(std::move(*config));
    host.load_plugins();
    const auto report =
        host.start({.concurrent = false, .fail_on_error = true, .only = std::vector<std::string>{"memory"}});
    if (!report.ok()) {
        std::cerr << "memory_writer: the memory tool did not start: " << report.failed.front().second.to_string()
                  << "\n";
        return 2;
    }

    for (long n = 0; count == 0 || n < count; ++n) {
        json::object args{
            {"session_id", "writers"}, {"content", "entry " + std::to_string(n) + " from " + tag}, {"kind", "message"}};
        const auto r = host.call("memory", "store", std::move(args));
        if (!r) {
            std::cerr << "memory_writer: store " << n << " failed: " << r.error().to_string() << "\n";
            return 1;
        }
        const auto id = json::parse(*r).at("id").as_int64();
        // Printed only after the tool acknowledged the store: every line names a committed entry.
        std::printf("%lld %ld\n", static_cast<long long>(id), n);
        std::fflush(stdout);
    }
    host.shutdown();
    return 0;
}
