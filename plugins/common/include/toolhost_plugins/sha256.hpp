// SHA-256 for the plugins that fingerprint content (rag's change detection, attachment's
// digest), with OpenSSL's EVP interface behind it: the sha256 target links OpenSSL itself, so a
// plugin that uses it needs no OpenSSL headers or flags of its own. Throws toolhost::sdk::error
// (INTERNAL) if OpenSSL fails, which in practice means it is out of memory or misconfigured.
// A sha256 object is not thread-safe; use one per computation. It can be moved, not copied.
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace toolhost::plugins {

class sha256 {
public:
    sha256();

    /// Adds `data` to the digest.
    void update(std::string_view data);
    /// Finishes the digest and returns it as 64 lowercase hex digits. Call once.
    std::string hex_digest();
    /// The hex SHA-256 of `data` in one go.
    static std::string of(std::string_view data);

private:
    struct free_ctx {
        void operator()(evp_md_ctx_st* c) const noexcept;
    };
    std::unique_ptr<evp_md_ctx_st, free_ctx> ctx_;
};

}  // namespace toolhost::plugins
