// The REST CRM backend: the same operations against a CRM service speaking the JSON contract of
// docs/tools/crm.md ("REST backend contract"), through the plugins' HTTP client.
//
// Thread safety: immutable after construction; every call makes its own requests.
#pragma once

#include "model.hpp"

#include <toolhost_plugins/http_client.hpp>

#include <chrono>
#include <string>

namespace toolhost::plugins::crm {

class rest_backend final : public backend {
public:
    struct options {
        std::string base_url;  ///< e.g. "https://crm.example.com/api/v1" (no trailing slash needed)
        std::string bearer_token;
        std::chrono::milliseconds connect_timeout{2000};
        std::chrono::milliseconds request_timeout{10000};
        std::string ca_file;
    };

    /// Throws INVALID_ARGUMENT naming config/rest/base_url when it is not an http(s) URL.
    explicit rest_backend(options opts);

    boost::json::object get_customer(const customer_key& key, const sdk::call_context& call) override;
    customer_page search(const std::string& query, int64_t limit, int64_t offset,
                         const sdk::call_context& call) override;
    upsert_result upsert(const customer_update& update, const sdk::call_context& call) override;
    log_result log_interaction(const new_interaction& interaction, const sdk::call_context& call) override;
    boost::json::array recent_interactions(const std::string& customer_id, int64_t limit,
                                           const sdk::call_context& call) override;

private:
    std::string customer_url(const std::string& id) const;
    /// Sends, maps a non-2xx status to its error, and returns the response.
    http::response exchange(http::request req, const sdk::call_context& call) const;
    boost::json::object object_body(const http::response& res) const;
    std::optional<boost::json::object> find_by(std::string_view field, const std::string& value,
                                               const sdk::call_context& call) const;
    upsert_result put_customer(const std::string& id, const customer_update& update,
                               const sdk::call_context& call) const;

    std::string base_;
    http::client client_;
};

}  // namespace toolhost::plugins::crm
