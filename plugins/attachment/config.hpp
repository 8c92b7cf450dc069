// The attachment tool's configuration ("tools": {"attachment": {"config": {...}}}), read once in
// initialize().
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::attachment {

struct attachment_config {
    std::vector<std::filesystem::path> allowed_dirs;
    uint64_t max_bytes = 20 * 1024 * 1024;
    int64_t max_text_chars = 200000;
    bool index_by_default = false;
    std::string index_tool = "rag";
};

/// Reads the configuration (already validated against schemas::config by the host). The
/// default of allowed_dirs is `sample_dir` (when not empty) and `data_dir`.
attachment_config read_config(std::string_view json, const std::filesystem::path& data_dir,
                              const std::filesystem::path& sample_dir);

}  // namespace toolhost::plugins::attachment
