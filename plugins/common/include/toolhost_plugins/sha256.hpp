// SHA-256 with OpenSSL's EVP interface, for the plugins that fingerprint content (rag's
// change detection, attachment's digest).
//
// Header-only on purpose: plugin_common does not link OpenSSL, so only the plugins that include
// this header pay for it; they link OpenSSL::Crypto themselves. Throws toolhost::sdk::error
// (INTERNAL) if OpenSSL fails, which in practice means it is out of memory or misconfigured.
// A sha256 object is not thread-safe; use one per computation.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include <toolhost/plugin.hpp>

namespace toolhost::plugins {

class sha256 {
public:
    sha256() : ctx_(EVP_MD_CTX_new()) {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
            throw sdk::error(sdk::status::internal, "OpenSSL cannot start a SHA-256 digest");
    }

    void update(std::string_view data) {
        if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1)
            throw sdk::error(sdk::status::internal, "OpenSSL SHA-256 update failed");
    }

    /// Finishes the digest and returns it as 64 lowercase hex digits. Call once.
    std::string hex_digest() {
        std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(ctx_.get(), md.data(), &len) != 1)
            throw sdk::error(sdk::status::internal, "OpenSSL SHA-256 final failed");
        static constexpr char digits[] = "0123456789abcdef";
        std::string hex;
        hex.reserve(2 * len);
        for (unsigned int i = 0; i < len; ++i) {
            hex += digits[md[i] >> 4];
            hex += digits[md[i] & 0x0F];
        }
        return hex;
    }

    /// The hex SHA-256 of `data` in one go.
    static std::string of(std::string_view data) {
        sha256 h;
        h.update(data);
        return h.hex_digest();
    }

private:
    struct free_ctx {
        void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
    };
    std::unique_ptr<EVP_MD_CTX, free_ctx> ctx_;
};

}  // namespace toolhost::plugins
