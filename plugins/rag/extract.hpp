// From a file's bytes (or index_text's text) to the plain text rag chunks and indexes.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost::plugins::rag {

enum class text_format { plain, markdown, html, json };

/// The format of a knowledge-base file, from its extension (.md/.markdown, .txt, .html/.htm,
/// .json; case-insensitive); nullopt for anything else. rag indexes files an operator put in
/// its allowed folders, so the extension is trusted here (attachment, which handles uploads,
/// looks at the content instead).
std::optional<text_format> format_of(const std::filesystem::path& file);

/// The names accepted by index_text's "format" argument: "text", "markdown", "html", "json".
std::optional<text_format> parse_format(std::string_view name);

/// "the supported extensions" for messages.
std::string_view supported_extensions() noexcept;

/// The text to index. Plain text and Markdown are kept as they are (Markdown is meant to be read
/// as text; its markup does not disturb FTS5's tokenizer); HTML is reduced to text; JSON
/// becomes one "key.path: value" line per scalar, so that keys give the values context.
/// Always valid UTF-8. Throws toolhost::sdk::error(INVALID_ARGUMENT, "<field>: ...") for JSON
/// that does not parse.
std::string extract_text(std::string_view content, text_format format, std::string_view field);

}  // namespace toolhost::plugins::rag
