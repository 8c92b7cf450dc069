#include "common.hpp"

namespace toolhost::serve::detail {

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = lower(c);
    return out;
}

bool all_digits(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string random_session_id(std::string_view node_id) {
    std::array<unsigned char, 16> bytes{};
    std::size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got < bytes.size()) {
        std::random_device rd;
        for (auto& b : bytes) b = static_cast<unsigned char>(rd());
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string id;
    id.reserve(node_id.size() + 1 + 32);
    if (!node_id.empty()) (id += node_id) += '.';
    for (const unsigned char b : bytes) {
        id += hex[b >> 4];
        id += hex[b & 15];
    }
    return id;
}

bool is_json_media_type(std::string_view content_type) noexcept {
    if (content_type == "application/json") return true;  // what clients send, told at once
    return iequals(trim(content_type.substr(0, content_type.find(';'))), "application/json");
}

accepted_types parse_accept(std::string_view accept) {
    accepted_types a;
    // What MCP clients send (the SDKs, the specification's example), told at once.
    if (accept == "application/json, text/event-stream" || accept == "text/event-stream, application/json")
        return {true, true};
    if (trim(accept).empty()) return {true, true};
    while (!accept.empty()) {
        const auto comma = accept.find(',');
        std::string_view item = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
        std::string_view range = trim(item.substr(0, item.find(';')));
        bool refused = false;
        for (auto params = item.find(';'); params != std::string_view::npos;) {
            std::string_view rest = item.substr(params + 1);
            const auto next = rest.find(';');
            const std::string_view p = trim(rest.substr(0, next));
            if (p.size() >= 2 && lower(p[0]) == 'q' && p[1] == '=') {
                const std::string_view q = trim(p.substr(2));
                refused = !q.empty() && std::all_of(q.begin(), q.end(), [](char c) { return c == '0' || c == '.'; });
            }
            params = next == std::string_view::npos ? std::string_view::npos : params + 1 + next;
        }
        if (refused) continue;
        if (iequals(range, "*/*"))
            a.json = a.sse = true;
        else if (iequals(range, "application/*") || iequals(range, "application/json"))
            a.json = true;
        else if (iequals(range, "text/*") || iequals(range, "text/event-stream"))
            a.sse = true;
    }
    return a;
}

host_port split_host(std::string_view h) {
    host_port r;
    h = trim(h);
    if (h.empty()) return r;
    std::string_view name, port;
    if (h.front() == '[') {
        const auto close = h.find(']');
        if (close == std::string_view::npos) return r;
        name = h.substr(0, close + 1);
        const std::string_view rest = h.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return r;
            port = rest.substr(1);
        }
    } else {
        const auto colon = h.rfind(':');
        name = h.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = h.substr(colon + 1);
            if (name.find(':') != std::string_view::npos) return r;  // a bare IPv6 address
        }
    }
    if (name.empty() || (!port.empty() && !all_digits(port))) return r;
    if (h.find(':') != std::string_view::npos && port.empty() && h.back() == ':') return r;
    r.name = to_lower(name);
    r.port = std::string(port);
    r.valid = true;
    return r;
}

bool is_loopback_name(std::string_view lower_name) noexcept {
    return lower_name == "localhost" || lower_name == "127.0.0.1" || lower_name == "[::1]";
}

bool is_loopback_origin(std::string_view origin) {
    std::string o = to_lower(trim(origin));
    std::string_view rest = o;
    if (rest.starts_with("http://"))
        rest.remove_prefix(7);
    else if (rest.starts_with("https://"))
        rest.remove_prefix(8);
    else
        return false;
    if (rest.ends_with('/')) rest.remove_suffix(1);
    const host_port hp = split_host(rest);
    return hp.valid && is_loopback_name(hp.name);
}

std::string normalize_origin(std::string_view origin) {
    std::string o = to_lower(trim(origin));
    while (o.size() > 1 && o.back() == '/') o.pop_back();
    return o;
}

bool same_origin(std::string_view origin, std::string_view host) {
    const std::string o = normalize_origin(origin);
    std::string_view rest = o;
    std::string_view default_port;
    if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
        default_port = "80";
    } else if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
        default_port = "443";
    } else {
        return false;
    }
    const host_port a = split_host(rest);
    const host_port b = split_host(host);
    if (!a.valid || !b.valid || a.name != b.name) return false;
    const std::string_view pa = a.port.empty() ? default_port : std::string_view(a.port);
    const std::string_view pb = b.port.empty() ? default_port : std::string_view(b.port);
    return pa == pb;
}

unsigned http_status_for(status_code c) noexcept {
    switch (c) {
    case status_code::ok: return 200;
    case status_code::invalid_argument:
    case status_code::out_of_range: return 400;
    case status_code::failed_precondition: return 412;
    case status_code::unauthenticated: return 401;
    case status_code::permission_denied: return 403;
    case status_code::not_found: return 404;
    case status_code::already_exists:
    case status_code::aborted: return 409;
    case status_code::resource_exhausted: return 429;
    case status_code::cancelled: return 499;
    case status_code::unimplemented: return 501;
    case status_code::unavailable: return 503;
    case status_code::deadline_exceeded: return 504;
    default: return 500;
    }
}

std::string_view code_for_http_status(unsigned s) noexcept {
    switch (s) {
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 405: return "UNIMPLEMENTED";
    case 408: return "DEADLINE_EXCEEDED";
    case 409: return "ALREADY_EXISTS";
    case 413:
    case 431:
    case 429: return "RESOURCE_EXHAUSTED";
    case 503: return "UNAVAILABLE";
    case 500: return "INTERNAL";
    default: return "INVALID_ARGUMENT";
    }
}

boost::system::result<json::value, std::string> parse_json_body(std::string_view what, std::string_view body,
                                                                std::size_t max_depth) {
    auto parsed = parse_json_input(body, max_depth);
    if (!parsed)  // (in_place_error: a json::value can be made from a string too)
        return {boost::system::in_place_error, std::string(what) + " is not valid JSON: " + parsed.error().to_string()};
    return std::move(*parsed);
}

void append_event(std::string& out, std::uint64_t id, std::string_view data) {
    out += "id: ";
    out += std::to_string(id);
    out += '\n';
    for (;;) {
        const auto nl = data.find('\n');
        std::string_view line = data.substr(0, nl);
        if (line.ends_with('\r')) line.remove_suffix(1);
        out += "data: ";
        out += line;
        out += '\n';
        if (nl == std::string_view::npos) break;
        data.remove_prefix(nl + 1);
    }
    out += '\n';
}

void append_chunk(std::string& out, std::string_view payload) {
    char size[20];
    auto [end, ec] = std::to_chars(size, size + sizeof size, payload.size(), 16);
    (void)ec;
    out.append(size, end);
    out += "\r\n";
    out += payload;
    out += "\r\n";
}

}  // namespace toolhost::serve::detail
