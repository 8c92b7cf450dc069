#include "telemetry/http_post.hpp"

#include <toolhost/tracing.hpp>

#include <algorithm>
#include <charconv>

namespace toolhost {
namespace detail {
namespace {

constexpr std::string_view default_target = "/v1/traces";

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// 'text', in quotes. Built by appending: GCC 12 warns (-Wrestrict, falsely) about
// "'" + std::string(...) once the call is inlined.
std::string quoted(std::string_view text) {
    std::string s;
    s.reserve(text.size() + 2);
    s += '\'';
    s += text;
    s += '\'';
    return s;
}

bool is_alnum(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

std::string parse_endpoint(std::string_view url, http_endpoint& out) {
    constexpr std::string_view scheme = "http://";
    if (url.size() >= 8 && ascii_iequals(url.substr(0, 8), "https://"))
        return "https is not supported; send to a collector on this machine or a sidecar that forwards over TLS";
    if (url.size() < scheme.size() || !ascii_iequals(url.substr(0, scheme.size()), scheme))
        return "expected an http:// URL such as \"http://127.0.0.1:4318/v1/traces\"";
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return "URLs cannot contain spaces or control characters";
    }
    std::string_view rest = url.substr(scheme.size());
    if (rest.find('#') != std::string_view::npos) return "a URL fragment ('#...') is never sent; remove it";
    const std::size_t authority_end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, authority_end);
    std::string_view target = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.find('@') != std::string_view::npos)
        return "credentials in the URL are not supported; put them in \"headers\"";

    std::string_view host;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return "missing ']' after the IPv6 address";
        host = authority.substr(1, close - 1);
        boost::system::error_code ec;
        net::ip::make_address_v6(std::string(host), ec);
        if (ec) return quoted(host) + " is not an IPv6 address";
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return "expected ':' and a port after the IPv6 address";
            port = after.substr(1);
            if (port.empty()) return "empty port after ':'";
        }
    } else {
        const std::size_t colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) return "empty port after ':'";
        }
        for (char c : host) {
            if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
                return quoted(host) + " is not a host name or IP address";
        }
    }
    if (host.empty()) return "the URL names no host";
    unsigned port_number = 80;
    if (!port.empty()) {
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
        if (ec != std::errc{} || end != port.data() + port.size() || port_number == 0 || port_number > 65535)
            return "port '" + std::string(port) + "' is not a number from 1 to 65535";
    }
    out.host = std::string(host);
    out.port = std::to_string(port_number);
    out.host_header = std::string(authority);
    if (target.empty()) {
        out.target = default_target;
    } else if (target.front() == '?') {
        out.target = std::string(default_target) + std::string(target);
    } else {
        out.target = std::string(target);
    }
    return {};
}

// RFC 9110 tchar.
bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return std::all_of(s.begin(), s.end(),
                       [&](char c) { return is_alnum(c) || extra.find(c) != std::string_view::npos; });
}

}  // namespace detail

// ----------------------------------------------------------------------------- validation

std::string check_otlp_endpoint(std::string_view url) {
    detail::http_endpoint ignored;
    return detail::parse_endpoint(url, ignored);
}

std::string check_http_header(std::string_view name, std::string_view value) {
    if (!detail::is_token(name)) return detail::quoted(name) + " is not a valid HTTP header name";
    for (std::string_view reserved : {"host", "content-type", "content-length", "transfer-encoding", "connection"}) {
        if (detail::ascii_iequals(name, reserved)) return "the exporter sets '" + std::string(name) + "' itself";
    }
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return "header values cannot contain control characters";
    }
    return {};
}

}  // namespace toolhost
