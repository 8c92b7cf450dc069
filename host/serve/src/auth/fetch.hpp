#pragma once
// One GET over http or https, bounded in time and size: how the resource server fetches an
// authorization server's key set.

#include <chrono>
#include <cstddef>
#include <string>

namespace toolhost::serve::auth {

struct fetch_options {
    std::chrono::milliseconds timeout{10000};  ///< the whole exchange: resolve, connect, TLS, answer
    std::size_t max_bytes = 1u << 20;          ///< a longer answer is an error
    std::string ca_file;                       ///< https: trust these CAs; empty: the system's
};

struct fetch_result {
    bool ok = false;
    std::string body;   ///< the answer's body when ok
    std::string error;  ///< what went wrong otherwise, naming the URL
};

/// GETs `url` (checked by serve::check_https_uri) and expects 200. Redirects are not followed.
/// https verifies the certificate chain and the host name.
fetch_result fetch(const std::string& url, const fetch_options& options);

}  // namespace toolhost::serve::auth
