// A tool's SQLite store as its configuration describes it: the busy timeout, the sample data a
// tool puts into a new database (crm's customers, escalation's tickets, memory's demo session):
// whether the configuration wants it, seeding it exactly once, and opening a store that seeds
// its sample as it opens.
#pragma once

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/sqlite.hpp>

#include <boost/json/value.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::sqlite {

/// Whether a tool's configuration asks for its sample data: "sample_data", true by default.
/// "seed_sample", the memory tool's earlier name for it, is still read (deprecated); giving
/// both is an error.
bool sample_data_wanted(const args& config);

/// Whether the sample's marker is in `meta_table` (key TEXT PRIMARY KEY, value TEXT NOT NULL).
bool sample_seeded(database& db, std::string_view meta_table);

/// Seeds the sample once per database: in one write transaction, unless the marker is already
/// there, runs `insert` and stores the marker with the value `insert` returns. So deleting
/// sample records later never brings them back, a crash half-way leaves no half sample, and
/// two processes that start together seed once. Returns whether this call seeded.
bool seed_once(database& db, std::string_view meta_table, const std::function<std::string()>& insert);

/// How a tool's SQLite store opens.
struct store_options {
    int busy_timeout_ms = 5000;
    bool seed_sample = true;
    std::string sample_json;  ///< the sample's JSON text, when seed_sample
};

/// The "busy_timeout_ms" key of a SQLite tool's configuration: how long a statement waits for
/// another connection's lock, 0 to 600000 ms, 5000 when absent.
int busy_timeout_ms(const args& config);

/// A store's options from a tool's configuration: busy_timeout_ms, and sample_data (see
/// sample_data_wanted()); when the sample is wanted, `sample_file` (the JSON the plugin ships,
/// see paths::next_to_plugin) is read now, so a missing file fails initialize() naming
/// config/sample_data rather than the first call.
store_options store_options_of(const args& config, const std::filesystem::path& sample_file);

/// Opens (creating) the database at `file`, brings it to `migrations` (see migrate()), and when
/// options.seed_sample seeds the parsed sample once (see seed_once()) by calling `insert`; the
/// marker's value is "true".
database open_store(const std::filesystem::path& file, const store_options& options,
                    const std::vector<std::string_view>& migrations, std::string_view meta_table,
                    const std::function<void(database&, const boost::json::value&)>& insert);

}  // namespace toolhost::plugins::sqlite
