// The rag tool (plugins/rag): chunking and text extraction as units, then every operation
// through the real host against real SQLite files in temporary folders: incremental indexing,
// search ranking, snippets and filters, allowed folders and symlinks, cancellation, storage
// trouble (a writer holding the lock), concurrent calls, and the bundled sample.
#define BOOST_TEST_MODULE rag
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/plugin.hpp>

#include "test_support.hpp"

#include "chunker.hpp"
#include "extract.hpp"
#include "query.hpp"

#include <toolhost_plugins/text.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <sqlite3.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
namespace text = toolhost::plugins::text;
namespace rag = toolhost::plugins::rag;
using namespace toolhost;
using toolhost::test::temp_dir;
using toolhost::test::write_file;

namespace {

// The host logs every call at info level; keep the test output to what matters.
struct quiet_logs {
    quiet_logs() { toolhost::logging::init(toolhost::logging::level::warning, toolhost::logging::format::text); }
};

using toolhost::test::contains;

// A host with only the rag plugin, a docs folder it may read, and a data folder, all temporary.
class rag_env {
public:
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    fs::path docs = dir / "docs";
    fs::path var = dir / "var";

    rag_env() {
        fs::create_directory(plugins);
        fs::create_directory(docs);
        toolhost::test::copy_into(TOOLHOST_RAG_PLUGIN, plugins, "rag.so");
    }

    /// Defaults for tests: only `docs` is allowed and nothing is indexed at start.
    json::object base_config() const {
        return {{"allowed_dirs", json::array{docs.string()}}, {"index_on_start", json::array{}}};
    }

    /// Starts a fresh host (stopping the previous one) with `config` as rag's configuration.
    start_report start(const json::object& config) {
        host_.reset();
        auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
        c.plugin_dirs = {plugins};
        c.data_dir = var;
        c.threads = 4;
        c.log_level = "warning";
        c.tools["rag"].config = config;
        host_ = std::make_unique<host>(std::move(c));
        host_->load_plugins();
        // Tests look at each call's own outcome: no retries, no breaker opening after a run of
        // expected failures.
        call_policy p;
        p.retry.max_attempts = 1;
        p.breaker_enabled = false;
        BOOST_TEST_REQUIRE(host_->set_policy("rag", p).has_value());
        return host_->start({});
    }
    void start() { BOOST_TEST_REQUIRE(start(base_config()).ok()); }

    host& h() { return *host_; }
    fs::path db() const { return var / "rag" / "rag.db"; }

    call_result call(const std::string& op, json::object args, call_options o = {}) {
        return host_->call("rag", op, std::move(args), std::move(o));
    }
    json::object ok(const std::string& op, json::object args) {
        auto r = call(op, std::move(args));
        BOOST_TEST_REQUIRE(r.has_value(), op << " failed: " << (r ? "" : r.error().to_string()));
        return json::parse(*r).as_object();
    }
    tool_error fails(const std::string& op, json::object args) {
        auto r = call(op, std::move(args));
        BOOST_TEST_REQUIRE(!r.has_value(), op << " succeeded: " << (r ? *r : ""));
        return r.error();
    }
    json::array search(const std::string& query, json::object more = {}) {
        more["query"] = query;
        return ok("search", std::move(more)).at("results").as_array();
    }
    std::set<std::string> sources_found(const std::string& query, json::object more = {}) {
        more["top_k"] = 100;
        std::set<std::string> out;
        for (const auto& r : search(query, std::move(more))) out.insert(std::string(r.at("source").as_string()));
        return out;
    }

private:
    std::unique_ptr<host> host_;
};

// Runs one SQL statement on the tool's database file from outside the tool, and returns the
// first column of the first row as text.
std::string sql_value(const fs::path& db, const std::string& sql) {
    sqlite3* c = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_prepare_v2(c, sql.c_str(), -1, &st, nullptr) == SQLITE_OK, sqlite3_errmsg(c));
    std::string out;
    const int rc = sqlite3_step(st);
    BOOST_TEST_REQUIRE((rc == SQLITE_ROW || rc == SQLITE_DONE), sqlite3_errmsg(c));
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0)) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(c);
    return out;
}

// The database is sound: SQLite's own check, FTS5's check of its index against its content,
// and rag's invariants (every chunk has its text, the per-document counts add up).
void check_integrity(const fs::path& db) {
    BOOST_TEST(sql_value(db, "PRAGMA integrity_check") == "ok");
    sql_value(db, "INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')");  // fails the query if broken
    BOOST_TEST(sql_value(db, "SELECT count(*) FROM chunks") == sql_value(db, "SELECT count(*) FROM chunks_fts"));
    BOOST_TEST(
        sql_value(db, "SELECT count(*) FROM chunks c LEFT JOIN chunks_fts f ON f.rowid = c.id WHERE f.rowid IS NULL") ==
        "0");
    BOOST_TEST(sql_value(db, "SELECT coalesce(sum(chunks), 0) FROM documents") ==
               sql_value(db, "SELECT count(*) FROM chunks"));
}

// A small knowledge base in four formats, plus files the index must ignore.
void write_docs(const fs::path& docs) {
    fs::create_directories(docs / "billing");
    fs::create_directories(docs / ".hidden");
    write_file(docs / "returns.md",
               "# Returns\n\nYou can return a parcel within 30 days. The refund reaches your card "
               "within 5 business days after we receive the return.\n");
    write_file(docs / "shipping.txt", "Parcels ship from Rotterdam. Express delivery takes one business day.\n");
    write_file(docs / "billing" / "invoices.html",
               "<html><head><title>Invoices</title><script>var secretword = 1;</script>"
               "<style>.x{color:red}</style></head><body><h1>Invoices &amp; receipts</h1>"
               "<p>Every order has an invoice.<br>Download it from the order page.</p>"
               "<!-- commentword --></body></html>");
    write_file(docs / "billing" / "rates.json",
               R"({"plans":[{"name":"Plus","price":"3.99 EUR","note":"monthly subscription"}]})");
    write_file(docs / "ignored.pdf", "%PDF-1.4 refund");
    write_file(docs / ".hidden" / "secret.md", "refund secret");
}

// A stored source name as a JSON value, to compare with results.
json::value doc(const fs::path& p) { return json::value(p.string()); }

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(quiet_logs);

// =============================================================================== units

BOOST_AUTO_TEST_SUITE(units)

BOOST_AUTO_TEST_CASE(chunks_respect_size_cover_the_text_and_overlap) {
    std::string t;
    for (int i = 0; i < 200; ++i) t += "Sentence number " + std::to_string(i) + " talks about résumé café. ";
    const rag::chunk_options opt{.size = 300, .overlap = 60};
    const auto chunks = rag::split_into_chunks(t, opt);
    BOOST_TEST_REQUIRE(chunks.size() > 5u);
    BOOST_TEST(chunks.front().begin_byte == 0u);
    BOOST_TEST(chunks.back().end_byte == t.size() - 1);  // the final space is trimmed
    for (size_t i = 0; i < chunks.size(); ++i) {
        const auto& c = chunks[i];
        const std::string_view piece = std::string_view(t).substr(c.begin_byte, c.end_byte - c.begin_byte);
        BOOST_TEST(text::is_valid_utf8(piece));
        BOOST_TEST(text::count_chars(piece) == c.end_char - c.begin_char);
        BOOST_TEST(c.begin_char == text::count_chars(std::string_view(t).substr(0, c.begin_byte)));
        BOOST_TEST(c.end_char - c.begin_char <= opt.size);
        BOOST_TEST(!std::isspace(static_cast<unsigned char>(piece.front())));
        if (i > 0) {
            const auto& prev = chunks[i - 1];
            BOOST_TEST(c.begin_byte > prev.begin_byte);  // always advances
            BOOST_TEST(c.begin_byte < prev.end_byte);    // overlaps the previous chunk
            BOOST_TEST(prev.end_byte - c.begin_byte <= 60u * 2);
        }
    }
    // Chunks end at sentence ends here, because every sentence is short.
    for (size_t i = 0; i + 1 < chunks.size(); ++i) BOOST_TEST(t[chunks[i].end_byte - 1] == '.');
}

BOOST_AUTO_TEST_CASE(chunk_edges) {
    BOOST_TEST(rag::split_into_chunks("", {}).empty());
    BOOST_TEST(rag::split_into_chunks(" \n\t ", {}).empty());
    const auto one = rag::split_into_chunks("  short text  ", {.size = 100, .overlap = 10});
    BOOST_TEST_REQUIRE(one.size() == 1u);
    BOOST_TEST(one[0].begin_byte == 2u);
    BOOST_TEST(one[0].end_byte == 12u);
    // No white space at all: hard cuts at character boundaries, never inside a code point.
    std::string word;
    for (int i = 0; i < 500; ++i) word += "é";
    const auto cuts = rag::split_into_chunks(word, {.size = 100, .overlap = 20});
    BOOST_TEST_REQUIRE(cuts.size() == 5u);
    for (const auto& c : cuts) {
        BOOST_TEST(c.end_char - c.begin_char == 100u);
        BOOST_TEST(text::is_valid_utf8(std::string_view(word).substr(c.begin_byte, c.end_byte - c.begin_byte)));
    }
    // A paragraph break in the last quarter is preferred to the size limit.
    const std::string paras = std::string(80, 'a') + "\n\n" + std::string(80, 'b');
    const auto p = rag::split_into_chunks(paras, {.size = 100, .overlap = 0});
    BOOST_TEST_REQUIRE(p.size() == 2u);
    BOOST_TEST(p[0].end_byte == 80u);
    BOOST_TEST(p[1].begin_byte == 82u);
}

BOOST_AUTO_TEST_CASE(html_becomes_readable_text) {
    const std::string html =
        "<!DOCTYPE html><html><head><title>T&eacute;st</title><style>p{}</style>"
        "<script>if (a < b) { alert('x'); }</script></head><body>"
        "<h1>Head&shy;line</h1><p>One&nbsp;&amp; two &lt;three&gt; &#233; &#x20AC; &bogus; a < b</p>"
        "<ul><li>first</li><li>second</li></ul><!-- hidden --><pre>  keep\n  this</pre>"
        "<p title=\"a > b\">attr</p></body></html>";
    const std::string t = text::html_to_text(html);
    BOOST_TEST(contains(t, "Tést"));
    BOOST_TEST(contains(t, "One & two <three> é €"));
    BOOST_TEST(contains(t, "&bogus; a < b"));
    BOOST_TEST(contains(t, "first\nsecond"));
    BOOST_TEST(contains(t, "  keep\n  this"));
    BOOST_TEST(contains(t, "attr"));
    BOOST_TEST(!contains(t, "alert"));
    BOOST_TEST(!contains(t, "p{}"));
    BOOST_TEST(!contains(t, "hidden"));
    BOOST_TEST(!contains(t, "<p"));
    BOOST_TEST(!contains(t, "> b\""));
    BOOST_TEST(text::is_valid_utf8(t));
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_replaced) {
    BOOST_TEST(text::sanitize_utf8("ok\xC3\xA9") == "ok\xC3\xA9");
    BOOST_TEST(text::sanitize_utf8("a\xFF"
                                   "b") ==
               "a\xEF\xBF\xBD"
               "b");
    BOOST_TEST(text::sanitize_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
    BOOST_TEST(text::sanitize_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    BOOST_TEST(text::sanitize_utf8(std::string("a\0b", 3)) == "ab");
    BOOST_TEST(text::truncate_chars("héllo", 2) == "hé");
}

BOOST_AUTO_TEST_CASE(json_files_become_key_value_lines) {
    const std::string t = rag::extract_text(R"({"faq":[{"q":"Refund?","a":"Within 5 days"}],"n":3,"x":null})",
                                            rag::text_format::json, "path");
    BOOST_TEST(t == "faq.q: Refund?\nfaq.a: Within 5 days\n\nn: 3\n");
    BOOST_CHECK_EXCEPTION(
        rag::extract_text("{oops", rag::text_format::json, "path"), sdk::error,
        [](const sdk::error& e) { return e.code() == sdk::status::invalid_argument && contains(e.what(), "path:"); });
}

BOOST_AUTO_TEST_CASE(queries_drop_function_words_unless_nothing_is_left) {
    BOOST_TEST(rag::without_stop_words("How do I get a refund?") == "get refund?");
    BOOST_TEST(rag::without_stop_words("  what's   NOT covered  ") == "what's NOT covered");
    BOOST_TEST(rag::without_stop_words("the who") == "the who");  // only stop words: kept as typed
    BOOST_TEST(rag::without_stop_words("Refund box refund BOX refund") == "Refund box");  // each word once
    BOOST_TEST(rag::match_expression("how do I \"pair\" it") == "\"\"\"pair\"\"\"");
    BOOST_TEST(rag::match_expression(" \t ").empty());
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================= index + search

BOOST_AUTO_TEST_SUITE(operations)

BOOST_AUTO_TEST_CASE(index_a_folder_then_search_it) {
    rag_env env;
    write_docs(env.docs);
    env.start();
    const auto r = env.ok("index", {{"path", env.docs.string()}});
    BOOST_TEST(r.at("files") == 4);
    BOOST_TEST(r.at("added") == 4);
    BOOST_TEST(r.at("errors").as_array().empty());
    BOOST_TEST(r.at("path") == doc(fs::canonical(env.docs)));

    const auto hits = env.search("refund");
    BOOST_TEST_REQUIRE(hits.size() == 1u);  // not the .pdf, not the hidden folder
    const auto& hit = hits[0].as_object();
    BOOST_TEST(hit.at("source") == doc(fs::canonical(env.docs) / "returns.md"));
    BOOST_TEST(contains(hit.at("snippet").as_string(), "<mark>refund</mark>"));
    BOOST_TEST(contains(hit.at("text").as_string(), "within 5 business days"));
    BOOST_TEST(hit.at("position").at("chunk") == 0);
    BOOST_TEST(hit.at("position").at("start") == 0);
    BOOST_TEST(hit.at("position").at("end").as_int64() > 50);
    BOOST_TEST(hit.at("score").to_number<double>() > 0);
    BOOST_TEST(hit.at("tags").as_array().empty());

    // HTML is reduced to text: scripts, styles and comments are not indexed, entities decoded.
    BOOST_TEST(env.search("secretword").empty());
    BOOST_TEST(env.search("commentword").empty());
    const auto inv = env.search("invoice receipts");
    BOOST_TEST_REQUIRE(!inv.empty());
    BOOST_TEST(contains(inv[0].at("text").as_string(), "Invoices & receipts"));
    // JSON keys give values context.
    const auto plans = env.search("subscription");
    BOOST_TEST_REQUIRE(plans.size() == 1u);
    BOOST_TEST(contains(plans[0].at("text").as_string(), "plans.note: monthly subscription"));
    // Stemming: "parcels" finds "parcel"; ranking puts the better match first.
    const auto parcel = env.search("parcels express delivery");
    BOOST_TEST_REQUIRE(parcel.size() == 2u);
    BOOST_TEST(parcel[0].at("source") == doc(fs::canonical(env.docs) / "shipping.txt"));
    BOOST_TEST(parcel[0].at("score").to_number<double>() >= parcel[1].at("score").to_number<double>());
    check_integrity(env.db());
}

BOOST_AUTO_TEST_CASE(indexing_is_incremental) {
    rag_env env;
    write_docs(env.docs);
    env.start();
    env.ok("index", {{"path", env.docs.string()}});
    auto again = env.ok("index", {{"path", env.docs.string()}});
    BOOST_TEST(again.at("unchanged") == 4);
    BOOST_TEST(again.at("added") == 0);
    BOOST_TEST(again.at("chunks") == 0);
    const std::string first_indexed =
        sql_value(env.db(), "SELECT indexed_at FROM documents WHERE source LIKE '%shipping.txt'");

    write_file(env.docs / "shipping.txt", "Parcels now ship from Antwerp by zeppelin.\n");
    fs::remove(env.docs / "returns.md");
    write_file(env.docs / "new.md", "A brand new page about gift cards.\n");
    auto changed = env.ok("index", {{"path", env.docs.string()}});
    BOOST_TEST(changed.at("files") == 4);
    BOOST_TEST(changed.at("added") == 1);
    BOOST_TEST(changed.at("updated") == 1);
    BOOST_TEST(changed.at("unchanged") == 2);
    BOOST_TEST(changed.at("removed") == 1);
    BOOST_TEST(env.search("refund").empty());     // the removed file is gone
    BOOST_TEST(env.search("Rotterdam").empty());  // the old content of the changed file is gone
    BOOST_TEST(env.search("zeppelin").size() == 1u);
    BOOST_TEST(env.search("gift cards").size() == 1u);
    BOOST_TEST(env.ok("stats", {}).at("documents") == 4);

    auto forced = env.ok("index", {{"path", env.docs.string()}, {"force", true}});
    BOOST_TEST(forced.at("updated") == 4);
    BOOST_TEST(sql_value(env.db(), "SELECT count(*) FROM documents WHERE indexed_at >= '" + first_indexed + "'") ==
               "4");
    check_integrity(env.db());
}

BOOST_AUTO_TEST_CASE(changed_chunk_settings_rechunk_unchanged_files) {
    rag_env env;
    std::string long_text;
    for (int i = 0; i < 100; ++i) long_text += "Line " + std::to_string(i) + " of a long page about warranty claims.\n";
    write_file(env.docs / "long.md", long_text);
    env.start();
    BOOST_TEST(env.ok("index", {{"path", env.docs.string()}}).at("added") == 1);
    const auto before = env.ok("stats", {}).at("chunks").as_int64();

    auto config = env.base_config();
    config["chunk_size"] = 400;
    config["chunk_overlap"] = 50;
    BOOST_TEST_REQUIRE(env.start(config).ok());
    const auto r = env.ok("index", {{"path", env.docs.string()}});
    BOOST_TEST(r.at("updated") == 1);
    BOOST_TEST(env.ok("stats", {}).at("chunks").as_int64() > before);
    check_integrity(env.db());
}

BOOST_AUTO_TEST_CASE(index_a_single_file_with_tags) {
    rag_env env;
    write_docs(env.docs);
    env.start();
    auto r = env.ok("index", {{"path", (env.docs / "returns.md").string()}, {"tags", json::array{"policy", "eu"}}});
    BOOST_TEST(r.at("files") == 1);
    BOOST_TEST(r.at("added") == 1);
    const auto hits = env.search("refund");
    BOOST_TEST_REQUIRE(hits.size() == 1u);
    BOOST_TEST(hits[0].at("tags") == (json::array{"eu", "policy"}));
    // Indexing the folder without tags keeps the file's tags; with tags it sets them.
    env.ok("index", {{"path", env.docs.string()}});
    BOOST_TEST(env.search("refund")[0].at("tags") == (json::array{"eu", "policy"}));
    r = env.ok("index", {{"path", env.docs.string()}, {"tags", json::array{"kb"}}});
    BOOST_TEST(r.at("unchanged") == 4);  // content unchanged; only the tags changed
    BOOST_TEST(env.search("refund")[0].at("tags") == (json::array{"kb"}));
}

// What MCP clients get besides tools (operation roles): the documents as resources, their text
// rebuilt from overlapping chunks, and the support_reply prompt.
BOOST_AUTO_TEST_CASE(documents_are_resources_and_support_reply_is_a_grounded_prompt) {
    rag_env env;
    json::object config = env.base_config();
    config["chunk_size"] = 100;
    config["chunk_overlap"] = 30;
    BOOST_TEST_REQUIRE(env.start(config).ok());
    std::string long_text;
    for (int i = 0; i < 40; ++i) long_text += "Refunds take " + std::to_string(i) + " days, café ☕ included. ";
    env.ok("index_text", {{"source", "policies/refund & returns"}, {"text", long_text}});
    env.ok("index_text", {{"source", "faq"}, {"text", "Shipping is free above 50 euros."}});

    const auto listed = env.ok("documents", {});
    const auto& resources = listed.at("resources").as_array();
    BOOST_TEST_REQUIRE(resources.size() == 2u);
    BOOST_TEST(resources[0].at("uri") == "rag://documents/policies/refund%20%26%20returns");
    BOOST_TEST(resources[0].at("name") == "policies/refund & returns");
    BOOST_TEST(!listed.contains("nextCursor"));
    BOOST_TEST(env.ok("documents", {{"cursor", "2"}}).at("resources").as_array().empty());
    BOOST_TEST((env.fails("documents", {{"cursor", "x"}}).code == status_code::invalid_argument));

    // Many overlapping chunks, one text again.
    const auto read = env.ok("read_document", {{"uri", resources[0].at("uri")}});
    const auto& content = read.at("contents").at(0);
    BOOST_TEST(content.at("mimeType") == "text/plain");
    BOOST_TEST(content.at("text").as_string() == long_text.substr(0, long_text.size() - 1));  // trailing space trimmed
    for (const char* uri : {"rag://documents/nope", "rag://documents/faq%2", "rag://documents/faq%zz", "rag://other"})
        BOOST_TEST((env.fails("read_document", {{"uri", uri}}).code == status_code::not_found), uri);

    // The prompt: the best passages as embedded resources; no memory tool on this host, which
    // the prompt says instead of failing.
    const auto prompt = env.ok("support_reply", {{"question", "How long do refunds take?"}, {"session_id", "s-1"}});
    const auto& messages = prompt.at("messages").as_array();
    BOOST_TEST_REQUIRE(messages.size() >= 3u);
    BOOST_TEST(messages[0].at("content").at("text").as_string().ends_with("Question: How long do refunds take?"));
    BOOST_TEST(messages[1].at("content").at("type") == "resource");
    BOOST_TEST(messages[1].at("content").at("resource").at("uri") == "rag://documents/policies/refund%20%26%20returns");
    const std::string memory(messages.back().at("content").at("text").as_string());
    BOOST_TEST(memory.find("the memory tool could not be asked") != std::string::npos, memory);
    // Nothing matches: no passages, and the instructions say to offer escalation.
    const auto none = env.ok("support_reply", {{"question", "zebra unicorn"}});
    BOOST_TEST(none.at("description") == "A reply grounded in 0 passages and 0 memories");
    BOOST_TEST(none.at("messages").as_array().size() == 1u);
    // The roles are declared.
    const auto& d = env.h().find("rag")->descriptor();
    BOOST_TEST((d.find_operation("support_reply")->role == toolhost::operation_role::prompt));
    BOOST_TEST((d.find_operation("documents")->role == toolhost::operation_role::resource_list));
}

BOOST_AUTO_TEST_CASE(index_text_filters_and_replacement) {
    rag_env env;
    env.start();
    auto r = env.ok("index_text", {{"source", "tickets/1042"},
                                   {"text", "The customer asks about a refund for order 7."},
                                   {"tags", json::array{"ticket", "open"}}});
    BOOST_TEST(r.at("status") == "added");
    BOOST_TEST(r.at("chunks") == 1);
    env.ok("index_text", {{"source", "tickets/1043"},
                          {"text", "Another refund question, about shipping costs."},
                          {"tags", json::array{"ticket"}}});
    env.ok("index_text",
           {{"source", "notes/refunds"}, {"text", "<p>Internal note: <b>refund</b> policy.</p>"}, {"format", "html"}});

    BOOST_TEST(env.sources_found("refund").size() == 3u);
    BOOST_TEST(env.sources_found("refund", {{"source", "tickets/1043"}}) == (std::set<std::string>{"tickets/1043"}));
    BOOST_TEST(env.sources_found("refund", {{"folder", "tickets"}}) ==
               (std::set<std::string>{"tickets/1042", "tickets/1043"}));
    BOOST_TEST(env.sources_found("refund", {{"folder", "tickets/"}}).size() == 2u);
    BOOST_TEST(env.sources_found("refund", {{"folder", "tick"}}).empty());  // a prefix stops at '/'
    BOOST_TEST(env.sources_found("refund", {{"tags", json::array{"ticket", "open"}}}) ==
               (std::set<std::string>{"tickets/1042"}));
    BOOST_TEST(env.sources_found("refund", {{"tags", json::array{"ticket"}}}).size() == 2u);
    BOOST_TEST(env.sources_found("refund", {{"tags", json::array{"nope"}}}).empty());
    BOOST_TEST(env.search("refund", {{"top_k", 2}}).size() == 2u);
    // HTML given to index_text is reduced to text too.
    const auto note = env.search("internal", {{"source", "notes/refunds"}});
    BOOST_TEST_REQUIRE(note.size() == 1u);
    BOOST_TEST(note[0].at("text") == "Internal note: refund policy.");

    r = env.ok("index_text", {{"source", "tickets/1042"}, {"text", "The customer asks about a refund for order 7."}});
    BOOST_TEST(r.at("status") == "unchanged");
    r = env.ok("index_text", {{"source", "tickets/1042"}, {"text", "Solved: the parcel was found."}});
    BOOST_TEST(r.at("status") == "updated");
    BOOST_TEST(env.sources_found("refund").size() == 2u);
    BOOST_TEST(env.ok("stats", {}).at("documents") == 3);
    check_integrity(env.db());
}

BOOST_AUTO_TEST_CASE(user_punctuation_is_never_fts_syntax) {
    rag_env env;
    env.start();
    env.ok("index_text",
           {{"source", "a"}, {"text", "Refund (partial) for order #12: AND-or-NOT? \"quoted\" col:value"}});
    for (const char* q : {"refund\" OR (NEAR", "*", "\"", "AND", "-refund", "col:value", "refund)", "NOT refund",
                          "(partial)", "#12", "^refund", "{a b}", "refund* OR", "\"quoted\""}) {
        auto r = env.call("search", {{"query", q}});
        BOOST_TEST(r.has_value(), q << ": " << (r ? "" : r.error().to_string()));
    }
    BOOST_TEST(env.search("(partial)").size() == 1u);
    BOOST_TEST(env.search("AND").size() == 1u);  // the word, not the operator
    BOOST_TEST(env.search("\"quoted\"").size() == 1u);
    const auto e = env.fails("search", {{"query", "   "}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "query"));
}

BOOST_AUTO_TEST_CASE(stats_and_delete) {
    rag_env env;
    write_docs(env.docs);
    env.start();
    auto empty = env.ok("stats", {});
    BOOST_TEST(empty.at("documents") == 0);
    BOOST_TEST(empty.at("last_indexed").is_null());

    env.ok("index", {{"path", env.docs.string()}});
    env.ok("index_text", {{"source", "extra"}, {"text", "one more refund text"}});
    const auto s = env.ok("stats", {});
    BOOST_TEST(s.at("documents") == 5);
    uint64_t bytes = std::string("one more refund text").size();
    for (const char* f : {"returns.md", "shipping.txt", "billing/invoices.html", "billing/rates.json"})
        bytes += fs::file_size(env.docs / f);
    BOOST_TEST(s.at("bytes").as_int64() == static_cast<int64_t>(bytes));
    BOOST_TEST(s.at("chunks").as_int64() >= 5);
    const std::string last(s.at("last_indexed").as_string());
    BOOST_TEST(last.size() == 20u);  // 2024-03-01T12:00:00Z
    BOOST_TEST(last.back() == 'Z');

    // Delete one document by its path as given relative to nothing: the stored absolute path.
    auto d = env.ok("delete", {{"source", (fs::canonical(env.docs) / "returns.md").string()}});
    BOOST_TEST(d.at("documents") == 1);
    BOOST_TEST(d.at("chunks") == 1);
    BOOST_TEST(env.sources_found("refund") == (std::set<std::string>{"extra"}));
    // A folder prefix, given as it was indexed (not canonical): everything below it goes.
    d = env.ok("delete", {{"folder", (env.docs / "billing").string()}});
    BOOST_TEST(d.at("documents") == 2);
    BOOST_TEST(env.ok("stats", {}).at("documents") == 2);

    auto missing = env.fails("delete", {{"source", "no/such/source"}});
    BOOST_TEST((missing.code == status_code::not_found));
    BOOST_TEST(contains(missing.message, "no/such/source"));
    missing = env.fails("delete", {{"folder", (env.docs / "billing").string()}});
    BOOST_TEST((missing.code == status_code::not_found));
    const auto both = env.fails("delete", {{"source", "a"}, {"folder", "b"}});
    BOOST_TEST((both.code == status_code::invalid_argument));
    check_integrity(env.db());
}

BOOST_AUTO_TEST_SUITE_END()

// ================================================================================== errors

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(paths_outside_allowed_dirs_are_refused) {
    rag_env env;
    write_docs(env.docs);
    const fs::path outside = env.dir / "outside";
    fs::create_directory(outside);
    write_file(outside / "private.md", "private refund data");
    fs::create_symlink(outside / "private.md", env.docs / "link.md");
    fs::create_directory_symlink(outside, env.docs / "linkdir");
    env.start();

    auto e = env.fails("index", {{"path", (outside / "private.md").string()}});
    BOOST_TEST((e.code == status_code::permission_denied));
    BOOST_TEST(contains(e.message, "path: " + (outside / "private.md").string()));
    e = env.fails("index", {{"path", (env.docs / ".." / "outside").string()}});
    BOOST_TEST((e.code == status_code::permission_denied));
    // A symlink inside an allowed folder is resolved before the check.
    e = env.fails("index", {{"path", (env.docs / "link.md").string()}});
    BOOST_TEST((e.code == status_code::permission_denied), e.to_string());
    e = env.fails("index", {{"path", (env.docs / "linkdir").string()}});
    BOOST_TEST((e.code == status_code::permission_denied));
    // Outside paths are refused before their existence is checked.
    e = env.fails("index", {{"path", (outside / "nothing.md").string()}});
    BOOST_TEST((e.code == status_code::permission_denied));

    // In a folder run, the link is reported and skipped; the symlinked folder is not followed.
    const auto r = env.ok("index", {{"path", env.docs.string()}});
    BOOST_TEST(r.at("added") == 4);
    const auto& errors = r.at("errors").as_array();
    BOOST_TEST_REQUIRE(errors.size() == 1u);
    BOOST_TEST(errors[0].at("code") == "PERMISSION_DENIED");
    BOOST_TEST(contains(errors[0].at("path").as_string(), "link.md"));
    BOOST_TEST(env.search("private").empty());
}

BOOST_AUTO_TEST_CASE(bad_input_names_the_field) {
    rag_env env;
    write_docs(env.docs);
    env.start();
    auto e = env.fails("index", {{"path", (env.docs / "missing.md").string()}});
    BOOST_TEST((e.code == status_code::not_found));
    BOOST_TEST(contains(e.message, "missing.md"));
    e = env.fails("index", {{"path", (env.docs / "ignored.pdf").string()}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "path:"));
    BOOST_TEST(contains(e.message, "unsupported"));
    e = env.fails("search", {{"query", "x"}, {"top_k", 0}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "top_k"));
    e = env.fails("index_text", {{"source", "s"}, {"text", "<p> </p>"}, {"format", "html"}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "text"));
    e = env.fails("index_text", {{"source", "s"}, {"text", "x"}, {"format", "pdf"}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "format"));
    e = env.fails("index", {{"path", env.docs.string()}, {"tags", json::array{""}}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "tags"));
}

BOOST_AUTO_TEST_CASE(bad_configuration_fails_start) {
    rag_env env;
    auto config = env.base_config();
    config["chunk_size"] = 200;
    config["chunk_overlap"] = 150;
    auto report = env.start(config);
    BOOST_TEST_REQUIRE(report.failed.size() == 1u);
    BOOST_TEST((report.failed[0].second.code == status_code::invalid_argument));
    BOOST_TEST(contains(report.failed[0].second.message, "chunk_overlap"));

    config = env.base_config();
    config["index_on_start"] = json::array{(env.dir / "elsewhere").string()};
    report = env.start(config);
    BOOST_TEST_REQUIRE(report.failed.size() == 1u);
    BOOST_TEST((report.failed[0].second.code == status_code::permission_denied));
    BOOST_TEST(contains(report.failed[0].second.message, "index_on_start/0"));

    // A missing start folder inside the allowed ones is only a warning.
    config = env.base_config();
    config["index_on_start"] = json::array{(env.docs / "later").string()};
    BOOST_TEST(env.start(config).ok());
}

BOOST_AUTO_TEST_SUITE_END()

// ========================================================== failures never lose what is stored

BOOST_AUTO_TEST_SUITE(durability)

BOOST_AUTO_TEST_CASE(a_busy_database_is_unavailable_and_loses_nothing) {
    rag_env env;
    write_docs(env.docs);
    auto config = env.base_config();
    config["busy_timeout_ms"] = 0;
    BOOST_TEST_REQUIRE(env.start(config).ok());
    env.ok("index", {{"path", env.docs.string()}});
    env.ok("index_text", {{"source", "note"}, {"text", "the original note about refunds"}});
    const auto before = env.search("refund", {{"top_k", 100}});

    // Another process holds the write lock, as a long writer would.
    sqlite3* other = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open(env.db().c_str(), &other) == SQLITE_OK);
    BOOST_TEST_REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

    auto e = env.fails("index_text", {{"source", "note"}, {"text", "a replacement that must not half-land"}});
    BOOST_TEST((e.code == status_code::unavailable), e.to_string());
    write_file(env.docs / "returns.md", "Changed content about zebras.\n");
    e = env.fails("index", {{"path", env.docs.string()}});
    BOOST_TEST((e.code == status_code::unavailable), e.to_string());
    e = env.fails("delete", {{"source", "note"}});
    BOOST_TEST((e.code == status_code::unavailable), e.to_string());
    // Readers are not blocked by the writer (WAL).
    BOOST_TEST(env.search("refund", {{"top_k", 100}}) == before);

    BOOST_TEST_REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);
    BOOST_TEST(env.search("refund", {{"top_k", 100}}) == before);
    BOOST_TEST(env.search("replacement").empty());
    BOOST_TEST(env.search("zebras").empty());
    check_integrity(env.db());
    // And the same calls succeed once the lock is gone.
    BOOST_TEST(env.ok("index", {{"path", env.docs.string()}}).at("updated") == 1);
    BOOST_TEST(env.search("zebras").size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_failed_update_keeps_the_previous_version) {
    rag_env env;
    write_file(env.docs / "plans.json", R"({"plan":"Plus costs 3.99 EUR"})");
    env.start();
    env.ok("index", {{"path", env.docs.string()}});
    write_file(env.docs / "plans.json", R"({"plan": broken json)");
    const auto r = env.ok("index", {{"path", env.docs.string()}});
    BOOST_TEST_REQUIRE(r.at("errors").as_array().size() == 1u);
    BOOST_TEST(r.at("errors").at(0).at("code") == "INVALID_ARGUMENT");
    BOOST_TEST(r.at("removed") == 0);  // a file that is there but unreadable is not "gone"
    BOOST_TEST(env.search("plus").size() == 1u);

    // A text document may not replace a file document (and the file stays).
    const std::string source = (fs::canonical(env.docs) / "plans.json").string();
    const auto e = env.fails("index_text", {{"source", source}, {"text", "hijack"}});
    BOOST_TEST((e.code == status_code::failed_precondition));
    BOOST_TEST(env.search("hijack").empty());
    BOOST_TEST(env.search("plus").size() == 1u);
    check_integrity(env.db());
}

BOOST_AUTO_TEST_CASE(a_cancelled_run_keeps_the_files_it_finished) {
    rag_env env;
    for (int i = 0; i < 6; ++i)
        write_file(env.docs / ("page" + std::to_string(i) + ".md"), "Page " + std::to_string(i) + " about kettles.\n");
    env.start();

    // Cancel from the progress report of the second file: deterministic, no timing involved.
    boost::asio::cancellation_signal signal;
    std::vector<double> progress;
    call_options o;
    o.on_progress = [&](double done, double total, std::string_view) {
        progress.push_back(done);
        BOOST_TEST(total == 6.0);
        if (done == 2.0) signal.emit(boost::asio::cancellation_type::terminal);
    };
    auto f = env.h().async_call("rag", "index", json::object{{"path", env.docs.string()}}, std::move(o),
                                boost::asio::bind_cancellation_slot(signal.slot(), boost::asio::use_future));
    const auto r = f.get();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::cancelled), r.error().to_string());
    BOOST_TEST(contains(r.error().message, "after 2 of 6 files"));
    BOOST_TEST(progress == (std::vector<double>{1.0, 2.0}));
    BOOST_TEST(env.ok("stats", {}).at("documents") == 2);
    check_integrity(env.db());

    const auto rest = env.ok("index", {{"path", env.docs.string()}});
    BOOST_TEST(rest.at("unchanged") == 2);
    BOOST_TEST(rest.at("added") == 4);
    BOOST_TEST(env.search("kettles", {{"top_k", 10}}).size() == 6u);
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================== start-up and threads

BOOST_AUTO_TEST_SUITE(runtime)

BOOST_AUTO_TEST_CASE(index_on_start_makes_search_work_at_once) {
    rag_env env;
    write_docs(env.docs);
    auto config = env.base_config();
    config["index_on_start"] = json::array{env.docs.string()};
    BOOST_TEST_REQUIRE(env.start(config).ok());
    BOOST_TEST(env.search("refund").size() == 1u);
    // The next start finds everything unchanged and keeps it.
    BOOST_TEST_REQUIRE(env.start(config).ok());
    BOOST_TEST(env.ok("stats", {}).at("documents") == 4);
}

BOOST_AUTO_TEST_CASE(the_bundled_sample_is_found_next_to_the_plugin_and_indexed) {
    rag_env env;
    // The layout of the build and install trees: <plugins>/rag.so and <plugins>/rag/sample.
    fs::create_directories(env.plugins / "rag");
    fs::copy(TOOLHOST_RAG_SAMPLE_DIR, env.plugins / "rag" / "sample", fs::copy_options::recursive);
    BOOST_TEST_REQUIRE(env.start(json::object{}).ok());  // all defaults
    const auto hits = env.search("refund");
    BOOST_TEST_REQUIRE(!hits.empty());
    BOOST_TEST(contains(hits[0].at("source").as_string(), "returns-and-refunds.md"));
    const auto s = env.ok("stats", {});
    BOOST_TEST(s.at("documents").as_int64() >= 8);
    BOOST_TEST(s.at("documents").as_int64() <= 15);
    // Every format of the sample is indexed, and the sample folder is allowed by default.
    for (const char* q : {"password", "invoice", "tracking", "customs", "warranty", "LED", "dishwasher"})
        BOOST_TEST(!env.search(q).empty(), q);
    BOOST_TEST(env.ok("index", {{"path", (env.plugins / "rag" / "sample").string()}}).at("unchanged") ==
               s.at("documents"));
    // The data folder is allowed by default too; anything else is not.
    fs::create_directories(env.var / "rag" / "uploads");
    write_file(env.var / "rag" / "uploads" / "extra.md", "uploaded refund note");
    BOOST_TEST(env.ok("index", {{"path", (env.var / "rag" / "uploads").string()}}).at("added") == 1);
    BOOST_TEST((env.fails("index", {{"path", env.docs.string()}}).code == status_code::permission_denied));
}

BOOST_AUTO_TEST_CASE(concurrent_searches_and_writes) {
    rag_env env;
    write_docs(env.docs);
    env.start();
    env.ok("index", {{"path", env.docs.string()}});
    constexpr int threads = 6;
    constexpr int per_thread = 15;
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                // (appended, not "t" + ...: GCC 12 warns falsely (-Wrestrict) on the latter)
                std::string source(1, 't');
                source.append(std::to_string(t)).append(1, '/').append(std::to_string(i));
                auto w = env.h().call("rag", "index_text",
                                      json::object{{"source", source}, {"text", "refund note " + source}});
                auto s = env.h().call("rag", "search", json::object{{"query", "refund"}, {"top_k", 3}});
                if (!w || !s) failures.fetch_add(1);
                if (i % 5 == 0 && !env.h().call("rag", "stats", json::object{})) failures.fetch_add(1);
            }
        });
    }
    for (auto& w : workers) w.join();
    BOOST_TEST(failures.load() == 0);
    BOOST_TEST(env.ok("stats", {}).at("documents") == 4 + threads * per_thread);
    BOOST_TEST(env.sources_found("refund", {{"folder", "t3"}}).size() == static_cast<size_t>(per_thread));
    check_integrity(env.db());
}

BOOST_AUTO_TEST_SUITE_END()
