#pragma once
// Shared by the bundled tools' benchmarks: a scratch folder for their SQLite files.

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <cmath>
#include <random>

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

// Sentences of 12 words from a 2000-word vocabulary with a Zipf-like spread, from a fixed seed:
// text for the tools that store and search it (bench_memory, bench_storage).
class sentences {
public:
    std::string next() {
        std::string s;
        for (int i = 0; i < 12; ++i) {
            if (i) s += ' ';
            s += 'w';
            s += std::to_string(static_cast<int>(std::pow(dist_(rng_), 3.0) * 2000));
        }
        return s;
    }

private:
    std::mt19937 rng_{42};
    std::uniform_real_distribution<double> dist_{0.0, 1.0};
};

}  // namespace toolhost::bench
