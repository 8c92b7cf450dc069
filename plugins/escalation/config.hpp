// The escalation tool's configuration ("tools": {"escalation": {"config": {...}}}), read once in
// initialize().
#pragma once

#include "notifier.hpp"
#include "rules.hpp"

#include <toolhost_plugins/sample.hpp>
#include <toolhost_plugins/storage.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace toolhost::plugins::escalation {

struct escalation_config {
    rule_config rules;
    /// Where the tickets live: SQLite (tickets.db in the tool's data folder), or the PostgreSQL
    /// database of "storage" or TOOLHOST_DATABASE_URL.
    storage::choice storage;
    /// busy_timeout_ms (SQLite only), and the sample's text when sample_data is on (both).
    sqlite::store_options store;
    std::optional<webhook_settings> webhook;
};

/// Reads the configuration (already validated against schemas::config by the host); throws
/// INVALID_ARGUMENT naming the key (config/...) for what a schema cannot express.
/// `database_url` is TOOLHOST_DATABASE_URL's value: the storage when there is no "storage" key.
escalation_config read_config(std::string_view json, const std::optional<std::string>& database_url = std::nullopt);

}  // namespace toolhost::plugins::escalation
