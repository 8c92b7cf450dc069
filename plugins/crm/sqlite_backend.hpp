// The embedded CRM backend: customers and interactions in one SQLite file (WAL), seeded once
// with the bundled sample data.
//
// Thread safety: one connection, every operation under the backend's mutex (operations are a few
// indexed statements each).
#pragma once

#include "model.hpp"

#include <toolhost_plugins/sample.hpp>
#include <toolhost_plugins/sqlite.hpp>

#include <filesystem>
#include <mutex>
#include <string_view>

namespace toolhost::plugins::crm {

class sqlite_backend final : public backend {
public:
    using options = sqlite::store_options;

    sqlite_backend(const std::filesystem::path& file, const options& opts);

    boost::json::object get_customer(const customer_key& key, const sdk::call_context& call) override;
    customer_page search(const std::string& query, int64_t limit, int64_t offset,
                         const sdk::call_context& call) override;
    upsert_result upsert(const customer_update& update, const sdk::call_context& call) override;
    log_result log_interaction(const new_interaction& interaction, const sdk::call_context& call) override;
    boost::json::array recent_interactions(const std::string& customer_id, int64_t limit,
                                           const sdk::call_context& call) override;

private:
    std::optional<boost::json::object> find(std::string_view column, std::string_view value);
    void check_unique(std::string_view column, const std::optional<std::string>& value, std::string_view own_id);
    std::string next_customer_id();
    boost::json::object insert_customer(const customer_update& update);
    bool update_customer(const boost::json::object& current, const customer_update& update);
    boost::json::object load_interaction(int64_t seq);
    static void insert_sample(sqlite::database& db, const boost::json::value& sample);

    std::mutex m_;
    sqlite::database db_;
};

}  // namespace toolhost::plugins::crm
