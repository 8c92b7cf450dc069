// attachment: processes an uploaded file (a path under the allowed folders, or base64 content).
// It checks the size before reading, finds the real type from the bytes with libmagic, refuses
// executables, scripts and archives, computes the SHA-256, extracts text (plain text, Markdown,
// CSV, JSON, HTML, PDF) and optionally hands that text to rag's index_text through the host.
// docs/tools/attachment.md is the user's guide.
#include "base64.hpp"
#include <toolhost/json_text.hpp>
#include "config.hpp"
#include "detect.hpp"
#include "extract.hpp"
#include "schemas.hpp"

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/json_operation.hpp>
#include <toolhost_plugins/paths.hpp>
#include <toolhost_plugins/sha256.hpp>
#include <toolhost_plugins/text.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

namespace toolhost::plugins::attachment {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The bytes of an upload and what to call it.
struct upload {
    std::string field;  ///< "path" or "content": the argument errors about the file name
    std::string filename;
    std::optional<std::string> path;
    std::string data;
};

// A display name must be a plain file name: it ends up in results and index names.
void check_filename(const std::string& name) {
    if (name.empty() || name.size() > 255) invalid_argument("filename", "must be 1 to 255 bytes long");
    if (name == "." || name == "..") invalid_argument("filename", "must be a file name, not " + name);
    for (unsigned char c : name)
        if (c == '/' || c == '\\' || c < 0x20 || c == 0x7F)
            invalid_argument("filename", "must be a plain file name, without folders or control characters");
}

bool is_blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

class attachment_tool {
public:
    static const json_table<attachment_tool>& table();

    explicit attachment_tool(sdk::host host) : host_(host) {}

    void initialize(sdk::init_context& init) {
        fs::path sample = paths::next_to_plugin("attachment/sample");
        std::error_code ec;
        if (!sample.empty() && !fs::is_directory(sample, ec)) sample.clear();
        config_ = read_config(init.config(), fs::path(init.data_dir()), sample);
        allowed_ = paths::allowed_dirs(config_.allowed_dirs);
        detector_ = std::make_unique<mime_detector>();
    }

    void cleanup() { detector_.reset(); }

private:
    json::object process(const args& a, const sdk::call_context& call) {
        const int64_t max_chars = a.int_or("max_text_chars", config_.max_text_chars, 1, config_.max_text_chars);
        const bool want_text = a.bool_or("return_text", true);
        const bool want_index = a.bool_or("index", config_.index_by_default);
        const upload up = read_upload(a);
        if (call.cancelled()) throw sdk::error(sdk::status::cancelled, "cancelled before the file was examined");

        const std::string sha = sha256::of(up.data);
        const mime_info mime = detector_->detect(up.data);
        const verdict v = classify(mime, up.data);
        if (v.refused)
            invalid_argument(up.field,
                             "refused: " + *v.refused + "; executables, scripts and archives are not processed");

        json::object out{{"filename", up.filename}};
        if (up.path) out["path"] = *up.path;
        out["bytes"] = static_cast<int64_t>(up.data.size());
        out["sha256"] = sha;
        out["mime_type"] = mime.type;
        out["charset"] = mime.charset;
        out["format"] = v.kind ? json::value(kind_name(*v.kind)) : json::value(nullptr);

        extraction ex;
        if (v.kind) ex = extract(call, *v.kind, up, mime, static_cast<size_t>(max_chars));
        const auto chars = static_cast<int64_t>(text::count_chars(ex.text));
        if (want_text) out["text"] = v.kind ? json::value(ex.text) : json::value(nullptr);
        out["text_chars"] = chars;
        out["truncated"] = ex.truncated;
        if (ex.pages) out["pages"] = *ex.pages;
        if (ex.rows) out["rows"] = *ex.rows;
        if (want_index) out["index"] = index(call, a, up, sha, mime, v, ex);
        return out;
    }

    upload read_upload(const args& a) const {
        const auto path = a.optional_string("path");
        const auto content = a.optional_string("content");
        if (path.has_value() == content.has_value()) invalid_argument("path", "give either path or content, not both");
        upload up;
        if (path) {
            up.field = "path";
            const fs::path resolved = allowed_.resolve_allowed("path", *path);
            up.path = resolved.string();
            up.data = allowed_.read_file("path", resolved, config_.max_bytes);
            up.filename = a.string_or("filename", resolved.filename().string());
        } else {
            up.field = "content";
            up.filename = a.required_string("filename");
            up.data = decode_base64(*content, "content", config_.max_bytes);
        }
        check_filename(up.filename);
        return up;
    }

    extraction extract(const sdk::call_context& call, text_kind kind, const upload& up, const mime_info& mime,
                       size_t max_chars) const {
        extract_hooks hooks;
        hooks.cancelled = [&call] { return call.cancelled(); };
        hooks.progress = [&call](double done, double total) { call.progress(done, total, "pages"); };
        hooks.log_debug = [&call](std::string_view message) { call.log(sdk::log_level::debug, message); };
        return extract_text(kind, up.data, mime.charset, max_chars, hooks, up.field);
    }

    // Hands the text to the index tool's index_text through the host (which applies that tool's
    // validation, deadline, retries and breaker). Nothing to index is reported, not an error;
    // a failed index call fails this call with the index tool's status.
    json::object index(const sdk::call_context& call, const args& a, const upload& up, const std::string& sha,
                       const mime_info& mime, const verdict& v, const extraction& ex) const {
        if (!v.kind) return {{"indexed", false}, {"reason", "no text can be extracted from " + mime.type}};
        if (is_blank(ex.text)) return {{"indexed", false}, {"reason", "the file contains no text"}};
        const std::string source = a.string_or("source", "attachment/" + sha.substr(0, 16) + "/" + up.filename);
        json::array tags{"attachment"};
        for (auto& t : a.string_list("tags"))
            if (t != "attachment") tags.emplace_back(t);
        const json::object request{
            {"source", source}, {"text", ex.text}, {"format", "text"}, {"tags", std::move(tags)}};
        const sdk::result r = host_.call_tool(&call, config_.index_tool, "index_text", toolhost::json_text(request));
        if (r.code() != sdk::status::ok) {
            // NOT_FOUND from the host means the index tool or its operation is missing, which is
            // this tool's precondition, not a missing record of the caller's.
            const auto code = r.code() == sdk::status::not_found ? sdk::status::failed_precondition : r.code();
            throw sdk::error(code, "index: " + config_.index_tool + " index_text failed: " + r.text());
        }
        const json::value reply = json::parse(r.text());
        json::object out{{"indexed", true}, {"tool", config_.index_tool}, {"source", source}};
        if (const auto* o = reply.if_object()) {
            if (const auto* s = o->if_contains("status")) out["status"] = *s;
            if (const auto* c = o->if_contains("chunks")) out["chunks"] = *c;
        }
        return out;
    }

    sdk::host host_;
    attachment_config config_;
    paths::allowed_dirs allowed_;
    std::unique_ptr<mime_detector> detector_;
};

const json_table<attachment_tool>& attachment_tool::table() {
    static const json_table<attachment_tool> t{
        .name = "attachment",
        .version = "1.0.0",
        .description =
            "Processes an uploaded file: size limit, type from the content (libmagic), SHA-256, text "
            "extraction for text, Markdown, CSV, JSON, HTML and PDF; refuses executables, scripts and "
            "archives; can index the text in rag.",
        .config_schema = schemas::config,
        // The libmagic cookie is behind a mutex, PDF extraction is serialized process-wide, and
        // everything else is per call or read-only after initialize().
        .thread_safe = true,
        .operations =
            {
                {.name = "process",
                 .description = "Checks, identifies, fingerprints and extracts the text of a file given by path "
                                "(under allowed_dirs) or as base64 content with a filename. With index: true, also "
                                "indexes the text with rag's index_text (the same content and name replace the "
                                "earlier document, so a retry is harmless).",
                 .input_schema = schemas::process_input,
                 .output_schema = schemas::process_output,
                 // Not READ_ONLY: with index: true it writes to the index.
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_CANCELLABLE,
                 .run = {&attachment_tool::process}},
            },
    };
    return t;
}

}  // namespace
}  // namespace toolhost::plugins::attachment

TOOLHOST_PLUGIN("attachment", "1.0.0", toolhost::plugins::attachment::attachment_tool)
