#pragma once
/// Status codes, tool errors and call results of the host's C++ API.

#include <toolhost/export.hpp>
#include <toolhost/status.h>

#include <boost/assert/source_location.hpp>
#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace toolhost {

/// The gRPC-style status codes of the C ABI (toolhost/status.h) as a scoped enum.
enum class status_code : int {
    ok = TOOLHOST_STATUS_OK,
    cancelled = TOOLHOST_STATUS_CANCELLED,
    unknown = TOOLHOST_STATUS_UNKNOWN,
    invalid_argument = TOOLHOST_STATUS_INVALID_ARGUMENT,
    deadline_exceeded = TOOLHOST_STATUS_DEADLINE_EXCEEDED,
    not_found = TOOLHOST_STATUS_NOT_FOUND,
    already_exists = TOOLHOST_STATUS_ALREADY_EXISTS,
    permission_denied = TOOLHOST_STATUS_PERMISSION_DENIED,
    resource_exhausted = TOOLHOST_STATUS_RESOURCE_EXHAUSTED,
    failed_precondition = TOOLHOST_STATUS_FAILED_PRECONDITION,
    aborted = TOOLHOST_STATUS_ABORTED,
    out_of_range = TOOLHOST_STATUS_OUT_OF_RANGE,
    unimplemented = TOOLHOST_STATUS_UNIMPLEMENTED,
    internal = TOOLHOST_STATUS_INTERNAL,
    unavailable = TOOLHOST_STATUS_UNAVAILABLE,
    data_loss = TOOLHOST_STATUS_DATA_LOSS,
    unauthenticated = TOOLHOST_STATUS_UNAUTHENTICATED,
};

/// The category of status_code error codes ("toolhost").
TOOLHOST_API const boost::system::error_category& status_category() noexcept;

inline boost::system::error_code make_error_code(status_code c) noexcept {
    return {static_cast<int>(c), status_category()};
}

/// "INVALID_ARGUMENT" etc.; "UNKNOWN" for values outside the enum.
TOOLHOST_API std::string_view status_name(status_code c) noexcept;

/// Parses "INVALID_ARGUMENT" (case-sensitive) back to a code.
TOOLHOST_API std::optional<status_code> parse_status_name(std::string_view name) noexcept;

/// Maps a raw ABI status from a plugin to the enum; values outside 0..16 become unknown.
TOOLHOST_API status_code status_from_abi(toolhost_status_t raw) noexcept;

/// Whether a retry of an idempotent operation may succeed after this code.
TOOLHOST_API bool is_retryable(status_code c) noexcept;

/// A failed call or lifecycle step: a code and a message that names what was wrong.
struct TOOLHOST_API tool_error {
    status_code code = status_code::unknown;
    std::string message;
    /// The plugin's hint for when a retry may succeed (toolhost_call_t.set_retry_after_ms).
    std::optional<std::chrono::milliseconds> retry_after;

    /// "INVALID_ARGUMENT: message"
    std::string to_string() const;
};

/// The exception thrown by call_result::value() on an error, for callers who prefer exceptions.
class TOOLHOST_API tool_exception : public std::runtime_error {
public:
    explicit tool_exception(tool_error e);
    const tool_error& error() const noexcept { return error_; }

private:
    tool_error error_;
};

/// Lets boost::system::result<T, tool_error>::value() throw tool_exception.
[[noreturn]] TOOLHOST_API void throw_exception_from_error(const tool_error& e, const boost::source_location& loc);

/// The result of a tool call: the JSON text the tool returned, or an error value.
using call_result = boost::system::result<std::string, tool_error>;

/// The result of a step that returns nothing on success.
using void_result = boost::system::result<void, tool_error>;

/// Shorthand for building an error result.
inline tool_error make_tool_error(status_code code, std::string message) {
    return tool_error{code, std::move(message), std::nullopt};
}

}  // namespace toolhost

template <>
struct boost::system::is_error_code_enum<toolhost::status_code> : std::true_type {};
