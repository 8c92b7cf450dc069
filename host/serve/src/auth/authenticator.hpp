#pragma once
// Who may use `toolhost serve --http`: nobody needs to prove anything (loopback defaults), or a
// static bearer token, or an OAuth 2.1 access token (MCP authorization: this server is a
// resource server, RFC 9728 metadata, RFC 6750 challenges), or either of the two. The
// transport asks authenticate() once per request; the call routes ask authorize() per tool.

#include "jwt.hpp"

#include <toolhost/serve/settings.hpp>

#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

namespace toolhost::serve::auth {

/// Who a request comes from.
struct principal {
    enum class kind { anonymous, static_token, oauth };
    kind how = kind::anonymous;
    std::string subject;              ///< "sub" (OAuth)
    std::string client_id;            ///< "client_id" / "azp" (OAuth)
    std::vector<std::string> scopes;  ///< sorted (OAuth); the others may do everything
    /// The static token came as the password of Basic credentials (a browser: the console), not
    /// as a bearer token (OAuth access tokens are accepted only as bearer tokens). A browser sends those by itself with every request to the server, so such a
    /// request must come from the server's own pages (the connection checks its Origin).
    bool basic = false;

    bool has_scope(std::string_view scope) const noexcept;
};

/// The answer to a request that may not go on: 401 (no or bad credentials) or 403 (a scope is
/// missing), with the WWW-Authenticate header that tells the client what to do.
struct challenge {
    unsigned status = 401;
    std::string www_authenticate;
    std::string message;  ///< for the body and the log; names what was wrong, never a secret
};

/// The signing keys of the authorization server, from a file or a URL, kept current: a file is
/// read again when it changes, a URL fetched again every jwks_refresh_ms and when a token names
/// a key not in the set (at most every jwks_min_refresh_ms), on a thread of its own.
class key_source {
public:
    /// Reads the keys once (a failure is returned: the server must not start without them).
    static boost::system::result<std::unique_ptr<key_source>, std::string> open(const oauth_settings& settings);
    ~key_source();
    key_source(const key_source&) = delete;
    key_source& operator=(const key_source&) = delete;

    std::shared_ptr<const key_set> keys() const;
    /// A token named a key that is not in the set: fetch or read again soon (rate-limited).
    void missing_key();
    /// Read or fetch again now, and wait for it (SIGHUP, tests). Empty when fine.
    std::string refresh_now();
    uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

private:
    explicit key_source(const oauth_settings& settings);
    std::string load();  // reads or fetches; installs the keys; empty when fine
    void run();

    const oauth_settings settings_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::shared_ptr<const key_set> keys_;
    std::atomic<uint64_t> generation_{0};
    std::chrono::steady_clock::time_point last_load_{};
    bool wanted_ = false;
    bool stopping_ = false;
    // What the file looked like when last read (a changed file is read again).
    int64_t file_mtime_ns_ = 0;
    uint64_t file_size_ = 0;
    std::thread thread_;
};

class authenticator {
public:
    using time_source = std::function<std::chrono::system_clock::time_point()>;

    /// From the serve settings; fails when OAuth is configured and its keys cannot be read.
    static boost::system::result<std::unique_ptr<authenticator>, std::string> create(
        const serve_settings& settings, time_source now = [] { return std::chrono::system_clock::now(); });

    /// Whether requests need credentials at all.
    bool required() const noexcept { return !static_token_.empty() || keys_ != nullptr; }
    bool oauth() const noexcept { return keys_ != nullptr; }

    /// `authorization`: the request's Authorization header, possibly empty.
    std::variant<principal, challenge> authenticate(std::string_view authorization);
    /// Whether `who` may call `operation` of `tool` (the configured scopes); a 403 otherwise.
    std::optional<challenge> authorize(const principal& who, std::string_view tool, std::string_view operation) const;

    /// RFC 9728 metadata, and the paths it is served at (/.well-known/oauth-protected-resource,
    /// with and without the resource's path appended).
    std::string metadata_json() const;
    bool is_metadata_path(std::string_view path) const noexcept;

    /// The keys again (SIGHUP). Empty when fine or without OAuth.
    std::string refresh_keys();

private:
    authenticator(const serve_settings& settings, std::unique_ptr<key_source> keys, time_source now);
    challenge unauthorized(std::string error, std::string description) const;
    std::string metadata_url() const;

    std::string static_token_;
    oauth_settings oauth_;
    token_expectations expect_;
    std::unique_ptr<key_source> keys_;
    time_source now_;
    std::string metadata_path_;  // "/.well-known/oauth-protected-resource" + the resource's path

    // Tokens already verified, until they expire or the key set changes: a client sends the same
    // token with every request, and a signature check costs tens of microseconds.
    struct verified {
        principal who;
        int64_t expires_at;
        uint64_t generation;
    };
    std::mutex cache_mutex_;
    std::unordered_map<std::string, verified> cache_;
};

}  // namespace toolhost::serve::auth
