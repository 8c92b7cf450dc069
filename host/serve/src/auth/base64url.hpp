#pragma once
// base64url without padding (RFC 4648 §5), the encoding of every part of a JWS and of the
// numbers in a JWK; and base64 with padding (§4), that of MCP's header values (=?base64?...?=).

#include <optional>
#include <string>
#include <string_view>

namespace toolhost::serve::auth {

/// The bytes `text` encodes, or nullopt when it is not strict unpadded base64url: a character
/// outside A-Z a-z 0-9 - _, padding, a length no encoding has (4n+1), or non-zero bits left over
/// in the last character (two texts must not decode to the same bytes).
std::optional<std::string> base64url_decode(std::string_view text);

/// `bytes` as unpadded base64url.
std::string base64url_encode(std::string_view bytes);

/// The bytes `text` encodes, or nullopt when it is not strict padded base64: the same rules with
/// + and / for - and _, and a length that is a multiple of 4 with at most two '=' at the end.
std::optional<std::string> base64_decode(std::string_view text);

/// `bytes` as padded base64 (RFC 4648 §4).
std::string base64_encode(std::string_view bytes);

}  // namespace toolhost::serve::auth
