#include "toolhost_plugins/sha256.hpp"

#include <toolhost/plugin.hpp>

#include <openssl/evp.h>

#include <array>

namespace toolhost::plugins {

void sha256::free_ctx::operator()(evp_md_ctx_st* c) const noexcept { EVP_MD_CTX_free(c); }

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
        throw sdk::error(sdk::status::internal, "OpenSSL cannot start a SHA-256 digest");
}

void sha256::update(std::string_view data) {
    if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1)
        throw sdk::error(sdk::status::internal, "OpenSSL SHA-256 update failed");
}

std::string sha256::hex_digest() {
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

std::string sha256::of(std::string_view data) {
    sha256 h;
    h.update(data);
    return h.hex_digest();
}

}  // namespace toolhost::plugins
