// The rag tool's configuration ("tools": {"rag": {"config": {...}}}), read once in initialize().
#pragma once

#include "chunker.hpp"

#include <toolhost_plugins/storage.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::rag {

struct rag_config {
    /// Where the documents live: the embedded SQLite file (<data_dir>/rag/rag.db), or the
    /// PostgreSQL database of the "storage" key or, when the configuration has none,
    /// TOOLHOST_DATABASE_URL.
    storage::choice storage;
    std::vector<std::filesystem::path> allowed_dirs;
    std::vector<std::filesystem::path> index_on_start;
    chunk_options chunking;
    uint64_t max_file_bytes = 16 * 1024 * 1024;
    int busy_timeout_ms = 5000;  ///< SQLite only
};

/// Reads the configuration (already validated against schemas::config by the host); throws
/// INVALID_ARGUMENT naming the key for what a schema cannot express. The defaults of
/// allowed_dirs and index_on_start include `sample_dir` when it is not empty and "sample_data" is
/// not false. `database_url` is TOOLHOST_DATABASE_URL's value (nullopt or empty when unset): the
/// storage when the configuration has no "storage" key.
rag_config read_config(std::string_view json, const std::filesystem::path& data_dir,
                       const std::filesystem::path& sample_dir,
                       const std::optional<std::string>& database_url = std::nullopt);

}  // namespace toolhost::plugins::rag
