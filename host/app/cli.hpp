#pragma once
/// The `toolhost` command line. Results go to stdout, logs and diagnostics to stderr; with
/// --json stdout carries exactly one JSON value. Exit codes follow sysexits.h.

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace toolhost::cli {

enum exit_code : int {
    ok = 0,
    usage = 64,        // EX_USAGE: bad command line
    data = 65,         // EX_DATAERR: bad input data (arguments)
    no_input = 66,     // EX_NOINPUT: an input file does not exist or cannot be read
    unavailable = 69,  // EX_UNAVAILABLE: tool or plugin unavailable
    internal = 70,     // EX_SOFTWARE: internal error
    cant_create = 73,  // EX_CANTCREAT: an output file or folder cannot be made
    no_perm = 77,      // EX_NOPERM: the tool refused for lack of permission
    config = 78,       // EX_CONFIG: configuration error
};

/// Runs the command line; returns the process exit code. `exe` is the path of the running
/// executable, used to find the bundled plugins at ../lib/toolhost/plugins.
int run(const std::vector<std::string>& args, const std::filesystem::path& exe, std::ostream& out, std::ostream& err);

}  // namespace toolhost::cli
