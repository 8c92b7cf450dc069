// Text extraction for the types attachment understands: plain text (Markdown included), CSV,
// JSON, HTML and PDF (poppler-cpp). Output is always valid UTF-8.
#pragma once

#include "detect.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost::plugins::attachment {

struct extraction {
    std::string text;              ///< at most max_chars characters
    bool truncated = false;        ///< the text was longer than max_chars
    std::optional<int64_t> pages;  ///< PDF: pages in the document
    std::optional<int64_t> rows;   ///< CSV: records, header included
};

/// What a long extraction (a PDF, page by page) needs from the call.
struct extract_hooks {
    std::function<bool()> cancelled = [] { return false; };
    std::function<void(double done, double total)> progress = [](double, double) {};
    std::function<void(std::string_view)> log_debug = [](std::string_view) {};
};

/// Converts text in `charset` (as libmagic names it: utf-8, us-ascii, iso-8859-1, utf-16le,
/// ...; "unknown-8bit" is read as Windows-1252) to UTF-8 with iconv, dropping a byte-order mark.
/// Bytes that do not convert become U+FFFD, and a charset iconv does not know is treated as
/// UTF-8 with the same replacement; never fails.
std::string to_utf8(std::string_view data, std::string_view charset);

/// Extracts up to `max_chars` characters of text. Throws toolhost::sdk::error:
/// INVALID_ARGUMENT "<field>: ..." for a PDF that cannot be opened or is password-protected,
/// CANCELLED when hooks.cancelled() turns true between PDF pages.
///
/// Threading: safe to call concurrently; PDF extraction is serialized process-wide, because
/// poppler keeps global state (its error callback, font and configuration caches) that is not
/// documented as safe to share between threads.
extraction extract_text(text_kind kind, std::string_view data, std::string_view charset, size_t max_chars,
                        const extract_hooks& hooks, std::string_view field);

}  // namespace toolhost::plugins::attachment
