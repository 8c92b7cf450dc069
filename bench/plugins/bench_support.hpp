#pragma once
// Shared by the bundled tools' benchmarks: a scratch folder for their SQLite files.

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace toolhost::bench {

/// A fresh folder under $TMPDIR (or /tmp), removed with everything in it on destruction.
class scratch_dir {
public:
    explicit scratch_dir(const std::string& name) {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/toolhost-bench-" + name + "-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
        path = tmpl;
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;

    std::filesystem::path path;
};

}  // namespace toolhost::bench
