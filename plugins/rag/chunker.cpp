#include "chunker.hpp"

#include <algorithm>

namespace toolhost::plugins::rag {

namespace {

bool is_continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }
bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Byte index `n` code points after `from`, or text.size().
size_t forward_chars(std::string_view text, size_t from, size_t n) noexcept {
    size_t p = from;
    for (size_t i = 0; i < n && p < text.size(); ++i) {
        ++p;
        while (p < text.size() && is_continuation(text[p])) ++p;
    }
    return p;
}

// Byte index `n` code points before `from`, but not before `floor`.
size_t backward_chars(std::string_view text, size_t from, size_t n, size_t floor) noexcept {
    size_t p = from;
    for (size_t i = 0; i < n && p > floor; ++i) {
        --p;
        while (p > floor && is_continuation(text[p])) --p;
    }
    return p;
}

size_t count_chars(std::string_view text, size_t from, size_t to) noexcept {
    return static_cast<size_t>(std::count_if(text.begin() + static_cast<std::ptrdiff_t>(from),
                                             text.begin() + static_cast<std::ptrdiff_t>(to),
                                             [](char c) { return !is_continuation(c); }));
}

size_t skip_space(std::string_view text, size_t p) noexcept {
    while (p < text.size() && is_space(text[p])) ++p;
    return p;
}

// The latest position p in (lowest, highest] where a chunk may end, by preference: after a
// blank line, after a line break, after the end of a sentence, after any white space. Returns
// `highest` when there is none (the chunk is then cut at a character boundary).
size_t best_end(std::string_view text, size_t lowest, size_t highest) noexcept {
    auto last_where = [&](auto&& ok) -> size_t {
        for (size_t p = highest; p > lowest; --p)
            if (ok(p)) return p;
        return 0;
    };
    const auto paragraph = [&](size_t p) { return p >= 2 && text[p - 1] == '\n' && text[p - 2] == '\n'; };
    const auto line = [&](size_t p) { return text[p - 1] == '\n'; };
    const auto sentence = [&](size_t p) {
        return p >= 2 && is_space(text[p - 1]) && (text[p - 2] == '.' || text[p - 2] == '!' || text[p - 2] == '?');
    };
    const auto space = [&](size_t p) { return is_space(text[p - 1]); };
    for (size_t p : {last_where(paragraph), last_where(line), last_where(sentence), last_where(space)})
        if (p != 0) return p;
    return highest;
}

// Where the chunk after [begin, end) starts: `overlap` characters before `end`, moved forward to
// the start of a word, and always after `begin`.
size_t next_begin(std::string_view text, size_t begin, size_t end, size_t overlap) noexcept {
    const size_t floor = forward_chars(text, begin, 1);
    size_t p = std::max(backward_chars(text, end, overlap, begin), floor);
    if (p > 0 && !is_space(text[p - 1]))
        while (p < end && !is_space(text[p])) ++p;  // do not start inside a word
    p = skip_space(text, p);
    return p >= end ? skip_space(text, end) : p;
}

}  // namespace

std::vector<chunk_span> split_into_chunks(std::string_view text, const chunk_options& options) {
    const size_t size = std::max<size_t>(options.size, 1);
    const size_t overlap = std::min(options.overlap, size - 1);
    std::vector<chunk_span> chunks;
    size_t begin = skip_space(text, 0);
    size_t begin_char = count_chars(text, 0, begin);
    while (begin < text.size()) {
        const size_t limit = forward_chars(text, begin, size);
        size_t end = limit;
        if (limit < text.size()) {
            // Look for a boundary in the last quarter only, so chunks stay close to `size`.
            const size_t lowest = backward_chars(text, limit, size / 4, begin);
            end = best_end(text, lowest, limit);
        }
        size_t trimmed = end;
        while (trimmed > begin && is_space(text[trimmed - 1])) --trimmed;
        chunks.push_back({begin, trimmed, begin_char, begin_char + count_chars(text, begin, trimmed)});
        if (end >= text.size()) break;
        const size_t next = next_begin(text, begin, end, overlap);
        begin_char += count_chars(text, begin, next);
        begin = next;
    }
    return chunks;
}

}  // namespace toolhost::plugins::rag
