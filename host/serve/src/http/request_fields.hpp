#pragma once

#include "common.hpp"

namespace toolhost::serve::detail {

// The request fields the server reads, found in one pass over the fields (the first of a name
// counts) instead of a tree lookup each. Views into the message they were read from.
struct request_fields {
    std::optional<std::string_view> host, origin, session_id, protocol_version, request_id, client_session_id,
        traceparent, timeout_ms, mcp_method, mcp_name;
    std::string_view expect, authorization, accept, content_type;
    unsigned hosts = 0;  // Host lines (RFC 9112: exactly one)
    bool transfer_encoding = false, content_length = false;

    template <class Fields>
    static request_fields of(const Fields& fields) {
        request_fields r;
        auto first = [](std::optional<std::string_view>& slot, std::string_view v) {
            if (!slot) slot = v;
        };
        auto first_sv = [](std::string_view& slot, bool& seen, std::string_view v) {
            if (!seen) slot = v, seen = true;
        };
        bool seen_expect = false, seen_auth = false, seen_accept = false, seen_type = false;
        for (const auto& f : fields) {
            switch (f.name()) {
            case bhttp::field::host:
                first(r.host, f.value());
                ++r.hosts;
                break;
            case bhttp::field::transfer_encoding: r.transfer_encoding = true; break;
            case bhttp::field::content_length: r.content_length = true; break;
            case bhttp::field::origin: first(r.origin, f.value()); break;
            case bhttp::field::expect: first_sv(r.expect, seen_expect, f.value()); break;
            case bhttp::field::authorization: first_sv(r.authorization, seen_auth, f.value()); break;
            case bhttp::field::accept: first_sv(r.accept, seen_accept, f.value()); break;
            case bhttp::field::content_type: first_sv(r.content_type, seen_type, f.value()); break;
            case bhttp::field::unknown: {
                const std::string_view n = f.name_string();
                if (iequals(n, "Mcp-Session-Id"))
                    first(r.session_id, f.value());
                else if (iequals(n, "MCP-Protocol-Version"))
                    first(r.protocol_version, f.value());
                else if (iequals(n, "X-Request-Id"))
                    first(r.request_id, f.value());
                else if (iequals(n, "X-Session-Id"))
                    first(r.client_session_id, f.value());
                else if (iequals(n, "traceparent"))
                    first(r.traceparent, f.value());
                else if (iequals(n, "X-Timeout-Ms"))
                    first(r.timeout_ms, f.value());
                else if (iequals(n, "Mcp-Method"))
                    first(r.mcp_method, f.value());
                else if (iequals(n, "Mcp-Name"))
                    first(r.mcp_name, f.value());
                break;
            }
            default: break;
            }
        }
        return r;
    }
};

}  // namespace toolhost::serve::detail
