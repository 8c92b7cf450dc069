#pragma once
/// JSON-with-comments documents that remember where each value came from, for diagnostics.

#include <toolhost/export.hpp>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace toolhost {

/// One diagnostic, printed as `file:line:col: error: /json/pointer: message`.
struct TOOLHOST_API json_diagnostic {
    std::string file;
    std::size_t line = 1;    ///< 1-based
    std::size_t column = 1;  ///< 1-based, counted in bytes
    std::string pointer;     ///< JSON pointer ("" is the root) or, for environment errors, a variable name
    std::string message;

    /// `file:line:col: error: pointer: message`; the root pointer "" prints as "/".
    std::string to_string() const;
};

/// A parsed JSON document (comments and trailing commas allowed, duplicate keys rejected) that
/// can tell the line and column of every value in it.
class TOOLHOST_API json_document {
public:
    /// Parses text with // and /* */ comments and trailing commas; duplicate keys are an error
    /// located at the second occurrence. `file_name` is only used in diagnostics.
    static boost::system::result<json_document, json_diagnostic> parse(std::string text, std::string file_name);

    /// Reads a file then parse(); an unreadable file gives `file:1:1: error: /: cannot read file: ...`.
    static boost::system::result<json_document, json_diagnostic> load(const std::filesystem::path& file);

    /// The parsed value.
    const boost::json::value& value() const noexcept { return value_; }

    /// The file name given to parse() or load().
    const std::string& file() const noexcept { return file_; }

    /// Line and column (1-based) of the value at a JSON pointer (RFC 6901); for a pointer that
    /// does not exist, the location of its deepest existing ancestor.
    std::pair<std::size_t, std::size_t> locate(std::string_view pointer) const;

    /// A diagnostic located at `pointer`.
    json_diagnostic error_at(std::string_view pointer, std::string message) const;
    /// A diagnostic located at the key of the member `pointer` names (for "unknown key" and
    /// the like); falls back to error_at() for the root or array elements.
    json_diagnostic error_at_key(std::string_view pointer, std::string message) const;

private:
    json_document() = default;

    std::pair<std::size_t, std::size_t> line_column(std::size_t offset) const;

    boost::json::value value_;
    std::string file_;
    // Byte offset of the first character of each value, keyed by its (escaped) JSON pointer.
    std::unordered_map<std::string, std::size_t> offsets_;
    std::unordered_map<std::string, std::size_t> key_offsets_;  // where each member's key starts
    // Byte offset at which each line starts; line_starts_[0] == 0.
    std::vector<std::size_t> line_starts_;
};

/// Escapes one reference token for a JSON pointer ("a/b" -> "a~1b", "m~n" -> "m~0n").
TOOLHOST_API std::string json_pointer_escape(std::string_view token);

/// Whether `text` is exactly one JSON value (whitespace around it allowed), checked without
/// building it: for relaying a tool's result text as it is.
TOOLHOST_API bool is_valid_json(std::string_view text) noexcept;

}  // namespace toolhost
