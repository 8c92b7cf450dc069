// The configuration reader (load_config): JSON with comments, every section's checks, and the
// TOOLHOST_* environment overrides. The input is the file's text; lines at its start of the form
// "#env NAME=value" are taken out and become the environment.
#include <toolhost/config.hpp>

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::map<std::string, std::string, std::less<>> env;
    while (input.starts_with("#env ")) {
        const auto eol = input.find('\n');
        const auto line = input.substr(5, eol == std::string_view::npos ? input.size() - 5 : eol - 5);
        if (const auto eq = line.find('='); eq != std::string_view::npos)
            env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
        input.remove_prefix(eol == std::string_view::npos ? input.size() : eol + 1);
    }
    // One file per process, rewritten for every input (relative paths in it resolve next to it),
    // and removed at exit.
    static const struct scratch {
        std::string file = "/tmp/toolhost-fuzz-config-" + std::to_string(::getpid()) + ".json";
        ~scratch() { ::unlink(file.c_str()); }
    } scratch_file;
    const std::string& file = scratch_file.file;
    std::ofstream(file, std::ios::binary | std::ios::trunc)
        .write(input.data(), static_cast<std::streamsize>(input.size()));
    auto r = toolhost::load_config(file, [&](std::string_view name) -> std::optional<std::string> {
        if (auto it = env.find(name); it != env.end()) return it->second;
        return std::nullopt;
    });
    if (r) (void)r->tool_enabled("rag");
    return 0;
}
