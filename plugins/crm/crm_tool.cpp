// The "crm" tool: customers and their interactions, in the tool's own database (an embedded
// SQLite file by default, with sample data, or a PostgreSQL database that several hosts share) or
// in a CRM service behind the REST contract of docs/tools/crm.md. Arguments are checked and
// normalized here, once, so every backend sees (and returns) the same values.
//
// Thread safety: thread_safe = true. The backend is chosen in initialize() and is itself
// thread-safe (SQLite: a mutex-guarded connection; PostgreSQL: a connection per call from a pool;
// REST: an immutable HTTP client).
//
// upsert and log_interaction are idempotent, so the host may retry them: upsert converges to the
// same record; log_interaction takes an idempotency key (default: the call's request id) and
// returns the interaction stored earlier under that key instead of logging a second one.
#include "config.hpp"
#include "model.hpp"
#include "schemas.hpp"
#if TOOLHOST_CRM_POSTGRESQL
#include "postgres_backend.hpp"
#endif

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/json_operation.hpp>
#include <toolhost_plugins/storage.hpp>
#include <toolhost_plugins/text.hpp>

#include <boost/json.hpp>

#include <initializer_list>
#include <filesystem>
#include <memory>

namespace toolhost::plugins::crm {
namespace {

namespace json = boost::json;

bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (size_t i = 0; i < id.size(); ++i) {
        const char c = id[i];
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != ':' && c != '-'))) return false;
    }
    return true;
}

std::string customer_id_arg(const args& a, std::string_view field) {
    std::string id = a.required_string(field);
    if (!valid_id(id))
        invalid_argument(field,
                         "'" + id.substr(0, 80) + "' is not a customer id (letters, digits and . _ : -, at most 64)");
    return id;
}

std::string not_blank(std::string value, std::string_view field) {
    if (value.find_first_not_of(" \t\r\n") == std::string::npos) invalid_argument(field, "must not be blank");
    return value;
}

std::string one_of(const args& a, std::string_view field, std::initializer_list<std::string_view> allowed) {
    std::string value = a.required_string(field);
    std::string list;
    for (auto v : allowed) {
        if (v == value) return value;
        list += list.empty() ? "" : ", ";
        list += v;
    }
    invalid_argument(field, "must be one of " + list);
}

// Search words are ANDed; more than this is a sentence, not a search.
constexpr size_t max_query_words = 8;

// The tool's own database: SQLite (crm.db in the data folder), or PostgreSQL when the configuration
// or TOOLHOST_DATABASE_URL names one.
std::unique_ptr<backend> open_database(const crm_config& config, const std::filesystem::path& data_dir) {
    if (!config.storage.postgresql())
        return std::make_unique<sqlite_backend>(data_dir / "crm.db", config.sqlite_options);
#if TOOLHOST_CRM_POSTGRESQL
    postgres::check_url(config.storage.url, config.storage.origin);
    std::optional<sample_rows> sample;
    if (config.sqlite_options.seed_sample) sample = read_sample(json::parse(config.sqlite_options.sample_json));
    // Start-up has no call deadline; this bounds the wait for the server and for another host's
    // migration of the same database.
    return std::make_unique<postgres_backend>(config.storage.url, config.storage.connections, sample,
                                              std::chrono::steady_clock::now() + std::chrono::seconds(60));
#else
    storage::no_postgresql_support(config.storage, "crm");
#endif
}

class crm_tool {
public:
    explicit crm_tool(sdk::host host) : host_(host) {}

    static const json_table<crm_tool>& table();

    void initialize(sdk::init_context& init) {
        crm_config config = read_config(init.config(), storage::database_url_from_environment());
        country_code_ = config.country_code;
        if (config.rest) {
            const std::string url = config.rest_options.base_url;
            backend_ = std::make_unique<rest_backend>(std::move(config.rest_options));
            host_.log(sdk::log_level::info, "customers come from " + url);
        } else {
            backend_ = open_database(config, std::filesystem::path(init.data_dir()));
        }
    }

    void cleanup() { backend_.reset(); }

    /// Names the database (PostgreSQL: its host, port and name) in the storage errors of every
    /// operation.
    void error_context(std::string_view operation, const sdk::error& e) const {
        if (backend_) backend_->error_context(operation, e);
    }

private:
    // The operations, in the order of the table.
    json::object get_customer(const args& a, const sdk::call_context& call) {
        return json::object{{"customer", backend_->get_customer(key_of(a), call)}};
    }

    customer_key key_of(const args& a) const {
        const int given = (a.has("id") ? 1 : 0) + (a.has("email") ? 1 : 0) + (a.has("phone") ? 1 : 0);
        if (given != 1) invalid_argument("id|email|phone", "give exactly one of id, email, phone");
        if (a.has("id")) return {customer_key::kind::id, customer_id_arg(a, "id")};
        if (a.has("email")) return {customer_key::kind::email, normalize_email(a.required_string("email"))};
        return {customer_key::kind::phone, normalize_phone(a.required_string("phone"), country_code_)};
    }

    json::object search(const args& a, const sdk::call_context& call) {
        const std::string query = a.string_or("query", "");
        if (text::words(query).size() > max_query_words)
            invalid_argument("query", "at most " + std::to_string(max_query_words) + " words");
        const int64_t limit = a.int_or("limit", 20, 1, 100);
        const int64_t offset = a.int_or("offset", 0, 0, INT64_MAX);
        auto page = backend_->search(query, limit, offset, call);
        const int64_t next = offset + static_cast<int64_t>(page.customers.size());
        return json::object{{"customers", std::move(page.customers)},
                            {"total", page.total},
                            {"next_offset", next < page.total ? json::value(next) : json::value(nullptr)}};
    }

    // A field of the upsert: absent, null (clear) or a value, normalized by `clean`.
    template <class Clean>
    field_update field(const args& a, std::string_view name, bool clearable, Clean&& clean) const {
        field_update f;
        const auto* v = a.object().if_contains(name);
        if (v == nullptr) return f;
        f.present = true;
        if (v->is_null()) {
            if (!clearable) invalid_argument(name, "cannot be cleared");
            return f;
        }
        f.value = clean(a.required_string(name));
        return f;
    }

    json::object upsert(const args& a, const sdk::call_context& call) {
        customer_update u;
        if (a.has("id")) u.id = customer_id_arg(a, "id");
        auto keep = [](std::string s) { return s; };
        u.name = field(a, "name", false, [](std::string s) { return not_blank(std::move(s), "name"); });
        u.email = field(a, "email", true, [](const std::string& s) { return normalize_email(s); });
        u.phone = field(a, "phone", true, [this](const std::string& s) { return normalize_phone(s, country_code_); });
        u.company = field(a, "company", true, keep);
        u.tier = field(a, "tier", false, [](std::string s) { return not_blank(std::move(s), "tier"); });
        u.notes = field(a, "notes", true, keep);
        if (!u.id && !u.email.value)
            invalid_argument("email", "is required when there is no id (the e-mail address identifies the customer)");
        auto r = backend_->upsert(u, call);
        if (const auto* id = r.customer.if_contains("id"); id != nullptr && id->is_string())
            host_.resource_updated(customer_uri(id->get_string()));
        return json::object{{"customer", std::move(r.customer)}, {"created", r.created}};
    }

    json::object log_interaction(const args& a, const sdk::call_context& call) {
        new_interaction in;
        in.customer_id = customer_id_arg(a, "customer_id");
        in.channel = one_of(a, "channel", {"email", "phone", "chat", "web", "social", "in_person", "other"});
        in.summary = not_blank(a.required_string("summary"), "summary");
        in.outcome = one_of(a, "outcome", {"resolved", "unresolved", "escalated", "follow_up", "informational"});
        if (auto t = a.optional_string("occurred_at")) in.occurred_at = normalize_time(*t);
        in.idempotency_key = a.optional_string("idempotency_key");
        if (!in.idempotency_key && !call.request_id().empty()) in.idempotency_key = std::string(call.request_id());
        auto r = backend_->log_interaction(in, call);
        if (r.created) host_.resource_updated(customer_uri(in.customer_id));  // its recent interactions
        return json::object{{"interaction", std::move(r.interaction)}, {"created", r.created}};
    }

    static constexpr std::string_view customer_prefix = "crm://customers/";
    static std::string customer_uri(std::string_view id) { return std::string(customer_prefix) + std::string(id); }

    // A customer as an MCP resource: crm://customers/<id>, the record and its latest
    // interactions as JSON (resource_read role; the template lets clients build the URI). Upserts
    // and new interactions tell the clients that watch it (resource_updated).
    json::object read_customer(const args& a, const sdk::call_context& call) {
        constexpr std::string_view prefix = customer_prefix;
        const std::string uri = a.required_string("uri");
        const std::string_view id = std::string_view(uri).substr(std::min(uri.size(), prefix.size()));
        if (!std::string_view(uri).starts_with(prefix) || id.empty() || id.find('/') != std::string_view::npos)
            throw sdk::error(sdk::status::not_found, "no customer resource " + uri + " (crm://customers/<id>)");
        json::object customer = backend_->get_customer({customer_key::kind::id, std::string(id)}, call);
        json::object doc{{"customer", std::move(customer)},
                         {"recent_interactions", backend_->recent_interactions(std::string(id), 5, call)}};
        return json::object{
            {"contents", json::array{json::object{
                             {"uri", uri}, {"mimeType", "application/json"}, {"text", toolhost::json_text(doc)}}}}};
    }

    json::object recent_interactions(const args& a, const sdk::call_context& call) {
        const std::string id = customer_id_arg(a, "customer_id");
        const int64_t limit = a.int_or("limit", 10, 1, 100);
        return json::object{{"customer_id", id}, {"interactions", backend_->recent_interactions(id, limit, call)}};
    }

    sdk::host host_;
    std::string country_code_;
    std::unique_ptr<backend> backend_;
};

const json_table<crm_tool>& crm_tool::table() {
    constexpr uint64_t query =
        TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY | TOOLHOST_OPERATION_CANCELLABLE;
    static const json_table<crm_tool> t{
        .name = "crm",
        .version = "1.0.0",
        .description =
            "Customers and their interactions: look up, search, create or update, log and list "
            "(SQLite with sample data, a PostgreSQL database shared by several hosts, or a CRM service over "
            "REST).",
        .config_schema = schemas::config,
        .thread_safe = true,
        .operations =
            {
                {.name = "get_customer",
                 .description = "Finds one customer by exactly one of id, email or phone (phone numbers are "
                                "normalized before matching).",
                 .input_schema = schemas::get_customer_input,
                 .output_schema = schemas::get_customer_output(),
                 .flags = query,
                 .run = {&crm_tool::get_customer}},
                {.name = "search",
                 .description = "Customers whose name, e-mail address or company contain every word of the "
                                "query, by name, a page at a time.",
                 .input_schema = schemas::search_input,
                 .output_schema = schemas::search_output(),
                 .flags = query,
                 .run = {&crm_tool::search}},
                {.name = "upsert",
                 .description = "Creates or updates a customer, found by id, or by email without an id. Absent "
                                "fields stay; null clears email, phone, company or notes.",
                 .input_schema = schemas::upsert_input,
                 .output_schema = schemas::upsert_output(),
                 .flags =
                     TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_DESTRUCTIVE | TOOLHOST_OPERATION_CANCELLABLE,
                 .run = {&crm_tool::upsert}},
                {.name = "log_interaction",
                 .description = "Records a contact with a customer (channel, summary, outcome). Idempotent: the "
                                "same idempotency_key (default: the request id) returns the same interaction.",
                 .input_schema = schemas::log_interaction_input,
                 .output_schema = schemas::log_interaction_output(),
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_CANCELLABLE,
                 .run = {&crm_tool::log_interaction}},
                {.name = "recent_interactions",
                 .description = "A customer's latest interactions, newest first.",
                 .input_schema = schemas::recent_interactions_input,
                 .output_schema = schemas::recent_interactions_output(),
                 .flags = query,
                 .run = {&crm_tool::recent_interactions}},
                {.name = "read_customer",
                 .description = "A customer and their latest interactions, as the MCP resource "
                                "crm://customers/<id>.",
                 .input_schema = schemas::read_customer_input,
                 .output_schema = {},
                 .flags = query,
                 .run = {&crm_tool::read_customer},
                 .role = R"({"role":"resource_read","uris":["crm://customers/"],"templates":[{)"
                         R"("uriTemplate":"crm://customers/{id}","name":"customer","title":"A customer",)"
                         R"("description":"A customer record and their five latest interactions (id: C-1001).",)"
                         R"("mimeType":"application/json"}]})"},
            },
    };
    return t;
}

}  // namespace
}  // namespace toolhost::plugins::crm

TOOLHOST_PLUGIN("crm", "1.0.0", toolhost::plugins::crm::crm_tool)
