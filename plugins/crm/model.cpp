#include "model.hpp"

#include <toolhost_plugins/args.hpp>
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
