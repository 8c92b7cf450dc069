// valijson reports schema errors by exception only when this is set; it is set here, in the one
// translation unit that includes valijson, so that every inline valijson function has one
// definition in the program.
#define VALIJSON_USE_EXCEPTIONS 1

#include <toolhost/json_schema.hpp>
#include <toolhost/json_source.hpp>

// GCC 12 at -O2 reports a false -Wrestrict inside std::string::replace as inlined into valijson's
// JSON pointer code (GCC bug 105329); it is not about this code.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <valijson/constraint_builder.hpp>
#include <valijson/constraints/concrete_constraints.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validation_visitor.hpp>
#include "json/string_keywords.hpp"
#include "json/valijson_adapter.hpp"
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic pop
#endif

#include <toolhost/json_text.hpp>
#include <boost/json/stream_parser.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <regex>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace toolhost {
namespace {

using boost::json::value;

// Keywords that never make an instance invalid; a schema made only of these accepts everything.
constexpr std::array<std::string_view, 9> annotation_keywords = {
    "$schema", "$id", "$comment", "title", "description", "default", "examples", "readOnly", "writeOnly"};

bool is_annotation(std::string_view key) {
    return std::find(annotation_keywords.begin(), annotation_keywords.end(), key) != annotation_keywords.end();
}

enum class schema_kind { accept_all, any_object, general };

schema_kind classify(const value& schema) {
    if (schema.is_bool()) return schema.get_bool() ? schema_kind::accept_all : schema_kind::general;
    const auto& obj = schema.get_object();
    bool object_type = false;
    for (const auto& member : obj) {
        if (member.key() == "type" && member.value() == "object") {
            object_type = true;
        } else if (!is_annotation(member.key())) {
            return schema_kind::general;
        }
    }
    return object_type ? schema_kind::any_object : schema_kind::accept_all;
}

// "number" covers integers too: people say "got number" for 42 when a string was expected.
std::string_view instance_type(const value& v) {
    switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
    }
    return "unknown";
}

bool is_integer(const value& v) {
    if (v.is_int64() || v.is_uint64()) return true;
    if (!v.is_double()) return false;
    double d = v.get_double();
    // draft-07 counts 1.0 as an integer.
    return d == static_cast<double>(static_cast<long long>(d)) && d > -9.2e18 && d < 9.2e18;
}

bool has_type(const value& v, std::string_view type) {
    if (type == "integer") return is_integer(v);
    if (type == "number") return v.is_number();
    return instance_type(v) == type;
}

// A short rendering of a value for messages; large values are cut.
std::string render(const value& v) {
    std::string s = toolhost::json_text(v);
    if (s.size() > 60) {
        s.resize(57);
        s += "...";
    }
    return s;
}

// Messages from valijson describe the constraint, not what to fix. For the common keywords the
// schema itself says what was expected, so these helpers find the schema that applies at an
// instance path (when that can be known without validating) and explain the first failure.
const value* resolve_ref(const value& root, const value* node) {
    for (int depth = 0; node && node->is_object() && depth < 16; ++depth) {
        const auto* ref = node->get_object().if_contains("$ref");
        if (!ref) return node;
        if (!ref->is_string()) return nullptr;
        std::string_view target = ref->get_string();
        if (target.empty() || target.front() != '#') return nullptr;  // remote: not followed
        boost::system::error_code ec;
        node = root.find_pointer(target.substr(1), ec);
    }
    return node && node->is_object() ? node : (node && node->is_bool() ? node : nullptr);
}

// "patternProperties" expressions by their text, compiled (check_keywords).
using property_patterns = std::unordered_map<std::string, detail::ecma_regex>;

const value* child_schema(const value& root, const value& schema, const value& instance, std::string_view token,
                          const property_patterns& patterns) {
    if (!schema.is_object()) return nullptr;
    const auto& obj = schema.get_object();
    if (instance.is_object()) {
        // The one subschema that applies to the member, if only one does.
        const value* applies = nullptr;
        int count = 0;
        if (const auto* props = obj.if_contains("properties"); props && props->is_object()) {
            if (const auto* p = props->get_object().if_contains(token)) applies = p, ++count;
        }
        if (const auto* by_pattern = obj.if_contains("patternProperties"); by_pattern && by_pattern->is_object()) {
            for (const auto& p : by_pattern->get_object()) {
                const auto re = patterns.find(std::string(p.key()));
                if (re == patterns.end()) return nullptr;
                switch (re->second.search(token)) {
                case detail::ecma_regex::outcome::match: applies = &p.value(), ++count; break;
                case detail::ecma_regex::outcome::no_match: break;
                case detail::ecma_regex::outcome::too_complex: return nullptr;
                }
            }
        }
        if (count == 0) {
            if (const auto* extra = obj.if_contains("additionalProperties")) return resolve_ref(root, extra);
        }
        return count == 1 ? resolve_ref(root, applies) : nullptr;
    }
    if (instance.is_array()) {
        const auto* items = obj.if_contains("items");
        if (!items) return nullptr;
        if (!items->is_array()) return resolve_ref(root, items);
        std::size_t index = 0;
        for (char c : token) index = index * 10 + static_cast<std::size_t>(c - '0');
        if (index < items->get_array().size()) return resolve_ref(root, &items->get_array()[index]);
        if (const auto* extra = obj.if_contains("additionalItems")) return resolve_ref(root, extra);
    }
    return nullptr;
}

std::optional<std::string> explain(const value& schema, const value& instance) {
    if (schema.is_bool()) {
        if (schema.get_bool()) return std::nullopt;
        return std::string("no value is allowed here");
    }
    const auto& obj = schema.get_object();
    if (const auto* type = obj.if_contains("type")) {
        std::string expected;
        bool matched = false;
        auto consider = [&](const value& t) {
            if (!t.is_string()) return;
            matched = matched || has_type(instance, t.get_string());
            if (!expected.empty()) expected += " or ";
            expected += t.get_string();
        };
        if (type->is_array()) {
            for (const auto& t : type->get_array()) consider(t);
        } else {
            consider(*type);
        }
        if (!matched && !expected.empty()) {
            return "expected type " + expected + ", got " + std::string(instance_type(instance));
        }
        if (instance.is_uint64() &&
            instance.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) &&
            expected.find("integer") != std::string::npos && expected.find("number") == std::string::npos) {
            // The validator reads integers as int64 (valijson): beyond it only "number" fits.
            return "expected an integer of at most 9223372036854775807, got " + render(instance);
        }
    }
    if (const auto* options = obj.if_contains("enum"); options && options->is_array()) {
        const auto& arr = options->get_array();
        if (std::find(arr.begin(), arr.end(), instance) == arr.end()) {
            std::string list;
            for (const auto& option : arr) {
                if (!list.empty()) list += ", ";
                list += render(option);
            }
            return "expected one of " + list + ", got " + render(instance);
        }
    }
    if (const auto* expected = obj.if_contains("const"); expected && *expected != instance) {
        return "expected " + render(*expected) + ", got " + render(instance);
    }
    if (!instance.is_object()) return std::nullopt;
    const auto& members = instance.get_object();
    if (const auto* required = obj.if_contains("required"); required && required->is_array()) {
        for (const auto& name : required->get_array()) {
            if (name.is_string() && !members.contains(name.get_string())) {
                return "missing required property '" + std::string(name.get_string()) + "'";
            }
        }
    }
    if (const auto* extra = obj.if_contains("additionalProperties");
        extra && *extra == false && !obj.contains("patternProperties")) {
        const auto* props = obj.if_contains("properties");
        for (const auto& member : members) {
            if (!props || !props->is_object() || !props->get_object().contains(member.key())) {
                return "unexpected property '" + std::string(member.key()) + "'";
            }
        }
    }
    return std::nullopt;
}

// Rewrites valijson's constraint-centred wording into what is wrong with the value.
std::string reword(const std::string& description, const value* instance) {
    constexpr std::string_view missing = "Missing required property '";
    constexpr std::string_view unexpected =
        "Object contains a property that could not be validated using "
        "'properties' or 'additionalProperties' constraints: '";
    std::string_view d = description;
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    if (d.starts_with(missing)) return "missing required property '" + std::string(d.substr(missing.size()));
    if (d.starts_with(unexpected)) return "unexpected property '" + std::string(d.substr(unexpected.size()));
    if (d == "Value type not permitted by 'type' constraint" && instance) {
        return "a value of type " + std::string(instance_type(*instance)) + " is not allowed here";
    }
    std::string s(d);
    if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
    return s;
}

// valijson's context is {"<root>", "[name]", "[0]", ...}; each bracketed part is one token.
std::string context_to_pointer(const std::vector<std::string>& context, std::vector<std::string>* tokens) {
    std::string pointer;
    for (std::size_t i = 1; i < context.size(); ++i) {
        std::string_view part = context[i];
        if (part.size() >= 2 && part.front() == '[' && part.back() == ']') part = part.substr(1, part.size() - 2);
        pointer += '/';
        pointer += json_pointer_escape(part);
        if (tokens) tokens->emplace_back(part);
    }
    return pointer;
}

// "patternProperties" expressions, compiled once per schema with Boost.Regex as "pattern" is, so
// that a bad one is a compile error instead of a surprise on some later call. valijson would
// compile them with std::regex on every call and match property names with its unbounded
// backtracking matcher: a nested quantifier held a thread for minutes per name (fuzz_schema);
// its compiler and matcher recursed per term and per character (stack overflow), and it read
// repeat counts into an int unchecked (undefined behaviour). valijson's matching is replaced
// below (the PropertiesConstraint visitor) by one that uses these.

// Keywords whose value is a map from names to subschemas: the names are not keywords.
bool names_subschemas(std::string_view key) {
    return key == "properties" || key == "patternProperties" || key == "definitions" || key == "dependencies";
}

// Checks what valijson takes on trust, in every schema object of `node`: compiles the
// patternProperties expressions (above), and refuses a "multipleOf" that is not a number greater
// than 0, as JSON Schema requires (valijson divided by it: 0 ended the process with SIGFPE).
std::optional<std::string> check_keywords(const value& node, property_patterns& patterns) {
    if (node.is_array()) {
        for (const auto& item : node.get_array()) {
            if (auto error = check_keywords(item, patterns)) return error;
        }
    }
    if (!node.is_object()) return std::nullopt;
    for (const auto& member : node.get_object()) {
        std::string_view key = member.key();
        const value& v = member.value();
        // Instance data, not subschemas.
        if (key == "enum" || key == "const" || key == "default" || key == "examples") continue;
        if (key == "patternProperties" && v.is_object()) {
            for (const auto& p : v.get_object()) {
                std::string expression(p.key());
                if (patterns.contains(expression)) continue;
                auto re = detail::ecma_regex::compile(expression);
                if (re.has_error()) return "invalid regular expression '" + expression + "': " + re.error();
                patterns.emplace(std::move(expression), std::move(*re));
            }
        }
        if (key == "multipleOf" && !(v.is_number() && v.to_number<double>() > 0))
            return "multipleOf must be a number greater than 0, got " + render(v);
        if (names_subschemas(key) && v.is_object()) {
            for (const auto& named : v.get_object())
                if (auto error = check_keywords(named.value(), patterns)) return error;
        } else if (auto error = check_keywords(v, patterns)) {
            return error;
        }
    }
    return std::nullopt;
}

// The patterns of the schema whose validate() runs on this thread (valijson's visitor has no
// room for them).
thread_local const property_patterns* validating_patterns = nullptr;

// ---- References valijson would follow forever
//
// valijson resolves a "$ref" by recursing into its target, and again while the target is itself
// a "$ref", with no guard against a chain that comes back ({"$ref": "#"}, or "a" -> "b" -> "a"):
// it recursed until the stack overflowed (found by fuzz_schema). Its JSON pointer resolution
// also recurses once per token and its URN test is a std::regex over the whole reference, so a
// reference is bounded in length as well. The chain is followed here with valijson's own rules
// (what counts as another document, how a token is decoded) so that the two agree.

constexpr std::size_t max_ref_length = 1024;
// Every document a chain of remote references may fetch, per compiled schema.
constexpr int max_remote_fetches = 1000;

// Where a reference lands in `root`, valijson's way; nullptr when it names another document or
// nothing (valijson then reports the error itself).
const value* local_ref_target(const value& root, const std::string& ref) {
    namespace jr = valijson::internal::json_reference;
    if (const auto uri = jr::getJsonReferenceUri(ref);
        uri && (valijson::internal::uri::isUriAbsolute(*uri) || valijson::internal::uri::isUrn(*uri)))
        return nullptr;
    std::string pointer = jr::getJsonReferencePointer(ref).value_or("");
    pointer.erase(pointer.find_last_not_of('/') + 1);
    const value* node = &root;
    std::size_t at = 0;
    try {
        while (at < pointer.size()) {
            if (pointer[at] != '/') return nullptr;
            const auto next = std::min(pointer.find('/', at + 1), pointer.size());
            const std::string token = valijson::internal::json_pointer::extractReferenceToken(pointer.begin() + at + 1,
                                                                                              pointer.begin() + next);
            at = next;
            if (token.empty()) continue;
            if (node->is_array()) {
                const auto index = std::stoul(token);
                if (index >= node->get_array().size()) return nullptr;
                node = &node->get_array()[index];
            } else if (node->is_object()) {
                node = node->get_object().if_contains(token);
                if (node == nullptr) return nullptr;
            } else {
                return nullptr;
            }
        }
    } catch (const std::exception&) {
        return nullptr;  // a token valijson cannot decode either
    }
    return node;
}

// The first reference in `root` that is too long or starts a chain of references that never
// reaches a schema. Each object is followed once: a chain that reached a schema is remembered.
std::optional<std::string> check_refs(const value& root) {
    struct frame {
        const value* v;
        std::string pointer;
    };
    std::unordered_set<const value*> settled;
    std::vector<frame> stack{{&root, ""}};  // not recursive: a fetched document may be deep
    while (!stack.empty()) {
        frame f = std::move(stack.back());
        stack.pop_back();
        if (f.v->is_array()) {
            const auto& arr = f.v->get_array();
            for (std::size_t i = 0; i < arr.size(); ++i)
                stack.push_back({&arr[i], f.pointer + '/' + std::to_string(i)});
            continue;
        }
        if (!f.v->is_object()) continue;
        if (const auto* ref = f.v->get_object().if_contains("$ref"); ref != nullptr && ref->is_string()) {
            const std::string where = f.pointer + "/$ref";
            std::vector<const value*> chain{f.v};
            for (const value* at = f.v; !settled.contains(at);) {
                const std::string text(at->get_object().at("$ref").get_string());
                if (text.size() > max_ref_length)
                    return where + ": a $ref on its way is longer than " + std::to_string(max_ref_length) + " bytes";
                const value* next = local_ref_target(root, text);
                if (next == nullptr || !next->is_object()) break;
                const auto* next_ref = next->get_object().if_contains("$ref");
                if (next_ref == nullptr || !next_ref->is_string()) break;
                if (std::find(chain.begin(), chain.end(), next) != chain.end())
                    return where + ": circular $ref: following \"" + std::string(ref->get_string()) +
                           "\" comes back to a $ref without reaching a schema";
                chain.push_back(next);
                at = next;
            }
            settled.insert(chain.begin(), chain.end());
        }
        for (const auto& member : f.v->get_object()) {
            const std::string_view key = member.key();
            if (key == "enum" || key == "const" || key == "default" || key == "examples") continue;  // data
            stack.push_back({&member.value(), f.pointer + '/' + json_pointer_escape(key)});
        }
    }
    return std::nullopt;
}

// ---- String keywords the host checks instead of valijson
//
// valijson 1.0 gets three string keywords wrong for input a client controls:
//   - minLength and maxLength measure with u8_strlen(s.c_str()), which stops at the first NUL:
//     a megabyte after "\u0000" passed "maxLength": 2000;
//   - pattern and format (date, time, date-time) match with std::regex, whose matcher recurses
//     per character: a 50,000-character argument overflowed the thread's stack and ended the
//     process.
// Those keywords are renamed in the copy of the schema valijson reads, and the constraints below,
// registered under the new names, check them instead: lengths in code points of the whole
// string, patterns with Boost.Regex (bounded), formats by a parser. Like valijson's, they apply
// to strings only.

constexpr std::string_view min_length_key = "\x01toolhost:minLength";
constexpr std::string_view max_length_key = "\x01toolhost:maxLength";
constexpr std::string_view pattern_key = "\x01toolhost:pattern";
constexpr std::string_view format_key = "\x01toolhost:format";

constexpr std::pair<std::string_view, std::string_view> renamed_keywords[] = {
    {"minLength", min_length_key}, {"maxLength", max_length_key}, {"pattern", pattern_key}, {"format", format_key}};

// Code points of valid UTF-8 (what Boost.JSON accepts): the bytes that do not continue one.
std::uint64_t code_points(std::string_view s) noexcept {
    std::uint64_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// The part valijson needs of every custom constraint: copying itself into its own storage.
template <class Derived>
class string_constraint : public valijson::constraints::PolyConstraint {
public:
    bool validate(const valijson::adapters::Adapter& target, const std::vector<std::string>& context,
                  valijson::ValidationResults* results) const final {
        if (!target.isString()) return true;
        std::optional<std::string> error = static_cast<const Derived&>(*this).check(target.getString());
        if (!error) return true;
        if (results) results->pushError(context, *error);
        return false;
    }

private:
    valijson::constraints::Constraint* cloneInto(void* memory) const final {
        return new (memory) Derived(static_cast<const Derived&>(*this));
    }
    std::size_t sizeOf() const final { return sizeof(Derived); }
};

class string_length_constraint final : public string_constraint<string_length_constraint> {
public:
    string_length_constraint(bool at_most, std::uint64_t limit) : at_most_(at_most), limit_(limit) {}

    std::optional<std::string> check(const std::string& s) const {
        const std::uint64_t n = code_points(s);
        if (at_most_ ? n <= limit_ : n >= limit_) return std::nullopt;
        return std::string(at_most_ ? "expected at most " : "expected at least ") + std::to_string(limit_) +
               (limit_ == 1 ? " character" : " characters") + ", got " + std::to_string(n);
    }

private:
    bool at_most_;
    std::uint64_t limit_;
};

class pattern_constraint final : public string_constraint<pattern_constraint> {
public:
    explicit pattern_constraint(detail::ecma_regex re) : re_(std::move(re)) {}

    std::optional<std::string> check(const std::string& s) const {
        switch (re_.search(s)) {
        case detail::ecma_regex::outcome::match: return std::nullopt;
        case detail::ecma_regex::outcome::no_match: return "does not match the pattern '" + re_.pattern() + "'";
        case detail::ecma_regex::outcome::too_complex: break;
        }
        return "cannot be matched against the pattern '" + re_.pattern() + "' within the regular expression " +
               "engine's limits (" + std::to_string(code_points(s)) + " characters)";
    }

private:
    detail::ecma_regex re_;
};

class format_constraint final : public string_constraint<format_constraint> {
public:
    enum class kind { date, time, date_time };
    explicit format_constraint(kind k) : kind_(k) {}

    std::optional<std::string> check(const std::string& s) const {
        switch (kind_) {
        case kind::date:
            if (detail::is_rfc3339_date(s)) return std::nullopt;
            return "expected a date (RFC 3339 full-date, e.g. 2026-12-04), got " + render(value(s));
        case kind::time:
            if (detail::is_rfc3339_time(s)) return std::nullopt;
            return "expected a time (RFC 3339 full-time, e.g. 16:52:45Z), got " + render(value(s));
        case kind::date_time:
            if (detail::is_rfc3339_date_time(s)) return std::nullopt;
            return "expected a date-time (RFC 3339, e.g. 2026-12-04T16:52:45+01:00), got " + render(value(s));
        }
        return std::nullopt;
    }

private:
    kind kind_;
};

// A constraint that accepts every value: formats that are only annotations.
class accept_constraint final : public string_constraint<accept_constraint> {
public:
    std::optional<std::string> check(const std::string&) const { return std::nullopt; }
};

class string_keyword_builder final : public valijson::ConstraintBuilder {
public:
    explicit string_keyword_builder(std::string_view keyword) : keyword_(keyword) {}

    valijson::constraints::Constraint* make(const valijson::adapters::Adapter& node) const override {
        if (keyword_ == "minLength" || keyword_ == "maxLength") {
            // As valijson checks its own minLength and maxLength.
            if (node.maybeInteger()) {
                if (const int64_t limit = node.asInteger(); limit >= 0)
                    return new string_length_constraint(keyword_ == "maxLength", static_cast<std::uint64_t>(limit));
            }
            valijson::throwRuntimeError("Expected a non-negative integer value for '" + keyword_ + "' constraint.");
        }
        if (!node.isString()) valijson::throwRuntimeError("Expected a string value for '" + keyword_ + "' constraint.");
        const std::string text = node.getString();
        if (keyword_ == "pattern") {
            auto re = detail::ecma_regex::compile(text);
            if (re.has_error()) valijson::throwRuntimeError("invalid regular expression '" + text + "': " + re.error());
            return new pattern_constraint(std::move(*re));
        }
        // The formats valijson checked; every other format is an annotation (draft 7 makes
        // checking them optional), as it was.
        if (text == "date") return new format_constraint(format_constraint::kind::date);
        if (text == "time") return new format_constraint(format_constraint::kind::time);
        if (text == "date-time") return new format_constraint(format_constraint::kind::date_time);
        return new accept_constraint();
    }

private:
    std::string keyword_;
};

// Renames the keywords above in every schema object of `node`, a schema; data (enum, const,
// default, examples) and property names stay as they are. Any object under an unknown keyword is
// treated as a schema too, since a $ref may point there.
void rename_string_keywords(value& node) {
    if (node.is_array()) {
        for (auto& item : node.get_array()) rename_string_keywords(item);
        return;
    }
    if (!node.is_object()) return;
    auto& obj = node.get_object();
    for (auto [from, to] : renamed_keywords) obj.erase(to);  // only this code may use the private names
    for (auto [from, to] : renamed_keywords) {
        if (auto it = obj.find(from); it != obj.end()) {
            value v = std::move(it->value());
            obj.erase(it);
            obj[to] = std::move(v);
        }
    }
    for (auto& member : obj) {
        const std::string_view key = member.key();
        if (key == "enum" || key == "const" || key == "default" || key == "examples") continue;
        if (names_subschemas(key) && member.value().is_object()) {
            for (auto& named : member.value().get_object()) rename_string_keywords(named.value());
        } else {
            rename_string_keywords(member.value());
        }
    }
}

// valijson's visitor needs a map to cache the std::regex objects of "pattern" keywords in; the
// host checks "pattern" itself, so nothing is ever put in it.
std::unordered_map<std::string, std::regex>& unused_regex_cache() {
    thread_local std::unordered_map<std::string, std::regex> cache;
    return cache;
}

}  // namespace
}  // namespace toolhost

// valijson's visitor for "properties", "patternProperties" and "additionalProperties" (one
// constraint), for the host's adapter: the same rules, with property names matched against the
// schema's Boost.Regex patternProperties (check_keywords) instead of a std::regex compiled per
// call. A name the engine cannot decide within its bounds is an error at that property.
template <>
bool valijson::ValidationVisitor<toolhost::detail::valijson_adapter>::visit(
    const constraints::PropertiesConstraint& constraint) {
    using toolhost::detail::ecma_regex;
    if ((m_strictTypes && !m_target.isObject()) || !m_target.maybeObject()) return true;
    const auto object = m_target.asObject();
    bool validated = true;
    std::set<std::string> matched;  // names that met "properties" or a pattern
    // A property's context (where an error is reported) is built only when errors are recorded:
    // the pass that records nothing, which every valid instance takes alone, copied the whole
    // context vector per property visited, half of a validation's time (issue 17, perf).
    const bool recording = m_results != nullptr;
    auto context_of = [&](const std::string& name) {
        std::vector<std::string> context;
        if (recording) {
            context = m_context;
            context.push_back("[" + name + "]");
        }
        return context;
    };

    // "properties": valijson's ValidatePropertySubschemas, without the context when not recording.
    constraint.applyToProperties([&](const auto& property_name, const Subschema* subschema) {
        const std::string name(property_name.c_str());
        const auto itr = object.find(name);
        if (itr == object.end()) return true;
        matched.insert(name);
        ValidationVisitor child(itr->second, context_of(name), m_strictTypes, m_results, m_regexesCache);
        if (child.validateSchema(*subschema)) return true;
        if (recording)
            m_results->pushError(m_context,
                                 "Failed to validate against schema associated with property name '" + name + "'.");
        validated = false;
        return recording;  // without recording, the first failure decides
    });
    if (!validated && !m_results) return false;

    constraint.applyToPatternProperties([&](const auto& pattern, const Subschema* subschema) {
        const std::string expression(pattern.c_str());
        std::optional<ecma_regex> own;  // only for a pattern check_keywords did not see
        const ecma_regex* re = nullptr;
        if (const auto* table = toolhost::validating_patterns) {
            if (auto it = table->find(expression); it != table->end()) re = &it->second;
        }
        if (re == nullptr) {
            auto compiled = ecma_regex::compile(expression);
            if (compiled.has_error()) {
                if (m_results)
                    m_results->pushError(m_context,
                                         "Invalid regular expression '" + expression + "': " + compiled.error());
                validated = false;
                return m_results != nullptr;
            }
            re = &own.emplace(std::move(*compiled));
        }
        for (const auto member : object) {
            const auto outcome = re->search(member.first);
            if (outcome == ecma_regex::outcome::no_match) continue;
            matched.insert(member.first);
            std::vector<std::string> context = context_of(member.first);
            if (outcome == ecma_regex::outcome::too_complex) {
                if (m_results)
                    m_results->pushError(context,
                                         "Property name cannot be matched against the patternProperties "
                                         "expression '" +
                                             expression + "' within the regular expression engine's limits");
            } else {
                ValidationVisitor child(member.second, std::move(context), m_strictTypes, m_results, m_regexesCache);
                if (child.validateSchema(*subschema)) continue;
                if (m_results)
                    m_results->pushError(
                        m_context, "Failed to validate against schema associated with pattern '" + expression + "'.");
            }
            validated = false;
            if (!m_results) return false;
        }
        return true;
    });
    if (!validated && !m_results) return false;

    const Subschema* additional = constraint.getAdditionalPropertiesSubschema();
    for (const auto member : object) {
        if (matched.contains(member.first)) continue;
        if (additional == nullptr) {  // "additionalProperties": false
            if (m_results)
                m_results->pushError(m_context,
                                     "Object contains a property that could not be validated using 'properties' "
                                     "or 'additionalProperties' constraints: '" +
                                         member.first + "'.");
            return false;
        }
        ValidationVisitor child(member.second, context_of(member.first), m_strictTypes, m_results, m_regexesCache);
        if (child.validateSchema(*additional)) continue;
        if (m_results) m_results->pushError(m_context, "Failed to validate against additional properties schema");
        validated = false;
        if (!m_results) return false;
    }
    return validated;
}

// valijson's "multipleOf" visitors, for the host's adapter. valijson's read a string that looks
// like a number as one (a string is valid against multipleOf: it applies to numbers only), cast a
// double beyond the int64 range to int64 (undefined behaviour; fuzz_schema under UBSan), and
// compared a remainder with an absolute epsilon (10.5 was no multiple of 0.1). Here: numbers only,
// integers exactly, doubles by their remainder relative to the divisor. (The divisor is a number
// greater than 0: check_keywords refuses any other.)
namespace toolhost::detail {
namespace {

bool multiple_of(const valijson::adapters::Adapter& target, double divisor, std::optional<int64_t> integral) {
    if (integral && target.isInteger()) return target.getInteger() % *integral == 0;
    const double x = target.isInteger() ? static_cast<double>(target.getInteger()) : target.getDouble();
    if (!std::isfinite(x)) return false;
    const double r = std::remainder(x, divisor);
    return std::fabs(r) <= divisor * 1e-9;
}

template <class Results>
bool check_multiple_of(const valijson::adapters::Adapter& target, double divisor, std::optional<int64_t> integral,
                       Results* results, const std::vector<std::string>& context, const std::string& shown) {
    if (!target.isNumber() || multiple_of(target, divisor, integral)) return true;
    if (results) results->pushError(context, "Value should be a multiple of " + shown);
    return false;
}

}  // namespace
}  // namespace toolhost::detail

template <>
bool valijson::ValidationVisitor<toolhost::detail::valijson_adapter>::visit(
    const constraints::MultipleOfIntConstraint& constraint) {
    const int64_t divisor = constraint.getDivisor();
    return toolhost::detail::check_multiple_of(m_target, static_cast<double>(divisor), divisor, m_results, m_context,
                                               std::to_string(divisor));
}

template <>
bool valijson::ValidationVisitor<toolhost::detail::valijson_adapter>::visit(
    const constraints::MultipleOfDoubleConstraint& constraint) {
    const double divisor = constraint.getDivisor();
    return toolhost::detail::check_multiple_of(m_target, divisor, std::nullopt, m_results, m_context,
                                               toolhost::json_text(boost::json::value(divisor)));
}

namespace toolhost {

struct json_schema::compiled {
    value source;
    schema_kind kind = schema_kind::general;
    valijson::Schema schema;     // empty unless kind == general
    property_patterns patterns;  // of patternProperties (check_keywords)
};

std::string validation_error::to_string() const {
    std::string s = pointer.empty() ? std::string("/") : pointer;
    s += ": ";
    s += message;
    return s;
}

boost::system::result<json_schema, std::string> json_schema::compile(const value& schema) {
    return compile(schema, nullptr);
}

boost::system::result<json_schema, std::string> json_schema::compile(const value& schema, fetch_function fetch) {
    if (!schema.is_object() && !schema.is_bool()) return std::string("schema must be an object or a boolean");
    auto impl = std::make_shared<compiled>();
    if (auto error = check_keywords(schema, impl->patterns)) return std::move(*error);
    if (auto error = check_refs(schema)) return std::move(*error);
    impl->source = schema;
    impl->kind = classify(schema);
    if (impl->kind != schema_kind::general) return json_schema(std::move(impl));

    // valijson always goes through the callbacks for remote documents; without a user fetch the
    // callback only remembers what was asked for, so the error can name it.
    std::string missing_uri;
    std::optional<std::string> fetched_error;
    int fetches = 0;
    // The fetched documents live until compile() returns: valijson frees its cached documents at
    // the end of a parse, but not when the parse ends with an exception (a refused document, too
    // many fetches), so it is given a free function that does nothing.
    std::vector<std::unique_ptr<value>> fetched_docs;
    auto fetch_doc = [&](const std::string& uri) -> const value* {
        // Documents that refer to each other would be fetched again and again.
        if (++fetches > max_remote_fetches) {
            fetched_error = "more than " + std::to_string(max_remote_fetches) +
                            " remote schemas fetched (do remote documents refer to each other in a circle?)";
            throw std::invalid_argument(*fetched_error);
        }
        if (fetch) {
            if (auto doc = fetch(uri)) {
                fetched_error = check_refs(*doc);
                if (!fetched_error) fetched_error = check_keywords(*doc, impl->patterns);
                if (fetched_error) {
                    *fetched_error = "in remote schema '" + uri + "': " + *fetched_error;
                    throw std::invalid_argument(*fetched_error);  // ends populateSchema
                }
                auto& fetched = fetched_docs.emplace_back(std::make_unique<value>(std::move(*doc)));
                rename_string_keywords(*fetched);
                return fetched.get();
            }
        }
        missing_uri = uri;
        return nullptr;
    };
    auto free_doc = [](const value*) {};

    try {
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        for (auto [keyword, renamed_keyword] : renamed_keywords)
            parser.addConstraintBuilder(std::string(renamed_keyword), new string_keyword_builder(keyword));
        value renamed = impl->source;  // what valijson reads; nothing of it is kept once parsed
        rename_string_keywords(renamed);
        detail::valijson_adapter adapter(renamed);
        parser.populateSchema(adapter, impl->schema, fetch_doc, free_doc);
    } catch (const std::exception& e) {
        if (fetched_error) return std::move(*fetched_error);
        // A "pattern" that does not compile is found by its constraint builder, once.
        if (std::string_view(e.what()).starts_with("invalid regular expression")) return std::string(e.what());
        if (!missing_uri.empty()) {
            return fetch ? "cannot fetch remote schema '" + missing_uri + "' referenced by $ref"
                         : "remote $ref '" + missing_uri + "' is not supported (remote schemas are not fetched)";
        }
        return std::string("invalid schema: ") + e.what();
    }
    return json_schema(std::move(impl));
}

boost::system::result<json_schema, std::string> json_schema::compile_text(std::string_view text) {
    boost::json::stream_parser parser;
    boost::system::error_code ec;
    std::size_t consumed = parser.write(text.data(), text.size(), ec);
    if (!ec) {
        parser.finish(ec);
        consumed = text.size();
    }
    if (ec) return "not valid JSON: " + ec.message() + " at offset " + std::to_string(consumed);
    return compile(parser.release());
}

json_schema::json_schema(std::shared_ptr<const compiled> impl) noexcept
    : impl_(std::move(impl)), accepts_any_object_(impl_->kind != schema_kind::general) {}

const value& json_schema::source() const noexcept { return impl_->source; }

std::optional<validation_error> json_schema::validate(const value& instance) const {
    switch (impl_->kind) {
    case schema_kind::accept_all: return std::nullopt;
    case schema_kind::any_object:
        if (instance.is_object()) return std::nullopt;
        return validation_error{"", "expected type object, got " + std::string(instance_type(instance))};
    case schema_kind::general: break;
    }

    const auto* saved_patterns = std::exchange(validating_patterns, &impl_->patterns);
    struct restore {
        const property_patterns* saved;
        ~restore() { validating_patterns = saved; }
    } restore_patterns{saved_patterns};

    using adapter_type = detail::valijson_adapter;
    adapter_type target(instance);
    auto& regexes = unused_regex_cache();
    try {
        // First pass stops at the first failure and records nothing: the common, valid case
        // pays for no error bookkeeping.
        {
            valijson::ValidationVisitor<adapter_type> visitor(target, {"<root>"}, true, nullptr, regexes);
            if (visitor.validateSchema(*impl_->schema.root())) return std::nullopt;
        }
        valijson::ValidationResults results;
        valijson::ValidationVisitor<adapter_type> visitor(target, {"<root>"}, true, &results, regexes);
        visitor.validateSchema(*impl_->schema.root());

        // The deepest error is the most specific; among equally deep ones valijson reports
        // the cause before the summaries of enclosing keywords, so the first one wins.
        valijson::ValidationResults::Error best;
        valijson::ValidationResults::Error error;
        bool found = false;
        while (results.popError(error)) {
            if (!found || error.context.size() > best.context.size()) {
                best = std::move(error);
                found = true;
            }
        }

        std::vector<std::string> tokens;
        validation_error out{context_to_pointer(best.context, &tokens), {}};

        // Walk instance and schema down to the error's location.
        const value& root = impl_->source;
        const value* node = &instance;
        const value* schema = resolve_ref(root, &root);
        for (const auto& token : tokens) {
            if (!node) break;
            const value* parent = node;
            if (parent->is_object()) {
                node = parent->get_object().if_contains(token);
            } else if (parent->is_array()) {
                std::size_t index = 0;
                for (char c : token) index = index * 10 + static_cast<std::size_t>(c - '0');
                node = index < parent->get_array().size() ? &parent->get_array()[index] : nullptr;
            } else {
                node = nullptr;
            }
            if (schema) schema = child_schema(root, *schema, *parent, token, impl_->patterns);
        }
        std::optional<std::string> message;
        if (node && schema) message = explain(*schema, *node);
        if (message) {
            out.message = std::move(*message);
        } else if (found) {
            out.message = reword(best.description, node);
        } else {
            out.message = "value does not match the schema";
        }
        return out;
    } catch (const std::exception&) {
        // valijson throws when it cannot read a value as a keyword needs it; the instance is a
        // caller's input, so that is its error, never an exception out of a call.
        return validation_error{"", "the value cannot be checked against the schema"};
    }
}

}  // namespace toolhost
