// The escalation rules: should this conversation go to a human, and why.
//
// A message and its context earn points from independent rules; the conversation is escalated
// when the score reaches the threshold (which the customer's tier may lower):
//
//   explicit_request          the customer asks for a person ("talk to a person", "agent", ...)
//   keywords                  topics a bot should not handle alone ("lawyer", "refund", ...),
//                             per distinct match, capped
//   negative_sentiment        angry or desperate words ("furious", "useless", ...), per distinct
//                             match, capped
//   failed_attempts           answers that did not help so far (context.failed_attempts), each
//                             one, capped
//   low_retrieval_confidence  the knowledge search was unsure (context.retrieval_confidence)
//   customer_tier             no points: lowers the threshold (context.customer_tier)
//
// Matching is case-insensitive on whole words: the message and every phrase are reduced to
// lower-case words (ASCII letters are folded; apostrophes are dropped, so "don't" matches
// "dont"; other punctuation separates words; non-ASCII bytes are kept as parts of words), and a
// phrase matches where its words appear in a row.
//
// A rule_set is immutable after construction and safe to use from many threads.
#pragma once

#include <boost/json/object.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::escalation {

struct weights {
    double explicit_request = 1.0;
    double keyword = 0.3;
    double keyword_max = 0.6;
    double negative_sentiment = 0.15;
    double negative_sentiment_max = 0.45;
    double failed_attempt = 0.2;
    double failed_attempts_max = 0.6;
    double low_confidence = 0.3;
};

struct rule_config {
    double threshold = 0.6;
    /// Threshold per customer tier (lower-case tier name); tiers not listed use `threshold`.
    std::map<std::string, double, std::less<>> tier_thresholds{{"enterprise", 0.4}, {"premium", 0.5}};
    /// Retrieval confidence below this earns weights.low_confidence.
    double low_confidence_below = 0.4;
    weights weight;
    std::vector<std::string> explicit_request_phrases;
    std::vector<std::string> keywords;
    std::vector<std::string> negative_terms;

    /// The defaults, lexicons included.
    static rule_config defaults();
    /// Defaults overridden by the tool configuration's keys (threshold, tier_thresholds,
    /// low_confidence_below, weights, explicit_request_phrases, keywords, negative_terms).
    /// Throws INVALID_ARGUMENT naming the key (config/...) for values that cannot work.
    static rule_config from_config(const boost::json::object& config);
};

/// What evaluate() looks at besides the message.
struct conversation_context {
    int64_t failed_attempts = 0;
    std::optional<std::string> customer_tier;
    std::optional<double> retrieval_confidence;
};

struct reason {
    std::string rule;
    double weight = 0;
    std::string detail;
    std::vector<std::string> matched;  ///< the phrases found, for lexicon rules
};

struct assessment {
    bool should_escalate = false;
    double score = 0;
    double threshold = 0;
    std::string priority;  ///< "low", "normal" or "high"
    std::vector<reason> reasons;

    boost::json::object to_json() const;
};

class rule_set {
public:
    explicit rule_set(rule_config config);
    assessment evaluate(std::string_view message, const conversation_context& context) const;
    const rule_config& config() const noexcept { return config_; }

private:
    // A lexicon as normalized phrases (" word word "), each with the phrase as configured.
    struct lexicon {
        std::vector<std::pair<std::string, std::string>> phrases;
        std::vector<std::string> matches(const std::string& normalized_text) const;
    };
    static lexicon make_lexicon(const std::vector<std::string>& phrases);

    rule_config config_;
    lexicon explicit_;
    lexicon keywords_;
    lexicon negative_;
};

/// The text as " word word word " (leading and trailing space included), as matching uses it.
std::string normalize_words(std::string_view text);

}  // namespace toolhost::plugins::escalation
