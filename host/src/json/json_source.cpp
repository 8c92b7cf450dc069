#include <toolhost/json_source.hpp>

#include <boost/json/basic_parser_impl.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_set>

#include <fcntl.h>
#include <unistd.h>

namespace toolhost {
namespace {

// Records where each value starts and finds duplicate keys. It runs only over text that
// Boost.JSON has already accepted with the same options, so it can skip validation and trust
// that every token is well formed.
class location_scanner {
public:
    struct duplicate_key {
        std::size_t offset;
        std::string pointer;
        std::string key;
    };

    location_scanner(std::string_view text, std::unordered_map<std::string, std::size_t>& offsets,
                     std::unordered_map<std::string, std::size_t>& key_offsets)
        : text_(text), offsets_(offsets), key_offsets_(key_offsets) {}

    std::optional<duplicate_key> run() {
        std::string pointer;
        skip_space();
        scan_value(pointer);
        return std::move(duplicate_);
    }

private:
    void skip_space() {
        while (pos_ < text_.size()) {
            char c = text_[pos_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                ++pos_;
            } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
                auto end = text_.find('\n', pos_);
                pos_ = end == std::string_view::npos ? text_.size() : end + 1;
            } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
                auto end = text_.find("*/", pos_ + 2);
                pos_ = end == std::string_view::npos ? text_.size() : end + 2;
            } else {
                return;
            }
        }
    }

    // Returns the raw token including its quotes and leaves pos_ after it.
    std::string_view scan_string() {
        std::size_t start = pos_++;
        while (pos_ < text_.size() && text_[pos_] != '"') pos_ += text_[pos_] == '\\' ? 2 : 1;
        ++pos_;
        return text_.substr(start, pos_ - start);
    }

    static std::string decode_key(std::string_view raw) {
        const std::string_view inner = raw.size() >= 2 ? raw.substr(1, raw.size() - 2) : std::string_view{};
        if (raw.find('\\') == std::string_view::npos) return std::string(inner);
        // Escapes (including surrogate pairs) are decoded by Boost.JSON so that keys compare
        // exactly as the parsed object sees them. The text was accepted, so this cannot fail;
        // should the two readings ever part, the raw key is still better than an exception.
        boost::system::error_code ec;
        auto v = boost::json::parse(raw, ec);
        if (ec || !v.is_string()) return std::string(inner);
        return std::string(v.get_string());
    }

    void scan_value(std::string& pointer) {
        if (duplicate_) return;
        offsets_.try_emplace(pointer, pos_);
        char c = pos_ < text_.size() ? text_[pos_] : '\0';
        if (c == '{') {
            scan_object(pointer);
        } else if (c == '[') {
            scan_array(pointer);
        } else if (c == '"') {
            scan_string();
        } else {
            // Numbers and literals end at a delimiter; none of them contains '/'.
            while (pos_ < text_.size() && std::string_view(",]} \t\r\n/").find(text_[pos_]) == std::string_view::npos)
                ++pos_;
        }
    }

    void scan_object(std::string& pointer) {
        ++pos_;
        std::unordered_set<std::string> seen;
        const std::size_t base = pointer.size();
        for (;;) {
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] == '}') break;
            std::size_t key_offset = pos_;
            std::string key = decode_key(scan_string());
            pointer += '/';
            pointer += json_pointer_escape(key);
            key_offsets_.try_emplace(pointer, key_offset);
            if (!seen.insert(key).second) {
                duplicate_ = duplicate_key{key_offset, pointer, std::move(key)};
                return;
            }
            skip_space();
            ++pos_;  // ':'
            skip_space();
            scan_value(pointer);
            if (duplicate_) return;
            pointer.resize(base);
            skip_space();
            if (pos_ < text_.size() && text_[pos_] == ',') ++pos_;
        }
        ++pos_;
    }

    void scan_array(std::string& pointer) {
        ++pos_;
        const std::size_t base = pointer.size();
        for (std::size_t index = 0;; ++index) {
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] == ']') break;
            pointer += '/';
            pointer += std::to_string(index);
            scan_value(pointer);
            if (duplicate_) return;
            pointer.resize(base);
            skip_space();
            if (pos_ < text_.size() && text_[pos_] == ',') ++pos_;
        }
        ++pos_;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::unordered_map<std::string, std::size_t>& offsets_;
    std::unordered_map<std::string, std::size_t>& key_offsets_;
    std::optional<duplicate_key> duplicate_;
};

// Blanks the inside of every /* block comment */ (line breaks kept, so every offset, line and
// column stays where it was). Boost.JSON 1.81 reads the character after each '*' in a block
// comment before it looks for the closing '/', so "**/" does not end a comment there and
// `/* note **/ "threads": 4 /* x */` would silently lose "threads"; blanked, the comment ends
// where its author and every other reader (the location scanner included) see it end. Strings
// are skipped, escapes and all; text that is not JSON is left for the parser to refuse.
void blank_block_comments(std::string& text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '"') {
            for (++i; i < text.size() && text[i] != '"'; ++i)
                if (text[i] == '\\') ++i;
            ++i;
        } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
            const auto end = text.find('\n', i);
            i = end == std::string::npos ? text.size() : end + 1;
        } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
            const auto end = text.find("*/", i + 2);
            if (end == std::string::npos) return;  // unterminated: the parser says so
            for (std::size_t k = i + 2; k < end; ++k)
                if (text[k] != '\n') text[k] = ' ';
            i = end + 2;
        } else {
            ++i;
        }
    }
}

std::vector<std::size_t> find_line_starts(std::string_view text) {
    std::vector<std::size_t> starts{0};
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n') starts.push_back(i + 1);
    }
    return starts;
}

std::pair<std::size_t, std::size_t> offset_to_line_column(const std::vector<std::size_t>& starts, std::size_t offset) {
    auto it = std::upper_bound(starts.begin(), starts.end(), offset);
    auto line = static_cast<std::size_t>(it - starts.begin());  // >= 1 because starts[0] == 0
    return {line, offset - starts[line - 1] + 1};
}

}  // namespace

std::string json_diagnostic::to_string() const {
    std::string s = file;
    s += ':';
    s += std::to_string(line);
    s += ':';
    s += std::to_string(column);
    s += ": error: ";
    s += pointer.empty() ? std::string_view("/") : std::string_view(pointer);
    s += ": ";
    s += message;
    return s;
}

std::string json_pointer_escape(std::string_view token) {
    std::string out;
    out.reserve(token.size());
    for (char c : token) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

boost::system::result<json_document, json_diagnostic> json_document::parse(std::string text, std::string file_name) {
    // Some editors start UTF-8 files with a byte order mark, which JSON does not allow. Blanking
    // it keeps every byte offset (and so every column) where it was.
    if (text.starts_with("\xEF\xBB\xBF")) text.replace(0, 3, "   ");
    blank_block_comments(text);

    boost::json::parse_options options;
    options.allow_comments = true;
    options.allow_trailing_commas = true;

    boost::json::stream_parser parser({}, options);
    boost::system::error_code ec;
    // On error, write() returns the number of bytes consumed before the offending one.
    std::size_t consumed = parser.write(text.data(), text.size(), ec);
    if (!ec) {
        parser.finish(ec);
        consumed = text.size();  // finish() only fails when the text ended too early
    }

    json_document doc;
    doc.file_ = std::move(file_name);
    doc.line_starts_ = find_line_starts(text);
    if (ec) {
        auto [line, column] = offset_to_line_column(doc.line_starts_, std::min(consumed, text.size()));
        return json_diagnostic{doc.file_, line, column, "", ec.message()};
    }
    doc.value_ = parser.release();

    if (auto dup = location_scanner(text, doc.offsets_, doc.key_offsets_).run()) {
        auto [line, column] = offset_to_line_column(doc.line_starts_, dup->offset);
        return json_diagnostic{doc.file_, line, column, std::move(dup->pointer), "duplicate key '" + dup->key + "'"};
    }
    return doc;
}

boost::system::result<json_document, json_diagnostic> json_document::load(const std::filesystem::path& file) {
    std::string name = file.string();
    auto fail = [&](int error) {
        return json_diagnostic{name, 1, 1, "", std::string("cannot read file: ") + std::strerror(error)};
    };
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno);
    std::string text;
    char buffer[16384];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int error = errno;  // close() may change errno
            ::close(fd);
            return fail(error);
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return parse(std::move(text), std::move(name));
}

std::pair<std::size_t, std::size_t> json_document::line_column(std::size_t offset) const {
    return offset_to_line_column(line_starts_, offset);
}

std::pair<std::size_t, std::size_t> json_document::locate(std::string_view pointer) const {
    std::string key(pointer);
    for (;;) {
        if (auto it = offsets_.find(key); it != offsets_.end()) return line_column(it->second);
        if (key.empty()) return {1, 1};
        auto slash = key.rfind('/');
        key.resize(slash == std::string::npos ? 0 : slash);
    }
}

json_diagnostic json_document::error_at_key(std::string_view pointer, std::string message) const {
    if (auto it = key_offsets_.find(std::string(pointer)); it != key_offsets_.end()) {
        auto [line, column] = line_column(it->second);
        return json_diagnostic{file_, line, column, std::string(pointer), std::move(message)};
    }
    return error_at(pointer, std::move(message));
}

json_diagnostic json_document::error_at(std::string_view pointer, std::string message) const {
    auto [line, column] = locate(pointer);
    return json_diagnostic{file_, line, column, std::string(pointer), std::move(message)};
}

namespace {

// Validates JSON text without building anything (results of tools are relayed as they are).
struct validate_handler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    bool on_document_begin(boost::json::error_code&) { return true; }
    bool on_document_end(boost::json::error_code&) { return true; }
    bool on_array_begin(boost::json::error_code&) { return true; }
    bool on_array_end(std::size_t, boost::json::error_code&) { return true; }
    bool on_object_begin(boost::json::error_code&) { return true; }
    bool on_object_end(std::size_t, boost::json::error_code&) { return true; }
    bool on_string_part(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
    bool on_string(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
    bool on_key_part(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
    bool on_key(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
    bool on_number_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_int64(std::int64_t, boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_uint64(std::uint64_t, boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_double(double, boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_bool(bool, boost::json::error_code&) { return true; }
    bool on_null(boost::json::error_code&) { return true; }
    bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }
};

}  // namespace

bool is_valid_json(std::string_view text) noexcept {
    boost::json::parse_options o;
    o.max_depth = 100000;
    boost::json::basic_parser<validate_handler> p(o);
    boost::json::error_code ec;
    const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
    return !ec && n == text.size();
}

}  // namespace toolhost
