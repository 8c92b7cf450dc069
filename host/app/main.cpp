#include "cli.hpp"

#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

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
