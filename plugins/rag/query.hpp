// Turning a user's search text into an FTS5 MATCH expression.
#pragma once

#include <string>
#include <string_view>

namespace toolhost::plugins::rag {

/// The words of `query` without common English function words ("how", "do", "i", "the", "a",
/// ...), unless nothing would be left. With OR semantics every such word matches almost every
/// chunk: it adds nothing to BM25's ranking (its IDF is near zero) but makes FTS5 score the
/// whole index, so "how do I get a refund" costs as much as scanning everything. Words are
/// compared case-insensitively after trimming punctuation at their ends ("Refund?" stays,
/// "How" goes). A word that comes again (in any case) is kept once.
std::string without_stop_words(std::string_view query);

/// The MATCH expression for a user's query: stop words dropped, then every word quoted
/// (sqlite::fts5_query), so punctuation and FTS5 operators in it are searched for as text.
/// Empty when the query has no words.
std::string match_expression(std::string_view query);

}  // namespace toolhost::plugins::rag
