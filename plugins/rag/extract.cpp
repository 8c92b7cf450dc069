#include "extract.hpp"
#include <toolhost/json_text.hpp>

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/text.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace toolhost::plugins::rag {

namespace json = boost::json;
namespace text = toolhost::plugins::text;

std::optional<text_format> format_of(const std::filesystem::path& file) {
    std::string ext = file.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".md" || ext == ".markdown") return text_format::markdown;
    if (ext == ".txt") return text_format::plain;
    if (ext == ".html" || ext == ".htm") return text_format::html;
    if (ext == ".json") return text_format::json;
    return std::nullopt;
}

std::optional<text_format> parse_format(std::string_view name) {
    if (name == "text") return text_format::plain;
    if (name == "markdown") return text_format::markdown;
    if (name == "html") return text_format::html;
    if (name == "json") return text_format::json;
    return std::nullopt;
}

std::string_view supported_extensions() noexcept { return ".md, .markdown, .txt, .html, .htm, .json"; }

namespace {

// Appends "path: value" lines for every scalar below `v`. Array elements share their array's
// path (an index adds nothing a reader can search for) and are separated by a blank line, which
// the chunker prefers as a place to cut.
void flatten(const json::value& v, const std::string& path, std::string& out) {
    auto line = [&](std::string_view value) {
        if (!path.empty()) {
            out += path;
            out += ": ";
        }
        out += value;
        out += '\n';
    };
    switch (v.kind()) {
    case json::kind::object:
        for (const auto& [key, member] : v.get_object())
            flatten(member, path.empty() ? std::string(key) : path + "." + std::string(key), out);
        break;
    case json::kind::array:
        for (const auto& element : v.get_array()) {
            flatten(element, path, out);
            if (element.is_structured()) out += '\n';
        }
        break;
    case json::kind::string: line(v.get_string()); break;
    case json::kind::null: break;
    default: line(toolhost::json_text(v)); break;  // numbers and booleans as JSON spells them
    }
}

}  // namespace

std::string extract_text(std::string_view content, text_format format, std::string_view field) {
    switch (format) {
    case text_format::plain:
    case text_format::markdown: return text::sanitize_utf8(content);
    case text_format::html: return text::html_to_text(content);
    case text_format::json: {
        boost::system::error_code ec;
        const json::value v = json::parse(content, ec);
        if (ec) plugins::invalid_argument(field, "is not valid JSON: " + ec.message());
        std::string out;
        flatten(v, "", out);
        return text::sanitize_utf8(out);
    }
    }
    return {};
}

}  // namespace toolhost::plugins::rag
