#include "model.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/text.hpp>
#include <toolhost_plugins/time.hpp>

#include <toolhost/json_text.hpp>

namespace toolhost::plugins::crm {

namespace json = boost::json;
using sdk::status;

namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

[[noreturn]] void contract_broken(std::string_view where, std::string_view what) {
    throw sdk::error(status::internal, std::string(where) + ": " + std::string(what));
}

json::value optional_text(const json::object& record, std::string_view key, std::string_view where) {
    const auto* v = record.if_contains(key);
    if (v == nullptr || v->is_null()) return nullptr;
    if (!v->is_string()) contract_broken(where, "field '" + std::string(key) + "' is not a string");
    return v->as_string();
}

json::value required_text(const json::object& record, std::string_view key, std::string_view where) {
    auto v = optional_text(record, key, where);
    if (v.is_null()) contract_broken(where, "the record has no '" + std::string(key) + "'");
    return v;
}

// Ids are strings in this contract; a backend that uses numbers gets them as text.
json::value id_text(const json::object& record, std::string_view key, std::string_view where) {
    const auto* v = record.if_contains(key);
    if (v != nullptr && (v->is_int64() || v->is_uint64())) return json::string(toolhost::json_text(*v));
    return required_text(record, key, where);
}

}  // namespace

std::string normalize_email(std::string_view raw, std::string_view field) {
    const std::string_view s = trim(raw);
    auto refuse = [&](std::string_view why) {
        std::string msg = "'";
        msg.append(s.substr(0, 80)).append("' is not an e-mail address").append(why);
        invalid_argument(field, msg);
    };
    const auto at = s.find('@');
    if (s.empty() || s.size() > 254 || at == std::string_view::npos || at == 0 ||
        s.find('@', at + 1) != std::string_view::npos)
        refuse("");
    const auto domain = s.substr(at + 1);
    if (domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' ||
        domain.back() == '.')
        refuse(" (domain)");
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= ' ' || u == 0x7f || c == ',' || c == ';' || c == '<' || c == '>') refuse("");
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return out;
}

std::string normalize_phone(std::string_view raw, std::string_view country_code, std::string_view field) {
    const std::string_view s = trim(raw);
    std::string digits;
    bool international = false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (is_digit(c))
            digits += c;
        else if (c == '+' && digits.empty() && !international)
            international = true;
        else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')' && c != '/')
            invalid_argument(field, "may contain only digits, spaces and + - . ( ) /");
    }
    if (!international && digits.size() > 2 && digits.starts_with("00")) {
        international = true;
        digits.erase(0, 2);
    }
    if (!international && !country_code.empty()) {
        if (digits.starts_with("0")) digits.erase(0, 1);  // the national trunk prefix
        digits.insert(0, country_code);
        international = true;
    }
    if (international) {
        // E.164: at most 15 digits; 8 is the shortest real international number.
        if (digits.size() < 8 || digits.size() > 15 || digits.front() == '0')
            invalid_argument(field, "'" + std::string(s) + "' is not an international number (8 to 15 digits after +)");
        return "+" + digits;
    }
    if (digits.size() < 6 || digits.size() > 15)
        invalid_argument(field, "'" + std::string(s) + "' must have 6 to 15 digits");
    return digits;
}

std::string normalize_time(std::string_view raw, std::string_view field) {
    const std::string_view s = trim(raw);
    std::string_view problem;
    const auto t = time::parse_rfc3339(s, &problem);
    if (t ? *t < 0 : problem == "is not a valid date-time")
        invalid_argument(field, "is not a valid date-time (from 1970 on)");
    if (!t && problem.starts_with("must be"))  // not a date-time at all: show what was given
        invalid_argument(field, std::string(problem) + ", got '" + std::string(s.substr(0, 40)) + "'");
    if (!t) invalid_argument(field, problem);
    return time::format_rfc3339_seconds(*t);
}

std::string_view customer_key::field() const noexcept {
    switch (by) {
    case kind::email: return "email";
    case kind::phone: return "phone";
    case kind::id: break;
    }
    return "id";
}

json::object customer_update::fields_json() const {
    json::object out;
    auto put = [&](std::string_view key, const field_update& f) {
        if (!f.present) return;
        out[key] = f.value ? json::value(*f.value) : json::value(nullptr);
    };
    put("name", name);
    put("email", email);
    put("phone", phone);
    put("company", company);
    put("tier", tier);
    put("notes", notes);
    return out;
}

std::string new_interaction::fingerprint() const {
    return toolhost::json_text(
        json::object{{"customer_id", customer_id},
                     {"channel", channel},
                     {"summary", summary},
                     {"outcome", outcome},
                     {"occurred_at", occurred_at ? json::value(*occurred_at) : json::value(nullptr)}});
}

namespace {

json::value nullable(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }

std::optional<std::string> text_or_null(const json::value& v) {
    if (v.is_string()) return std::string(v.as_string());
    return std::nullopt;
}

// Search words are ANDed; more than this is a sentence, not a search (the tool refuses longer
// queries first; this bounds the SQL).
constexpr size_t max_query_words = 8;

}  // namespace

json::object customer_json(const customer_row& c) {
    return json::object{{"id", c.id},
                        {"name", c.name},
                        {"email", nullable(c.email)},
                        {"phone", nullable(c.phone)},
                        {"company", nullable(c.company)},
                        {"tier", c.tier},
                        {"notes", nullable(c.notes)},
                        {"created_at", c.created_at},
                        {"updated_at", c.updated_at}};
}

json::object interaction_json(const interaction_row& i) {
    return json::object{{"id", "I-" + std::to_string(i.seq)},
                        {"customer_id", i.customer_id},
                        {"channel", i.channel},
                        {"summary", i.summary},
                        {"outcome", i.outcome},
                        {"occurred_at", i.occurred_at},
                        {"idempotency_key", nullable(i.idempotency_key)},
                        {"created_at", i.created_at}};
}

sample_rows read_sample(const json::value& sample) {
    sample_rows out;
    for (const auto& v : sample.at("customers").as_array()) {
        const auto c = customer_shape(v.as_object(), "sample customer");
        customer_row row;
        row.id = c.at("id").as_string();
        row.name = c.at("name").as_string();
        if (c.at("email").is_string()) row.email = normalize_email(c.at("email").as_string());
        if (c.at("phone").is_string()) row.phone = normalize_phone(c.at("phone").as_string(), "");
        row.company = text_or_null(c.at("company"));
        if (c.at("tier").is_string()) row.tier = c.at("tier").as_string();
        row.notes = text_or_null(c.at("notes"));
        row.created_at = c.at("created_at").is_string() ? std::string(c.at("created_at").as_string()) : "";
        row.updated_at = row.created_at;
        out.customers.push_back(std::move(row));
    }
    for (const auto& v : sample.at("interactions").as_array()) {
        const auto& i = v.as_object();
        interaction_row row;
        row.customer_id = i.at("customer_id").as_string();
        row.channel = i.at("channel").as_string();
        row.summary = i.at("summary").as_string();
        row.outcome = i.at("outcome").as_string();
        row.occurred_at = normalize_time(i.at("occurred_at").as_string());
        row.created_at = row.occurred_at;
        out.interactions.push_back(std::move(row));
    }
    return out;
}

void customer_not_found(const customer_key& key) {
    if (key.by == customer_key::kind::id) throw sdk::error(status::not_found, "customer '" + key.value + "' not found");
    throw sdk::error(status::not_found, "no customer with " + std::string(key.field()) + " '" + key.value + "'");
}

void already_taken(std::string_view field, const std::string& value, std::string_view owner) {
    throw sdk::error(status::already_exists,
                     std::string(field) + " '" + value + "' already belongs to customer " + std::string(owner));
}

void key_reused(const std::string& key, int64_t seq) {
    throw sdk::error(status::already_exists, "idempotency_key '" + key + "': already used for interaction I-" +
                                                 std::to_string(seq) + " with different fields");
}

std::vector<std::string_view> search_words(const std::string& query) {
    std::vector<std::string_view> words = text::words(query);
    if (words.size() > max_query_words)
        invalid_argument("query", "at most " + std::to_string(max_query_words) + " words");
    return words;
}

std::string contains_pattern(std::string_view word) {
    std::string p = "%";
    for (char c : word) {
        if (c == '%' || c == '_' || c == '\\') p += '\\';
        p += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return p + "%";
}

std::string search_filter(size_t n, const std::function<std::string(std::string_view)>& column,
                          const std::function<std::string(size_t)>& placeholder) {
    std::string where;
    for (size_t i = 1; i <= n; ++i) {
        const std::string p = placeholder(i);
        where += (i == 1 ? " WHERE (" : " AND (");
        for (const char* c : {"name", "email", "company"}) {
            if (c[0] != 'n') where += " OR ";
            where += column(c) + " LIKE " + p + " ESCAPE '\\'";
        }
        where += ")";
    }
    return where;
}

json::object customer_shape(const json::object& r, std::string_view where) {
    return json::object{
        {"id", id_text(r, "id", where)},
        {"name", required_text(r, "name", where)},
        {"email", optional_text(r, "email", where)},
        {"phone", optional_text(r, "phone", where)},
        {"company", optional_text(r, "company", where)},
        {"tier", optional_text(r, "tier", where)},
        {"notes", optional_text(r, "notes", where)},
        {"created_at", optional_text(r, "created_at", where)},
        {"updated_at", optional_text(r, "updated_at", where)},
    };
}

json::object interaction_shape(const json::object& r, std::string_view where) {
    return json::object{
        {"id", id_text(r, "id", where)},
        {"customer_id", id_text(r, "customer_id", where)},
        {"channel", required_text(r, "channel", where)},
        {"summary", required_text(r, "summary", where)},
        {"outcome", required_text(r, "outcome", where)},
        {"occurred_at", required_text(r, "occurred_at", where)},
        {"idempotency_key", optional_text(r, "idempotency_key", where)},
        {"created_at", optional_text(r, "created_at", where)},
    };
}

}  // namespace toolhost::plugins::crm
