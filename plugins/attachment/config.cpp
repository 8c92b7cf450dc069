#include "config.hpp"

#include <toolhost_plugins/args.hpp>

namespace toolhost::plugins::attachment {

namespace fs = std::filesystem;

attachment_config read_config(std::string_view text, const fs::path& data_dir, const fs::path& sample_dir) {
    constexpr int64_t mib = 1024 * 1024;
    const args a(text, "config");
    attachment_config c;
    if (a.has("allowed_dirs")) {
        for (auto& s : a.string_list("allowed_dirs")) c.allowed_dirs.emplace_back(std::move(s));
    } else {
        if (!sample_dir.empty()) c.allowed_dirs.push_back(sample_dir);
        c.allowed_dirs.push_back(data_dir);
    }
    c.max_bytes = static_cast<uint64_t>(a.int_or("max_bytes", 20 * mib, 1, 1024 * mib));
    c.max_text_chars = a.int_or("max_text_chars", 200000, 1, 100000000);
    c.index_by_default = a.bool_or("index_by_default", false);
    c.index_tool = a.string_or("index_tool", "rag");
    return c;
}

}  // namespace toolhost::plugins::attachment
