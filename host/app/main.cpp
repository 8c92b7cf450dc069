#include "cli.hpp"

#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
// The python plugin's interpreter is never finalized (plugins/python: finalizing CPython in a
// process that goes on is not safe), so what it allocated is still there at exit: not a leak of
// toolhost's. Only allocations whose stack is in libpython are left out; the same list is in
// host/worker/main.cpp.
extern "C" const char* __lsan_default_suppressions() { return "leak:libpython3\n"; }
#endif

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) exe = argv[0];
    try {
        return toolhost::cli::run(args, exe, std::cout, std::cerr);
    } catch (const std::exception& e) {
        std::cerr << "toolhost: internal error: " << e.what() << '\n';
        return toolhost::cli::internal;
    }
}
