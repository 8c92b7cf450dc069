#include "ranking.hpp"

#include <toolhost_plugins/args.hpp>

#include <algorithm>
#include <cmath>

namespace toolhost::plugins::memory {

weights weights::normalized(double relevance, double recency, double importance) {
    for (double w : {relevance, recency, importance}) {
        if (!std::isfinite(w) || w < 0) invalid_argument("weights", "every weight must be a number >= 0");
    }
    const double sum = relevance + recency + importance;
    if (sum <= 0) invalid_argument("weights", "at least one weight must be greater than 0");
    return weights{relevance / sum, recency / sum, importance / sum};
}

double recency(time::unix_ms created_at, time::unix_ms now, double half_life_ms) noexcept {
    const double age = static_cast<double>(std::max<time::unix_ms>(0, now - created_at));
    return std::exp2(-age / half_life_ms);
}

std::vector<ranked> rank(std::span<const candidate> candidates, const weights& w, time::unix_ms now,
                         double half_life_ms, size_t limit) {
    double best = 0;
    for (const auto& c : candidates) best = std::max(best, c.text_score);

    std::vector<ranked> out;
    out.reserve(candidates.size());
    for (const auto& c : candidates) {
        ranked r;
        r.id = c.id;
        r.created_at = c.created_at;
        r.relevance = best > 0 ? std::clamp(c.text_score / best, 0.0, 1.0) : 0.0;
        r.recency = recency(c.created_at, now, half_life_ms);
        r.importance = std::clamp(c.importance, 0.0, 1.0);
        r.score = w.relevance * r.relevance + w.recency * r.recency + w.importance * r.importance;
        out.push_back(r);
    }
    const auto better = [](const ranked& a, const ranked& b) {
        if (a.score != b.score) return a.score > b.score;
        if (a.created_at != b.created_at) return a.created_at > b.created_at;
        return a.id > b.id;
    };
    const size_t n = std::min(limit, out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), better);
    out.resize(n);
    return out;
}

}  // namespace toolhost::plugins::memory
