#include "config.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/http_client.hpp>
#include <toolhost_plugins/paths.hpp>
#include <toolhost_plugins/sample.hpp>

namespace toolhost::plugins::crm {

namespace {

rest_backend::options rest_options_of(const args& cfg) {
    auto rest = cfg.optional_object("rest");
    if (!rest) invalid_argument("config/rest", "is required when backend is rest");
    const args r(*rest);
    rest_backend::options o;
    o.base_url = r.required_string("base_url");
    o.bearer_token = http::bearer_token(r, "config/rest");
    o.connect_timeout = std::chrono::milliseconds(r.int_or("connect_timeout_ms", 2000, 1, 600000));
    o.request_timeout = std::chrono::milliseconds(r.int_or("request_timeout_ms", 10000, 1, 600000));
    o.ca_file = r.string_or("ca_file", "");
    return o;
}

}  // namespace

crm_config read_config(std::string_view json, const std::optional<std::string>& database_url) {
    const args cfg(json, "config");
    crm_config c;
    c.country_code = cfg.string_or("default_country_code", "");
    if (!c.country_code.empty() && (c.country_code.size() > 3 || c.country_code.front() == '0' ||
                                    c.country_code.find_first_not_of("0123456789") != std::string::npos))
        invalid_argument("config/default_country_code", "must be 1 to 3 digits, e.g. \"1\" or \"44\"");
    const std::string kind = cfg.string_or("backend", "database");
    if (kind == "rest") {
        for (const char* key : {"storage", "storage_connections"})
            if (cfg.has(key))
                invalid_argument(std::string("config/") + key,
                                 "is for the tool's own database, and backend is rest (leave one out)");
        c.rest = true;
        c.rest_options = rest_options_of(cfg);
    } else if (kind == "database" || kind == "sqlite") {
        // The tool's own database: SQLite unless storage or TOOLHOST_DATABASE_URL name a
        // PostgreSQL one. "sqlite" is its older name, from before that choice, still accepted.
        c.storage = storage::read(cfg, database_url, {"busy_timeout_ms"}, "crm", "config/");
        c.sqlite_options = sqlite::store_options_of(cfg, paths::next_to_plugin("crm/sample/customers.json"));
    } else {
        invalid_argument("config/backend", "must be database or rest, got '" + kind + "'");
    }
    return c;
}

}  // namespace toolhost::plugins::crm
