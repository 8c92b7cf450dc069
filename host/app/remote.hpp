#pragma once
/// A small blocking HTTP client for the commands that talk to a running `toolhost serve`
/// (`toolhost breaker ...`, `toolhost metrics --server URL`).

#include <chrono>
#include <string>
#include <string_view>

namespace toolhost::cli {

struct remote_response {
    unsigned status = 0;  ///< 0: no answer (see error)
    std::string body;
    std::string error;  ///< why there is no answer: connection refused, timeout, bad URL
};

/// Sends one request to `base` (http://host:port, with or without a trailing path) + `path`.
/// `token`, when not empty, goes in "Authorization: Bearer". Never throws.
remote_response remote_request(std::string_view method, std::string_view base, std::string_view path,
                               std::string_view body, std::string_view token,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace toolhost::cli
