// The crm tool (plugins/crm), loaded from its .so through the real host, with both backends:
// SQLite in a temporary folder, and REST against a CRM service on loopback that this file
// implements from the contract in docs/tools/crm.md (in memory, seeded with the same sample).
// The same scenario runs on both backends and must give the same results; then the tool's own
// rules (keys, normalization, resources), what is SQLite's own (a locked, a corrupt file) and the
// REST backend's concerns: HTTP statuses, timeouts, retries. The tool's own database (SQLite and
// PostgreSQL alike: upserts, idempotent logs, searches, races) is test_crm_storage.cpp's contract.
#define BOOST_TEST_MODULE crm
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>

#include "crm_scenario.hpp"
#include "http_server.hpp"
#include "test_support.hpp"
#include "tool_env.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <future>
#include <map>
#include <mutex>
#include <set>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace toolhost;
using toolhost::test::failed;
using toolhost::test::gate;
using toolhost::test::http_request;
using toolhost::test::http_response;
using toolhost::test::http_server;
using toolhost::test::ok;
using toolhost::test::refused_port;
using toolhost::test::temp_dir;
using toolhost::test::crm::now_text;
using toolhost::test::crm::run_scenario;
using toolhost::test::crm::scenario;

namespace {

using toolhost::test::contains;
using toolhost::test::with_request_id;

std::string lower(std::string s) {
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// ------------------------------------------------------------------- the CRM service (REST contract)

http_response error(int status, const std::string& message) {
    return http_response::json(status, {{"error", {{"message", message}}}});
}

// The REST contract of docs/tools/crm.md, kept in memory, seeded from plugins/crm/sample. It is a
// real HTTP service for the plugin: every rule here is one the contract states.
class crm_service {
public:
    explicit crm_service(std::string token) : token_(std::move(token)) {
        const auto sample = json::parse(toolhost::test::read_file(TOOLHOST_CRM_SAMPLE));
        for (const auto& v : sample.at("customers").as_array()) {
            json::object c = v.as_object();
            if (c.at("phone").is_string()) c["phone"] = e164(std::string(c.at("phone").as_string()));
            c["updated_at"] = c.at("created_at");
            customers_.push_back(std::move(c));
        }
        for (const auto& v : sample.at("interactions").as_array()) {
            json::object i = v.as_object();
            i["id"] = "I-" + std::to_string(interactions_.size() + 1);
            i["idempotency_key"] = nullptr;
            i["created_at"] = i.at("occurred_at");
            interactions_.push_back(std::move(i));
        }
    }

    /// The next POST /customers with this e-mail address finds the address taken by a customer
    /// created "meanwhile" by someone else, and answers 409 (the plugin's upsert race).
    void race_on_create(std::string email) {
        std::lock_guard l(m_);
        race_email_ = std::move(email);
    }

    http_response operator()(const http_request& r) {
        if (r.header("Authorization").value_or("") != "Bearer " + token_) return error(401, "missing or wrong token");
        std::lock_guard l(m_);
        try {
            return route(r);
        } catch (const std::exception& e) {
            return error(400, std::string("bad request: ") + e.what());
        }
    }

private:
    static std::string e164(const std::string& phone) {
        std::string out;
        for (char c : phone)
            if ((c >= '0' && c <= '9') || (c == '+' && out.empty())) out += c;
        return out;
    }

    http_response route(const http_request& r) {
        const std::string path = r.path();
        if (!path.starts_with("/api/customers")) return error(404, "no route " + path);
        std::vector<std::string> parts;
        for (size_t pos = std::string("/api/").size(); pos <= path.size();) {
            const auto slash = path.find('/', pos);
            parts.push_back(path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
            if (slash == std::string::npos) break;
            pos = slash + 1;
        }
        if (parts.size() == 1 && r.method == "GET") return list(r);
        if (parts.size() == 1 && r.method == "POST") return create(r.json().as_object());
        if (parts.size() == 2 && r.method == "GET") {
            auto* c = find("id", parts[1]);
            return c ? http_response::json(200, *c) : error(404, "customer '" + parts[1] + "' not found");
        }
        if (parts.size() == 2 && r.method == "PUT") return put(parts[1], r.json().as_object());
        if (parts.size() == 3 && parts[2] == "interactions" && r.method == "POST") return log(parts[1], r);
        if (parts.size() == 3 && parts[2] == "interactions" && r.method == "GET") return recent(parts[1], r);
        return error(405, r.method + " " + path + " is not part of the contract");
    }

    json::object* find(std::string_view key, std::string_view value) {
        for (auto& c : customers_)
            if (c.at(key).is_string() && c.at(key).as_string() == value) return &c;
        return nullptr;
    }

    http_response list(const http_request& r) {
        json::array out;
        if (auto email = r.query("email")) {
            if (auto* c = find("email", *email)) out.push_back(*c);
            return http_response::json(200, {{"customers", out}, {"total", out.size()}});
        }
        if (auto phone = r.query("phone")) {
            if (auto* c = find("phone", *phone)) out.push_back(*c);
            return http_response::json(200, {{"customers", out}, {"total", out.size()}});
        }
        std::vector<std::string> words;
        std::istringstream in(lower(r.query("q").value_or("")));
        for (std::string w; in >> w;) words.push_back(w);
        std::vector<const json::object*> hits;
        for (const auto& c : customers_) {
            std::string text;
            for (auto key : {"name", "email", "company"})
                if (c.at(key).is_string()) text += lower(std::string(c.at(key).as_string())) + "\n";
            if (std::all_of(words.begin(), words.end(), [&](const auto& w) { return contains(text, w); }))
                hits.push_back(&c);
        }
        std::sort(hits.begin(), hits.end(), [](const json::object* a, const json::object* b) {
            const auto na = lower(std::string(a->at("name").as_string())),
                       nb = lower(std::string(b->at("name").as_string()));
            return na != nb ? na < nb : a->at("id").as_string() < b->at("id").as_string();
        });
        const size_t offset = std::stoul(r.query("offset").value_or("0"));
        const size_t limit = std::stoul(r.query("limit").value_or("20"));
        for (size_t i = offset; i < hits.size() && i < offset + limit; ++i) out.push_back(*hits[i]);
        return http_response::json(200, {{"customers", out}, {"total", hits.size()}});
    }

    // Merge-patch semantics: absent fields stay, null clears. 409 when the e-mail address or
    // phone number belongs to another customer.
    std::optional<http_response> apply(json::object& c, const json::object& fields) {
        json::object next = c;
        for (const auto& [key, value] : fields) next[key] = value;
        if (!next.contains("name") || !next.at("name").is_string())
            return error(422, "name: is required to create a customer");
        for (auto key : {"email", "phone"}) {
            if (!next.at(key).is_string()) continue;
            auto* other = find(key, next.at(key).as_string());
            if (other && other->at("id") != next.at("id"))
                return error(
                    409, std::string(key) + " already belongs to customer " + std::string(other->at("id").as_string()));
        }
        if (!next.at("tier").is_string()) next["tier"] = "standard";
        if (next != c) {
            next["updated_at"] = now_text();
            c = std::move(next);
        }
        return std::nullopt;
    }

    json::object blank(std::string id) {
        const auto now = now_text();
        return json::object{{"id", std::move(id)}, {"name", nullptr},    {"email", nullptr},
                            {"phone", nullptr},    {"company", nullptr}, {"tier", nullptr},
                            {"notes", nullptr},    {"created_at", now},  {"updated_at", now}};
    }

    std::string next_id() {
        for (size_t n = customers_.size() + 1;; ++n) {
            std::string id = "C-" + std::to_string(1000 + n);
            if (!find("id", id)) return id;
        }
    }

    http_response create(const json::object& fields) {
        if (race_email_ && fields.contains("email") && fields.at("email") == json::value(*race_email_)) {
            auto raced = blank(next_id());
            raced["name"] = "Created meanwhile";
            raced["email"] = *race_email_;
            raced["tier"] = "standard";
            customers_.push_back(std::move(raced));
            race_email_.reset();
        }
        auto c = blank(next_id());
        if (auto failure = apply(c, fields)) return *failure;
        customers_.push_back(c);
        return http_response::json(201, c);
    }

    http_response put(const std::string& id, const json::object& fields) {
        if (auto* existing = find("id", id)) {
            if (auto failure = apply(*existing, fields)) return *failure;
            return http_response::json(200, *existing);
        }
        auto c = blank(id);
        if (auto failure = apply(c, fields)) return *failure;
        customers_.push_back(c);
        return http_response::json(201, c);
    }

    http_response log(const std::string& id, const http_request& r) {
        const auto body = r.json().as_object();
        const json::object fingerprint{
            {"customer_id", id},
            {"channel", body.at("channel")},
            {"summary", body.at("summary")},
            {"outcome", body.at("outcome")},
            {"occurred_at", body.contains("occurred_at") ? body.at("occurred_at") : nullptr}};
        const auto key = r.header("Idempotency-Key");
        if (key) {
            if (auto k = keys_.find(*key); k != keys_.end()) {
                if (k->second.second != fingerprint)
                    return error(409, "Idempotency-Key " + *key + " was used for other data");
                return http_response::json(200, interactions_[k->second.first]);
            }
        }
        if (!find("id", id)) return error(404, "customer '" + id + "' not found");
        const auto now = now_text();
        json::object i{{"id", "I-" + std::to_string(interactions_.size() + 1)},
                       {"customer_id", id},
                       {"channel", body.at("channel")},
                       {"summary", body.at("summary")},
                       {"outcome", body.at("outcome")},
                       {"occurred_at", body.contains("occurred_at") ? body.at("occurred_at") : json::value(now)},
                       {"idempotency_key", key ? json::value(*key) : json::value(nullptr)},
                       {"created_at", now}};
        if (key) keys_[*key] = {interactions_.size(), fingerprint};
        interactions_.push_back(i);
        return http_response::json(201, i);
    }

    http_response recent(const std::string& id, const http_request& r) {
        if (!find("id", id)) return error(404, "customer '" + id + "' not found");
        std::vector<size_t> mine;
        for (size_t i = 0; i < interactions_.size(); ++i)
            if (interactions_[i].at("customer_id") == json::value(id)) mine.push_back(i);
        std::sort(mine.begin(), mine.end(), [&](size_t a, size_t b) {
            const auto& ta = interactions_[a].at("occurred_at").as_string();
            const auto& tb = interactions_[b].at("occurred_at").as_string();
            return ta != tb ? ta > tb : a > b;
        });
        json::array out;
        const size_t limit = std::stoul(r.query("limit").value_or("10"));
        for (size_t i = 0; i < mine.size() && i < limit; ++i) out.push_back(interactions_[mine[i]]);
        return http_response::json(200, {{"interactions", out}});
    }

    std::string token_;
    std::mutex m_;
    std::vector<json::object> customers_;
    std::vector<json::object> interactions_;
    std::map<std::string, std::pair<size_t, json::object>> keys_;
    std::optional<std::string> race_email_;
};

// ------------------------------------------------------------------------------ the host and tool

class crm_env : public toolhost::test::tool_env {
public:
    crm_env() : tool_env("crm", TOOLHOST_CRM_PLUGIN) {}
    fs::path database() const { return var() / "crm" / "crm.db"; }
};

json::object rest_config(const http_server& server, json::object extra = {}) {
    json::object rest{{"base_url", server.url() + "/api/"}, {"bearer_token", "crm-token"}};
    for (auto& [k, v] : extra) rest[k] = v;
    return json::object{{"backend", "rest"}, {"rest", std::move(rest)}};
}

json::object no_retries() { return json::object{{"retry", json::object{{"max_attempts", 1}}}}; }

int64_t customer_total(host& h) { return ok(h.call("crm", "search", json::object{})).at("total").as_int64(); }

}  // namespace

// ====================================================================== the same on both backends

BOOST_AUTO_TEST_SUITE(both_backends)

BOOST_AUTO_TEST_CASE(the_scenario_gives_the_same_results) {
    crm_env sqlite_env;
    auto on_sqlite = run_scenario(*sqlite_env.start());

    crm_service service("crm-token");
    http_server server(std::ref(service));
    crm_env rest_env;
    auto on_rest = run_scenario(*rest_env.start(rest_config(server)));

    BOOST_TEST_REQUIRE(on_sqlite.size() == scenario().size());
    BOOST_TEST_REQUIRE(on_rest.size() == scenario().size());
    for (size_t i = 0; i < scenario().size(); ++i)
        BOOST_TEST(on_sqlite[i] == on_rest[i], "step " << i << " (" << scenario()[i].operation << ")\n  sqlite: "
                                                       << on_sqlite[i] << "\n  rest:   " << on_rest[i]);
    // (That the results are the right ones, on SQLite and PostgreSQL alike, is test_crm_storage's
    // contract: the_scenario_gives_the_documented_results.)
}

BOOST_AUTO_TEST_SUITE_END()

// ========================================================================================= sqlite

BOOST_AUTO_TEST_SUITE(sqlite_backend)

BOOST_AUTO_TEST_CASE(a_customer_reads_as_a_resource) {
    crm_env env;
    auto h = env.start();
    auto r = ok(h->call("crm", "read_customer", json::object{{"uri", "crm://customers/C-1001"}}));
    const auto& content = r.at("contents").at(0).as_object();
    BOOST_TEST(content.at("uri") == "crm://customers/C-1001");
    BOOST_TEST(content.at("mimeType") == "application/json");
    const auto doc = json::parse(content.at("text").as_string());
    BOOST_TEST(doc.at("customer").at("id") == "C-1001");
    BOOST_TEST(doc.at("recent_interactions").as_array().size() == 2u);
    for (const char* uri : {"crm://customers/C-9999", "crm://customers/", "crm://customers/C-1001/x", "crm://other"}) {
        auto e = failed(h->call("crm", "read_customer", json::object{{"uri", uri}}));
        BOOST_TEST((e.code == status_code::not_found), uri);
    }
    // The role is declared: the host serves it as a resource, not as a tool.
    const auto* op = h->find("crm")->descriptor().find_operation("read_customer");
    BOOST_TEST_REQUIRE(op != nullptr);
    BOOST_TEST((op->role == toolhost::operation_role::resource_read));
    BOOST_TEST(op->role_spec.at("templates").at(0).at("uriTemplate") == "crm://customers/{id}");
}

BOOST_AUTO_TEST_CASE(get_customer_needs_exactly_one_key) {
    crm_env env;
    auto h = env.start();
    for (const auto& args : {json::object{}, json::object{{"id", "C-1001"}, {"email", "ada@analytical.example"}}}) {
        auto e = failed(h->call("crm", "get_customer", args));
        BOOST_TEST((e.code == status_code::invalid_argument));
        BOOST_TEST(contains(e.message, "exactly one of id, email, phone"), e.message);
    }
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_field) {
    crm_env env;
    auto h = env.start();
    struct bad {
        std::string op;
        json::object args;
        std::string field;
    };
    const std::vector<bad> cases = {
        {"get_customer", {{"phone", "555-CALL-NOW"}}, "phone"},
        {"get_customer", {{"phone", "+1 555"}}, "phone"},
        {"get_customer", {{"email", "not-an-address"}}, "email"},
        {"get_customer", {{"id", "C 1001"}}, "id"},
        {"upsert", {{"name", "No key"}}, "email"},
        {"upsert", {{"id", "C-1001"}, {"name", nullptr}}, "name"},
        {"upsert", {{"id", "C-1001"}, {"name", "   "}}, "name"},
        {"upsert", {{"email", "a@@b.example"}, {"name", "X"}}, "email"},
        {"log_interaction",
         {{"customer_id", "C-1001"}, {"channel", "pigeon"}, {"summary", "x"}, {"outcome", "resolved"}},
         "channel"},
        {"log_interaction",
         {{"customer_id", "C-1001"},
          {"channel", "chat"},
          {"summary", "x"},
          {"outcome", "resolved"},
          {"occurred_at", "yesterday"}},
         "occurred_at"},
        {"log_interaction",
         {{"customer_id", "C-1001"},
          {"channel", "chat"},
          {"summary", "x"},
          {"outcome", "resolved"},
          {"occurred_at", "2025-02-30T10:00:00Z"}},
         "occurred_at"},
        {"log_interaction",
         {{"customer_id", "C-1001"},
          {"channel", "chat"},
          {"summary", "x"},
          {"outcome", "resolved"},
          {"occurred_at", "2025-02-03T10:00:00"}},
         "occurred_at"},
        {"search", {{"query", "a b c d e f g h i"}}, "query"},
        {"search", {{"limit", 1000}}, "limit"},
        {"recent_interactions", {{"customer_id", "C-1001"}, {"limit", 0}}, "limit"},
    };
    for (const auto& c : cases) {
        auto e = failed(h->call("crm", c.op, c.args));
        BOOST_TEST((e.code == status_code::invalid_argument),
                   c.op << " " << json::serialize(c.args) << ": " << e.to_string());
        BOOST_TEST(contains(e.message, c.field), c.op << " " << json::serialize(c.args) << ": " << e.message);
    }
    BOOST_TEST(customer_total(*h) == 10);
}

BOOST_AUTO_TEST_CASE(phone_numbers_with_a_default_country_code) {
    crm_env env;
    auto h = env.start({{"default_country_code", "44"}});
    auto c = ok(h->call("crm", "get_customer", json::object{{"phone", "020 7946 0101"}})).at("customer");
    BOOST_TEST(c.at("id") == "C-1001");
    crm_env plain;
    auto h2 = plain.start();
    auto e = failed(h2->call("crm", "get_customer", json::object{{"phone", "020 7946 0101"}}));
    BOOST_TEST((e.code == status_code::not_found));
    BOOST_TEST(e.message == "no customer with phone '02079460101'");
}

BOOST_AUTO_TEST_CASE(a_locked_database_is_unavailable_and_loses_nothing) {
    crm_env env;
    auto h = env.start({{"busy_timeout_ms", 50}}, no_retries());
    sqlite3* other = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open(env.database().c_str(), &other) == SQLITE_OK);
    BOOST_TEST_REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    auto e = failed(h->call("crm", "upsert", json::object{{"email", "new@x.example"}, {"name", "New"}}));
    BOOST_TEST((e.code == status_code::unavailable), e.to_string());
    e = failed(
        h->call("crm", "log_interaction",
                json::object{{"customer_id", "C-1001"}, {"channel", "chat"}, {"summary", "x"}, {"outcome", "resolved"}},
                with_request_id("locked-1")));
    BOOST_TEST((e.code == status_code::unavailable), e.to_string());
    BOOST_TEST(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);
    BOOST_TEST(customer_total(*h) == 10);
    auto recent = ok(h->call("crm", "recent_interactions", json::object{{"customer_id", "C-1001"}}));
    BOOST_TEST(recent.at("interactions").as_array().size() == 2u);
    // The retried request now goes through, once.
    const json::object args{{"customer_id", "C-1001"}, {"channel", "chat"}, {"summary", "x"}, {"outcome", "resolved"}};
    BOOST_TEST(ok(h->call("crm", "log_interaction", args, with_request_id("locked-1"))).at("created").as_bool());
    BOOST_TEST(!ok(h->call("crm", "log_interaction", args, with_request_id("locked-1"))).at("created").as_bool());
}

BOOST_AUTO_TEST_CASE(a_corrupt_database_fails_start_up_as_data_loss) {
    crm_env env;
    fs::create_directories(env.database().parent_path());
    toolhost::test::write_file(env.database(), std::string(8192, '\x7f'));
    auto e = env.start_failure({});
    BOOST_TEST((e.code == status_code::data_loss), e.to_string());
    BOOST_TEST(toolhost::test::read_file(env.database()) == std::string(8192, '\x7f'));
}

BOOST_AUTO_TEST_SUITE_END()

// =========================================================================================== rest

BOOST_AUTO_TEST_SUITE(rest_backend)

BOOST_AUTO_TEST_CASE(requests_follow_the_contract) {
    crm_service service("crm-token");
    http_server server(std::ref(service));
    crm_env env;
    auto h = env.start(rest_config(server));
    call_options o;
    o.request_id = "req-h";
    o.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    ok(h->call(
        "crm", "log_interaction",
        json::object{{"customer_id", "C-1001"}, {"channel", "chat"}, {"summary", "hello"}, {"outcome", "resolved"}},
        o));
    ok(h->call("crm", "get_customer", json::object{{"email", "Ada@Analytical.example"}}));
    ok(h->call("crm", "search", json::object{{"query", "a&b=c"}, {"limit", 3}, {"offset", 2}}));
    auto seen = server.requests();
    BOOST_TEST_REQUIRE(seen.size() == 3u);
    BOOST_TEST(seen[0].method == "POST");
    BOOST_TEST(seen[0].target == "/api/customers/C-1001/interactions");
    BOOST_TEST(seen[0].header("Authorization").value_or("") == "Bearer crm-token");
    BOOST_TEST(seen[0].header("Idempotency-Key").value_or("") == "req-h");
    BOOST_TEST(seen[0].header("traceparent").value_or("") == o.traceparent);
    BOOST_TEST(seen[0].header("Accept").value_or("") == "application/json");
    BOOST_TEST(seen[0].json() == json::parse(R"({"channel":"chat","summary":"hello","outcome":"resolved"})"));
    BOOST_TEST(seen[1].target == "/api/customers?email=ada%40analytical.example");
    BOOST_TEST(seen[2].path() == "/api/customers");
    BOOST_TEST(seen[2].query("q").value_or("") == "a&b=c");
    BOOST_TEST(seen[2].query("limit").value_or("") == "3");
    BOOST_TEST(seen[2].query("offset").value_or("") == "2");
}

BOOST_AUTO_TEST_CASE(an_upsert_that_races_another_create_updates_the_winner) {
    crm_service service("crm-token");
    http_server server(std::ref(service));
    crm_env env;
    auto h = env.start(rest_config(server));
    service.race_on_create("late@x.example");
    auto r = ok(h->call("crm", "upsert", json::object{{"email", "late@x.example"}, {"name", "Late Comer"}}));
    BOOST_TEST(!r.at("created").as_bool());
    BOOST_TEST(r.at("customer").at("name") == "Late Comer");
    BOOST_TEST(r.at("customer").at("id") == "C-1011");
    std::vector<std::string> calls;
    for (const auto& q : server.requests()) calls.push_back(q.method + " " + q.path());
    BOOST_TEST(calls == (std::vector<std::string>{"GET /api/customers", "POST /api/customers", "GET /api/customers",
                                                  "PUT /api/customers/C-1011"}));
    BOOST_TEST(customer_total(*h) == 11);
}

BOOST_AUTO_TEST_CASE(http_statuses_map_to_fitting_codes) {
    struct expectation {
        int http;
        status_code code;
    };
    const std::vector<expectation> table = {
        {400, status_code::invalid_argument}, {422, status_code::invalid_argument},
        {401, status_code::unauthenticated},  {403, status_code::permission_denied},
        {404, status_code::not_found},        {409, status_code::already_exists},
        {429, status_code::unavailable},      {500, status_code::unavailable},
        {502, status_code::unavailable},      {503, status_code::unavailable},
    };
    std::atomic<int> answer{200};
    http_server server([&](const http_request&) {
        auto res = error(answer.load(), "backend says no");
        res.headers.emplace_back("Retry-After", "3");
        return res;
    });
    crm_env env;
    auto h = env.start(rest_config(server), no_retries());
    for (const auto& t : table) {
        answer = t.http;
        h->reset_circuit_breaker("crm");
        auto e = failed(h->call("crm", "get_customer", json::object{{"id", "C-1001"}}));
        BOOST_TEST((e.code == t.code), t.http << ": " << e.to_string());
        BOOST_TEST(contains(e.message, "HTTP " + std::to_string(t.http)), e.message);
        BOOST_TEST(contains(e.message, "backend says no"), e.message);
        if (t.code == status_code::unavailable) {
            BOOST_TEST_REQUIRE(e.retry_after.has_value(), t.http);
            BOOST_TEST(e.retry_after->count() == 3000);
        } else {
            BOOST_TEST(!e.retry_after.has_value(), t.http);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_wrong_token_is_unauthenticated) {
    crm_service service("the-right-token");
    http_server server(std::ref(service));
    crm_env env;
    auto h = env.start(rest_config(server));
    auto e = failed(h->call("crm", "get_customer", json::object{{"id", "C-1001"}}));
    BOOST_TEST((e.code == status_code::unauthenticated));
    BOOST_TEST(server.request_count() == 1u);  // not retried
}

BOOST_AUTO_TEST_CASE(the_host_retries_a_503_and_succeeds) {
    crm_service service("crm-token");
    std::atomic<int> calls{0};
    http_server server([&](const http_request& r) {
        if (calls++ == 0) return error(503, "warming up");
        return service(r);
    });
    crm_env env;
    auto h = env.start(rest_config(server),
                       {{"retry", {{"max_attempts", 3}, {"initial_backoff_ms", 1}, {"max_backoff_ms", 2}}}});
    auto c = ok(h->call("crm", "get_customer", json::object{{"id", "C-1004"}})).at("customer");
    BOOST_TEST(c.at("name") == "Katherine Johnson");
    BOOST_TEST(server.request_count() == 2u);
}

BOOST_AUTO_TEST_CASE(a_retried_log_interaction_is_stored_once) {
    crm_service service("crm-token");
    std::atomic<int> calls{0};
    // The first answer is lost after the service stored the interaction: the retry must find it.
    http_server server([&](const http_request& r) {
        auto res = service(r);
        if (calls++ == 0) res.drop = true;
        return res;
    });
    crm_env env;
    auto h = env.start(rest_config(server),
                       {{"retry", {{"max_attempts", 3}, {"initial_backoff_ms", 1}, {"max_backoff_ms", 2}}}});
    const json::object args{
        {"customer_id", "C-1009"}, {"channel", "chat"}, {"summary", "lost answer"}, {"outcome", "resolved"}};
    auto r = ok(h->call("crm", "log_interaction", args, with_request_id("req-lost")));
    BOOST_TEST(!r.at("created").as_bool());  // the retry got the interaction of the first attempt
    auto recent = ok(h->call("crm", "recent_interactions", json::object{{"customer_id", "C-1009"}}));
    int lost = 0;
    for (const auto& i : recent.at("interactions").as_array()) lost += i.at("summary") == "lost answer" ? 1 : 0;
    BOOST_TEST(lost == 1);
}

BOOST_AUTO_TEST_CASE(a_slow_service_times_out_as_unavailable) {
    auto held = std::make_shared<gate>();
    http_server server([&](const http_request&) {
        auto res = http_response::json(200, json::object{});
        res.hold = held;
        return res;
    });
    crm_env env;
    auto h = env.start(rest_config(server, {{"request_timeout_ms", 150}}), no_retries());
    auto e = failed(h->call("crm", "get_customer", json::object{{"id", "C-1001"}}));
    BOOST_TEST((e.code == status_code::unavailable));
    BOOST_TEST(contains(e.message, "timed out after 150 ms"), e.message);
    held->open();
}

BOOST_AUTO_TEST_CASE(an_unreachable_service_is_unavailable) {
    refused_port port;
    crm_env env;
    auto h = env.start({{"backend", "rest"}, {"rest", {{"base_url", port.url()}}}}, no_retries());
    auto e = failed(h->call("crm", "search", json::object{}));
    BOOST_TEST((e.code == status_code::unavailable));
    BOOST_TEST(contains(e.message, "cannot connect"), e.message);
}

BOOST_AUTO_TEST_CASE(a_service_that_breaks_the_contract_is_internal) {
    std::atomic<int> mode{0};
    http_server server([&](const http_request&) {
        switch (mode.load()) {
        case 0: return http_response{.status = 200, .headers = {}, .body = "<html>", .hold = nullptr, .drop = false};
        case 1: return http_response::json(200, {{"name", "no id"}});
        default: return http_response::json(200, json::array{1, 2});
        }
    });
    crm_env env;
    auto h = env.start(rest_config(server), no_retries());
    for (int m = 0; m < 3; ++m) {
        mode = m;
        h->reset_circuit_breaker("crm");
        auto e = failed(h->call("crm", "get_customer", json::object{{"id", "C-1001"}}));
        BOOST_TEST((e.code == status_code::internal), m << ": " << e.to_string());
    }
}

BOOST_AUTO_TEST_CASE(configuration_errors_name_the_key) {
    crm_env env;
    auto e = env.start_failure({{"backend", "rest"}});  // refused by the schema, before initialize
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "/tools/crm/config: missing required property 'rest'"), e.message);
    e = env.start_failure({{"backend", "rest"}, {"rest", {{"base_url", "ftp://crm.example"}}}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "config/rest/base_url"), e.message);
    e = env.start_failure(
        {{"backend", "rest"},
         {"rest", {{"base_url", "http://127.0.0.1:1"}, {"bearer_token_env", "TOOLHOST_TEST_NO_SUCH_VAR"}}}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "TOOLHOST_TEST_NO_SUCH_VAR"), e.message);
}

BOOST_AUTO_TEST_SUITE_END()
