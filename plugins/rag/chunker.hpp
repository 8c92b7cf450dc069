// Splitting a document's text into overlapping chunks, the unit rag indexes and returns.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace toolhost::plugins::rag {

struct chunk_options {
    size_t size = 1000;    ///< target chunk length in characters (code points), > 0
    size_t overlap = 150;  ///< characters the next chunk repeats from the end of this one, < size
};

/// Where one chunk lies in the text: byte range for slicing, character range for callers.
struct chunk_span {
    size_t begin_byte = 0;
    size_t end_byte = 0;
    size_t begin_char = 0;
    size_t end_char = 0;
};

/// Splits UTF-8 `text` into chunks of at most `size` characters. A chunk ends at the best
/// boundary in its last quarter (paragraph break, then line break, then end of a sentence, then
/// any white space) so that chunks rarely cut a sentence, and the next one starts about
/// `overlap` characters earlier, at a word boundary, so that a passage cut in two is still
/// found whole in one of them. Chunks never start with white space; text that is only white
/// space yields no chunk. Every chunk starts after the previous one (the loop always advances).
/// Pure and thread-safe; the input must be valid UTF-8 (see text::sanitize_utf8).
std::vector<chunk_span> split_into_chunks(std::string_view text, const chunk_options& options);

}  // namespace toolhost::plugins::rag
