// The crm tool's configuration ("tools": {"crm": {"config": {...}}}), read once in initialize().
#pragma once

#include "rest_backend.hpp"
#include "sqlite_backend.hpp"

#include <toolhost_plugins/storage.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace toolhost::plugins::crm {

struct crm_config {
    std::string country_code;  ///< default_country_code: "" or 1 to 3 digits
    bool rest = false;         ///< backend "rest"; otherwise the tool's own database
    rest_backend::options rest_options;
    /// The tool's own database (backend "sqlite", the default): SQLite (crm.db in the tool's data
    /// folder), or the PostgreSQL database of "storage" or TOOLHOST_DATABASE_URL.
    storage::choice storage;
    /// busy_timeout_ms (SQLite only), and the sample's text when sample_data is on (both).
    sqlite_backend::options sqlite_options;
};

/// Reads the configuration (already validated against schemas::config by the host); throws
/// INVALID_ARGUMENT naming the key (config/...) for what a schema cannot express.
/// `database_url` is TOOLHOST_DATABASE_URL's value: the storage when there is no "storage" key
/// (a REST backend ignores it).
crm_config read_config(std::string_view json, const std::optional<std::string>& database_url = std::nullopt);

}  // namespace toolhost::plugins::crm
