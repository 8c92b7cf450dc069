#pragma once
/// Compiled JSON Schemas (draft-07) for validating tool arguments and configuration.

#include <toolhost/export.hpp>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost {

/// Why an instance does not match a schema.
struct TOOLHOST_API validation_error {
    std::string pointer;  ///< JSON pointer to the offending value in the instance ("" = root)
    std::string message;

    /// "/a/b: message"; the root prints as "/: message".
    std::string to_string() const;
};

/// A compiled JSON Schema (draft-07).
///
/// Cheap to copy (copies share the compiled form). validate() may be called from many threads
/// at once on the same schema.
class TOOLHOST_API json_schema {
public:
    /// Fetches a remote schema document by URI (without fragment); nullopt when unavailable.
    using fetch_function = std::function<std::optional<boost::json::value>(std::string_view uri)>;

    /// Compiles a schema; the error says what is wrong. Remote $ref are not fetched: a schema
    /// that needs one fails to compile.
    static boost::system::result<json_schema, std::string> compile(const boost::json::value& schema);

    /// Compiles a schema, resolving remote $ref through `fetch`.
    static boost::system::result<json_schema, std::string> compile(const boost::json::value& schema,
                                                                   fetch_function fetch);

    /// Parses JSON text then compiles it; parse errors say "not valid JSON: <reason> at offset N".
    static boost::system::result<json_schema, std::string> compile_text(std::string_view text);

    /// nullopt when the instance is valid; otherwise the most specific error found.
    std::optional<validation_error> validate(const boost::json::value& instance) const;

    /// The schema as it was given to compile().
    const boost::json::value& source() const noexcept;

    /// True when every JSON object is valid (e.g. {"type":"object"}), so a caller that already
    /// knows it has an object can skip validate().
    bool accepts_any_object() const noexcept { return accepts_any_object_; }

private:
    struct compiled;
    explicit json_schema(std::shared_ptr<const compiled> impl) noexcept;

    std::shared_ptr<const compiled> impl_;
    bool accepts_any_object_ = false;
};

}  // namespace toolhost
