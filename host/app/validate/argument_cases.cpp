#include "validate/argument_cases.hpp"

#include <toolhost/json_schema.hpp>
#include <toolhost/json_text.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace toolhost::cli::validate {

namespace json = boost::json;

namespace {

using namespace std::string_view_literals;

enum class mode { minimal, full, empty, long_text, unicode, lowest, highest };

constexpr int max_depth = 8;
constexpr std::size_t long_default = 10 * 1024;  // a long string where the schema sets no maxLength
constexpr std::size_t long_cap = 1u << 20;       // and where it sets a larger one
// 2^53 - 1: the largest integer that every JSON reader holds exactly (RFC 8259, section 6).
constexpr std::int64_t safe_integer = 9007199254740991;
constexpr std::size_t max_invalid_cases = 32;

// Every plane: Latin with diacritics, CJK, a check mark, two astral-plane characters (an emoji and
// a musical symbol: four UTF-8 bytes, a surrogate pair in UTF-16), right-to-left Arabic and a NUL.
constexpr std::string_view unicode_sample =
    "Gr\xc3\xbc\xc3\x9f"
    "e \xe4\xb8\x96\xe7\x95\x8c \xe2\x9c\x93 \xf0\x9f\x98\x80 \xf0\x9d\x84\x9e "
    "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 "
    "nul:\0:end"sv;

const json::object* object_of(const json::value* v) {
    return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

std::optional<double> number_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_number()) return std::nullopt;
    return v->to_number<double>();
}

std::optional<std::size_t> count_at(const json::object& o, std::string_view key) {
    auto n = number_at(o, key);
    if (!n || *n < 0) return std::nullopt;
    return static_cast<std::size_t>(*n);
}

// The number of code points in UTF-8 text (what minLength and maxLength count).
std::size_t code_points(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// `s` cut to at most `n` code points.
std::string first_code_points(std::string_view s, std::size_t n) {
    std::size_t i = 0;
    for (std::size_t seen = 0; i < s.size(); ++i) {
        if ((s[i] & 0xC0) != 0x80 && seen++ == n) break;
    }
    return std::string(s.substr(0, i));
}

// `s` made to hold from `min` to `max` code points: cut, or padded with `pad` (one code point).
std::string fit(std::string s, std::size_t min, std::optional<std::size_t> max, std::string_view pad = "x") {
    if (max && code_points(s) > *max) s = first_code_points(s, *max);
    for (std::size_t n = code_points(s); n < min; ++n) s += pad;
    return s;
}

// `n` code points of text that reads like text (words, spaces, sentences).
std::string long_text(std::size_t n) {
    constexpr std::string_view sentence = "The quick brown fox jumps over the lazy dog. ";
    std::string s;
    s.reserve(n + sentence.size());
    while (s.size() < n) s += sentence;
    s.resize(n);
    return s;
}

// A value of a type the declared `types` do not allow, for a "wrong type" case.
std::optional<json::value> wrong_type_value(const std::set<std::string>& types) {
    const std::pair<std::string_view, json::value> candidates[] = {
        {"integer", json::value(12345)},       {"string", json::value("12345")},        {"boolean", json::value(true)},
        {"array", json::value(json::array{})}, {"object", json::value(json::object{})}, {"null", json::value(nullptr)}};
    for (const auto& [type, v] : candidates) {
        const bool allowed = types.count(std::string(type)) != 0 || (type == "integer" && types.count("number") != 0);
        if (!allowed) return v;
    }
    return std::nullopt;
}

class generator {
public:
    explicit generator(const json::value& root) : root_(root) {}

    // `s` with local references followed, its allOf merged in and, for oneOf/anyOf, alternative
    // number `branch` merged in; `avoid` gets the properties only the other alternatives require
    // (an object with them would match several alternatives of a oneOf).
    json::object effective(const json::value& s, std::size_t branch, std::set<std::string>* avoid = nullptr) const {
        const json::object* o = object_of(resolve(s));
        if (o == nullptr) return {};
        json::object out = *o;
        out.erase("$ref");
        if (const auto* all = out.if_contains("allOf"); all != nullptr && all->is_array()) {
            const json::array parts = all->get_array();
            out.erase("allOf");
            for (const auto& part : parts) merge(out, effective(part, 0));
        }
        for (std::string_view key : {"oneOf"sv, "anyOf"sv}) {
            const auto* alts = out.if_contains(key);
            if (alts == nullptr || !alts->is_array() || alts->get_array().empty()) continue;
            const json::array list = alts->get_array();
            out.erase(key);
            const std::size_t chosen = branch % list.size();
            if (avoid != nullptr)
                for (std::size_t i = 0; i < list.size(); ++i)
                    if (i != chosen)
                        for (const auto& r : required_of(effective(list[i], 0)))
                            if (!contains(required_of(effective(list[chosen], 0)), r)) avoid->insert(r);
            merge(out, effective(list[chosen], 0));
        }
        return out;
    }

    // How many alternatives the root's oneOf/anyOf offers (1 without one; at most 4 are tried).
    std::size_t root_branches() const {
        const json::object* o = object_of(resolve(root_));
        if (o == nullptr) return 1;
        for (std::string_view key : {"oneOf"sv, "anyOf"sv})
            if (const auto* alts = o->if_contains(key); alts != nullptr && alts->is_array())
                return std::clamp<std::size_t>(alts->get_array().size(), 1, 4);
        return 1;
    }

    std::optional<json::value> make(const json::value& schema, mode m, int depth, std::size_t variant,
                                    std::size_t branch = 0) {
        if (depth > max_depth) return std::nullopt;
        const json::value* resolved = resolve(schema);
        if (resolved == nullptr) return std::nullopt;
        if (resolved->is_bool()) {
            if (!resolved->get_bool()) return std::nullopt;
            return json::value("example");
        }
        std::set<std::string> avoid;
        const json::object s = effective(*resolved, branch, &avoid);
        if (const auto* c = s.if_contains("const")) return *c;
        if (const auto* e = s.if_contains("enum"); e != nullptr && e->is_array() && !e->get_array().empty()) {
            const auto& list = e->get_array();
            if (m == mode::highest) return list.back();
            return list[variant % list.size()];
        }
        if (const auto* d = s.if_contains("default"); d != nullptr && m == mode::minimal && variant == 0) return *d;
        const std::string type = type_of(s);
        if (type == "object") return make_object(s, m, depth, avoid);
        if (type == "array") return make_array(s, m, depth);
        if (type == "string" || type.empty()) return make_string(s, m, variant);
        if (type == "integer") return make_integer(s, m, variant);
        if (type == "number") return make_number(s, m, variant);
        if (type == "boolean") return json::value(m == mode::minimal || m == mode::lowest ? variant % 2 == 1 : true);
        if (type == "null") return json::value(nullptr);
        return std::nullopt;
    }

    // The type a value is made of: the declared one (the first that is not null), else what the
    // keywords present imply; empty when anything goes.
    static std::string type_of(const json::object& s) {
        if (const auto* t = s.if_contains("type")) {
            if (t->is_string()) return std::string(t->get_string());
            if (t->is_array()) {
                std::string first;
                for (const auto& x : t->get_array())
                    if (x.is_string() && x.get_string() != "null") return std::string(x.get_string());
                return t->get_array().empty() ? first : "null";
            }
        }
        auto has = [&](std::initializer_list<std::string_view> keys) {
            return std::any_of(keys.begin(), keys.end(), [&](std::string_view k) { return s.contains(k); });
        };
        if (has({"properties", "required", "additionalProperties"})) return "object";
        if (has({"items", "minItems", "maxItems"})) return "array";
        if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})) return "number";
        return {};
    }

    static std::set<std::string> types_of(const json::object& s) {
        std::set<std::string> out;
        if (const auto* t = s.if_contains("type")) {
            if (t->is_string()) out.insert(std::string(t->get_string()));
            if (t->is_array())
                for (const auto& x : t->get_array())
                    if (x.is_string()) out.insert(std::string(x.get_string()));
        }
        return out;
    }

    static std::vector<std::string> required_of(const json::object& s) {
        std::vector<std::string> out;
        if (const auto* r = s.if_contains("required"); r != nullptr && r->is_array())
            for (const auto& x : r->get_array())
                if (x.is_string()) out.emplace_back(x.get_string());
        return out;
    }

    // The names a dependentRequired (or draft-07 "dependencies" in its array form) asks for
    // when `key` is present.
    static std::vector<std::string> dependents_of(const json::object& s, std::string_view key) {
        std::vector<std::string> out;
        for (std::string_view kw : {"dependentRequired"sv, "dependencies"sv}) {
            const auto* deps = object_of(s.if_contains(kw));
            if (deps == nullptr) continue;
            if (const auto* list = deps->if_contains(key); list != nullptr && list->is_array())
                for (const auto& x : list->get_array())
                    if (x.is_string()) out.emplace_back(x.get_string());
        }
        return out;
    }

    const json::value* resolve(const json::value& s) const {
        const json::value* cur = &s;
        for (int hops = 0; hops < 16; ++hops) {
            const json::object* o = object_of(cur);
            if (o == nullptr) return cur;
            const auto* ref = o->if_contains("$ref");
            if (ref == nullptr || !ref->is_string()) return cur;
            const std::string_view r = ref->get_string();
            if (!r.starts_with("#")) return nullptr;  // remote: the host refuses those anyway
            boost::system::error_code ec;
            cur = root_.find_pointer(r.substr(1), ec);
            if (ec || cur == nullptr) return nullptr;
        }
        return nullptr;
    }

private:
    static bool contains(const std::vector<std::string>& v, const std::string& x) {
        return std::find(v.begin(), v.end(), x) != v.end();
    }

    // Merges the keywords of `b` into `a`: required lists are joined, properties merged, the
    // rest taken from `b` where `a` has none.
    static void merge(json::object& a, const json::object& b) {
        for (const auto& [key, v] : b) {
            if (key == "required" && v.is_array()) {
                json::array joined;
                if (const auto* mine = a.if_contains("required"); mine != nullptr && mine->is_array())
                    joined = mine->get_array();
                for (const auto& x : v.get_array())
                    if (std::find(joined.begin(), joined.end(), x) == joined.end()) joined.push_back(x);
                a["required"] = std::move(joined);
            } else if (key == "properties" && v.is_object()) {
                json::object props;
                if (const auto* mine = a.if_contains("properties"); mine != nullptr && mine->is_object())
                    props = mine->get_object();
                for (const auto& [name, p] : v.get_object())
                    if (!props.contains(name)) props[name] = p;
                a["properties"] = std::move(props);
            } else if (!a.contains(key)) {
                a[key] = v;
            }
        }
    }

    std::optional<json::value> make_object(const json::object& s, mode m, int depth,
                                           const std::set<std::string>& avoid) {
        const json::object* props = object_of(s.if_contains("properties"));
        static const json::value anything(true);
        auto schema_of = [&](std::string_view name) -> const json::value& {
            if (props != nullptr)
                if (const auto* p = props->if_contains(name)) return *p;
            return anything;
        };
        json::object out;
        std::vector<std::string> wanted = required_of(s);
        if (m != mode::minimal && props != nullptr)
            for (const auto& [name, p] : *props)
                if (!contains(wanted, std::string(name)) && avoid.count(std::string(name)) == 0)
                    wanted.emplace_back(name);
        const std::vector<std::string> required = required_of(s);
        for (std::size_t i = 0; i < wanted.size(); ++i) {
            const std::string& name = wanted[i];
            if (out.contains(name)) continue;
            auto v = make(schema_of(name), m, depth + 1, 0);
            if (!v) {
                if (contains(required, name)) return std::nullopt;
                continue;
            }
            out[name] = std::move(*v);
            for (auto& dep : dependents_of(s, name))
                if (!contains(wanted, dep)) wanted.push_back(dep);
        }
        return json::value(std::move(out));
    }

    std::optional<json::value> make_array(const json::object& s, mode m, int depth) {
        const std::size_t min = count_at(s, "minItems").value_or(0);
        const auto max = count_at(s, "maxItems");
        std::size_t n = std::max<std::size_t>(min, 1);
        if (m == mode::minimal || m == mode::lowest) n = min;
        if (m == mode::highest) n = max ? std::min<std::size_t>(*max, 100) : std::max<std::size_t>(min, 3);
        if (max) n = std::min(n, *max);
        static const json::value anything(true);
        const json::value* items = s.if_contains("items");
        json::array out;
        for (std::size_t i = 0; i < n; ++i) {
            const json::value* item = items == nullptr ? &anything : items;
            if (items != nullptr && items->is_array()) {  // draft-07 tuple form
                const auto& tuple = items->get_array();
                if (i >= tuple.size()) break;
                item = &tuple[i];
            }
            auto v = make(*item, m, depth + 1, i);  // the variant keeps uniqueItems happy
            if (!v) return std::nullopt;
            out.push_back(std::move(*v));
        }
        if (out.size() < min) return std::nullopt;
        return json::value(std::move(out));
    }

    std::optional<json::value> make_string(const json::object& s, mode m, std::size_t variant) {
        const std::size_t min = count_at(s, "minLength").value_or(0);
        const auto max = count_at(s, "maxLength");
        // The variant tells the items of an array apart (uniqueItems): it ends the string, and
        // the rest is cut to leave room for it.
        std::string suffix;
        if (variant != 0) suffix.append("-").append(std::to_string(variant));
        std::optional<std::size_t> room;
        if (max) room = *max > code_points(suffix) ? *max - code_points(suffix) : 0;
        std::string preferred;
        switch (m) {
        case mode::minimal: preferred = first_code_points("example", room.value_or(7)); break;
        case mode::full: preferred = first_code_points("example text", room.value_or(12)); break;
        case mode::empty:
        case mode::lowest: break;
        case mode::long_text: preferred = long_text(room ? std::min(*room, long_cap) : long_default); break;
        case mode::unicode:
            preferred = room ? first_code_points(unicode_sample, *room) : std::string(unicode_sample);
            break;
        case mode::highest: preferred = long_text(room ? std::min(*room, long_cap) : 64); break;
        }
        preferred = fit(preferred + suffix, min, max, m == mode::unicode ? "\xc3\xa9" : "x");
        const auto* pattern = s.if_contains("pattern");
        const auto* format = s.if_contains("format");
        if (pattern == nullptr && format == nullptr) return json::value(preferred);

        // A pattern or format: the first candidate the host's own validator accepts.
        std::vector<std::string> candidates;
        if (format != nullptr && format->is_string()) {
            const std::map<std::string_view, std::string_view> examples = {
                {"date-time", "2026-01-02T03:04:05Z"},
                {"date", "2026-01-02"},
                {"time", "03:04:05Z"},
                {"email", "user@example.com"},
                {"uri", "https://example.com/a"},
                {"uri-reference", "https://example.com/a"},
                {"hostname", "example.com"},
                {"ipv4", "192.0.2.1"},
                {"ipv6", "2001:db8::1"},
                {"uuid", "123e4567-e89b-12d3-a456-426614174000"}};
            if (auto it = examples.find(std::string_view(format->get_string())); it != examples.end())
                candidates.emplace_back(it->second);
        }
        candidates.push_back(preferred);
        const std::size_t long_length = max ? std::min(*max, long_cap) : 64;
        for (std::string_view base : {"example", "a", "A", "abc", "x1", "Example-1", "a.b", "A_b-1", "id-1", "C-1001",
                                      "0", "1", "42", "user@example.com", "https://example.com/", "+15551234567",
                                      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}) {
            std::string c(base);
            if (m == mode::long_text || m == mode::highest) c = fit(c, long_length, max, std::string(1, c.back()));
            candidates.push_back(c + suffix);
            candidates.push_back(std::move(c));
        }
        json::object check{{"type", "string"}};
        for (std::string_view k : {"pattern"sv, "format"sv, "minLength"sv, "maxLength"sv})
            if (const auto* v = s.if_contains(k)) check[k] = *v;
        auto compiled = json_schema::compile(check);
        if (!compiled) return std::nullopt;
        for (auto& c : candidates)
            if (!compiled->validate(json::value(c))) return json::value(c);
        return std::nullopt;
    }

    static std::optional<json::value> make_integer(const json::object& s, mode m, std::size_t variant) {
        std::optional<double> lo = number_at(s, "minimum"), hi = number_at(s, "maximum");
        if (auto x = number_at(s, "exclusiveMinimum")) lo = std::max(lo.value_or(*x + 1), std::floor(*x) + 1);
        if (auto x = number_at(s, "exclusiveMaximum")) hi = std::min(hi.value_or(*x - 1), std::ceil(*x) - 1);
        if (lo) lo = std::ceil(*lo);
        if (hi) hi = std::floor(*hi);
        const double step = number_at(s, "multipleOf").value_or(1);
        double v = 1 + static_cast<double>(variant);
        if (m == mode::lowest) v = lo.value_or(static_cast<double>(-safe_integer));
        if (m == mode::highest) v = hi.value_or(static_cast<double>(safe_integer));
        if (lo && v < *lo) v = *lo;
        if (hi && v > *hi) v = *hi;
        if (step > 0 && std::fmod(v, step) != 0) {
            v = (m == mode::highest ? std::floor(v / step) : std::ceil(v / step)) * step;
            if ((lo && v < *lo) || (hi && v > *hi)) return std::nullopt;
        }
        if (lo && hi && *lo > *hi) return std::nullopt;
        return json::value(static_cast<std::int64_t>(v));
    }

    static std::optional<json::value> make_number(const json::object& s, mode m, std::size_t variant) {
        constexpr double biggest = std::numeric_limits<double>::max();
        std::optional<double> lo = number_at(s, "minimum"), hi = number_at(s, "maximum");
        // Just inside an exclusive bound: a step a double can tell from the bound itself.
        auto inside = [](double bound, double direction) {
            return bound + direction * std::max(1e-6, std::abs(bound) * 1e-9);
        };
        if (auto x = number_at(s, "exclusiveMinimum")) lo = std::max(lo.value_or(-biggest), inside(*x, 1));
        if (auto x = number_at(s, "exclusiveMaximum")) hi = std::min(hi.value_or(biggest), inside(*x, -1));
        double v = 1.5 + static_cast<double>(variant);
        if (m == mode::lowest) v = lo.value_or(-biggest);
        if (m == mode::highest) v = hi.value_or(biggest);
        if (lo && v < *lo) v = *lo;
        if (hi && v > *hi) v = *hi;
        if (auto step = number_at(s, "multipleOf"); step && *step > 0) {
            v = (m == mode::highest ? std::floor(v / *step) : std::ceil(v / *step)) * *step;
            if ((lo && v < *lo) || (hi && v > *hi)) return std::nullopt;
        }
        if (lo && hi && *lo > *hi) return std::nullopt;
        return json::value(v);
    }

    const json::value& root_;
};

// Cases that break one keyword of the root object, each starting from a valid object.
void add_invalid_cases(generator& g, const json::value& schema, const json::object* minimal, const json::object* full,
                       std::vector<argument_case>& out) {
    auto add = [&](std::string label, json::value args, std::string keyword, std::string pointer) {
        if (out.size() >= max_invalid_cases) return;
        out.push_back({std::move(label), std::move(args), false, std::move(keyword), std::move(pointer)});
    };
    add("not an object", json::array{}, "type", "");
    if (minimal == nullptr) return;
    const json::object s = g.effective(schema, 0);
    const json::object* props = object_of(s.if_contains("properties"));

    for (const auto& name : generator::required_of(s)) {
        json::object args = *minimal;
        if (args.erase(name) == 0) continue;
        add("missing required \"" + name + "\"", std::move(args), "required", "/" + name);
    }
    if (const auto* extra = s.if_contains("additionalProperties");
        extra != nullptr && extra->is_bool() && !extra->get_bool()) {
        json::object args = *minimal;
        args["unexpected_property"] = true;
        add("an undeclared property", std::move(args), "additionalProperties", "/unexpected_property");
    }
    if (props == nullptr) return;
    for (const auto& [key, prop_schema] : *props) {
        const std::string name(key);
        const std::string pointer = "/" + name;
        // The valid object that has this property: the full one, or the minimal one with it added.
        json::object base = full != nullptr && full->contains(name) ? *full : *minimal;
        if (!base.contains(name)) {
            auto v = g.make(prop_schema, mode::minimal, 1, 0);
            if (!v) continue;
            base[name] = std::move(*v);
        }
        auto with = [&](json::value v) {
            json::object args = base;
            args[name] = std::move(v);
            return json::value(std::move(args));
        };
        const json::object p = g.effective(prop_schema, 0);
        if (auto v = wrong_type_value(generator::types_of(p)); v && p.contains("type"))
            add("wrong type for \"" + name + "\"", with(std::move(*v)), "type", pointer);
        if (auto max = number_at(p, "maximum"))
            add("\"" + name + "\" above its maximum", with(*max + 1), "maximum", pointer);
        if (auto min = number_at(p, "minimum"))
            add("\"" + name + "\" below its minimum", with(*min - 1), "minimum", pointer);
        if (auto x = number_at(p, "exclusiveMaximum"))
            add("\"" + name + "\" at its exclusiveMaximum", with(*x), "exclusiveMaximum", pointer);
        if (auto x = number_at(p, "exclusiveMinimum"))
            add("\"" + name + "\" at its exclusiveMinimum", with(*x), "exclusiveMinimum", pointer);
        if (auto max = count_at(p, "maxLength"); max && *max < long_cap)
            add("\"" + name + "\" longer than its maxLength", with(json::value(std::string(*max + 1, 'x'))),
                "maxLength", pointer);
        if (auto min = count_at(p, "minLength"); min && *min > 0)
            add("\"" + name + "\" shorter than its minLength", with(json::value(std::string(*min - 1, 'x'))),
                "minLength", pointer);
        if (p.contains("pattern"))
            add("\"" + name + "\" not matching its pattern", with(json::value("\x01 ?")), "pattern", pointer);
        if (p.contains("enum"))
            add("\"" + name + "\" not one of its enum values", with(json::value("not-a-listed-value")), "enum",
                pointer);
        if (auto max = count_at(p, "maxItems"); max && *max < 1000) {
            if (auto items = g.make(json::value(p), mode::highest, 1, 0); items && items->is_array()) {
                json::array a = items->get_array();
                if (!a.empty()) {
                    while (a.size() <= *max) a.push_back(a.back());
                    add("\"" + name + "\" with more items than its maxItems", with(json::value(std::move(a))),
                        "maxItems", pointer);
                }
            }
        }
        if (auto min = count_at(p, "minItems"); min && *min > 0)
            if (auto items = g.make(json::value(p), mode::lowest, 1, 0); items && items->is_array()) {
                json::array a = items->get_array();
                a.resize(*min - 1);
                add("\"" + name + "\" with fewer items than its minItems", with(json::value(std::move(a))), "minItems",
                    pointer);
            }
        // A property present without one it depends on.
        for (const auto& dep : generator::dependents_of(s, name)) {
            json::object args = base;
            if (args.erase(dep) == 0) continue;
            const bool draft7 = object_of(s.if_contains("dependencies")) != nullptr &&
                                object_of(s.if_contains("dependencies"))->contains(name);
            add("\"" + name + "\" without \"" + dep + "\", which it requires", json::value(std::move(args)),
                draft7 ? "dependencies" : "dependentRequired", pointer);
        }
    }
}

}  // namespace

bool ignored_by_draft7(std::string_view keyword) noexcept { return keyword == "dependentRequired"; }

std::vector<argument_case> generate_cases(const json::value& schema) {
    generator g(schema);
    std::vector<argument_case> out;
    std::set<std::string> seen;
    auto add = [&](argument_case c) {
        if (seen.insert(toolhost::json_text(c.arguments)).second) out.push_back(std::move(c));
    };
    const std::pair<mode, std::string_view> modes[] = {
        {mode::minimal, "minimal"},        {mode::full, "every property"},     {mode::empty, "empty strings"},
        {mode::long_text, "long strings"}, {mode::unicode, "unicode strings"}, {mode::lowest, "lowest values"},
        {mode::highest, "highest values"}};
    const std::size_t branches = g.root_branches();
    std::optional<json::object> minimal, full;
    for (std::size_t b = 0; b < branches; ++b) {
        for (const auto& [m, name] : modes) {
            auto v = g.make(schema, m, 0, 0, b);
            if (!v || !v->is_object()) continue;
            if (b == 0 && m == mode::minimal) minimal = v->get_object();
            if (b == 0 && m == mode::full) full = v->get_object();
            std::string label(name);
            if (branches > 1)
                label += " (alternative " + std::to_string(b + 1) + " of " + std::to_string(branches) + ")";
            add({std::move(label), std::move(*v), true, {}, {}});
        }
    }
    std::vector<argument_case> invalid;
    add_invalid_cases(g, schema, minimal ? &*minimal : nullptr, full ? &*full : nullptr, invalid);
    for (auto& c : invalid) add(std::move(c));
    return out;
}

}  // namespace toolhost::cli::validate
