#include "extract.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/text.hpp>

#include <iconv.h>

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <memory>
#include <mutex>

namespace toolhost::plugins::attachment {

namespace text = toolhost::plugins::text;

// ----------------------------------------------------------------------------- encodings

namespace {

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

std::string_view without_bom(std::string_view s) noexcept {
    return s.substr(0, utf8_bom.size()) == utf8_bom ? s.substr(utf8_bom.size()) : s;
}

// iconv_t with RAII; invalid when the charset is unknown to iconv.
class converter {
public:
    explicit converter(const std::string& from) : cd_(iconv_open("UTF-8", from.c_str())) {}
    ~converter() {
        if (valid()) iconv_close(cd_);
    }
    converter(const converter&) = delete;
    converter& operator=(const converter&) = delete;
    bool valid() const noexcept { return cd_ != reinterpret_cast<iconv_t>(-1); }

    // Converts all of `in`; a byte that does not convert becomes U+FFFD and is skipped.
    std::string run(std::string_view in) {
        std::string out;
        std::string buf(4096, '\0');
        char* src = const_cast<char*>(in.data());  // iconv's signature; it does not write to it
        size_t src_left = in.size();
        while (src_left > 0) {
            char* dst = buf.data();
            size_t dst_left = buf.size();
            const size_t rc = iconv(cd_, &src, &src_left, &dst, &dst_left);
            out.append(buf.data(), buf.size() - dst_left);
            if (rc != static_cast<size_t>(-1) || errno == E2BIG) continue;
            text::append_utf8(out, 0xFFFD);  // EILSEQ: a bad byte; EINVAL: a cut-off sequence at the end
            ++src;
            --src_left;
        }
        return out;
    }

private:
    iconv_t cd_;
};

}  // namespace

std::string to_utf8(std::string_view data, std::string_view charset) {
    if (charset == "utf-8" || charset == "us-ascii" || charset.empty() || charset == "binary")
        return text::sanitize_utf8(without_bom(data));
    // libmagic says "unknown-8bit" for 8-bit text with bytes in 0x80-0x9F, which ISO-8859-1 does
    // not use for characters; in practice that is Windows-1252 (€, curly quotes, dashes).
    converter conv{charset == "unknown-8bit" ? std::string("CP1252") : std::string(charset)};
    if (!conv.valid()) return text::sanitize_utf8(without_bom(data));  // a charset iconv does not know
    const std::string converted = conv.run(data);
    return text::sanitize_utf8(without_bom(converted));
}

// ----------------------------------------------------------------------------------- CSV

namespace {

// RFC 4180 records, one line each with the cells joined by " | ": quotes and escaped quotes
// removed, line breaks inside quoted cells turned into spaces.
std::string csv_to_text(std::string_view csv, int64_t& rows) {
    std::string out;
    std::string cell;
    bool quoted = false;
    bool row_has_content = false;
    rows = 0;
    auto end_cell = [&] {
        if (row_has_content) out += " | ";
        out += cell;
        cell.clear();
        row_has_content = true;
    };
    auto end_row = [&] {
        end_cell();
        out += '\n';
        ++rows;
        row_has_content = false;
    };
    for (size_t i = 0; i < csv.size(); ++i) {
        const char c = csv[i];
        if (quoted) {
            if (c == '"' && i + 1 < csv.size() && csv[i + 1] == '"') {
                cell += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                cell += (c == '\n' || c == '\r') ? ' ' : c;
            }
        } else if (c == '"' && cell.empty()) {
            quoted = true;
        } else if (c == ',') {
            end_cell();
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < csv.size() && csv[i + 1] == '\n') ++i;
            end_row();
        } else {
            cell += c;
        }
    }
    if (!cell.empty() || row_has_content) end_row();
    return out;
}

// ----------------------------------------------------------------------------------- PDF

std::mutex pdf_mutex;                                   // see extract_text(): poppler runs one at a time
thread_local const extract_hooks* pdf_hooks = nullptr;  // where poppler's messages go, on this thread

// Poppler reports problems of damaged files through one process-wide callback; route them to
// the call that is extracting (there is only one at a time, under pdf_mutex) as debug logs
// instead of letting poppler print to the host's stderr.
void on_poppler_message(const std::string& message, void*) {
    if (pdf_hooks) pdf_hooks->log_debug("poppler: " + message);
}

std::string_view byte_array_view(const poppler::byte_array& a) { return {a.data(), a.size()}; }

extraction pdf_to_text(std::string_view data, size_t max_chars, const extract_hooks& hooks, std::string_view field) {
    static std::once_flag handler_installed;
    std::call_once(handler_installed, [] { poppler::set_debug_error_function(&on_poppler_message, nullptr); });
    std::lock_guard lock(pdf_mutex);
    pdf_hooks = &hooks;
    struct reset_hooks {
        ~reset_hooks() { pdf_hooks = nullptr; }
    } reset;

    if (data.size() > static_cast<size_t>(INT_MAX))
        plugins::invalid_argument(field, "the PDF is too large for poppler");
    std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
    if (!doc) plugins::invalid_argument(field, "the PDF cannot be read (it is damaged or not really a PDF)");
    if (doc->is_locked()) plugins::invalid_argument(field, "the PDF is protected by a password");

    extraction ex;
    const int pages = doc->pages();
    ex.pages = pages;
    size_t chars = 0;
    for (int i = 0; i < pages; ++i) {
        if (hooks.cancelled())
            throw sdk::error(sdk::status::cancelled,
                             "cancelled after " + std::to_string(i) + " of " + std::to_string(pages) + " PDF pages");
        std::unique_ptr<poppler::page> page(doc->create_page(i));
        if (page) {
            std::string page_text = text::sanitize_utf8(byte_array_view(page->text().to_utf8()));
            // poppler ends a page with a form feed; the pages are joined with a blank line instead.
            while (!page_text.empty() && std::isspace(static_cast<unsigned char>(page_text.back())))
                page_text.pop_back();
            if (!ex.text.empty() && !page_text.empty()) {
                ex.text += "\n\n";
                chars += 2;
            }
            ex.text += page_text;
            chars += text::count_chars(page_text);
        }
        hooks.progress(i + 1, pages);
        if (chars > max_chars) break;  // the rest would be cut off anyway
    }
    return ex;
}

}  // namespace

// ------------------------------------------------------------------------------ dispatch

extraction extract_text(text_kind kind, std::string_view data, std::string_view charset, size_t max_chars,
                        const extract_hooks& hooks, std::string_view field) {
    extraction ex;
    switch (kind) {
    case text_kind::plain:
    case text_kind::json: ex.text = to_utf8(data, charset); break;
    case text_kind::html: ex.text = text::html_to_text(to_utf8(data, charset)); break;
    case text_kind::csv: {
        int64_t rows = 0;
        ex.text = csv_to_text(to_utf8(data, charset), rows);
        ex.rows = rows;
        break;
    }
    case text_kind::pdf: ex = pdf_to_text(data, max_chars, hooks, field); break;
    }
    const std::string_view kept = text::truncate_chars(ex.text, max_chars);
    if (kept.size() < ex.text.size()) {
        ex.truncated = true;
        ex.text.resize(kept.size());
    }
    return ex;
}

}  // namespace toolhost::plugins::attachment
