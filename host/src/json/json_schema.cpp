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
#include "json/valijson_adapter.hpp"
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic pop
#endif

#include <toolhost/json_text.hpp>
#include <boost/json/stream_parser.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <regex>
#include <stdexcept>
#include <unordered_map>

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

const value* child_schema(const value& root, const value& schema, const value& instance, std::string_view token) {
    if (!schema.is_object()) return nullptr;
    const auto& obj = schema.get_object();
    if (instance.is_object()) {
        if (obj.contains("patternProperties")) return nullptr;
        if (const auto* props = obj.if_contains("properties"); props && props->is_object()) {
            if (const auto* p = props->get_object().if_contains(token)) return resolve_ref(root, p);
        }
        if (const auto* extra = obj.if_contains("additionalProperties")) return resolve_ref(root, extra);
        return nullptr;
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

// Patterns are compiled lazily by valijson during validation; compiling them once here turns a
// bad pattern into a compile error instead of a surprise on some later call.
std::optional<std::string> check_patterns(const value& node) {
    auto check = [](std::string_view pattern) -> std::optional<std::string> {
        try {
            std::regex re{std::string(pattern)};
        } catch (const std::regex_error& e) {
            return "invalid regular expression '" + std::string(pattern) + "': " + e.what();
        }
        return std::nullopt;
    };
    if (node.is_array()) {
        for (const auto& item : node.get_array()) {
            if (auto error = check_patterns(item)) return error;
        }
    }
    if (!node.is_object()) return std::nullopt;
    for (const auto& member : node.get_object()) {
        std::string_view key = member.key();
        const value& v = member.value();
        // Instance data, not subschemas.
        if (key == "enum" || key == "const" || key == "default" || key == "examples") continue;
        if (key == "pattern" && v.is_string()) {
            if (auto error = check(v.get_string())) return error;
        } else if (key == "patternProperties" && v.is_object()) {
            for (const auto& p : v.get_object()) {
                if (auto error = check(p.key())) return error;
            }
        }
        if (auto error = check_patterns(v)) return error;
    }
    return std::nullopt;
}

// ---- minLength and maxLength in code points
//
// valijson 1.0 measures a string with u8_strlen(s.c_str()), which stops at the first NUL: a
// megabyte after "\u0000" passed "maxLength": 2000. Those two keywords are renamed in the copy
// of the schema valijson reads, and these constraints, registered under the new names, count
// every code point of the whole string instead.

constexpr std::string_view min_length_key = "\x01toolhost:minLength";
constexpr std::string_view max_length_key = "\x01toolhost:maxLength";

// Code points of valid UTF-8 (what Boost.JSON accepts): the bytes that do not continue one.
std::uint64_t code_points(std::string_view s) noexcept {
    std::uint64_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

class string_length_constraint final : public valijson::constraints::PolyConstraint {
public:
    string_length_constraint(bool at_most, std::uint64_t limit) : at_most_(at_most), limit_(limit) {}

    bool validate(const valijson::adapters::Adapter& target, const std::vector<std::string>& context,
                  valijson::ValidationResults* results) const override {
        if (!target.isString()) return true;  // the keyword applies to strings only
        const std::uint64_t n = code_points(target.getString());
        if (at_most_ ? n <= limit_ : n >= limit_) return true;
        if (results)
            results->pushError(context, std::string(at_most_ ? "expected at most " : "expected at least ") +
                                            std::to_string(limit_) + (limit_ == 1 ? " character" : " characters") +
                                            ", got " + std::to_string(n));
        return false;
    }

private:
    valijson::constraints::Constraint* cloneInto(void* memory) const override {
        return new (memory) string_length_constraint(*this);
    }
    std::size_t sizeOf() const override { return sizeof(string_length_constraint); }

    bool at_most_;
    std::uint64_t limit_;
};

class string_length_builder final : public valijson::ConstraintBuilder {
public:
    explicit string_length_builder(bool at_most) : at_most_(at_most) {}
    valijson::constraints::Constraint* make(const valijson::adapters::Adapter& node) const override {
        // As valijson checks its own minLength and maxLength.
        if (node.maybeInteger()) {
            if (const int64_t limit = node.asInteger(); limit >= 0)
                return new string_length_constraint(at_most_, static_cast<std::uint64_t>(limit));
        }
        valijson::throwRuntimeError(std::string("Expected a non-negative integer value for '") +
                                    (at_most_ ? "maxLength" : "minLength") + "' constraint.");
    }

private:
    bool at_most_;
};

// Keywords whose value is a map from names to subschemas: the names are not keywords.
bool names_subschemas(std::string_view key) {
    return key == "properties" || key == "patternProperties" || key == "definitions" || key == "dependencies";
}

// Renames minLength and maxLength in every schema object of `node`, a schema; data (enum,
// const, default, examples) and property names stay as they are. Any object under an unknown
// keyword is treated as a schema too, since a $ref may point there.
void rename_length_keywords(value& node) {
    if (node.is_array()) {
        for (auto& item : node.get_array()) rename_length_keywords(item);
        return;
    }
    if (!node.is_object()) return;
    auto& obj = node.get_object();
    obj.erase(min_length_key);  // only this code may use the private names
    obj.erase(max_length_key);
    for (auto [from, to] : {std::pair{std::string_view("minLength"), min_length_key},
                            std::pair{std::string_view("maxLength"), max_length_key}}) {
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
            for (auto& named : member.value().get_object()) rename_length_keywords(named.value());
        } else {
            rename_length_keywords(member.value());
        }
    }
}

// Each thread keeps the regexes valijson compiles, keyed by pattern text, so that a "pattern"
// keyword is not recompiled on every call. Patterns come from a bounded set of schemas; the
// limit only guards against schemas being replaced forever.
std::unordered_map<std::string, std::regex>& regex_cache() {
    thread_local std::unordered_map<std::string, std::regex> cache;
    if (cache.size() > 512) cache.clear();
    return cache;
}

}  // namespace

struct json_schema::compiled {
    value source;
    schema_kind kind = schema_kind::general;
    valijson::Schema schema;  // empty unless kind == general
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
    if (auto error = check_patterns(schema)) return std::move(*error);

    auto impl = std::make_shared<compiled>();
    impl->source = schema;
    impl->kind = classify(schema);
    if (impl->kind != schema_kind::general) return json_schema(std::move(impl));

    // valijson always goes through the callbacks for remote documents; without a user fetch the
    // callback only remembers what was asked for, so the error can name it.
    std::string missing_uri;
    auto fetch_doc = [&](const std::string& uri) -> const value* {
        if (fetch) {
            if (auto doc = fetch(uri)) {
                auto* fetched = new value(std::move(*doc));
                rename_length_keywords(*fetched);
                return fetched;
            }
        }
        missing_uri = uri;
        return nullptr;
    };
    auto free_doc = [](const value* doc) { delete doc; };

    try {
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        parser.addConstraintBuilder(std::string(min_length_key), new string_length_builder(false));
        parser.addConstraintBuilder(std::string(max_length_key), new string_length_builder(true));
        value renamed = impl->source;  // what valijson reads; nothing of it is kept once parsed
        rename_length_keywords(renamed);
        detail::valijson_adapter adapter(renamed);
        parser.populateSchema(adapter, impl->schema, fetch_doc, free_doc);
    } catch (const std::exception& e) {
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

    using adapter_type = detail::valijson_adapter;
    adapter_type target(instance);
    auto& regexes = regex_cache();
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
            if (schema) schema = child_schema(root, *schema, *parent, token);
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
    } catch (const std::regex_error& e) {
        // Patterns are checked at compile time; this only guards against a regex engine
        // limit (e.g. stack depth) reached on a particular input.
        return validation_error{"", std::string("regular expression failed: ") + e.what()};
    } catch (const std::exception&) {
        // valijson throws when it cannot read a value as a keyword needs it; the instance is a
        // caller's input, so that is its error, never an exception out of a call.
        return validation_error{"", "the value cannot be checked against the schema"};
    }
}

}  // namespace toolhost
