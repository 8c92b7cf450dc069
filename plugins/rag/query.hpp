// Turning a user's search text into the words a search looks for, and those into an FTS5 MATCH
// expression (the PostgreSQL backend builds its tsquery from the same words).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::rag {

/// The words of `query` without common English function words ("how", "do", "i", "the", "a",
/// ...), unless nothing would be left. With OR semantics every such word matches almost every
/// chunk: it adds nothing to BM25's ranking (its IDF is near zero) but makes FTS5 score the
/// whole index, so "how do I get a refund" costs as much as scanning everything. Words are
/// compared case-insensitively after trimming punctuation at their ends ("Refund?" stays,
/// "How" goes). A word that comes again (in any case) is kept once.
std::string without_stop_words(std::string_view query);

/// The words a search for `query` looks for: without_stop_words(query) split at white space and
/// at control characters (full-text tokenizers separate tokens there anyway, FTS5 reads its query
/// as C text, and PostgreSQL's text cannot hold a NUL). Empty when the query has no words.
std::vector<std::string> query_words(std::string_view query);

/// The FTS5 MATCH expression for `words`: every word quoted (sqlite::fts5_query), so punctuation
/// and FTS5 operators in it are searched for as text. Empty when there are no words.
std::string match_expression(const std::vector<std::string>& words);

/// match_expression(query_words(query)).
std::string match_expression(std::string_view query);

}  // namespace toolhost::plugins::rag
