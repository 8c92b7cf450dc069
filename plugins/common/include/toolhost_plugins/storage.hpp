// Where a stateful tool keeps its data, as its configuration says: the embedded SQLite file (the
// default), or a PostgreSQL database that several hosts share. Read the same way by every tool
// that offers both (escalation, crm): the "storage" key ("sqlite" or a postgresql:// URL), else
// the environment variable TOOLHOST_DATABASE_URL, else SQLite. Needs no libpq: a build without it
// reads the choice and refuses a PostgreSQL storage with a message that says what is missing.
#pragma once

#include <toolhost_plugins/args.hpp>

#include <toolhost/plugin.hpp>

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost::plugins::storage {

/// The environment variable that holds the default storage when a configuration says nothing.
inline constexpr const char* database_url_variable = "TOOLHOST_DATABASE_URL";

using deadline = std::chrono::steady_clock::time_point;

/// The connections a tool keeps to a PostgreSQL storage on one host, at most, unless its
/// "storage_connections" says otherwise (docs/deployment.md sizes max_connections from it).
inline constexpr size_t default_connections = 8;
/// The most "storage_connections" may ask for.
inline constexpr size_t max_connections = 1000;

/// A tool's storage.
struct choice {
    /// Empty for the embedded SQLite storage, else a postgresql:// (or postgres://) URL.
    std::string url;
    /// Where url came from, for messages: "<prefix>storage" or "TOOLHOST_DATABASE_URL".
    std::string origin;
    /// For a PostgreSQL storage: how many connections the tool keeps to it on this host, at most.
    size_t connections = default_connections;

    bool postgresql() const noexcept { return !url.empty(); }
};

/// TOOLHOST_DATABASE_URL's value; nullopt when it is unset.
std::optional<std::string> database_url_from_environment();

/// The storage `config` chooses: its "storage" key ("sqlite", or a postgresql:// URL), else
/// `database_url` (TOOLHOST_DATABASE_URL's value; unset or empty: none), else SQLite. Keys of
/// `sqlite_keys` that `config` has next to a "storage" URL are INVALID_ARGUMENT naming the key (they
/// cannot apply), while a URL from the variable overrides them silently, so that one configuration
/// file serves a single host and, with the variable set on every host, a fleet. In the same way
/// "storage_connections" (1 to max_connections) is INVALID_ARGUMENT next to "storage": "sqlite"
/// and ignored when SQLite is the default. `prefix` starts every key in messages ("config/");
/// `tool` names the tool in them.
choice read(const args& config, const std::optional<std::string>& database_url,
            std::initializer_list<std::string_view> sqlite_keys, std::string_view tool, std::string_view prefix = {});

/// FAILED_PRECONDITION naming `c.origin`: a PostgreSQL storage asked of a build of `tool` without
/// libpq, with what to install.
[[noreturn]] void no_postgresql_support(const choice& c, std::string_view tool);

/// The call's deadline as a time point (the far future when it has none): what a repository
/// waits for a lock or the network at most.
deadline deadline_of(const sdk::call_context& call);

}  // namespace toolhost::plugins::storage
