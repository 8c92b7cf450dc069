// How `recall` ranks memories: a weighted blend of three components, each in [0, 1].
//
//   relevance  = text score / best text score among the candidates of this recall (0 without a
//                query). The text score is the storage's full-text relevance: FTS5's bm25 on
//                SQLite, ts_rank_cd on PostgreSQL. Neither has a fixed scale (bm25 grows with
//                corpus statistics, ts_rank_cd with the number and closeness of the matches), so
//                it is made relative: the best match of a query scores 1 and the others a
//                fraction of it. That puts both backends in the same [0, 1] range.
//   recency    = 0.5 ^ (age / half_life): 1 when new, 0.5 after one half-life, 0.25 after two.
//                A memory "created" in the future (an import with a later created_at) counts
//                as new.
//   importance = the importance given at store time.
//
//   score      = w_relevance * relevance + w_recency * recency + w_importance * importance,
//                with the configured weights scaled to sum to 1, so a score is in [0, 1] too.
//
// Ties are broken by newer first, then by larger id (stored later), so results are fully
// ordered and reproducible for a given `now`.
#pragma once

#include <toolhost_plugins/time.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace toolhost::plugins::memory {

/// The blend's weights, scaled to sum to 1.
struct weights {
    double relevance = 0.6;
    double recency = 0.25;
    double importance = 0.15;

    /// Scales non-negative weights to sum to 1. Throws INVALID_ARGUMENT naming "weights" when a
    /// weight is negative or not finite, or when all are 0.
    static weights normalized(double relevance, double recency, double importance);
};

/// What the storage layer returns for each memory that may be recalled.
struct candidate {
    int64_t id = 0;
    /// Full-text relevance, >= 0 and larger for a better match (SQLite: -bm25(); PostgreSQL:
    /// ts_rank_cd()); 0 without a query.
    double text_score = 0;
    time::unix_ms created_at = 0;
    double importance = 0;
};

/// A candidate with its score and the score's components.
struct ranked {
    int64_t id = 0;
    time::unix_ms created_at = 0;
    double score = 0;
    double relevance = 0;
    double recency = 0;
    double importance = 0;
};

/// 0.5 ^ (max(0, now - created_at) / half_life_ms). `half_life_ms` must be > 0.
double recency(time::unix_ms created_at, time::unix_ms now, double half_life_ms) noexcept;

/// Scores every candidate and returns the best `limit`, best first.
std::vector<ranked> rank(std::span<const candidate> candidates, const weights& w, time::unix_ms now,
                         double half_life_ms, size_t limit);

}  // namespace toolhost::plugins::memory
