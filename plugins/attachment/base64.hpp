// Base64 for uploaded content (attachment's `content` argument).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace toolhost::plugins::attachment {

/// Decodes base64 (RFC 4648, standard or URL-safe alphabet; padding optional; ASCII white space
/// such as MIME line breaks ignored). Stops as soon as the output would exceed `max_bytes`, so an
/// oversized upload is refused without decoding it all. Throws toolhost::sdk::error
/// INVALID_ARGUMENT "<field>: ..." naming the offset of a bad character, or the limit.
std::string decode_base64(std::string_view in, std::string_view field, uint64_t max_bytes);

/// Encodes with the standard alphabet and padding (used by tests and docs examples).
std::string encode_base64(std::string_view in);

}  // namespace toolhost::plugins::attachment
