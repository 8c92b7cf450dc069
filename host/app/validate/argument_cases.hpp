#pragma once
// Arguments for an operation, made from its input schema, for `toolhost validate-plugin`: valid
// ones (the required properties only, every property, and edge values the schema allows: empty,
// long and unicode strings, the lowest and highest numbers) and invalid ones (a required property
// missing, a value of the wrong type, a value out of range), each invalid case breaking one
// keyword of an otherwise valid object.
//
// Deterministic: the same schema always gives the same cases, in the same order, so that a run
// that lost its process to a crash can resume at the case after the one that crashed, and a
// failure can be reproduced with `toolhost call`. There is no randomness to seed.
//
// The generator reads the subset of JSON Schema that tool schemas use (type, properties,
// required, additionalProperties, enum, const, default, minimum/maximum and their exclusive
// forms, multipleOf, minLength/maxLength, pattern, format, items, minItems/maxItems,
// uniqueItems, oneOf/anyOf/allOf, local $ref) plus dependentRequired, a keyword of later drafts
// that the host's draft-07 validator ignores. It may misread a schema it does not understand:
// the caller checks every case against the host's own validator and keeps only the valid cases
// that it accepts and the invalid ones that it refuses (or that break a keyword it ignores).

#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace toolhost::cli::validate {

struct argument_case {
    std::string label;  ///< what the case tries: "minimal", "long strings", "missing required \"id\"", ...
    boost::json::value arguments;
    bool valid = true;
    /// For an invalid case: the keyword it breaks ("required", "type", "maximum", ...) and where.
    std::string keyword;
    std::string pointer;
};

/// The valid cases first, then the invalid ones; identical argument objects are given once.
/// `schema` is an operation's input schema as its descriptor declares it.
std::vector<argument_case> generate_cases(const boost::json::value& schema);

/// Whether a draft-07 validator ignores `keyword` although later drafts give it a meaning (so an
/// argument that breaks it reaches the plugin).
bool ignored_by_draft7(std::string_view keyword) noexcept;

}  // namespace toolhost::cli::validate
