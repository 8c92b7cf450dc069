#pragma once
// serve::cluster on PostgreSQL (serve.database, TOOLHOST_DATABASE_URL): the hosts behind one load
// balancer share the 2025-era MCP sessions in the table toolhost_sessions and announce tool list
// changes on the channel toolhost_tools (NOTIFY/LISTEN). docs/deployment.md.
//
// Schema (versioned in toolhost_migrations, component "serve", under its advisory lock):
//   toolhost_sessions(id text primary key, client text, state jsonb, owner text, used_at timestamptz)
// Every statement is bounded (a database that does not answer fails the call after a few
// seconds); LISTEN holds one connection of its own, opened again after a failure.
#include <toolhost/serve/cluster.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace toolhost::cli {

/// A serve::cluster on the PostgreSQL database at `url`, made by open_postgres_cluster().
/// Connects and migrates at once: throws a toolhost::sdk::error (UNAVAILABLE when the database
/// cannot be reached) whose message names the database, never the password.
std::shared_ptr<serve::cluster> open_postgres_cluster(const std::string& url, const std::string& node,
                                                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// "postgresql host:port/database" for `url`, never its password (INVALID_ARGUMENT when libpq
/// cannot read it).
std::string describe_database(const std::string& url);

}  // namespace toolhost::cli
