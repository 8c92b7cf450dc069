// The rag tool's storage contract, run against both backends: every case of the contract is
// registered twice, as sqlite/<case> and postgresql/<case>, and drives rag.so through the real
// host, first on an SQLite file, then on a PostgreSQL database (a throwaway cluster started by the
// test with Debian's binaries, a new database per case). Then what only PostgreSQL has: the two
// backends agreeing on one corpus (the bundled sample), a database that goes away and comes back,
// migrations (and the lock that lets memory and rag create the extension they share), text
// PostgreSQL cannot hold, and configuration. Without PostgreSQL's server binaries the postgresql
// suite is skipped, saying what to install. (test_rag.cpp covers the rest of the tool on SQLite:
// chunking, extraction, allowed folders, cancellation, a writer holding SQLite's lock.)
#define BOOST_TEST_MODULE rag_storage
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>

#include "postgres_cluster.hpp"
#include "storage_contract.hpp"
#include "test_support.hpp"

#include <toolhost_plugins/sha256.hpp>
#if TOOLHOST_RAG_POSTGRESQL
#include <toolhost_plugins/postgres.hpp>
#endif

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <latch>
#include <map>
#include <set>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using toolhost::status_code;
using toolhost::test::contains;
using toolhost::test::postgres_cluster;
using toolhost::test::temp_dir;
using toolhost::test::write_file;

namespace {

using toolhost::test::storage::backend;
using toolhost::test::storage::code;

// A plugin folder holding only rag.so (and its sample), a data folder, a folder of documents that
// `index` may read, and the tool's storage: an SQLite file in the data folder, or a database of a
// PostgreSQL cluster. "{table}" in sql() is the documents, "{chunks}" and "{tags}" the others.
class storage_env : public toolhost::test::storage::storage_env {
public:
    explicit storage_env(backend b, postgres_cluster* cluster = nullptr)
        : toolhost::test::storage::storage_env({"rag",
                                                TOOLHOST_RAG_PLUGIN,
                                                "rag.db",
                                                {{"table", {"documents", "rag_documents"}},
                                                 {"chunks", {"chunks", "rag_chunks"}},
                                                 {"tags", {"tags", "rag_tags"}}}},
                                               b, cluster) {
        fs::create_directory(docs);
    }

    /// The configuration of a case: `docs` allowed and nothing indexed at start, then `more`.
    json::object rag_config(json::object more = {}) const {
        json::object c{{"allowed_dirs", json::array{docs.string()}}, {"index_on_start", json::array{}}};
        for (auto& [k, v] : more) c[k] = v;
        return c;
    }
    std::unique_ptr<toolhost::host> start_rag(json::object more = {}, unsigned threads = 4) const {
        return start(rag_config(std::move(more)), threads);
    }

    /// A document's name as `index` gives it: its absolute path, symlinks resolved.
    std::string source_of(const fs::path& file) const { return (fs::canonical(docs) / file).string(); }

    temp_dir scratch;
    fs::path docs = scratch / "docs";
};

json::value ok(toolhost::host& h, const std::string& op, json::object args) {
    return toolhost::test::storage::call_ok(h, "rag", op, std::move(args));
}

toolhost::tool_error fails(toolhost::host& h, const std::string& op, json::object args) {
    return toolhost::test::storage::call_fails(h, "rag", op, std::move(args));
}

json::value index_text(toolhost::host& h, const std::string& source, const std::string& text, json::object more = {}) {
    more["source"] = source;
    more["text"] = text;
    return ok(h, "index_text", std::move(more));
}

std::string status_of(const json::value& v) { return std::string(v.at("status").as_string()); }

json::array search(toolhost::host& h, const std::string& query, json::object more = {}) {
    more["query"] = query;
    if (!more.contains("top_k")) more["top_k"] = 100;
    return ok(h, "search", std::move(more)).at("results").as_array();
}

std::set<std::string> sources_found(toolhost::host& h, const std::string& query, json::object more = {}) {
    std::set<std::string> out;
    for (const auto& r : search(h, query, std::move(more))) out.insert(std::string(r.at("source").as_string()));
    return out;
}

std::vector<std::string> strings(const json::value& array) {
    std::vector<std::string> out;
    for (const auto& v : array.as_array()) out.emplace_back(v.as_string());
    return out;
}

// Whether `t` is an ISO 8601 UTC time to the second, 2026-01-31T12:00:00Z.
bool is_utc_second(std::string_view t) {
    constexpr std::string_view shape = "dddd-dd-ddTdd:dd:ddZ";
    if (t.size() != shape.size()) return false;
    for (size_t i = 0; i < t.size(); ++i)
        if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(t[i])) : t[i] != shape[i]) return false;
    return true;
}

// A text long enough for several chunks at chunk_size 200 / overlap 40: numbered sentences, so
// every chunk differs.
std::string long_text(const std::string& word, int sentences) {
    std::string t;
    for (int i = 0; i < sentences; ++i)
        t += "Sentence " + std::to_string(i) + " is about " + word + " and nothing else at all. ";
    t.pop_back();
    return t;
}

}  // namespace

#if TOOLHOST_RAG_POSTGRESQL
STORAGE_CONTRACT_SUITES("test_rag_storage", nullptr)
#else
STORAGE_CONTRACT_SUITES("test_rag_storage", "rag.so was built without PostgreSQL support (libpq-dev was missing)")
#endif

// ====================================================================================== contract

CONTRACT_CASE(index_text_reports_added_updated_unchanged_and_keeps_one_document) {
    auto h = env.start_rag({{"chunk_size", 200}, {"chunk_overlap", 40}});
    const std::string first = long_text("parcels", 12);
    auto r = index_text(*h, "kb/shipping", first);
    BOOST_TEST(status_of(r) == "added");
    const int64_t chunks = r.at("chunks").as_int64();
    BOOST_TEST(chunks > 1);
    BOOST_TEST(r.at("chars").as_int64() == static_cast<int64_t>(first.size()));
    BOOST_TEST(status_of(index_text(*h, "kb/shipping", first)) == "unchanged");
    BOOST_TEST(env.count() == 1);
    BOOST_TEST(std::stoll(env.sql("SELECT count(*) FROM {chunks}")) == chunks);

    // New text replaces the old: its chunks, not the old ones, are searched.
    r = index_text(*h, "kb/shipping", "Refunds arrive within five business days.");
    BOOST_TEST(status_of(r) == "updated");
    BOOST_TEST(r.at("chunks").as_int64() == 1);
    BOOST_TEST(env.count() == 1);
    BOOST_TEST(env.sql("SELECT count(*) FROM {chunks}") == "1");
    BOOST_TEST(search(*h, "parcels").empty());
    BOOST_TEST(sources_found(*h, "refunds") == std::set<std::string>{"kb/shipping"});

    // The same bytes in another format are another text.
    BOOST_TEST(status_of(index_text(*h, "kb/shipping", "Refunds arrive within five business days.",
                                    {{"format", "markdown"}})) == "updated");

    // Data outlives the host.
    h.reset();
    h = env.start_rag({{"chunk_size", 200}, {"chunk_overlap", 40}});
    BOOST_TEST(status_of(index_text(*h, "kb/shipping", "Refunds arrive within five business days.",
                                    {{"format", "markdown"}})) == "unchanged");
    // Other chunking settings cut the document again, though its content did not change.
    h.reset();
    h = env.start_rag({{"chunk_size", 300}, {"chunk_overlap", 40}});
    BOOST_TEST(status_of(index_text(*h, "kb/shipping", "Refunds arrive within five business days.",
                                    {{"format", "markdown"}})) == "updated");
}

CONTRACT_CASE(tags_are_replaced_kept_or_cleared_without_rechunking) {
    auto h = env.start_rag();
    BOOST_TEST(status_of(index_text(*h, "t/1", "gift cards", {{"tags", {"zeta", "alpha", "zeta"}}})) == "added");
    const auto tags_of = [&] { return strings(search(*h, "gift").at(0).at("tags")); };
    BOOST_TEST(tags_of() == (std::vector<std::string>{"alpha", "zeta"}));  // sorted, once each
    // Only the tags change: the document is unchanged, its chunk stays.
    const auto chunk_id = env.sql("SELECT id FROM {chunks}");
    BOOST_TEST(status_of(index_text(*h, "t/1", "gift cards", {{"tags", {"beta"}}})) == "unchanged");
    BOOST_TEST(tags_of() == std::vector<std::string>{"beta"});
    BOOST_TEST(env.sql("SELECT id FROM {chunks}") == chunk_id);
    // Without tags, a document keeps its own; [] clears them.
    BOOST_TEST(status_of(index_text(*h, "t/1", "gift cards and lids")) == "updated");
    BOOST_TEST(tags_of() == std::vector<std::string>{"beta"});
    index_text(*h, "t/1", "gift cards and lids", {{"tags", json::array{}}});
    BOOST_TEST(tags_of().empty());
    BOOST_TEST(env.sql("SELECT count(*) FROM {tags}") == "0");
}

CONTRACT_CASE(index_keeps_files_in_step_with_content_hashes_in_the_storage) {
    write_file(env.docs / "a.md", "# Returns\n\nReturn a parcel within 30 days.\n");
    fs::create_directory(env.docs / "sub");
    write_file(env.docs / "sub" / "b.txt", "Tracking a parcel: use the link in the e-mail.\n");
    write_file(env.docs / "ignored.pdf", "not indexed");
    auto h = env.start_rag();
    const auto run = [&](json::object more = {}) {
        more["path"] = env.docs.string();
        return ok(*h, "index", std::move(more));
    };
    auto r = run({{"tags", {"kb"}}});
    BOOST_TEST(r.at("files").as_int64() == 2);
    BOOST_TEST(r.at("added").as_int64() == 2);
    BOOST_TEST(r.at("errors").as_array().empty());
    BOOST_TEST(sources_found(*h, "parcel") ==
               (std::set<std::string>{env.source_of("a.md"), env.source_of("sub/b.txt")}));
    // The hash of the file's bytes is what the storage keeps to tell a change.
    BOOST_TEST(env.sql("SELECT content_hash FROM {table} WHERE source = '" + env.source_of("a.md") + "'") ==
               toolhost::plugins::sha256::of("# Returns\n\nReturn a parcel within 30 days.\n"));

    // A new host on the same storage finds nothing to do.
    h.reset();
    h = env.start_rag();
    r = run();
    BOOST_TEST(r.at("unchanged").as_int64() == 2);
    BOOST_TEST(r.at("chunks").as_int64() == 0);
    BOOST_TEST(strings(search(*h, "parcel").at(0).at("tags")) == std::vector<std::string>{"kb"});  // kept

    write_file(env.docs / "a.md", "# Returns\n\nReturn a parcel within 60 days.\n");
    fs::remove(env.docs / "sub" / "b.txt");
    r = run();
    BOOST_TEST(r.at("updated").as_int64() == 1);
    BOOST_TEST(r.at("removed").as_int64() == 1);
    BOOST_TEST(sources_found(*h, "parcel") == std::set<std::string>{env.source_of("a.md")});
    BOOST_TEST(contains(search(*h, "parcel").at(0).at("text").as_string(), "60 days"));
    BOOST_TEST(run({{"force", true}}).at("updated").as_int64() == 1);
    BOOST_TEST(env.count() == 1);
}

CONTRACT_CASE(a_source_stored_as_another_kind_is_refused) {
    write_file(env.docs / "faq.md", "Gift cards are valid for two years.\n");
    auto h = env.start_rag();
    ok(*h, "index", {{"path", (env.docs / "faq.md").string()}});
    const std::string file_source = env.source_of("faq.md");
    auto e = fails(*h, "index_text", {{"source", file_source}, {"text", "overwrite?"}});
    BOOST_TEST(code(e) == code(status_code::failed_precondition), e.to_string());
    BOOST_TEST(contains(e.message, file_source + " is already indexed as a file document"), e.to_string());

    // The other way round: a text named like a file; a folder run lists it, and keeps the text.
    const std::string text_source = env.source_of("notes.md");
    index_text(*h, text_source, "A text document about lids.");
    write_file(env.docs / "notes.md", "A file about lids.\n");
    e = fails(*h, "index", {{"path", (env.docs / "notes.md").string()}});
    BOOST_TEST(code(e) == code(status_code::failed_precondition), e.to_string());
    const auto r = ok(*h, "index", {{"path", env.docs.string()}});
    BOOST_TEST_REQUIRE(r.at("errors").as_array().size() == 1u);
    BOOST_TEST(r.at("errors").at(0).at("code") == "FAILED_PRECONDITION");
    BOOST_TEST(r.at("removed").as_int64() == 0);
    BOOST_TEST(contains(search(*h, "lids").at(0).at("text").as_string(), "A text document about lids."));
    BOOST_TEST(env.count() == 2);
}

CONTRACT_CASE(search_matches_words_and_filters_by_source_folder_and_tags) {
    auto h = env.start_rag();
    index_text(*h, "tickets/1", "Customer wants a refund for a damaged parcel.", {{"tags", {"ticket", "urgent"}}});
    index_text(*h, "tickets/2", "Refund requested twice.", {{"tags", {"ticket"}}});
    index_text(*h, "ticketsX/3", "A refund, not a ticket.");
    index_text(*h, "tickets/", "A refund named like its folder.");
    index_text(*h, "100%_done/a", "Refund in a folder with wildcards in its name.");
    index_text(*h, "100%Xdone/b", "Refund that a LIKE wildcard would wrongly match.");
    index_text(*h, "cafe/menu", "Our Café serves crème brûlée. Our cafés open at nine.");
    index_text(*h, "faq/contact", "Write to support@tidewell.com or call; check-in opens at 07:35.");

    const std::set<std::string> refunds{"tickets/1", "tickets/2",   "ticketsX/3",
                                        "tickets/",  "100%_done/a", "100%Xdone/b"};
    BOOST_TEST(sources_found(*h, "refund") == refunds);
    BOOST_TEST(sources_found(*h, "REFUNDS") == refunds);                 // case and stemming
    BOOST_TEST(sources_found(*h, "How do I get a refund?") == refunds);  // stop words, punctuation
    BOOST_TEST(sources_found(*h, "cafe creme brulee") == std::set<std::string>{"cafe/menu"});  // diacritics
    BOOST_TEST(sources_found(*h, "CAFÉS") == std::set<std::string>{"cafe/menu"});
    // Words joined by punctuation are found one by one, and a word with a hyphen as a phrase.
    BOOST_TEST(sources_found(*h, "tidewell") == std::set<std::string>{"faq/contact"});
    BOOST_TEST(sources_found(*h, "check-in") == std::set<std::string>{"faq/contact"});
    BOOST_TEST(sources_found(*h, "07:35") == std::set<std::string>{"faq/contact"});
    // Query syntax of either backend is text to look for, never an error.
    for (const char* q : {"refund OR NOT \"parcel*", "refund -ticket", "(refund) AND ^parcel:", "\"", "'; DROP--"})
        BOOST_TEST(h->call("rag", "search", {{"query", q}}).has_value(), q);
    BOOST_TEST(sources_found(*h, "\"refund\" -damaged").contains("tickets/1"));
    BOOST_TEST(search(*h, "nothingmatchesthis").empty());

    // Filters.
    BOOST_TEST(sources_found(*h, "refund", {{"source", "tickets/2"}}) == std::set<std::string>{"tickets/2"});
    BOOST_TEST(search(*h, "refund", {{"source", "tickets"}}).empty());
    const std::set<std::string> below_tickets{"tickets/1", "tickets/2"};
    BOOST_TEST(sources_found(*h, "refund", {{"folder", "tickets"}}) == below_tickets);
    BOOST_TEST(sources_found(*h, "refund", {{"folder", "tickets/"}}) == below_tickets);
    BOOST_TEST(sources_found(*h, "refund", {{"folder", "100%_done"}}) == std::set<std::string>{"100%_done/a"});
    BOOST_TEST(search(*h, "refund", {{"folder", "100%"}}).empty());
    BOOST_TEST(search(*h, "refund", {{"folder", "tick%"}}).empty());
    BOOST_TEST(search(*h, "refund", {{"folder", "_ickets"}}).empty());
    BOOST_TEST(sources_found(*h, "refund", {{"tags", {"ticket"}}}) == below_tickets);
    BOOST_TEST(sources_found(*h, "refund", {{"tags", {"urgent", "ticket", "urgent"}}}) ==
               std::set<std::string>{"tickets/1"});
    BOOST_TEST(search(*h, "refund", {{"tags", {"ticket", "nope"}}}).empty());
    BOOST_TEST(sources_found(*h, "refund", {{"folder", "tickets"}, {"tags", {"urgent"}}}) ==
               std::set<std::string>{"tickets/1"});

    // top_k, best first, and what a result carries.
    const auto top = search(*h, "refund parcel damaged", {{"top_k", 2}});
    BOOST_TEST_REQUIRE(top.size() == 2u);
    BOOST_TEST(top[0].at("source") == "tickets/1");  // three of the words, every other result one
    BOOST_TEST(top[0].at("score").to_number<double>() > top[1].at("score").to_number<double>());
    BOOST_TEST(top[1].at("score").to_number<double>() > 0);
    BOOST_TEST(top[0].at("position") == (json::object{{"chunk", 0}, {"start", 0}, {"end", 45}}));
    BOOST_TEST(top[0].at("text") == "Customer wants a refund for a damaged parcel.");
    BOOST_TEST(contains(top[0].at("snippet").as_string(), "<mark>refund</mark>"), top[0].at("snippet"));
    BOOST_TEST(contains(top[0].at("snippet").as_string(), "<mark>damaged</mark>"), top[0].at("snippet"));
    BOOST_TEST(strings(top[0].at("tags")) == (std::vector<std::string>{"ticket", "urgent"}));
}

CONTRACT_CASE(snippets_mark_the_matches_and_show_where_text_was_left_out) {
    auto h = env.start_rag();
    std::string text;
    for (int i = 0; i < 30; ++i) text += "filler" + std::to_string(i) + " ";
    text += "the warranty covers the battery";
    for (int i = 30; i < 60; ++i) text += " filler" + std::to_string(i);
    index_text(*h, "long", text);
    const auto hits = search(*h, "warranty");
    BOOST_TEST_REQUIRE(hits.size() == 1u);
    const std::string snippet(hits[0].at("snippet").as_string());
    BOOST_TEST(contains(snippet, "<mark>warranty</mark>"), snippet);
    BOOST_TEST(snippet.starts_with("…"), snippet);
    BOOST_TEST(snippet.ends_with("…"), snippet);
    BOOST_TEST(!contains(snippet, "filler0 "), snippet);
    BOOST_TEST(snippet.size() < text.size() / 2, snippet);
}

CONTRACT_CASE(delete_removes_documents_by_source_or_folder_and_stats_follow) {
    auto h = env.start_rag({{"chunk_size", 200}, {"chunk_overlap", 40}});
    auto s = ok(*h, "stats", {});
    BOOST_TEST(s == (json::value{{"documents", 0}, {"chunks", 0}, {"bytes", 0}, {"last_indexed", nullptr}}));

    int64_t chunks = 0, bytes = 0;
    for (const char* source : {"kb/a", "kb/b", "kb/sub/c", "kbx/d", "other"}) {
        const std::string text = long_text(source, 8);
        chunks += index_text(*h, source, text, {{"tags", {"t"}}}).at("chunks").as_int64();
        bytes += static_cast<int64_t>(text.size());
    }
    s = ok(*h, "stats", {});
    BOOST_TEST(s.at("documents").as_int64() == 5);
    BOOST_TEST(s.at("chunks").as_int64() == chunks);
    BOOST_TEST(s.at("bytes").as_int64() == bytes);
    BOOST_TEST(is_utc_second(std::string(s.at("last_indexed").as_string())), s.at("last_indexed"));
    BOOST_TEST(std::stoll(env.sql("SELECT count(*) FROM {chunks}")) == chunks);

    auto r = ok(*h, "delete", {{"source", "other"}});
    BOOST_TEST(r.at("documents").as_int64() == 1);
    BOOST_TEST(r.at("chunks").as_int64() > 1);
    auto e = fails(*h, "delete", {{"source", "other"}});
    BOOST_TEST(code(e) == code(status_code::not_found), e.to_string());
    r = ok(*h, "delete", {{"folder", "kb/"}});
    BOOST_TEST(r.at("documents").as_int64() == 3);
    e = fails(*h, "delete", {{"folder", "kb"}});
    BOOST_TEST(code(e) == code(status_code::not_found), e.to_string());

    s = ok(*h, "stats", {});
    BOOST_TEST(s.at("documents").as_int64() == 1);
    BOOST_TEST(sources_found(*h, "sentence") == std::set<std::string>{"kbx/d"});
    // Chunks and tags went with their documents.
    BOOST_TEST(std::stoll(env.sql("SELECT count(*) FROM {chunks}")) == s.at("chunks").as_int64());
    BOOST_TEST(env.sql("SELECT count(*) FROM {tags}") == "1");
}

CONTRACT_CASE(documents_are_listed_a_page_at_a_time_and_read_back_whole) {
    auto h = env.start_rag({{"chunk_size", 200}, {"chunk_overlap", 40}});
    for (int i = 0; i < 53; ++i) index_text(*h, "doc/" + std::to_string(i), "short text " + std::to_string(i));
    const std::string text = long_text("lids", 20);
    index_text(*h, "doc/long one", text, {{"tags", {"b", "a"}}});

    const auto first = ok(*h, "documents", {});
    BOOST_TEST_REQUIRE(first.at("resources").as_array().size() == 50u);
    BOOST_TEST(first.at("resources").at(0).at("name") == "doc/0");
    const auto second = ok(*h, "documents", {{"cursor", first.at("nextCursor")}});
    const auto& rest = second.at("resources").as_array();
    BOOST_TEST_REQUIRE(rest.size() == 4u);
    BOOST_TEST(!second.as_object().contains("nextCursor"));
    const auto& last = rest.back();
    BOOST_TEST(last.at("name") == "doc/long one");
    BOOST_TEST(last.at("uri") == "rag://documents/doc/long%20one");
    BOOST_TEST(contains(last.at("description").as_string(),
                        "text document, " + std::to_string(text.size()) + " characters in "),
               last.at("description"));
    BOOST_TEST(last.at("description").as_string().ends_with(R"(tags ["a","b"])"), last.at("description"));

    const auto read = ok(*h, "read_document", {{"uri", last.at("uri")}});
    BOOST_TEST(read.at("contents").at(0).at("text").as_string() == text);
    const auto e = fails(*h, "read_document", {{"uri", "rag://documents/doc/nope"}});
    BOOST_TEST(code(e) == code(status_code::not_found), e.to_string());
}

CONTRACT_CASE(two_hosts_racing_upserts_of_one_source_end_consistent) {
    // Two hosts on the same storage (two processes' worth of tool instances and connections), two
    // threads each, released at once on one source, round after round.
    auto first = env.start_rag({}, 4);
    auto second = env.start_rag({}, 4);
    constexpr int rounds = 12, per_host = 2;
    for (int round = 0; round < rounds; ++round) {
        const std::string source = "race/" + std::to_string(round);
        // The same text from everyone: one of them adds it, the others find it unchanged.
        auto results = toolhost::test::storage::at_once(
            {first.get(), second.get()}, per_host, 1, [&](toolhost::host& h, int, int) {
                return h.call("rag", "index_text",
                              {{"source", source}, {"text", "same words for " + source}, {"tags", {"race"}}});
            });
        std::map<std::string, int> statuses;
        for (const auto& r : results) {
            BOOST_TEST_REQUIRE(r.has_value(), r.error().to_string());
            ++statuses[status_of(json::parse(*r))];
        }
        BOOST_TEST(statuses["added"] == 1, source);
        BOOST_TEST(statuses["unchanged"] == 3, source);

        // Different texts from everyone: the last writer wins, whole: its chunks and nothing else.
        results = toolhost::test::storage::at_once(
            {first.get(), second.get()}, per_host, 1, [&](toolhost::host& h, int thread, int) {
                return h.call("rag", "index_text",
                              {{"source", source}, {"text", long_text("writer" + std::to_string(thread), 10)}});
            });
        for (const auto& r : results) BOOST_TEST_REQUIRE(r.has_value(), r.error().to_string());
        BOOST_TEST(env.count("source = '" + source + "'") == 1);
        const auto hits = search(*first, "sentence", {{"source", source}});
        BOOST_TEST_REQUIRE(!hits.empty());
        const auto text = ok(*second, "read_document", {{"uri", "rag://documents/" + source}})
                              .at("contents")
                              .at(0)
                              .at("text")
                              .as_string();
        int writers = 0;
        for (int t = 0; t < 2 * per_host; ++t) writers += text == long_text("writer" + std::to_string(t), 10) ? 1 : 0;
        BOOST_TEST(writers == 1, source << ": " << text);
        BOOST_TEST(env.sql("SELECT d.chunks = (SELECT count(*) FROM {chunks} AS c WHERE c.document_id = d.id)"
                           " FROM {table} AS d WHERE d.source = '" +
                           source + "'") == (env.kind() == backend::sqlite ? "1" : "t"));
        BOOST_TEST(strings(hits.at(0).at("tags")) == std::vector<std::string>{"race"});  // kept by every writer
    }
    BOOST_TEST(env.count() == rounds);
}

CONTRACT_CASE(hosts_starting_together_set_up_and_index_the_sample_once) {
    // Three hosts start on a new storage at the same moment, each indexing the sample (the same
    // files at the same paths): every one starts, the schema is made once, and every document
    // is there once with its chunks.
    auto started = env.start_together(3, {{"sample_data", true}});
    BOOST_TEST(env.count() == 14);
    const auto s = ok(*started[2], "stats", {});
    BOOST_TEST(s.at("documents").as_int64() == 14);
    BOOST_TEST(std::stoll(env.sql("SELECT count(*) FROM {chunks}")) == s.at("chunks").as_int64());
    BOOST_TEST(std::stoll(env.sql("SELECT count(DISTINCT source) FROM {table}")) == 14);
    BOOST_TEST(!search(*started[0], "refund").empty());
    // A later start finds nothing to do.
    started.clear();
    auto later = env.start({{"sample_data", true}});
    BOOST_TEST(env.count() == 14);
}

CONTRACT_CASE(threads_of_one_host_index_and_search_at_once) {
    auto h = env.start_rag({}, 8);
    constexpr int threads = 6, per_thread = 15;
    std::atomic<int> failures{0};
    {
        std::vector<std::jthread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) {
                    std::string source = "t";  // appended, not a + chain: GCC 12 warns there (-Wrestrict)
                    source.append(std::to_string(t)).append("/").append(std::to_string(i));
                    const auto w = h->call("rag", "index_text",
                                           {{"source", source}, {"text", "shared word and item " + std::to_string(i)}});
                    const auto s = h->call("rag", "search", {{"query", "shared"}, {"top_k", 5}});
                    if (!w || !s) ++failures;
                }
            });
    }
    BOOST_TEST(failures.load() == 0);
    BOOST_TEST(env.count() == threads * per_thread);
    BOOST_TEST(ok(*h, "stats", {}).at("documents").as_int64() == threads * per_thread);
}

#if !TOOLHOST_RAG_POSTGRESQL
BOOST_AUTO_TEST_SUITE(sqlite)

BOOST_AUTO_TEST_CASE(a_build_without_libpq_refuses_a_postgresql_storage_naming_what_is_missing) {
    toolhost::test::storage::check_refused_without_postgresql_support(storage_env(backend::sqlite), "config/storage");
}

BOOST_AUTO_TEST_SUITE_END()
#endif

// ================================================================= what only PostgreSQL has

BOOST_AUTO_TEST_SUITE(postgresql)

// The sample knowledge base (plugins/rag/sample, 14 documents in 29 chunks) on both backends, and
// the same searches on both.
//
// They must find the same chunks: the tokenizers were set up to agree (stems, case, diacritics,
// punctuation, no stop-word list). The one known exception is a word that Porter's stemmer (FTS5)
// and Snowball's English stemmer (Porter2, PostgreSQL) cut differently: "directly" is "directli"
// to the one and "direct" to the other.
//
// The best chunk must be the same wherever it is unambiguous: here, where SQLite's best score
// leads the next by a fifth or more (checked below, so that the list cannot drift into close
// calls). Scores differ by design: bm25 weighs rare words up (IDF) and saturates repeated ones;
// ts_rank_cd counts every occurrence alike and knows nothing of the rest of the corpus. So close
// calls may come out the other way round, and so may a query whose rarer word decides on SQLite
// while the commoner one, repeated in another chunk, decides on PostgreSQL ("locked account":
// bm25 puts the one chunk that says "locked" first, ts_rank_cd the chunk that says "account" most
// often).
BOOST_AUTO_TEST_CASE(agrees_with_sqlite_on_what_matches_and_on_the_unambiguous_top_result) {
    storage_env lite(backend::sqlite);
    storage_env pg(backend::postgresql);
    // The sample indexed at start from the copy next to the plugin in each environment.
    auto h_lite = lite.start({{"sample_data", true}});
    auto h_pg = pg.start({{"sample_data", true}});

    // The corpus is the same on both: documents, chunks, bytes, names and texts.
    const auto stats_lite = ok(*h_lite, "stats", {});
    const auto stats_pg = ok(*h_pg, "stats", {});
    BOOST_TEST(stats_lite.at("documents") == 14);
    for (const char* key : {"documents", "chunks", "bytes"}) BOOST_TEST(stats_lite.at(key) == stats_pg.at(key), key);
    // A source relative to the sample folder, the same on both.
    const auto relative = [](std::string_view source) {
        const auto at = source.find("/rag/sample/");
        BOOST_TEST_REQUIRE(at != std::string_view::npos, source);
        return std::string(source.substr(at + std::string_view("/rag/sample/").size()));
    };
    const auto listing = [&](toolhost::host& h) {
        std::map<std::string, std::string> texts;  // relative source -> text
        const auto documents = ok(h, "documents", {});
        for (const auto& r : documents.at("resources").as_array())
            texts[relative(r.at("name").as_string())] =
                std::string(ok(h, "read_document", {{"uri", r.at("uri")}}).at("contents").at(0).at("text").as_string());
        return texts;
    };
    BOOST_TEST((listing(*h_lite) == listing(*h_pg)));

    using chunk_set = std::set<std::pair<std::string, int64_t>>;  // relative source, chunk
    const auto chunks = [&](const json::array& hits) {
        chunk_set out;
        for (const auto& r : hits)
            out.emplace(relative(r.at("source").as_string()), r.at("position").at("chunk").as_int64());
        return out;
    };
    const auto top = [&](const json::array& hits) {
        return std::pair(relative(hits.at(0).at("source").as_string()),
                         hits.at(0).at("position").at("chunk").as_int64());
    };
    const auto score = [](const json::array& hits, size_t i) { return hits.at(i).at("score").to_number<double>(); };

    // Single words, several, stop words, and punctuation that either backend would read as syntax.
    const std::vector<std::string> clear{
        "warranty",
        "two-year warranty",
        "battery",
        "Bluetooth",
        "EUR",
        "freeze",
        "Rotterdam",
        "coaching",
        "gift card",
        "express shipping",
        "tracking number",
        "LED blinking red",
        "delete my account",
        "factory reset",
        "export my data",
        "quick-start card",
        "forgot password",
        "apple pay",
        "Visa Mastercard",
        "VAT number",
        "Live mode",
        "amber flash",
        "30-day return policy",
        "lid's readings",
        "Settings > Privacy > Export my data",
        "12:00 CET",
        "rates.json",
        "rates.express",
        "free_shipping_threshold",
        "USB-C",
        "iOS 15+",
    };
    const std::vector<std::string> close_calls{
        "refund",
        "refunds",
        "password",
        "bottle",
        "Tidewell",
        "the",
        "app",
        "order",
        "invoice",
        "PayPal",
        "dishwasher",
        "dishwasher safe",
        "sync",
        "Switzerland",
        "customs",
        "reset",
        "calibrate",
        "**Calibrate**",
        "duties",
        "family plan",
        "lid",
        "cable",
        "seal",
        "sign-in",
        "charge-only cables",
        "6.95 EUR",
        "shipping costs",
        "how do I get a refund",
        "don't",
        "nothing matches this",
    };
    const std::vector<std::string> rare_word_decides{"locked account", "confirmation email"};

    for (const auto* queries : {&clear, &close_calls, &rare_word_decides}) {
        for (const auto& q : *queries) {
            const auto a = search(*h_lite, q);
            const auto b = search(*h_pg, q);
            BOOST_TEST((chunks(a) == chunks(b)), "\"" << q << "\" matches different chunks");
            if (queries != &clear) continue;
            BOOST_TEST_REQUIRE(!a.empty(), "\"" << q << "\" matches nothing: it tells nothing about the top result");
            if (a.size() > 1)
                BOOST_TEST_REQUIRE(score(a, 0) >= 1.2 * score(a, 1),
                                   "\"" << q << "\" is a close call on SQLite: move it to close_calls");
            BOOST_TEST((top(a) == top(b)), "\"" << q << "\": different top results");
        }
    }
    // Where the rarer word decides on SQLite only, that is clear there, and not the top on PostgreSQL.
    for (const auto& q : rare_word_decides) {
        const auto a = search(*h_lite, q);
        BOOST_TEST_REQUIRE(a.size() > 1u);
        BOOST_TEST(score(a, 0) >= 1.2 * score(a, 1), q);
        BOOST_TEST((top(a) != top(search(*h_pg, q))), "\"" << q << "\" now agrees: move it to clear");
    }

    // The stemmers' difference: PostgreSQL also finds "directly" for "direct".
    auto lite_debit = chunks(search(*h_lite, "SEPA direct debit"));
    const auto pg_debit = chunks(search(*h_pg, "SEPA direct debit"));
    BOOST_TEST(lite_debit == (chunk_set{{"billing/payments-and-invoices.html", 0}}));
    lite_debit.emplace("returns/returns-and-refunds.md", 1);  // "We do not exchange items directly."
    BOOST_TEST(pg_debit == lite_debit);
}

BOOST_AUTO_TEST_CASE(a_database_that_goes_away_is_unavailable_and_comes_back_without_losing_anything) {
    // A cluster of its own, stopped and started again under a writer that keeps indexing texts
    // (index_text of one source is idempotent, so a write whose answer was lost may be repeated).
    postgres_cluster own;
    storage_env env(backend::postgresql, &own);
    write_file(env.docs / "a.md", "A file to index while the database is away.\n");
    const std::string password = "s3cret-never-shown";
    auto h = toolhost::test::storage::start_with_password(env, password, env.rag_config());
    const auto seen = toolhost::test::storage::write_through_an_outage(
        own,
        [&](long n) {
            return h->call("rag", "index_text",
                           {{"source", "w/" + std::to_string(n)}, {"text", "entry " + std::to_string(n)}});
        },
        [&] {
            // Every operation fails the same way while the database is away; no crash.
            toolhost::test::storage::check_unavailable(*h, env,
                                                       {{"index_text", {{"source", "during"}, {"text", "the outage"}}},
                                                        {"index", {{"path", env.docs.string()}}},
                                                        {"search", {{"query", "entry"}}},
                                                        {"stats", json::object{}},
                                                        {"delete", {{"source", "w/0"}}},
                                                        {"documents", json::object{}},
                                                        {"read_document", {{"uri", "rag://documents/w/0"}}},
                                                        {"support_reply", {{"question", "entry?"}}}},
                                                       password);
        },
        password);

    // Calls worked again on the same tool instance, which opened new connections. Nothing
    // acknowledged is lost, and nothing is stored twice.
    for (const auto& [n, result] : seen.acked)
        BOOST_TEST(sources_found(*h, "entry", {{"source", "w/" + std::to_string(n)}}).size() == 1u, n);
    BOOST_TEST(env.count("source LIKE 'w/%'") == static_cast<int64_t>(seen.acked.size()));
    BOOST_TEST(ok(*h, "index", {{"path", env.docs.string()}}).at("added").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(migrations_are_versioned_and_a_newer_schema_is_refused) {
    storage_env env(backend::postgresql);
    toolhost::test::storage::check_migrations(env, "rag", "rag_chunks rag_documents rag_tags");
    // The objects of its full-text search carry the tool's prefix too; the extension is the
    // database's.
    BOOST_TEST(env.sql("SELECT string_agg(cfgname, ' ') FROM pg_ts_config WHERE cfgname LIKE 'rag%'") == "rag_search");
    BOOST_TEST(env.sql("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'") == "1");
}

#if TOOLHOST_RAG_POSTGRESQL
BOOST_AUTO_TEST_CASE(memory_and_rag_starting_together_on_a_new_database_create_their_shared_extension_once) {
    // Both schemas run CREATE EXTENSION IF NOT EXISTS unaccent, which fails in the second of two
    // sessions that run it at once. postgres::migrate() runs every component's steps under one
    // lock for the whole database, besides the component's own.
    namespace pg = toolhost::plugins::postgres;
    storage_env rag(backend::postgresql);
    toolhost::test::storage::storage_env memory({"memory", TOOLHOST_MEMORY_PLUGIN, "memory.db", {}},
                                                backend::postgresql, nullptr);

    // A host of `env`'s tool configured with `config` (taken as it is), started on a thread of
    // its own once `go` says so; no test assertions off the main thread.
    struct starting {
        std::unique_ptr<toolhost::host> host;
        std::string error;  ///< empty: it started
    };
    const auto start = [](const toolhost::test::storage::storage_env& env, json::object config, std::latch* go,
                          starting& out) {
        out.host = std::make_unique<toolhost::host>(env.host_config(std::move(config), 2));
        out.host->load_plugins();
        if (go) go->arrive_and_wait();
        const auto report = out.host->start(
            {.concurrent = false, .fail_on_error = false, .only = std::vector<std::string>{env.tool()}});
        if (!report.ok()) out.error = report.failed.front().second.to_string();
    };

    // Deterministically: while someone holds the lock, a start with steps to run waits for it...
    auto holder = pg::connection::open(rag.url(), std::chrono::steady_clock::now() + std::chrono::seconds(10));
    holder.exec("SELECT pg_advisory_lock($1)", pg::schema_lock_key());
    const auto waiting = [&] {
        return rag.sql(
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                   " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") != "0";
    };
    starting first;
    {
        std::jthread thread([&] { start(rag, rag.config(rag.rag_config()), nullptr, first); });
        BOOST_TEST(toolhost::test::eventually(waiting, std::chrono::seconds(20)));
        BOOST_TEST(rag.sql("SELECT count(*) FROM toolhost_migrations WHERE component = 'rag'") == "0");
        holder.exec("SELECT pg_advisory_unlock($1)", pg::schema_lock_key());
    }
    BOOST_TEST_REQUIRE(first.error.empty(), first.error);
    BOOST_TEST(rag.sql("SELECT count(*) FROM toolhost_migrations WHERE component = 'rag'") == "1");
    // ... and one with nothing to migrate does not.
    holder.exec("SELECT pg_advisory_lock($1)", pg::schema_lock_key());
    starting again;
    start(rag, rag.config(rag.rag_config()), nullptr, again);
    BOOST_TEST(again.error.empty(), again.error);
    holder.exec("SELECT pg_advisory_unlock($1)", pg::schema_lock_key());

    // And for real: both tools starting at the same moment on new databases, round after round.
    for (int round = 0; round < 6; ++round) {
        storage_env fresh(backend::postgresql);
        std::vector<starting> hosts(2);
        {
            std::latch go(2);
            std::jthread rag_thread([&] { start(fresh, fresh.config(fresh.rag_config()), &go, hosts[0]); });
            std::jthread memory_thread([&] {
                start(memory, memory.config({{"storage", fresh.url()}}), &go, hosts[1]);
            });
        }
        for (const auto& s : hosts) BOOST_TEST(s.error.empty(), "round " << round << ": " << s.error);
        BOOST_TEST_REQUIRE(hosts[0].error.empty());
        BOOST_TEST(fresh.sql("SELECT string_agg(component, ' ' ORDER BY component) FROM toolhost_migrations") ==
                   "memory rag");
        index_text(*hosts[0].host, "both/tools", "Caf\xc3\xa9 opens at nine.");
        BOOST_TEST(sources_found(*hosts[0].host, "cafe") == std::set<std::string>{"both/tools"});
    }
}
#endif

BOOST_AUTO_TEST_CASE(text_postgresql_cannot_hold_is_invalid_argument_naming_the_field) {
    // U+0000 is the one difference in what the two backends accept: PostgreSQL's text cannot hold
    // it. Extracted text never has one (it is dropped), but a source or a tag may. Refused before
    // anything is sent; a filter on such a name finds nothing.
    storage_env env(backend::postgresql);
    auto h = env.start_rag();
    auto e = fails(*h, "index_text", {{"source", std::string("a\0b", 3)}, {"text", "words"}});
    BOOST_TEST(code(e) == code(status_code::invalid_argument), e.to_string());
    BOOST_TEST(contains(e.message, "source"), e.to_string());
    e = fails(*h, "index_text", {{"source", "ok"}, {"text", "words"}, {"tags", {"fine", std::string("t\0", 2)}}});
    BOOST_TEST(code(e) == code(status_code::invalid_argument), e.to_string());
    BOOST_TEST(contains(e.message, "tags/1"), e.to_string());
    BOOST_TEST(env.count() == 0);
    index_text(*h, "ok", std::string("wor\0ds", 6));  // the text's NUL is dropped
    BOOST_TEST(sources_found(*h, "words") == std::set<std::string>{"ok"});
    BOOST_TEST(search(*h, "words", {{"source", std::string("o\0k", 3)}}).empty());
    BOOST_TEST(search(*h, "words", {{"tags", {std::string("t\0", 2)}}}).empty());
    BOOST_TEST(code(fails(*h, "delete", {{"source", std::string("o\0k", 3)}})) == code(status_code::not_found));
}

BOOST_AUTO_TEST_CASE(the_storage_comes_from_the_configuration_or_toolhost_database_url) {
    storage_env env(backend::postgresql);
    toolhost::test::storage::check_storage_choice(
        env, "config/", "busy_timeout_ms", 1000, env.rag_config(), [&](toolhost::host& h) {
            return h.call("rag", "index_text", {{"source", "chosen"}, {"text", "stored where the configuration says"}});
        });
}

BOOST_AUTO_TEST_SUITE_END()
