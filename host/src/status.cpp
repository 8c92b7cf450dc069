#include <toolhost/status.hpp>

#include <array>

namespace toolhost {
namespace {

constexpr std::array<std::string_view, 17> names = {
    "OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED",
};

class category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "toolhost"; }
    std::string message(int ev) const override { return std::string(status_name(static_cast<status_code>(ev))); }
};

}  // namespace

const boost::system::error_category& status_category() noexcept {
    static const category_impl instance;
    return instance;
}

std::string_view status_name(status_code c) noexcept {
    auto i = static_cast<std::size_t>(c);
    return i < names.size() ? names[i] : names[static_cast<std::size_t>(status_code::unknown)];
}

std::optional<status_code> parse_status_name(std::string_view name) noexcept {
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) return static_cast<status_code>(i);
    }
    return std::nullopt;
}

status_code status_from_abi(toolhost_status_t raw) noexcept {
    return raw >= 0 && static_cast<std::size_t>(raw) < names.size() ? static_cast<status_code>(raw)
                                                                    : status_code::unknown;
}

bool is_retryable(status_code c) noexcept {
    switch (c) {
    case status_code::unavailable:
    case status_code::deadline_exceeded:
    case status_code::resource_exhausted:
    case status_code::aborted: return true;
    default: return false;
    }
}

std::string tool_error::to_string() const {
    std::string s(status_name(code));
    s += ": ";
    s += message;
    return s;
}

tool_exception::tool_exception(tool_error e) : std::runtime_error(e.to_string()), error_(std::move(e)) {}

void throw_exception_from_error(const tool_error& e, const boost::source_location&) { throw tool_exception(e); }

}  // namespace toolhost
