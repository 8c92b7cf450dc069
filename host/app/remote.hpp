#pragma once
/// A small blocking HTTP client for the commands that talk to a running `toolhost serve`
/// (`toolhost breaker ...`, `toolhost metrics --server URL`).

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace toolhost::cli {

struct remote_response {
    unsigned status = 0;  ///< 0: no answer (see error)
    std::string body;
    std::string error;  ///< why there is no answer: connection refused, timeout, bad URL
};

/// A request header: name and value.
using remote_header = std::pair<std::string_view, std::string>;

/// Sends one request to `base` (http://host:port, with or without a trailing path) + `path`.
/// `token`, when not empty, goes in "Authorization: Bearer"; `headers` are added as they are.
/// Never throws.
remote_response remote_request(std::string_view method, std::string_view base, std::string_view path,
                               std::string_view body, std::string_view token,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10),
                               std::span<const remote_header> headers = {});

/// `text` as one path segment: every byte but the unreserved ones (RFC 3986) percent-encoded.
std::string path_segment(std::string_view text);

}  // namespace toolhost::cli
