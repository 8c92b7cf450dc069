// The memory tool's configuration ("tools": {"memory": {"config": {...}}}), read once in
// initialize() and never changed afterwards, so concurrent calls read it without a lock.
#pragma once

#include "ranking.hpp"

#include <toolhost_plugins/sqlite.hpp>
#include <toolhost_plugins/storage.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost::plugins::memory {

struct memory_config {
    /// Where the memories live: the embedded SQLite file (`database`), or the PostgreSQL
    /// database of the "storage" key or, when the configuration has none, TOOLHOST_DATABASE_URL.
    storage::choice storage;

    // SQLite only.
    std::filesystem::path database;  ///< absolute, or relative to the current directory
    /// FULL by default: a stored memory is something an agent has told its user it will
    /// remember, so an acknowledged store must survive a power cut, not only a killed process
    /// (which NORMAL in WAL mode already survives). The price is one fsync of the WAL per store.
    sqlite::synchronous sync = sqlite::synchronous::full;
    int busy_timeout_ms = 5000;

    // Every backend.
    double half_life_ms = 7.0 * 24 * 3600 * 1000;
    weights blend;
    int64_t max_per_session = 10000;  ///< prune keeps at most this many per session; 0: no cap
    size_t max_content_bytes = 32768;
    size_t recall_candidates = 1000;  ///< best FTS matches that a recall with a query re-ranks
    bool sample_data = true;
    /// The sample to seed from: the configured file, or the one installed next to the plugin.
    std::filesystem::path sample_file;
    bool sample_file_configured = false;  ///< a configured file must exist; the default may not
};

/// Reads the configuration object (already validated against schemas::config by the host);
/// throws INVALID_ARGUMENT naming the key for what a schema cannot express. `data_dir` is the
/// folder the host made for the tool; a relative "database" lives there. `database_url` is
/// TOOLHOST_DATABASE_URL's value (nullopt or empty when unset): the storage when the
/// configuration has no "storage" key.
memory_config read_config(std::string_view config_json, const std::filesystem::path& data_dir,
                          const std::optional<std::string>& database_url = std::nullopt);

/// Where the sample ships: <folder of memory.so>/memory/sample/demo.json. Empty if the
/// library's own path cannot be found.
std::filesystem::path default_sample_file();

/// Bytes of metadata a memory may carry (serialized JSON).
inline constexpr size_t max_metadata_bytes = 16384;

}  // namespace toolhost::plugins::memory
