#pragma once
// Per-client rate limits: a token bucket per client (the OAuth subject, the static token, or the
// remote address) for every request, and one per client and tool for the tools that set their
// own rate. A refused request learns when a token will be there (429 and Retry-After).

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace toolhost::serve::detail {

struct bucket_rate {
    double per_second = 0;  ///< tokens added per second; 0: unlimited
    double burst = 0;       ///< the bucket's size (at least 1)
    bool unlimited() const noexcept { return per_second <= 0; }
};

class rate_limiter {
public:
    using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

    /// `requests`: every request of a client; `tools`: "tool" -> the rate of its calls per client.
    rate_limiter(
        bucket_rate requests, std::vector<std::pair<std::string, bucket_rate>> tools,
        clock_fn now = [] { return std::chrono::steady_clock::now(); }, std::size_t max_clients = 100000);

    bool enabled() const noexcept { return enabled_; }
    /// One request of `client`: nullopt when it may go on, else how long until it could.
    std::optional<std::chrono::milliseconds> request(std::string_view client);
    /// One call of `tool` by `client` (tools without a rate of their own: always nullopt).
    std::optional<std::chrono::milliseconds> call(std::string_view client, std::string_view tool);
    /// Whether some tool has a rate of its own (else call() is always nullopt).
    bool limits_tools() const noexcept { return !tools_.empty(); }

    std::size_t tracked() const;  ///< buckets held (for tests)

private:
    struct bucket {
        double tokens;
        std::chrono::steady_clock::time_point at;
    };
    struct shard {
        mutable std::mutex m;
        std::unordered_map<std::string, bucket> buckets;
    };
    std::optional<std::chrono::milliseconds> take(const bucket_rate& rate, std::string key);

    bucket_rate requests_;
    std::vector<std::pair<std::string, bucket_rate>> tools_;
    clock_fn now_;
    std::size_t max_per_shard_;
    bool enabled_;
    std::vector<shard> shards_ = std::vector<shard>(16);
};

}  // namespace toolhost::serve::detail
