#include "rest_backend.hpp"

#include <toolhost_plugins/args.hpp>

namespace toolhost::plugins::crm {

namespace json = boost::json;
using sdk::status;

namespace {

http::client_options client_options_for(const rest_backend::options& o) {
    http::client_options c;
    c.connect_timeout = o.connect_timeout;
    c.request_timeout = o.request_timeout;
    c.bearer_token = o.bearer_token;
    c.ca_file = o.ca_file;
    c.user_agent = "toolhost-crm/1";
    return c;
}

std::string without_trailing_slashes(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

http::request get(std::string url) {
    http::request r;
    r.method = "GET";
    r.url = std::move(url);
    return r;
}

}  // namespace

rest_backend::rest_backend(options opts)
    : base_(without_trailing_slashes(opts.base_url)), client_(client_options_for(opts)) {
    http::parse_url(base_, "config/rest/base_url");
}

std::string rest_backend::customer_url(const std::string& id) const {
    return base_ + "/customers/" + http::encode_component(id);
}

http::response rest_backend::exchange(http::request req, const sdk::call_context& call) const {
    req.headers.emplace_back("Accept", "application/json");
    auto res = client_.send(req, &call);
    http::raise_for_status(res, &call);
    return res;
}

json::object rest_backend::object_body(const http::response& res) const {
    auto v = res.json();
    if (!v.is_object())
        throw sdk::error(status::internal, res.method + " " + res.url + ": expected a JSON object in the response");
    return std::move(v.as_object());
}

std::optional<json::object> rest_backend::find_by(std::string_view field, const std::string& value,
                                                  const sdk::call_context& call) const {
    const auto res =
        exchange(get(base_ + "/customers?" + std::string(field) + "=" + http::encode_component(value)), call);
    const auto body = object_body(res);
    const auto* list = body.if_contains("customers");
    if (list == nullptr || !list->is_array())
        throw sdk::error(status::internal, res.method + " " + res.url + ": the response has no \"customers\" array");
    if (list->as_array().empty()) return std::nullopt;
    const auto& first = list->as_array().front();
    if (!first.is_object()) throw sdk::error(status::internal, res.url + ": a customer is not a JSON object");
    return customer_shape(first.as_object(), res.url);
}

json::object rest_backend::get_customer(const customer_key& key, const sdk::call_context& call) {
    if (key.by == customer_key::kind::id) {
        const auto res = exchange(get(customer_url(key.value)), call);
        return customer_shape(object_body(res), res.url);
    }
    auto found = find_by(key.field(), key.value, call);
    if (!found)
        throw sdk::error(status::not_found, "no customer with " + std::string(key.field()) + " '" + key.value + "'");
    return std::move(*found);
}

customer_page rest_backend::search(const std::string& query, int64_t limit, int64_t offset,
                                   const sdk::call_context& call) {
    const auto res = exchange(get(base_ + "/customers?q=" + http::encode_component(query) +
                                  "&limit=" + std::to_string(limit) + "&offset=" + std::to_string(offset)),
                              call);
    const auto body = object_body(res);
    const auto* list = body.if_contains("customers");
    if (list == nullptr || !list->is_array())
        throw sdk::error(status::internal, res.method + " " + res.url + ": the response has no \"customers\" array");
    customer_page page;
    for (const auto& c : list->as_array()) {
        if (!c.is_object()) throw sdk::error(status::internal, res.url + ": a customer is not a JSON object");
        page.customers.emplace_back(customer_shape(c.as_object(), res.url));
    }
    const auto* total = body.if_contains("total");
    page.total = total && total->is_int64() ? total->as_int64() : offset + static_cast<int64_t>(page.customers.size());
    return page;
}

upsert_result rest_backend::put_customer(const std::string& id, const customer_update& update,
                                         const sdk::call_context& call) const {
    auto req = http::request::json("PUT", customer_url(id), update.fields_json());
    const auto res = exchange(std::move(req), call);
    return {customer_shape(object_body(res), res.url), res.status == 201};
}

// With an id, one PUT does it (the service creates or updates). Without one, the e-mail address
// is the key: look it up, then PUT the customer found or POST a new one. A 409 on the POST means
// someone created that address meanwhile, so the update is made on their record.
upsert_result rest_backend::upsert(const customer_update& update, const sdk::call_context& call) {
    if (update.id) return put_customer(*update.id, update, call);
    const std::string email = update.email.value.value_or("");
    if (auto existing = find_by("email", email, call))
        return put_customer(std::string(existing->at("id").as_string()), update, call);
    try {
        auto req = http::request::json("POST", base_ + "/customers", update.fields_json());
        const auto res = exchange(std::move(req), call);
        return {customer_shape(object_body(res), res.url), true};
    } catch (const sdk::error& e) {
        if (e.code() != status::already_exists) throw;
        auto raced = find_by("email", email, call);
        if (!raced) throw;  // the conflict is about something else (the phone number)
        return put_customer(std::string(raced->at("id").as_string()), update, call);
    }
}

log_result rest_backend::log_interaction(const new_interaction& in, const sdk::call_context& call) {
    json::object body{{"channel", in.channel}, {"summary", in.summary}, {"outcome", in.outcome}};
    if (in.occurred_at) body["occurred_at"] = *in.occurred_at;
    auto req = http::request::json("POST", customer_url(in.customer_id) + "/interactions", body);
    if (in.idempotency_key) req.headers.emplace_back("Idempotency-Key", *in.idempotency_key);
    const auto res = exchange(std::move(req), call);
    return {interaction_shape(object_body(res), res.url), res.status == 201};
}

json::array rest_backend::recent_interactions(const std::string& customer_id, int64_t limit,
                                              const sdk::call_context& call) {
    const auto res = exchange(get(customer_url(customer_id) + "/interactions?limit=" + std::to_string(limit)), call);
    const auto body = object_body(res);
    const auto* list = body.if_contains("interactions");
    if (list == nullptr || !list->is_array())
        throw sdk::error(status::internal, res.method + " " + res.url + ": the response has no \"interactions\" array");
    json::array out;
    for (const auto& i : list->as_array()) {
        if (!i.is_object()) throw sdk::error(status::internal, res.url + ": an interaction is not a JSON object");
        out.emplace_back(interaction_shape(i.as_object(), res.url));
    }
    return out;
}

}  // namespace toolhost::plugins::crm
