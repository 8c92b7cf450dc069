#include "rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace toolhost::serve::detail {

rate_limiter::rate_limiter(bucket_rate requests, std::vector<std::pair<std::string, bucket_rate>> tools, clock_fn now,
                           std::size_t max_clients)
    : requests_(requests), tools_(std::move(tools)), now_(std::move(now)),
      max_per_shard_(std::max<std::size_t>(1, max_clients / 16)),
      enabled_(!requests.unlimited() ||
               std::any_of(tools_.begin(), tools_.end(), [](const auto& t) { return !t.second.unlimited(); })) {}

std::optional<std::chrono::milliseconds> rate_limiter::request(std::string_view client) {
    if (requests_.unlimited()) return std::nullopt;
    std::string key(client);
    return take(requests_, std::move(key));
}

std::optional<std::chrono::milliseconds> rate_limiter::call(std::string_view client, std::string_view tool) {
    const auto it = std::find_if(tools_.begin(), tools_.end(), [&](const auto& t) { return t.first == tool; });
    if (it == tools_.end() || it->second.unlimited()) return std::nullopt;
    std::string key(client);
    key += '\n';  // never part of a client key or a tool name
    key += tool;
    return take(it->second, std::move(key));
}

std::optional<std::chrono::milliseconds> rate_limiter::take(const bucket_rate& rate, std::string key) {
    const double burst = std::max(1.0, rate.burst);
    const auto now = now_();
    auto& s = shards_[std::hash<std::string>{}(key) % shards_.size()];
    std::lock_guard lock(s.m);
    auto it = s.buckets.find(key);
    if (it == s.buckets.end()) {
        // Full buckets are forgotten first when there are too many clients: a client that comes
        // back gets a full bucket again, which it would have had anyway.
        if (s.buckets.size() >= max_per_shard_) {
            std::erase_if(s.buckets, [&](const auto& e) {
                const double elapsed = std::chrono::duration<double>(now - e.second.at).count();
                return e.second.tokens + elapsed * rate.per_second >= burst;
            });
            // Still full: every client is mid-burst. Evict arbitrarily rather than grow without bound.
            while (s.buckets.size() >= max_per_shard_) s.buckets.erase(s.buckets.begin());
        }
        it = s.buckets.emplace(std::move(key), bucket{burst, now}).first;
    }
    auto& b = it->second;
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * rate.per_second);
    b.at = now;
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return std::nullopt;
    }
    const double wait_s = (1.0 - b.tokens) / rate.per_second;
    return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(wait_s * 1000.0)));
}

std::size_t rate_limiter::tracked() const {
    std::size_t n = 0;
    for (const auto& s : shards_) {
        std::lock_guard lock(s.m);
        n += s.buckets.size();
    }
    return n;
}

}  // namespace toolhost::serve::detail
