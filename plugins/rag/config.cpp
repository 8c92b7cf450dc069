#include "config.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/sample.hpp>

namespace toolhost::plugins::rag {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t mib = 1024 * 1024;

}  // namespace

rag_config read_config(std::string_view text, const fs::path& data_dir, const fs::path& sample_dir,
                       const std::optional<std::string>& database_url) {
    const args a(text, "config");
    rag_config c;
    // busy_timeout_ms makes no sense next to a "storage" URL in the same object.
    c.storage = storage::read(a, database_url, {"busy_timeout_ms"}, "rag", "config/");
    std::vector<fs::path> defaults_allowed{data_dir};
    std::vector<fs::path> defaults_start;
    if (!sample_dir.empty() && a.bool_or("sample_data", true)) {
        defaults_allowed.insert(defaults_allowed.begin(), sample_dir);
        defaults_start.push_back(sample_dir);
    }
    c.allowed_dirs = a.path_list("allowed_dirs", defaults_allowed);
    c.index_on_start = a.path_list("index_on_start", defaults_start);
    c.chunking.size = static_cast<size_t>(a.int_or("chunk_size", 1000, 100, 20000));
    c.chunking.overlap = static_cast<size_t>(a.int_or("chunk_overlap", 150, 0, 10000));
    if (c.chunking.overlap * 2 > c.chunking.size)
        invalid_argument("chunk_overlap", "must be at most half of chunk_size (" + std::to_string(c.chunking.size) +
                                              "), got " + std::to_string(c.chunking.overlap));
    c.max_file_bytes = static_cast<uint64_t>(a.int_or("max_file_bytes", 16 * mib, 1, 1024 * mib));
    c.busy_timeout_ms = sqlite::busy_timeout_ms(a);
    return c;
}

}  // namespace toolhost::plugins::rag
