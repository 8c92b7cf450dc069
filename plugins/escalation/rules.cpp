#include "rules.hpp"

#include <toolhost_plugins/args.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace toolhost::plugins::escalation {

namespace json = boost::json;

namespace {

// Scores are sums of a few configured weights; three decimals is all they carry, and rounding
// keeps 0.15 + 0.3 from printing as 0.44999999999999996 or missing a 0.45 threshold.
double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

std::string number_text(double v) {
    std::ostringstream s;
    s << round3(v);
    return s.str();
}

std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// `where` is the key's path in the configuration, for the message.
void read_number(const args& a, std::string_view key, std::string_view where, double& out) {
    std::optional<double> v;
    try {
        v = a.optional_number(key);
    } catch (const sdk::error&) {
        invalid_argument(where, "must be a number >= 0");
    }
    if (v) {
        if (*v < 0 || !std::isfinite(*v)) invalid_argument(where, "must be a number >= 0");
        out = *v;
    }
}

void read_list(const args& a, std::string_view key, std::vector<std::string>& out) {
    if (a.has(key)) out = a.string_list(key);
}

}  // namespace

std::string normalize_words(std::string_view text) {
    std::string out = " ";
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '\'') continue;
        // U+2018 and U+2019, the typographic apostrophes phones type.
        if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
            (static_cast<unsigned char>(text[i + 2]) == 0x98 || static_cast<unsigned char>(text[i + 2]) == 0x99)) {
            i += 2;
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
            out += static_cast<char>(c);
        } else if (c >= 'A' && c <= 'Z') {
            out += static_cast<char>(c - 'A' + 'a');
        } else if (out.back() != ' ') {
            out += ' ';
        }
    }
    if (out.back() != ' ') out += ' ';
    return out;
}

// ------------------------------------------------------------------------------------- config

rule_config rule_config::defaults() {
    rule_config c;
    c.explicit_request_phrases = {
        "talk to a person",
        "speak to a person",
        "speak with a person",
        "talk to someone",
        "speak to someone",
        "speak with someone",
        "real person",
        "live person",
        "a human",
        "human being",
        "agent",
        "representative",
        "operator",
        "manager",
        "supervisor",
        "not a bot",
        "not a robot",
        "customer service",
    };
    c.keywords = {
        "lawyer",
        "attorney",
        "legal action",
        "lawsuit",
        "sue",
        "refund",
        "chargeback",
        "cancel my account",
        "cancel my subscription",
        "close my account",
        "fraud",
        "unauthorized charge",
        "data breach",
        "gdpr",
        "complaint",
        "hacked",
        "emergency",
    };
    c.negative_terms = {
        "angry",    "furious",     "frustrated",    "frustrating", "annoyed",      "upset", "terrible",
        "horrible", "awful",       "useless",       "ridiculous",  "unacceptable", "worst", "disappointed",
        "pathetic", "incompetent", "waste of time", "fed up",      "hate",         "scam",
    };
    return c;
}

rule_config rule_config::from_config(const json::object& config) {
    rule_config c = defaults();
    const args a(config);
    read_number(a, "threshold", "config/threshold", c.threshold);
    read_number(a, "low_confidence_below", "config/low_confidence_below", c.low_confidence_below);
    if (auto tiers = a.optional_object("tier_thresholds")) {
        c.tier_thresholds.clear();
        const args t(*tiers);
        for (const auto& entry : *tiers) {
            double v = 0;
            read_number(t, entry.key(), "config/tier_thresholds/" + std::string(entry.key()), v);
            c.tier_thresholds[lower_ascii(entry.key())] = v;
        }
    }
    if (auto w = a.optional_object("weights")) {
        const args wa(*w);
        auto weight = [&](std::string_view key, double& out) {
            read_number(wa, key, "config/weights/" + std::string(key), out);
        };
        weight("explicit_request", c.weight.explicit_request);
        weight("keyword", c.weight.keyword);
        weight("keyword_max", c.weight.keyword_max);
        weight("negative_sentiment", c.weight.negative_sentiment);
        weight("negative_sentiment_max", c.weight.negative_sentiment_max);
        weight("failed_attempt", c.weight.failed_attempt);
        weight("failed_attempts_max", c.weight.failed_attempts_max);
        weight("low_confidence", c.weight.low_confidence);
    }
    read_list(a, "explicit_request_phrases", c.explicit_request_phrases);
    read_list(a, "keywords", c.keywords);
    read_list(a, "negative_terms", c.negative_terms);
    for (const auto& [key, list] : {std::pair{"explicit_request_phrases", &c.explicit_request_phrases},
                                    std::pair{"keywords", &c.keywords}, std::pair{"negative_terms", &c.negative_terms}})
        for (size_t i = 0; i < list->size(); ++i)
            if (normalize_words((*list)[i]) == " ")
                invalid_argument("config/" + std::string(key) + "/" + std::to_string(i), "has no words to match");
    return c;
}

// -------------------------------------------------------------------------------------- rules

rule_set::lexicon rule_set::make_lexicon(const std::vector<std::string>& phrases) {
    lexicon l;
    for (const auto& p : phrases) {
        auto n = normalize_words(p);
        const bool seen = std::any_of(l.phrases.begin(), l.phrases.end(), [&](const auto& e) { return e.first == n; });
        if (!seen) l.phrases.emplace_back(std::move(n), p);
    }
    return l;
}

std::vector<std::string> rule_set::lexicon::matches(const std::string& text) const {
    std::vector<std::string> found;
    for (const auto& [normalized, original] : phrases)
        if (text.find(normalized) != std::string::npos) found.push_back(original);
    return found;
}

rule_set::rule_set(rule_config config)
    : config_(std::move(config)), explicit_(make_lexicon(config_.explicit_request_phrases)),
      keywords_(make_lexicon(config_.keywords)), negative_(make_lexicon(config_.negative_terms)) {}

assessment rule_set::evaluate(std::string_view message, const conversation_context& context) const {
    assessment a;
    a.threshold = config_.threshold;
    const auto& w = config_.weight;
    const std::string text = normalize_words(message);

    if (auto m = explicit_.matches(text); !m.empty())
        a.reasons.push_back({"explicit_request", w.explicit_request, "the customer asks for a human", std::move(m)});
    if (auto m = keywords_.matches(text); !m.empty()) {
        const double points = std::min(w.keyword * static_cast<double>(m.size()), w.keyword_max);
        a.reasons.push_back({"keywords", points, "mentions a topic that needs a person", std::move(m)});
    }
    if (auto m = negative_.matches(text); !m.empty()) {
        const double points = std::min(w.negative_sentiment * static_cast<double>(m.size()), w.negative_sentiment_max);
        a.reasons.push_back({"negative_sentiment", points, "the customer sounds upset", std::move(m)});
    }
    if (context.failed_attempts > 0) {
        const double points =
            std::min(w.failed_attempt * static_cast<double>(context.failed_attempts), w.failed_attempts_max);
        a.reasons.push_back({"failed_attempts",
                             points,
                             std::to_string(context.failed_attempts) + " earlier answer(s) did not help",
                             {}});
    }
    if (context.retrieval_confidence && *context.retrieval_confidence < config_.low_confidence_below)
        a.reasons.push_back({"low_retrieval_confidence",
                             w.low_confidence,
                             "retrieval confidence " + number_text(*context.retrieval_confidence) + " is below " +
                                 number_text(config_.low_confidence_below),
                             {}});
    if (context.customer_tier) {
        const auto tier = config_.tier_thresholds.find(lower_ascii(*context.customer_tier));
        if (tier != config_.tier_thresholds.end()) {
            a.threshold = tier->second;
            a.reasons.push_back({"customer_tier",
                                 0,
                                 "tier '" + tier->first + "' sets the threshold to " + number_text(tier->second),
                                 {}});
        }
    }

    double score = 0;
    for (const auto& r : a.reasons) score += r.weight;
    a.score = round3(score);
    a.threshold = round3(a.threshold);
    a.should_escalate = a.score >= a.threshold;
    if (!a.should_escalate)
        a.priority = "low";
    else
        a.priority = (a.threshold > 0 && a.score >= 2 * a.threshold) ? "high" : "normal";
    return a;
}

json::object assessment::to_json() const {
    json::array rs;
    for (const auto& r : reasons) {
        json::object o{{"rule", r.rule}, {"weight", round3(r.weight)}, {"detail", r.detail}};
        if (!r.matched.empty()) {
            json::array m;
            for (const auto& s : r.matched) m.emplace_back(s);
            o["matched"] = std::move(m);
        }
        rs.emplace_back(std::move(o));
    }
    return json::object{{"should_escalate", should_escalate},
                        {"score", score},
                        {"threshold", threshold},
                        {"priority", priority},
                        {"reasons", std::move(rs)}};
}

}  // namespace toolhost::plugins::escalation
