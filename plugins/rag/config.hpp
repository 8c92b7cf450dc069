// The rag tool's configuration ("tools": {"rag": {"config": {...}}}), read once in initialize().
#pragma once

#include "chunker.hpp"

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace toolhost::plugins::rag {

struct rag_config {
    std::vector<std::filesystem::path> allowed_dirs;
    std::vector<std::filesystem::path> index_on_start;
    chunk_options chunking;
    uint64_t max_file_bytes = 16 * 1024 * 1024;
    int busy_timeout_ms = 5000;
};

/// Reads the configuration (already validated against schemas::config by the host); throws
/// INVALID_ARGUMENT naming the key for what a schema cannot express. The defaults of
/// allowed_dirs and index_on_start include `sample_dir` when it is not empty.
rag_config read_config(std::string_view json, const std::filesystem::path& data_dir,
                       const std::filesystem::path& sample_dir);

}  // namespace toolhost::plugins::rag
