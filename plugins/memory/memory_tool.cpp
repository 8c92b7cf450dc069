// The "memory" tool: conversation memory per session, stored in SQLite (WAL) with an FTS5 index,
// or in a PostgreSQL database that several hosts share (repository.hpp).
//
// Operations: store, recall, list, get, forget, prune (docs/tools/memory.md). This file holds
// everything the operations decide (argument checks, idempotent replays, ranking, results); the
// repository only keeps and finds memories, each of its methods one atomic step. The tool is
// thread-safe: the configuration is fixed after initialize(), and every call leases its own
// connection from the repository's pool, so calls run concurrently; the database orders writers,
// here and in other processes or hosts alike.
#include "config.hpp"
#include <toolhost/json_text.hpp>
#include "ranking.hpp"
#include "repository.hpp"
#include "schemas.hpp"

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/json_operation.hpp>
#include <toolhost_plugins/paths.hpp>
#include <toolhost_plugins/text.hpp>
#include <toolhost_plugins/time.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

namespace toolhost::plugins::memory {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using time::format_rfc3339;
using time::max_rfc3339_ms;
using time::now_ms;
using time::parse_rfc3339;
using time::unix_ms;

// Rows a prune deletes per transaction: short write locks for other writers, and a point to
// stop at when the call is cancelled. Every batch commits on its own; prune is idempotent.
constexpr int prune_batch = 500;
// Bytes; the schema limits session ids to 256 characters, which is at most 1024 bytes of UTF-8.
constexpr size_t max_session_bytes = 1024;
constexpr size_t max_key_bytes = 1024;
constexpr int64_t max_ttl_seconds = 3155760000;  // 100 years of 365.25 days
constexpr std::string_view kind_rule = "must be a letter followed by up to 63 letters, digits, '_', '.' or '-'";

// ------------------------------------------------------------------------------ reading arguments

bool valid_kind(std::string_view k) {
    if (k.empty() || k.size() > 64) return false;
    const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(k[0])) return false;
    return std::all_of(k.begin(), k.end(),
                       [&](char c) { return alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'; });
}

bool blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

std::string session_arg(const args& a) {
    std::string s = a.required_string("session_id");
    if (s.empty() || s.size() > max_session_bytes) invalid_argument("session_id", "must be 1 to 256 characters");
    return s;
}

std::optional<unix_ms> time_arg(const args& a, std::string_view field) {
    const auto text = a.optional_string(field);
    if (!text) return std::nullopt;
    const auto t = parse_rfc3339(*text);
    if (!t)
        invalid_argument(field, "must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z, got \"" + *text + "\"");
    return t;
}

// The kinds filter; empty for "every kind".
std::vector<std::string> kinds_arg(const args& a) {
    auto kinds = a.string_list("kinds");
    for (size_t i = 0; i < kinds.size(); ++i)
        if (!valid_kind(kinds[i])) invalid_argument("kinds/" + std::to_string(i), kind_rule);
    return kinds;
}

scope scope_arg(const args& a, const std::string& session_id) {
    return scope{session_id, time_arg(a, "now").value_or(now_ms()), kinds_arg(a)};
}

// The call's deadline as a time point (the far future when it has none).
deadline deadline_of(const sdk::call_context& call) {
    const auto remaining = call.remaining();
    const auto now = std::chrono::steady_clock::now();
    if (remaining >= deadline::max() - now) return deadline::max();
    return now + std::chrono::duration_cast<deadline::duration>(remaining);
}

// A store request, checked; `created_at_given` tells a replay whether created_at must match.
struct store_request {
    new_memory memory;
    bool created_at_given = false;
};

store_request read_store_request(const args& a, unix_ms now, size_t max_content_bytes) {
    store_request r;
    new_memory& m = r.memory;
    m.session_id = session_arg(a);

    m.content = a.required_string("content");
    if (blank(m.content)) invalid_argument("content", "must not be empty or only white space");
    if (m.content.size() > max_content_bytes)
        invalid_argument("content", "is " + std::to_string(m.content.size()) + " bytes, more than the " +
                                        std::to_string(max_content_bytes) + " allowed (max_content_bytes)");

    m.kind = a.string_or("kind", "fact");
    if (!valid_kind(m.kind)) invalid_argument("kind", kind_rule);

    m.importance = a.number_or("importance", 0.5);
    if (!(m.importance >= 0 && m.importance <= 1)) invalid_argument("importance", "must be between 0 and 1");

    const auto created_at = time_arg(a, "created_at");
    r.created_at_given = created_at.has_value();
    m.created_at = created_at.value_or(now);

    m.ttl_seconds = a.optional_int("ttl_seconds");
    if (m.ttl_seconds) {
        if (*m.ttl_seconds < 1 || *m.ttl_seconds > max_ttl_seconds)
            invalid_argument("ttl_seconds", "must be between 1 and 3155760000 (100 years)");
        m.expires_at = m.created_at + *m.ttl_seconds * 1000;
        if (*m.expires_at > max_rfc3339_ms) invalid_argument("ttl_seconds", "would expire after the year 9999");
    }

    if (auto metadata = a.optional_object("metadata")) m.metadata = toolhost::json_text(*metadata);
    if (m.metadata.size() > max_metadata_bytes)
        invalid_argument("metadata", "is " + std::to_string(m.metadata.size()) + " bytes as JSON, more than the " +
                                         std::to_string(max_metadata_bytes) + " allowed");

    m.idempotency_key = a.optional_string("idempotency_key");
    if (m.idempotency_key && (m.idempotency_key->empty() || m.idempotency_key->size() > max_key_bytes))
        invalid_argument("idempotency_key", "must be 1 to 256 characters");
    return r;
}

// ------------------------------------------------------------------------------- writing results

json::value parse_stored_metadata(const memory_record& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.metadata, ec);
    // The storage checks it (SQLite: CHECK (json_valid(metadata)); PostgreSQL: the json type), so
    // this is unreachable unless someone edited the data by hand.
    if (ec || !v.is_object())
        throw sdk::error(sdk::status::data_loss, "memory " + std::to_string(r.id) + " has unreadable metadata");
    return v;
}

json::object memory_json(const memory_record& r) {
    json::object o;
    o["id"] = r.id;
    o["session_id"] = r.session_id;
    o["kind"] = r.kind;
    o["content"] = r.content;
    o["importance"] = r.importance;
    o["created_at"] = format_rfc3339(r.created_at);
    if (r.expires_at) o["expires_at"] = format_rfc3339(*r.expires_at);
    o["metadata"] = parse_stored_metadata(r);
    if (r.idempotency_key) o["idempotency_key"] = *r.idempotency_key;
    return o;
}

json::object weights_json(const weights& w) {
    return json::object{{"relevance", w.relevance}, {"recency", w.recency}, {"importance", w.importance}};
}

// A page position as list hands it out: "<created_at ms>:<id>". Opaque to callers.
std::string cursor_of(const memory_record& r) { return std::to_string(r.created_at) + ":" + std::to_string(r.id); }

page_position parse_cursor(std::string_view text) {
    const auto colon = text.find(':');
    page_position p;
    const auto whole = [](std::string_view s, auto& out) {
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return ec == std::errc() && end == s.data() + s.size() && !s.empty();
    };
    if (colon == std::string_view::npos || !whole(text.substr(0, colon), p.created_at) ||
        !whole(text.substr(colon + 1), p.id))
        invalid_argument("cursor", "is not a next_cursor returned by list");
    return p;
}

// ------------------------------------------------------------------------------------ the sample

// The sample's memories: {"memories": [{"session_id", "content", "kind", "importance",
// "age_seconds", "metadata", ...}]}. age_seconds places each memory in the past relative to
// `now`, so the demo's recency scores look the same whenever it is seeded.
std::vector<new_memory> read_sample(const fs::path& file, unix_ms now, size_t max_content_bytes) {
    const std::string where = "sample_file " + file.string();
    boost::system::error_code ec;
    json::value doc = json::parse(toolhost::plugins::paths::read_small_file(file, "sample_file"), ec);
    if (ec) throw sdk::error(sdk::status::invalid_argument, where + ": not valid JSON: " + ec.message());
    const auto* list = doc.is_object() ? doc.as_object().if_contains("memories") : nullptr;
    if (list == nullptr || !list->is_array())
        throw sdk::error(sdk::status::invalid_argument, where + ": must be an object with a \"memories\" array");

    std::vector<new_memory> out;
    for (size_t i = 0; i < list->as_array().size(); ++i) {
        const std::string item_where = where + ": memories/" + std::to_string(i);
        const auto& item = list->as_array()[i];
        if (!item.is_object()) throw sdk::error(sdk::status::invalid_argument, item_where + ": must be an object");
        try {
            json::object entry = item.as_object();
            const args fields(entry);
            const double age_s = fields.number_or("age_seconds", 0);
            if (!(age_s >= 0 && age_s < 1e10)) invalid_argument("age_seconds", "must be a number of seconds >= 0");
            entry.erase("age_seconds");
            entry["created_at"] = format_rfc3339(now - static_cast<unix_ms>(age_s * 1000));
            out.push_back(read_store_request(args(std::move(entry)), now, max_content_bytes).memory);
        } catch (const sdk::error& e) {
            throw sdk::error(sdk::status::invalid_argument, item_where + "/" + e.what());
        }
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------- the tool

namespace {

class memory_tool {
public:
    explicit memory_tool(sdk::host host) : host_(host) {}

    static const json_table<memory_tool>& table();
    /// Reads the configuration, opens (creating or migrating) the database, seeds the sample.
    void initialize(sdk::init_context& init);
    void cleanup();
    /// Names the database (the file, or the server and database) in the storage errors of every
    /// operation.
    void error_context(std::string_view operation, const sdk::error& e) const;

private:
    json::object store(const args& a, const sdk::call_context& call);
    json::object recall(const args& a, const sdk::call_context& call);
    json::object list(const args& a, const sdk::call_context& call);
    json::object get(const args& a, const sdk::call_context& call);
    json::object forget(const args& a, const sdk::call_context& call);
    json::object prune(const args& a, const sdk::call_context& call);

    void seed_sample(deadline until);

    sdk::host host_;
    memory_config config_;
    std::unique_ptr<repository> repo_;
};

}  // namespace

// ------------------------------------------------------------------------------- the operation table

const json_table<memory_tool>& memory_tool::table() {
    constexpr uint64_t query = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY;
    static const json_table<memory_tool> t{
        .name = "memory",
        .version = "1.0.0",
        .description =
            "Conversation memory per session: store facts, preferences, summaries and messages, then "
            "recall them ranked by relevance (full-text), recency and importance. SQLite (WAL) under "
            "the data directory, or a PostgreSQL database shared by several hosts.",
        .config_schema = schemas::config,
        .thread_safe = true,
        .operations =
            {
                {.name = "store",
                 .description = "Stores a memory in a session. Not idempotent by itself; with an idempotency_key, "
                                "storing again with the same key returns the first memory (replayed: true) instead "
                                "of a copy.",
                 .input_schema = schemas::store_input(),
                 .output_schema = schemas::store_output(),
                 .flags = 0,
                 .run = {&memory_tool::store}},
                {.name = "recall",
                 .description = "The session's memories that best match a query, ranked by a blend of full-text "
                                "relevance, recency and importance; each result carries its score components. "
                                "Without a query: by recency and importance. Expired memories are never returned.",
                 .input_schema = schemas::recall_input(),
                 .output_schema = schemas::recall_output(),
                 .flags = query,
                 .run = {&memory_tool::recall}},
                {.name = "list",
                 .description = "The session's memories, newest first, a page at a time (pass next_cursor back as "
                                "cursor).",
                 .input_schema = schemas::list_input(),
                 .output_schema = schemas::list_output(),
                 .flags = query,
                 .run = {&memory_tool::list}},
                {.name = "get",
                 .description = "One memory by id; NOT_FOUND when it does not exist or has expired.",
                 .input_schema = schemas::get_input(),
                 .output_schema = schemas::memory(),
                 .flags = query,
                 .run = {&memory_tool::get}},
                {.name = "forget",
                 .description = "Deletes one memory by id, or every memory of a session. Forgetting what is already "
                                "gone succeeds with forgotten: 0.",
                 .input_schema = schemas::forget_input(),
                 .output_schema = schemas::forget_output(),
                 .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_DESTRUCTIVE,
                 .run = {&memory_tool::forget}},
                {.name = "prune",
                 .description = "Deletes expired memories, then trims every session to max_memories_per_session, "
                                "dropping the least important and oldest first. Works in batches; cancelling keeps "
                                "what was done.",
                 .input_schema = schemas::prune_input(),
                 .output_schema = schemas::prune_output(),
                 .flags =
                     TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_DESTRUCTIVE | TOOLHOST_OPERATION_CANCELLABLE,
                 .run = {&memory_tool::prune}},
            },
    };
    return t;
}

// ------------------------------------------------------------------------------------- lifecycle

void memory_tool::initialize(sdk::init_context& init) {
    config_ = read_config(init.config(), fs::path(init.data_dir()), storage::database_url_from_environment());
    repo_ = open_repository(config_);
    // Start-up has no call deadline; this bounds the wait for a database that does not answer.
    seed_sample(std::chrono::steady_clock::now() + std::chrono::seconds(60));
}

void memory_tool::cleanup() {
    if (repo_) repo_->close(host_);
}

void memory_tool::seed_sample(deadline until) {
    if (!config_.sample_data || repo_->sample_seeded(until)) return;
    const fs::path& file = config_.sample_file;
    std::error_code ec;
    if (file.empty() || !fs::is_regular_file(file, ec)) {
        if (config_.sample_file_configured)
            throw sdk::error(sdk::status::invalid_argument, "sample_file: " + file.string() + " is not a file");
        host_.log(sdk::log_level::info, "no sample memories at " + file.string() + "; nothing seeded");
        return;
    }
    // Read before the write transaction, which seed_sample holds only for the inserts.
    const unix_ms now = now_ms();
    const auto memories = read_sample(file, now, config_.max_content_bytes);
    // The marker stays when the user later forgets the demo session: seeding happens once.
    if (repo_->seed_sample(memories, format_rfc3339(now) + " from " + file.string(), until))
        host_.log(sdk::log_level::info,
                  "seeded " + std::to_string(memories.size()) + " sample memories from " + file.string());
}

// ------------------------------------------------------------------------------------ operations

void memory_tool::error_context(std::string_view operation, const sdk::error& e) const {
    // Same status (a locked or unreachable database is UNAVAILABLE, a corrupt file DATA_LOSS...),
    // with the database named for the operator who has to look at it.
    if (repo_) repo_->error_context(operation, e);
}

json::object memory_tool::store(const args& a, const sdk::call_context& call) {
    const unix_ms now = now_ms();
    const store_request req = read_store_request(a, now, config_.max_content_bytes);
    const new_memory& m = req.memory;

    // The repository checks the key and inserts in one transaction; a replay wrote nothing, so
    // refusing it here changes nothing either.
    const auto outcome = repo_->insert(m, now, deadline_of(call));
    if (outcome.replayed) {
        const memory_record& earlier = outcome.memory;
        const bool same = earlier.content == m.content && earlier.kind == m.kind &&
                          earlier.importance == m.importance && earlier.ttl_seconds == m.ttl_seconds &&
                          (!req.created_at_given || earlier.created_at == m.created_at) &&
                          parse_stored_metadata(earlier) == json::parse(m.metadata);
        if (!same)
            invalid_argument("idempotency_key", "was already used in this session for a different memory (id " +
                                                    std::to_string(earlier.id) + ")");
    }
    auto out = memory_json(outcome.memory);
    out["replayed"] = outcome.replayed;
    return out;
}

json::object memory_tool::recall(const args& a, const sdk::call_context& call) {
    const std::string session_id = session_arg(a);
    const scope scope = scope_arg(a, session_id);
    const std::string query = a.string_or("query", "");
    const auto limit = static_cast<size_t>(a.int_or("limit", 10, 1, 100));
    const auto words = text::search_words(query);  // empty: no text search

    std::vector<ranked> best;
    const auto records = repo_->recall(
        scope, words, config_.recall_candidates,
        [&](std::span<const candidate> candidates) {
            best = rank(candidates, config_.blend, scope.now, config_.half_life_ms, limit);
            std::vector<int64_t> ids;
            for (const auto& r : best) ids.push_back(r.id);
            return ids;
        },
        deadline_of(call));

    json::array memories;
    size_t next = 0;  // records holds best's ids in order, skipping any that vanished
    for (const auto& r : best) {
        if (next >= records.size() || records[next].id != r.id) continue;
        auto m = memory_json(records[next++]);
        m["score"] = r.score;
        m["components"] =
            json::object{{"relevance", r.relevance}, {"recency", r.recency}, {"importance", r.importance}};
        memories.push_back(std::move(m));
    }
    return json::object{{"session_id", session_id},
                        {"query", query},
                        {"now", format_rfc3339(scope.now)},
                        {"weights", weights_json(config_.blend)},
                        {"memories", std::move(memories)}};
}

json::object memory_tool::list(const args& a, const sdk::call_context& call) {
    const std::string session_id = session_arg(a);
    const scope scope = scope_arg(a, session_id);
    const auto limit = static_cast<size_t>(a.int_or("limit", 20, 1, 200));
    std::optional<page_position> after;
    if (auto cursor = a.optional_string("cursor")) after = parse_cursor(*cursor);

    // One more than asked for tells whether a next page exists.
    auto rows = repo_->page(scope, after, limit + 1, deadline_of(call));
    const bool more = rows.size() > limit;
    if (more) rows.resize(limit);

    json::array memories;
    for (const auto& r : rows) memories.push_back(memory_json(r));
    json::value next = more ? json::value(cursor_of(rows.back())) : json::value(nullptr);
    return json::object{
        {"session_id", session_id}, {"memories", std::move(memories)}, {"next_cursor", std::move(next)}};
}

json::object memory_tool::get(const args& a, const sdk::call_context& call) {
    const int64_t id = a.required_int("id");
    if (id < 1) invalid_argument("id", "must be 1 or more");
    const unix_ms now = time_arg(a, "now").value_or(now_ms());
    const auto record = repo_->find(id, deadline_of(call));
    if (!record || !record->live_at(now))
        throw sdk::error(sdk::status::not_found, "memory " + std::to_string(id) + " not found");
    return memory_json(*record);
}

json::object memory_tool::forget(const args& a, const sdk::call_context& call) {
    const auto id = a.optional_int("id");
    const std::optional<std::string> session_id =
        a.has("session_id") ? std::optional<std::string>(session_arg(a)) : std::nullopt;
    if (!id && !session_id) invalid_argument("id", "give id, session_id, or both");
    if (id && *id < 1) invalid_argument("id", "must be 1 or more");

    const auto until = deadline_of(call);
    const int64_t forgotten = id ? repo_->remove(*id, session_id, until) : repo_->remove_session(*session_id, until);
    return json::object{{"forgotten", forgotten}};
}

json::object memory_tool::prune(const args& a, const sdk::call_context& call) {
    const unix_ms now = time_arg(a, "now").value_or(now_ms());
    const std::optional<std::string> session_id =
        a.has("session_id") ? std::optional<std::string>(session_arg(a)) : std::nullopt;
    const std::optional<std::string_view> only =
        session_id ? std::optional<std::string_view>(*session_id) : std::nullopt;

    const auto until = deadline_of(call);
    int64_t expired = 0;
    int64_t over_cap = 0;
    // Runs one batch (one transaction) at a time until a batch comes back short.
    const auto in_batches = [&](int64_t& total, auto&& delete_batch) {
        for (;;) {
            if (call.cancelled())
                throw sdk::error(sdk::status::cancelled, "prune cancelled after deleting " +
                                                             std::to_string(expired + over_cap) +
                                                             " memories; run it again to finish");
            const int64_t n = delete_batch();
            total += n;
            call.progress(static_cast<double>(expired + over_cap), 0, "memories deleted");
            if (n < prune_batch) return;
        }
    };
    in_batches(expired, [&] { return repo_->delete_expired(now, only, prune_batch, until); });
    if (config_.max_per_session > 0) {
        for (const auto& s : repo_->sessions_over_cap(config_.max_per_session, only, until))
            in_batches(over_cap,
                       [&] { return repo_->delete_over_cap(s, config_.max_per_session, prune_batch, until); });
    }
    return json::object{{"expired", expired}, {"over_cap", over_cap}, {"now", format_rfc3339(now)}};
}

}  // namespace toolhost::plugins::memory

TOOLHOST_PLUGIN("memory", "1.0.0", toolhost::plugins::memory::memory_tool)
