#include "query.hpp"

#include <toolhost_plugins/sqlite.hpp>
#include <toolhost_plugins/text.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <vector>

namespace toolhost::plugins::rag {

namespace {

// Function words only: anything that could be the point of a query in a product knowledge base
// ("not", "no", "off", "new", "free") stays searchable. A linear scan of a hundred short strings
// costs less than the rest of a search by orders of magnitude.
constexpr std::array<std::string_view, 103> stop_words = {
    "a",     "about", "after", "all",       "also",   "am",     "an",     "and",   "any",    "are",   "as",    "at",
    "be",    "been",  "being", "but",       "by",     "can",    "could",  "did",   "do",     "does",  "doing", "for",
    "from",  "had",   "has",   "have",      "having", "he",     "her",    "here",  "him",    "his",   "how",   "i",
    "i'm",   "if",    "in",    "into",      "is",     "it",     "it's",   "its",   "just",   "may",   "me",    "might",
    "my",    "of",    "on",    "or",        "our",    "ours",   "shall",  "she",   "should", "so",    "some",  "such",
    "than",  "that",  "the",   "their",     "them",   "then",   "there",  "these", "they",   "this",  "those", "to",
    "too",   "us",    "very",  "was",       "we",     "were",   "what",   "when",  "where",  "which", "while", "who",
    "whom",  "why",   "will",  "with",      "would",  "you",    "you're", "your",  "yours",  "can't", "don't", "i've",
    "isn't", "let",   "lets",  "shouldn't", "won't",  "wasn't", "doesn't"};

bool is_stop_word(std::string_view token) {
    auto keep = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
    while (!token.empty() && !keep(static_cast<unsigned char>(token.front()))) token.remove_prefix(1);
    while (!token.empty() && !keep(static_cast<unsigned char>(token.back()))) token.remove_suffix(1);
    if (token.empty() || token.size() > 10) return false;
    std::string lower(token);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    return std::find(stop_words.begin(), stop_words.end(), lower) != stop_words.end();
}

}  // namespace

std::string without_stop_words(std::string_view query) {
    std::string kept;
    // A word once: the terms are OR-ed, so a repeat finds nothing more, while every term costs the
    // search a pass over its matches (a 4096-character question repeating a few words took
    // seconds, without looking at the call's deadline; found by `toolhost validate-plugin`).
    std::set<std::string, std::less<>> seen;
    for (std::string_view w : text::words(query)) {
        if (is_stop_word(w)) continue;
        std::string lower(w);
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (!seen.insert(std::move(lower)).second) continue;
        if (!kept.empty()) kept += ' ';
        kept += w;
    }
    return kept.empty() ? std::string(query) : kept;
}

std::vector<std::string> query_words(std::string_view query) { return text::search_words(without_stop_words(query)); }

std::string match_expression(const std::vector<std::string>& words) {
    std::string joined;
    for (const auto& w : words) {
        if (!joined.empty()) joined += ' ';
        joined += w;
    }
    // The words hold no white space or control characters, so fts5_query quotes each as it is.
    return plugins::sqlite::fts5_query(joined);
}

std::string match_expression(std::string_view query) { return match_expression(query_words(query)); }

}  // namespace toolhost::plugins::rag
