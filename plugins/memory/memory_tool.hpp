// The "memory" tool: conversation memory per session, stored in SQLite (WAL) with an FTS5 index.
//
// Operations: store, recall, list, get, forget, prune (docs/tools/memory.md). The tool is
// thread-safe: the configuration is fixed after initialize(), and every call leases its own
// SQLite connection from a pool, so calls run concurrently; SQLite's locking (BEGIN IMMEDIATE
// plus a busy timeout) orders writers, here and in other processes on the same file alike.
#pragma once

#include "config.hpp"

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/connection_pool.hpp>
#include <toolhost_plugins/json_operation.hpp>

#include <boost/json/object.hpp>

#include <memory>

namespace toolhost::plugins::memory {

class memory_tool {
public:
    explicit memory_tool(sdk::host host) : host_(host) {}

    static const json_table<memory_tool>& table();
    /// Reads the configuration, opens (creating or migrating) the database, seeds the sample.
    void initialize(sdk::init_context& init);
    void cleanup();
    /// Names the database file in the SQLite errors of every operation.
    void error_context(std::string_view operation, const sdk::error& e) const;

private:
    boost::json::object store(const args& a, const sdk::call_context& call);
    boost::json::object recall(const args& a, const sdk::call_context& call);
    boost::json::object list(const args& a, const sdk::call_context& call);
    boost::json::object get(const args& a, const sdk::call_context& call);
    boost::json::object forget(const args& a, const sdk::call_context& call);
    boost::json::object prune(const args& a, const sdk::call_context& call);

    /// A connection whose busy timeout never outlasts the call's deadline.
    sqlite::connection_pool::lease connect(const sdk::call_context& call);
    void seed_sample(sqlite::database& db);

    sdk::host host_;
    memory_config config_;
    std::unique_ptr<sqlite::connection_pool> pool_;
};

}  // namespace toolhost::plugins::memory
