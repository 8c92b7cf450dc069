// rag: a knowledge base searched with SQLite FTS5 (BM25), or with PostgreSQL's full-text search
// in a database several hosts share (repository.hpp). Documents come from files under the
// allowed folders (`index`) or from callers (`index_text`, e.g. the attachment tool); they are
// cut into overlapping chunks, and `search` returns the best chunks with their source, position,
// score and a highlighted snippet. docs/tools/rag.md is the user's guide.
#include "config.hpp"
#include "extract.hpp"
#include "indexer.hpp"
#include "query.hpp"
#include "repository.hpp"
#include "schemas.hpp"

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/json_operation.hpp>
#include <toolhost_plugins/paths.hpp>
#include <toolhost_plugins/sha256.hpp>
#include <toolhost_plugins/storage.hpp>
#include <toolhost_plugins/text.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <memory>

namespace toolhost::plugins::rag {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::optional<std::vector<std::string>> optional_tags(const args& a) {
    if (!a.has("tags")) return std::nullopt;
    auto tags = a.string_list("tags");
    for (size_t i = 0; i < tags.size(); ++i)
        if (tags[i].empty()) invalid_argument("tags/" + std::to_string(i), "must not be empty");
    return tags;
}

// The names a `source`/`folder` argument may mean: as given (index_text names, or a stored path
// copied from a result), and as a path resolved like `index` resolves it ("docs/faq.md" from
// the directory the host runs in).
std::vector<std::string> name_forms(const std::string& given) {
    std::vector<std::string> forms{given};
    std::string resolved = paths::resolve(fs::path(given)).string();
    if (resolved != given) forms.push_back(std::move(resolved));
    return forms;
}

// The codes a file of a folder run can fail with, spelled as the host spells them.
std::string_view status_name(sdk::status s) noexcept {
    switch (s) {
    case sdk::status::invalid_argument: return "INVALID_ARGUMENT";
    case sdk::status::not_found: return "NOT_FOUND";
    case sdk::status::permission_denied: return "PERMISSION_DENIED";
    case sdk::status::failed_precondition: return "FAILED_PRECONDITION";
    case sdk::status::resource_exhausted: return "RESOURCE_EXHAUSTED";
    case sdk::status::unavailable: return "UNAVAILABLE";
    case sdk::status::data_loss: return "DATA_LOSS";
    case sdk::status::cancelled: return "CANCELLED";
    default: return "INTERNAL";
    }
}

json::object report_json(const index_report& r) {
    json::array errors;
    for (const auto& e : r.errors)
        errors.push_back(json::object{{"path", e.path}, {"code", status_name(e.code)}, {"message", e.message}});
    return {{"path", r.path},           {"files", r.files},     {"added", r.added},   {"updated", r.updated},
            {"unchanged", r.unchanged}, {"removed", r.removed}, {"chunks", r.chunks}, {"errors", std::move(errors)}};
}

std::string summary(const index_report& r) {
    return "indexed " + r.path + ": " + std::to_string(r.files) + " files, " + std::to_string(r.added) + " added, " +
           std::to_string(r.updated) + " updated, " + std::to_string(r.unchanged) + " unchanged, " +
           std::to_string(r.removed) + " removed, " + std::to_string(r.errors.size()) + " errors";
}

// ------------------------------------------------------------------------------ the tool

class rag_tool {
public:
    static const json_table<rag_tool>& table();

    explicit rag_tool(sdk::host host) : host_(host) {}

    void initialize(sdk::init_context& init) {
        const fs::path data_dir(init.data_dir());
        fs::path sample = paths::next_to_plugin("rag/sample");
        std::error_code ec;
        if (!sample.empty() && !fs::is_directory(sample, ec)) sample.clear();
        config_ = read_config(init.config(), data_dir, sample, storage::database_url_from_environment());
        allowed_ = paths::allowed_dirs(config_.allowed_dirs);
        store_ = open_repository(config_, data_dir);
        indexer_ = std::make_unique<indexer>(*store_, allowed_, config_.max_file_bytes);
        try {
            index_on_start();
        } catch (const sdk::error& e) {
            error_context("initialize", e);
            throw;
        }
    }

    void cleanup() {
        indexer_.reset();
        if (store_) store_->close();
        store_.reset();
    }

    /// Names the database (PostgreSQL: its server and name) in the storage errors of every
    /// operation.
    void error_context(std::string_view operation, const sdk::error& e) const {
        if (store_) store_->error_context(operation, e);
    }

private:
    // Brings the configured folders up to date. A folder that is missing is only a warning (the
    // tool still serves what it has); one outside allowed_dirs is a configuration error.
    void index_on_start() {
        run_hooks hooks;
        // Start-up has no call deadline; this bounds each storage operation's wait for a database
        // that does not answer.
        hooks.until = [] { return std::chrono::steady_clock::now() + std::chrono::seconds(60); };
        for (size_t i = 0; i < config_.index_on_start.size(); ++i) {
            const std::string field = "index_on_start/" + std::to_string(i);
            const std::string path = config_.index_on_start[i].string();
            try {
                const index_report r = indexer_->index_path(field, path, std::nullopt, false, hooks);
                host_.log(sdk::log_level::info, summary(r));
                for (const auto& e : r.errors) host_.log(sdk::log_level::warning, "not indexed: " + e.message);
            } catch (const sdk::error& e) {
                if (store_->is_storage_error(e) || e.code() != sdk::status::not_found) throw;
                host_.log(sdk::log_level::warning, std::string("index_on_start: ") + e.what());
            }
        }
    }

    // Tells the clients that watch: each document that changed (resources/updated), and, once the
    // operation is over (even when it failed half-way), that the list of documents changed.
    class change_notices {
    public:
        explicit change_notices(const sdk::host& h) noexcept : host_(h) {}
        ~change_notices() {
            if (any_) host_.resource_list_changed();
        }
        change_notices(const change_notices&) = delete;
        change_notices& operator=(const change_notices&) = delete;
        void changed(std::string_view source) {
            any_ = true;
            host_.resource_updated(document_uri(source));
        }

    private:
        const sdk::host& host_;
        bool any_ = false;
    };

    // The operations, in the order of the table.
    json::object index(const args& a, const sdk::call_context& call) {
        change_notices notices(host_);
        run_hooks hooks;
        hooks.changed = [&notices](const std::string& source) { notices.changed(source); };
        hooks.cancelled = [&call] { return call.cancelled(); };
        hooks.progress = [&call](double done, double total, std::string_view message) {
            call.progress(done, total, message);
        };
        const deadline until = storage::deadline_of(call);
        hooks.until = [until] { return until; };
        const index_report r =
            indexer_->index_path("path", a.required_string("path"), optional_tags(a), a.bool_or("force", false), hooks);
        return report_json(r);
    }

    json::object index_text(const args& a, const sdk::call_context& call) {
        document_input doc;
        doc.source = a.required_string("source");
        if (doc.source.empty() || doc.source.size() > 1024) invalid_argument("source", "must be 1 to 1024 bytes long");
        const std::string text = a.required_string("text");
        if (text.size() > config_.max_file_bytes)
            invalid_argument("text", "is " + std::to_string(text.size()) + " bytes, over the limit of " +
                                         std::to_string(config_.max_file_bytes) + " (max_file_bytes)");
        const std::string format_name = a.string_or("format", "text");
        const auto format = parse_format(format_name);
        if (!format) invalid_argument("format", "must be text, markdown, html or json, got " + format_name);
        doc.kind = document_kind::text;
        doc.text = extract_text(text, *format, "text");
        if (std::all_of(doc.text.begin(), doc.text.end(), [](unsigned char c) { return std::isspace(c); }))
            invalid_argument("text", "has nothing to index (only white space or markup)");
        // The format is part of the fingerprint: the same bytes read as HTML are another text.
        doc.content_hash = sha256::of(format_name + '\n' + text);
        doc.bytes = static_cast<int64_t>(text.size());
        doc.tags = optional_tags(a);
        const upsert_result r = store_->upsert(doc, false, storage::deadline_of(call));
        if (r.what != change::unchanged) change_notices(host_).changed(doc.source);
        return json::object{
            {"source", doc.source}, {"status", change_name(r.what)}, {"chunks", r.chunks}, {"chars", r.chars}};
    }

    json::object search(const args& a, const sdk::call_context& call) {
        const std::string query = a.required_string("query");
        search_request req;
        req.words = query_words(query);
        if (req.words.empty()) invalid_argument("query", "has no words to search for");
        req.limit = a.int_or("top_k", 5, 1, 100);
        if (auto s = a.optional_string("source")) req.sources = name_forms(*s);
        if (auto f = a.optional_string("folder")) req.folders = name_forms(*f);
        if (auto t = optional_tags(a)) req.tags = std::move(*t);
        json::array results;
        for (auto& h : store_->search(req, storage::deadline_of(call))) {
            results.push_back(json::object{
                {"source", std::move(h.source)},
                {"position", json::object{{"chunk", h.chunk}, {"start", h.start_char}, {"end", h.end_char}}},
                {"score", h.score},
                {"snippet", std::move(h.snippet)},
                {"text", std::move(h.text)},
                {"tags", json::parse(h.tags_json)},
            });
        }
        return json::object{{"query", query}, {"results", std::move(results)}};
    }

    json::object stats(const args&, const sdk::call_context& call) {
        const store_stats s = store_->stats(storage::deadline_of(call));
        json::value last = s.last_indexed ? json::value(*s.last_indexed) : json::value(nullptr);
        return json::object{
            {"documents", s.documents}, {"chunks", s.chunks}, {"bytes", s.bytes}, {"last_indexed", std::move(last)}};
    }

    json::object remove(const args& a, const sdk::call_context& call) {
        const auto source = a.optional_string("source");
        const auto folder = a.optional_string("folder");
        if (source.has_value() == folder.has_value())
            invalid_argument("source", "give either source or folder, not both");
        const deadline until = storage::deadline_of(call);
        const removal r =
            source ? store_->remove(name_forms(*source), {}, until) : store_->remove({}, name_forms(*folder), until);
        {
            change_notices notices(host_);
            for (const auto& s : r.sources) notices.changed(s);
        }
        if (r.documents == 0) {
            if (source) throw sdk::error(sdk::status::not_found, "source: no document named " + *source);
            throw sdk::error(sdk::status::not_found, "folder: no document below " + *folder);
        }
        return json::object{{"documents", r.documents}, {"chunks", r.chunks}};
    }

    // ---- What MCP clients get besides tools (operation roles): the indexed documents as
    // resources rag://documents/<source, percent-encoded>, and the support_reply prompt.

    static constexpr std::string_view document_prefix = "rag://documents/";

    static std::string document_uri(std::string_view source) {
        static constexpr char hex[] = "0123456789ABCDEF";
        std::string uri(document_prefix);
        for (unsigned char c : source) {
            if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
                uri += static_cast<char>(c);
            } else {
                uri += '%';
                uri += hex[c >> 4];
                uri += hex[c & 15];
            }
        }
        return uri;
    }

    // The source a document URI names; none when it is not one (or its escapes are broken).
    static std::optional<std::string> source_of(std::string_view uri) {
        if (!uri.starts_with(document_prefix) || uri.size() == document_prefix.size()) return std::nullopt;
        uri.remove_prefix(document_prefix.size());
        auto digit = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            return -1;
        };
        std::string source;
        for (std::size_t i = 0; i < uri.size(); ++i) {
            if (uri[i] != '%') {
                source += uri[i];
                continue;
            }
            if (i + 2 >= uri.size()) return std::nullopt;
            const int hi = digit(uri[i + 1]), lo = digit(uri[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            source += static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        return source;
    }

    json::object documents(const args& a, const sdk::call_context& call) {
        constexpr int64_t page = 50;
        int64_t after = 0;
        if (auto c = a.optional_string("cursor")) {
            const auto [end, ec] = std::from_chars(c->data(), c->data() + c->size(), after);
            if (ec != std::errc() || end != c->data() + c->size() || after < 0)
                invalid_argument("cursor", "is not a cursor this tool gave out");
        }
        json::array resources;
        int64_t last = after;
        const auto docs = store_->documents(after, page, storage::deadline_of(call));
        for (const auto& d : docs) {
            resources.push_back(json::object{
                {"uri", document_uri(d.source)},
                {"name", d.source},
                {"description", d.kind + " document, " + std::to_string(d.chars) + " characters in " +
                                    std::to_string(d.chunks) + " chunks; tags " + d.tags_json},
                {"mimeType", "text/plain"},
            });
            last = d.id;
        }
        json::object out{{"resources", std::move(resources)}};
        if (static_cast<int64_t>(docs.size()) == page) out["nextCursor"] = std::to_string(last);
        return out;
    }

    json::object read_document(const args& a, const sdk::call_context& call) {
        const std::string uri = a.required_string("uri");
        const auto source = source_of(uri);
        std::optional<std::string> text = source ? store_->text_of(*source, storage::deadline_of(call)) : std::nullopt;
        if (!text) throw sdk::error(sdk::status::not_found, "no indexed document " + uri);
        return json::object{{"contents", json::array{json::object{
                                             {"uri", uri}, {"mimeType", "text/plain"}, {"text", std::move(*text)}}}}};
    }

    // A reply to a customer's question grounded in the indexed documents (the best passages, as
    // embedded resources) and, given the conversation's session_id, in what the memory tool
    // recalls for it (through the host, so memory's own policies apply; without it the prompt
    // says so instead of failing).
    json::object support_reply(const args& a, const sdk::call_context& call) {
        const std::string question = a.required_string("question");
        search_request req;
        req.words = query_words(question);
        if (req.words.empty()) invalid_argument("question", "has no words to search for");
        req.limit = 5;
        const auto hits = store_->search(req, storage::deadline_of(call));
        json::array messages;
        messages.push_back(
            json::object{{"role", "user"},
                         {"content",
                          {{"type", "text"},
                           {"text",
                            "You are a customer-support agent. Answer the customer's question below using only the "
                            "passages that follow (cite their sources) and what is known from this conversation. If "
                            "they do not answer it, say so and offer to escalate.\n\nQuestion: " +
                                question}}}});
        for (const auto& h : hits)
            messages.push_back(json::object{
                {"role", "user"},
                {"content",
                 {{"type", "resource"},
                  {"resource", {{"uri", document_uri(h.source)}, {"mimeType", "text/plain"}, {"text", h.text}}}}}});
        std::size_t memories = 0;
        if (auto session = a.optional_string("session_id")) {
            const json::object recall{{"session_id", *session}, {"query", question}, {"limit", 5}};
            const sdk::result r = host_.call_tool(&call, "memory", "recall", toolhost::json_text(recall));
            std::string known;
            if (r.code() == sdk::status::ok) {
                const json::value v = json::parse(r.text());
                for (const auto& m : v.at("memories").as_array()) {
                    known += "- " + std::string(m.at("content").as_string()) + "\n";
                    ++memories;
                }
                if (known.empty()) known = "(nothing is remembered for this conversation)\n";
            } else {
                known = "(the memory tool could not be asked: " + r.text() + ")\n";
            }
            messages.push_back(json::object{
                {"role", "user"},
                {"content", {{"type", "text"}, {"text", "What is known from this conversation:\n" + known}}}});
        }
        return json::object{{"description", "A reply grounded in " + std::to_string(hits.size()) + " passages and " +
                                                std::to_string(memories) + " memories"},
                            {"messages", std::move(messages)}};
    }

    sdk::host host_;
    rag_config config_;
    paths::allowed_dirs allowed_;
    std::unique_ptr<repository> store_;
    std::unique_ptr<indexer> indexer_;
};

const json_table<rag_tool>& rag_tool::table() {
    static const json_table<rag_tool> t{
        .name = "rag",
        .version = "1.0.0",
        .description =
            "Knowledge-base search: indexes Markdown, text, HTML and JSON files (or text you give it) into "
            "overlapping chunks and finds the best ones for a query with SQLite FTS5 (BM25), or with PostgreSQL's "
            "full-text search in a database several hosts share.",
        .config_schema = schemas::config,
        .thread_safe = true,  // the repository pools connections; everything else is read-only after initialize
        .operations =
            {
                {.name = "index",
                 .description = "Indexes a file or a folder (recursively) under allowed_dirs. Incremental: unchanged "
                                "files are skipped, changed ones re-chunked, and documents of files that disappeared "
                                "from the folder removed. Reports progress per file and can be cancelled between "
                                "files.",
                 .input_schema = schemas::index_input,
                 .output_schema = schemas::index_output,
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_CANCELLABLE,
                 .run = {&rag_tool::index}},
                {.name = "index_text",
                 .description = "Indexes text that does not live in a file under a source name (e.g. an "
                                "attachment's text). The same name again replaces the document.",
                 .input_schema = schemas::index_text_input,
                 .output_schema = schemas::index_text_output,
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT,
                 .run = {&rag_tool::index_text}},
                {.name = "search",
                 .description = "The best chunks for a query, ranked by BM25 (PostgreSQL storage: ts_rank_cd), with "
                                "source, position, score and a snippet whose matches are marked <mark>...</mark>. "
                                "Filters: source, folder, tags.",
                 .input_schema = schemas::search_input,
                 .output_schema = schemas::search_output,
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY,
                 .run = {&rag_tool::search}},
                {.name = "stats",
                 .description = "How many documents, chunks and bytes are indexed, and when the last write was.",
                 .input_schema = schemas::stats_input,
                 .output_schema = schemas::stats_output,
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY,
                 .run = {&rag_tool::stats}},
                {.name = "delete",
                 .description = "Removes one document (source) or every document below a folder (folder).",
                 .input_schema = schemas::delete_input,
                 .output_schema = schemas::delete_output,
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_DESTRUCTIVE,
                 .run = {&rag_tool::remove}},
                {.name = "documents",
                 .description = "The indexed documents, 50 at a time, as MCP resources.",
                 .input_schema = schemas::documents_input,
                 .output_schema = {},
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY,
                 .run = {&rag_tool::documents},
                 .role = R"({"role":"resource_list"})"},
                {.name = "read_document",
                 .description = "An indexed document's text.",
                 .input_schema = schemas::read_document_input,
                 .output_schema = {},
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY,
                 .run = {&rag_tool::read_document},
                 .role = R"({"role":"resource_read","uris":["rag://documents/"],"templates":[{)"
                         R"("uriTemplate":"rag://documents/{+source}","name":"document","title":"An indexed document",)"
                         R"("description":"The text of the document indexed as source (percent-encoded).",)"
                         R"("mimeType":"text/plain"}]})"},
                {.name = "support_reply",
                 .description = "Drafts a reply to a customer's question, grounded in the best passages of the "
                                "indexed documents and, given session_id, in what memory recalls of the "
                                "conversation.",
                 .input_schema = schemas::support_reply_input,
                 .output_schema = {},
                 .flags = TOOLHOST_OPERATION_READ_ONLY,
                 .run = {&rag_tool::support_reply},
                 .role = R"({"role":"prompt","title":"Support reply grounded in the knowledge base"})"},
            },
    };
    return t;
}

}  // namespace
}  // namespace toolhost::plugins::rag

TOOLHOST_PLUGIN("rag", "1.0.0", toolhost::plugins::rag::rag_tool)
