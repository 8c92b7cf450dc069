#pragma once
// Access tokens as JWTs (RFC 9068, RFC 7519): a compact JWS checked against a key_set and then
// against what this resource server expects (issuer, audience, time).

#include "jwk.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::serve::auth {

struct token_expectations {
    std::string issuer;                  ///< "iss" must equal it
    std::vector<std::string> audiences;  ///< "aud" must contain one of them (the resource)
    std::chrono::seconds leeway{60};     ///< clock skew allowed on "exp" and "nbf"
    std::vector<jws_alg> algorithms{jws_alg::rs256, jws_alg::es256, jws_alg::eddsa};
    std::size_t max_token_bytes = 16384;  ///< longer tokens are refused unread
};

struct token_claims {
    std::string subject;    ///< "sub" (may be empty)
    std::string client_id;  ///< "client_id" or "azp" (may be empty)
    std::string issuer;
    std::vector<std::string> scopes;  ///< from "scope" (space-separated) and "scp"; sorted, unique
    int64_t expires_at = 0;           ///< "exp", seconds since the epoch

    bool has_scope(std::string_view scope) const noexcept;
};

enum class token_problem {
    malformed,              ///< not a compact JWS with JSON header and claims
    unsupported_algorithm,  ///< "alg" not one of `algorithms` ("none" and HS256 among them)
    unknown_key,            ///< no key with the token's "kid": the key set may need a refresh
    bad_signature,
    expired,
    not_yet_valid,
    wrong_issuer,
    wrong_audience,
};

struct token_failure {
    token_problem problem;
    std::string message;  ///< for the log and the WWW-Authenticate error_description
};

using token_result = boost::system::result<token_claims, token_failure>;

/// Checks `token` (the bearer credential as sent). The signature is checked before any claim
/// is believed; `now` is injected so that tests control time.
token_result verify_token(std::string_view token, const key_set& keys, const token_expectations& expect,
                          std::chrono::system_clock::time_point now);

}  // namespace toolhost::serve::auth
