#include "config.hpp"

#include <toolhost_plugins/args.hpp>

namespace toolhost::plugins::attachment {

namespace fs = std::filesystem;

attachment_config read_config(std::string_view text, const fs::path& data_dir, const fs::path& sample_dir) {
    constexpr int64_t mib = 1024 * 1024;
    const args a(text, "config");
    attachment_config c;
    std::vector<fs::path> default_allowed{data_dir};
    if (!sample_dir.empty()) default_allowed.insert(default_allowed.begin(), sample_dir);
    c.allowed_dirs = a.path_list("allowed_dirs", std::move(default_allowed));
    c.max_bytes = static_cast<uint64_t>(a.int_or("max_bytes", 20 * mib, 1, 1024 * mib));
    c.max_text_chars = a.int_or("max_text_chars", 200000, 1, 100000000);
    c.index_by_default = a.bool_or("index_by_default", false);
    c.index_tool = a.string_or("index_tool", "rag");
    return c;
}

}  // namespace toolhost::plugins::attachment
