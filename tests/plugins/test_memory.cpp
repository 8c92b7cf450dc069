// The memory tool (plugins/memory), loaded from its .so through the real host and run against
// real SQLite files: every operation, ranking, expiry, paging, the sample, invalid input, failed
// calls that must leave the data intact, concurrency across threads and across processes, and
// durability across kill -9. The pure parts (RFC 3339 and the ranking blend) are tested directly.
#define BOOST_TEST_MODULE memory
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>

#include "ranking.hpp"
#include "test_support.hpp"

#include <toolhost_plugins/sqlite.hpp>
#include <toolhost_plugins/time.hpp>

#include <boost/json.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

extern char** environ;

namespace fs = std::filesystem;
namespace json = boost::json;
namespace mem = toolhost::plugins::memory;
namespace ptime = toolhost::plugins::time;
namespace sqlite = toolhost::plugins::sqlite;
using toolhost::status_code;
using toolhost::test::temp_dir;

namespace {

using toolhost::test::contains;

// 2024-05-01T12:00:00Z and instants around it, for calls that take `now` or `created_at`.
constexpr ptime::unix_ms t0 = 1714564800000;
constexpr ptime::unix_ms hour = 3600 * 1000;
constexpr ptime::unix_ms day = 24 * hour;
std::string at(ptime::unix_ms t) { return ptime::format_rfc3339(t); }

// ------------------------------------------------------------------------------------- the host

// A plugin folder holding only memory.so, a data folder, and hosts started on them.
struct memory_env {
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    fs::path data = dir / "var";

    memory_env() {
        fs::create_directory(plugins);
        toolhost::test::copy_into(TOOLHOST_MEMORY_PLUGIN, plugins, "memory.so");
    }

    /// Where the tool keeps its database with the default configuration.
    fs::path database() const { return data / "memory" / "memory.db"; }

    toolhost::host_config config(json::object tool_config, unsigned threads) const {
        // Tests seed only when they say so.
        if (!tool_config.contains("seed_sample")) tool_config["seed_sample"] = false;
        auto c = *toolhost::default_config([](std::string_view) { return std::optional<std::string>(); });
        c.plugin_dirs = {plugins};
        c.data_dir = data;
        c.threads = threads;
        c.log_level = "off";
        toolhost::tool_settings memory;
        memory.pointer = "/tools/memory";
        memory.config = std::move(tool_config);
        c.tools["memory"] = std::move(memory);
        return c;
    }

    /// A host with the memory tool started (the test stops if it does not start).
    std::unique_ptr<toolhost::host> start(json::object tool_config = {}, unsigned threads = 4) const {
        auto h = std::make_unique<toolhost::host>(config(std::move(tool_config), threads));
        h->load_plugins();
        const auto report =
            h->start({.concurrent = false, .fail_on_error = false, .only = std::vector<std::string>{"memory"}});
        BOOST_TEST_REQUIRE(report.ok(), (report.ok() ? "" : report.failed.front().second.to_string()));
        return h;
    }

    /// Why the memory tool fails to start with this configuration.
    toolhost::tool_error start_error(json::object tool_config) const {
        toolhost::host h(config(std::move(tool_config), 2));
        h.load_plugins();
        const auto report =
            h.start({.concurrent = false, .fail_on_error = false, .only = std::vector<std::string>{"memory"}});
        BOOST_TEST_REQUIRE(report.failed.size() == 1u);
        return report.failed.front().second;
    }
};

json::value ok(toolhost::host& h, const std::string& op, json::object args, toolhost::call_options options = {}) {
    const auto r = h.call("memory", op, std::move(args), std::move(options));
    BOOST_TEST_REQUIRE(r.has_value(), op << " failed: " << (r ? "" : r.error().to_string()));
    return json::parse(*r);
}

toolhost::tool_error fails(toolhost::host& h, const std::string& op, json::object args,
                           toolhost::call_options options = {}) {
    const auto r = h.call("memory", op, std::move(args), std::move(options));
    BOOST_TEST_REQUIRE(!r.has_value(), op << " succeeded: " << (r ? *r : ""));
    return r.error();
}

int64_t store(toolhost::host& h, json::object args) { return ok(h, "store", std::move(args)).at("id").as_int64(); }

std::vector<int64_t> ids_of(const json::value& result) {
    std::vector<int64_t> ids;
    for (const auto& m : result.at("memories").as_array()) ids.push_back(m.at("id").as_int64());
    return ids;
}

// ------------------------------------------------------------------------- the file, directly

sqlite::database open_raw(const fs::path& file) { return sqlite::database::open(file); }

/// Every stored memory, one line each, in id order: equal dumps mean equal data.
std::string dump(const fs::path& file) {
    auto db = open_raw(file);
    auto st = db.prepare(
        "SELECT id, session_id, kind, content, importance, created_at, ifnull(expires_at, '-'),"
        " ifnull(ttl_seconds, '-'), metadata, ifnull(idempotency_key, '-') FROM memories ORDER BY id");
    std::string out;
    while (st.step()) {
        for (int c = 0; c < st.column_count(); ++c) out += st.string(c) + "|";
        out += "\n";
    }
    return out;
}

int64_t count_rows(const fs::path& file, const std::string& where = "1") {
    auto db = open_raw(file);
    auto st = db.prepare("SELECT count(*) FROM memories WHERE " + where);
    st.step();
    return st.int64(0);
}

/// SQLite's own check of the file, and FTS5's check that the index matches the table exactly.
void check_integrity(const fs::path& file) {
    auto db = open_raw(file);
    auto st = db.prepare("PRAGMA integrity_check");
    BOOST_TEST_REQUIRE(st.step());
    BOOST_TEST(st.string(0) == "ok");
    BOOST_CHECK_NO_THROW(db.exec("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')"));
}

// --------------------------------------------------------------------------- a child process

// memory_writer running with its stdout on a pipe we read line by line.
class writer_process {
public:
    writer_process(const memory_env& env, const std::string& tag, int count, const std::string& sync = "") {
        int out[2];
        BOOST_TEST_REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        err_file_ = env.dir / ("writer-" + tag + ".err");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addopen(&fa, 2, err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        std::vector<std::string> args{TOOLHOST_MEMORY_WRITER, env.plugins.string(), env.data.string(), tag,
                                      std::to_string(count)};
        if (!sync.empty()) args.push_back(sync);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        fd_ = out[0];
        BOOST_TEST_REQUIRE(rc == 0, "posix_spawn: " << std::strerror(rc));
    }
    writer_process(const writer_process&) = delete;
    writer_process& operator=(const writer_process&) = delete;
    ~writer_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            wait();
        }
        if (fd_ >= 0) ::close(fd_);
    }

    /// The next complete line, or nullopt at end of output (a last line without its newline
    /// was cut off by a kill and is not returned).
    std::optional<std::string> read_line() {
        for (;;) {
            const auto nl = buffer_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                return line;
            }
            char chunk[4096];
            const ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            buffer_.append(chunk, static_cast<size_t>(n));
        }
    }

    void kill() { ::kill(pid_, SIGKILL); }

    /// Exit status, or 128 + signal.
    int wait() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    std::string errors() const { return toolhost::test::read_file(err_file_); }

private:
    pid_t pid_ = -1;
    int fd_ = -1;
    std::string buffer_;
    fs::path err_file_;
};

// "<id> <n>" as memory_writer prints it.
struct ack {
    int64_t id = 0;
    long n = 0;
};
ack parse_ack(const std::string& line) {
    long long id = 0;
    long n = 0;
    BOOST_TEST_REQUIRE(std::sscanf(line.c_str(), "%lld %ld", &id, &n) == 2, "not an ack: " << line);
    return ack{id, n};
}

std::string content_of(sqlite::database& db, int64_t id) {
    auto st = db.prepare("SELECT content FROM memories WHERE id = ?");
    st.bind(1, id);
    return st.step() ? st.string(0) : std::string("<missing>");
}

}  // namespace

// ============================================================================ pure functions

BOOST_AUTO_TEST_SUITE(ranking)

BOOST_AUTO_TEST_CASE(recency_halves_every_half_life) {
    const double half = 10.0 * hour;
    BOOST_TEST(mem::recency(t0, t0, half) == 1.0);
    BOOST_TEST(mem::recency(t0 - 10 * hour, t0, half) == 0.5);
    BOOST_TEST(mem::recency(t0 - 20 * hour, t0, half) == 0.25);
    BOOST_TEST(mem::recency(t0 + hour, t0, half) == 1.0);  // from the future: new
}

BOOST_AUTO_TEST_CASE(weights_are_scaled_to_sum_to_one) {
    const auto w = mem::weights::normalized(2, 1, 1);
    BOOST_TEST(w.relevance == 0.5);
    BOOST_TEST(w.recency == 0.25);
    BOOST_TEST(w.importance == 0.25);
    for (auto bad : {std::array{0.0, 0.0, 0.0}, std::array{1.0, -1.0, 1.0}, std::array{std::nan(""), 1.0, 1.0}}) {
        try {
            mem::weights::normalized(bad[0], bad[1], bad[2]);
            BOOST_FAIL("accepted bad weights");
        } catch (const toolhost::sdk::error& e) {
            BOOST_TEST(static_cast<int>(e.code()) == static_cast<int>(toolhost::sdk::status::invalid_argument));
            BOOST_TEST(contains(e.what(), "weights"));
        }
    }
}

BOOST_AUTO_TEST_CASE(relevance_is_relative_to_the_best_match_and_ties_prefer_newer) {
    const auto w = mem::weights::normalized(1, 1, 1);
    const std::vector<mem::candidate> c{
        {1, 4.0, t0, 0.5}, {2, 1.0, t0, 0.5}, {3, 4.0, t0 - hour, 0.5}, {4, 4.0, t0, 0.5}};
    const auto r = mem::rank(c, w, t0, 1.0 * hour, 3);
    BOOST_TEST_REQUIRE(r.size() == 3u);
    BOOST_TEST(r[0].id == 4);  // same score as 1: the larger id (stored later) first
    BOOST_TEST(r[1].id == 1);
    BOOST_TEST(r[2].id == 3);  // as relevant, but older
    BOOST_TEST(r[0].relevance == 1.0);
    BOOST_TEST(r[2].recency == 0.5);
    BOOST_TEST(r[2].score == (1.0 + 0.5 + 0.5) / 3, boost::test_tools::tolerance(1e-12));
    const auto all = mem::rank(c, w, t0, 1.0 * hour, 10);
    BOOST_TEST(all.back().id == 2);
    BOOST_TEST(all.back().relevance == 0.25);
}

BOOST_AUTO_TEST_SUITE_END()

// ====================================================================== the tool, through a host

BOOST_AUTO_TEST_SUITE(operations)

BOOST_AUTO_TEST_CASE(descriptor_declares_operations_flags_and_thread_safety) {
    memory_env env;
    auto h = env.start();
    const auto& d = h->find("memory")->descriptor();
    BOOST_TEST(d.thread_safe);
    BOOST_TEST(d.config_schema.has_value());
    const auto flags = [&](const char* op) {
        const auto* o = d.find_operation(op);
        BOOST_TEST_REQUIRE(o != nullptr, op);
        BOOST_TEST(o->output_schema.has_value(), op);
        return o->flags;
    };
    BOOST_TEST(flags("store") == 0u);  // idempotent only with a key: the host must not retry it
    BOOST_TEST(flags("recall") == (TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY));
    BOOST_TEST(flags("list") == (TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY));
    BOOST_TEST(flags("get") == (TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY));
    BOOST_TEST(flags("forget") == (TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_DESTRUCTIVE));
    BOOST_TEST(flags("prune") ==
               (TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_DESTRUCTIVE | TOOLHOST_OPERATION_CANCELLABLE));
}

BOOST_AUTO_TEST_CASE(store_then_get_returns_what_was_stored) {
    memory_env env;
    auto h = env.start();
    const auto stored = ok(*h, "store",
                           {{"session_id", "s1"},
                            {"content", "Ada prefers window seats"},
                            {"kind", "preference"},
                            {"importance", 0.75},
                            {"created_at", "2024-05-01T14:00:00+02:00"},
                            {"ttl_seconds", 3600},
                            {"metadata", {{"source", "chat"}, {"turn", 3}}}});
    BOOST_TEST(stored.at("replayed").as_bool() == false);
    const auto got = ok(*h, "get", {{"id", stored.at("id")}, {"now", at(t0 + 1000)}});
    BOOST_TEST(got.at("session_id").as_string() == "s1");
    BOOST_TEST(got.at("content").as_string() == "Ada prefers window seats");
    BOOST_TEST(got.at("kind").as_string() == "preference");
    BOOST_TEST(got.at("importance").to_number<double>() == 0.75);
    BOOST_TEST(got.at("created_at").as_string() == "2024-05-01T12:00:00.000Z");
    BOOST_TEST(got.at("expires_at").as_string() == "2024-05-01T13:00:00.000Z");
    BOOST_TEST(got.at("metadata") == (json::value{{"source", "chat"}, {"turn", 3}}));

    const auto defaults = ok(*h, "get", {{"id", store(*h, {{"session_id", "s1"}, {"content", "plain"}})}});
    BOOST_TEST(defaults.at("kind").as_string() == "fact");
    BOOST_TEST(defaults.at("importance").to_number<double>() == 0.5);
    BOOST_TEST(defaults.at("metadata") == json::object{});
    BOOST_TEST(!defaults.as_object().contains("expires_at"));
}

BOOST_AUTO_TEST_CASE(get_of_a_missing_memory_is_not_found) {
    memory_env env;
    auto h = env.start();
    const auto e = fails(*h, "get", {{"id", 4242}});
    BOOST_TEST(static_cast<int>(e.code) == static_cast<int>(status_code::not_found));
    BOOST_TEST(contains(e.message, "4242"));
}

BOOST_AUTO_TEST_CASE(data_survives_a_restart_of_the_host) {
    memory_env env;
    int64_t id = 0;
    {
        auto h = env.start();
        id = store(*h, {{"session_id", "s"}, {"content", "kept across restarts"}});
        h->shutdown();
    }
    auto h = env.start();
    BOOST_TEST(ok(*h, "get", {{"id", id}}).at("content").as_string() == "kept across restarts");
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "restarts"}})) == std::vector<int64_t>{id});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(idempotency)

BOOST_AUTO_TEST_CASE(the_same_key_stores_once_and_replays_the_first_memory) {
    memory_env env;
    auto h = env.start();
    const json::object args{{"session_id", "s"},
                            {"content", "remember me"},
                            {"idempotency_key", "turn-7"},
                            {"metadata", {{"a", 1}, {"b", 2}}}};
    const auto first = ok(*h, "store", args);
    json::object again = args;
    again["metadata"] = json::object{{"b", 2}, {"a", 1}};  // the same object, keys in another order
    const auto second = ok(*h, "store", again);
    BOOST_TEST(first.at("replayed").as_bool() == false);
    BOOST_TEST(second.at("replayed").as_bool() == true);
    BOOST_TEST(second.at("id") == first.at("id"));
    BOOST_TEST(second.at("created_at") == first.at("created_at"));
    BOOST_TEST(count_rows(env.database()) == 1);

    // Keys belong to a session: another session may use the same key for its own memory.
    json::object other = args;
    other["session_id"] = "t";
    BOOST_TEST(ok(*h, "store", other).at("id") != first.at("id"));
    BOOST_TEST(count_rows(env.database()) == 2);
}

BOOST_AUTO_TEST_CASE(reusing_a_key_for_a_different_memory_is_invalid_and_changes_nothing) {
    memory_env env;
    auto h = env.start();
    store(*h, {{"session_id", "s"}, {"content", "first"}, {"idempotency_key", "k"}});
    const auto before = dump(env.database());
    for (const json::object& changed :
         {json::object{{"content", "second"}}, json::object{{"importance", 0.9}}, json::object{{"kind", "summary"}},
          json::object{{"ttl_seconds", 60}}, json::object{{"metadata", {{"x", 1}}}},
          json::object{{"created_at", "2001-01-01T00:00:00Z"}}}) {
        json::object args{{"session_id", "s"}, {"content", "first"}, {"idempotency_key", "k"}};
        for (const auto& [k, v] : changed) args[k] = v;
        const auto e = fails(*h, "store", args);
        BOOST_TEST(static_cast<int>(e.code) == static_cast<int>(status_code::invalid_argument));
        BOOST_TEST(contains(e.message, "idempotency_key"), e.message);
    }
    BOOST_TEST(dump(env.database()) == before);
}

BOOST_AUTO_TEST_CASE(an_expired_memory_gives_up_its_key) {
    memory_env env;
    auto h = env.start();
    // Created in 2024 with a one-minute TTL: expired by the real clock.
    const auto old_id = store(*h, {{"session_id", "s"},
                                   {"content", "old"},
                                   {"idempotency_key", "k"},
                                   {"created_at", at(t0)},
                                   {"ttl_seconds", 60}});
    const auto fresh = ok(*h, "store", {{"session_id", "s"}, {"content", "new"}, {"idempotency_key", "k"}});
    BOOST_TEST(fresh.at("replayed").as_bool() == false);
    BOOST_TEST(fresh.at("id").as_int64() != old_id);
    BOOST_TEST(count_rows(env.database()) == 1);
    check_integrity(env.database());
}

BOOST_AUTO_TEST_CASE(concurrent_stores_with_one_key_create_one_memory) {
    memory_env env;
    auto h = env.start({}, 8);
    constexpr int threads = 8;
    std::vector<toolhost::call_result> results(threads);
    {
        std::vector<std::jthread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&, t] {
                results[static_cast<size_t>(t)] =
                    h->call("memory", "store", {{"session_id", "s"}, {"content", "once"}, {"idempotency_key", "k"}});
            });
    }
    int created = 0;
    std::set<int64_t> ids;
    for (const auto& r : results) {
        BOOST_TEST_REQUIRE(r.has_value(), r.error().to_string());
        const auto v = json::parse(*r);
        ids.insert(v.at("id").as_int64());
        created += v.at("replayed").as_bool() ? 0 : 1;
    }
    BOOST_TEST(ids.size() == 1u);
    BOOST_TEST(created == 1);
    BOOST_TEST(count_rows(env.database()) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(recall)

BOOST_AUTO_TEST_CASE(scores_are_the_documented_blend_of_their_components) {
    memory_env env;
    auto h = env.start();  // default weights 0.6 / 0.25 / 0.15, half-life 7 days
    const auto a = store(
        *h,
        {{"session_id", "s"}, {"content", "coffee in the morning"}, {"importance", 0.2}, {"created_at", at(t0 - day)}});
    const auto b = store(*h, {{"session_id", "s"},
                              {"content", "the coffee shop on the corner"},
                              {"importance", 0.9},
                              {"created_at", at(t0 - 7 * day)}});
    store(*h, {{"session_id", "s"}, {"content", "tea at five"}, {"importance", 1.0}, {"created_at", at(t0)}});

    const auto r = ok(*h, "recall", {{"session_id", "s"}, {"query", "coffee"}, {"now", at(t0)}});
    BOOST_TEST(r.at("now").as_string() == "2024-05-01T12:00:00.000Z");
    const auto& w = r.at("weights");
    BOOST_TEST(w.at("relevance").to_number<double>() == 0.6, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(w.at("recency").to_number<double>() == 0.25, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(w.at("importance").to_number<double>() == 0.15, boost::test_tools::tolerance(1e-12));
    const auto& ms = r.at("memories").as_array();
    BOOST_TEST_REQUIRE(ms.size() == 2u);  // "tea" does not match
    double best_relevance = 0;
    double previous = 2;
    for (const auto& m : ms) {
        const auto& c = m.at("components");
        const double rel = c.at("relevance").to_number<double>(), rec = c.at("recency").to_number<double>(),
                     imp = c.at("importance").to_number<double>();
        const double expected = w.at("relevance").to_number<double>() * rel +
                                w.at("recency").to_number<double>() * rec +
                                w.at("importance").to_number<double>() * imp;
        BOOST_TEST(m.at("score").to_number<double>() == expected, boost::test_tools::tolerance(1e-12));
        BOOST_TEST(imp == m.at("importance").to_number<double>());
        BOOST_TEST(m.at("score").to_number<double>() <= previous);  // best first
        previous = m.at("score").to_number<double>();
        best_relevance = std::max(best_relevance, rel);
        if (m.at("id").as_int64() == a) BOOST_TEST(rec == std::exp2(-1.0 / 7), boost::test_tools::tolerance(1e-12));
        if (m.at("id").as_int64() == b) BOOST_TEST(rec == 0.5, boost::test_tools::tolerance(1e-12));
    }
    BOOST_TEST(best_relevance == 1.0);  // relevance is relative to the best match
}

BOOST_AUTO_TEST_CASE(the_configured_weights_decide_the_order) {
    memory_env env;
    const json::array memories{
        json::object{{"content", "coffee coffee coffee"}, {"importance", 0.1}, {"created_at", at(t0 - 30 * day)}},
        json::object{{"content", "coffee with a long story about many other unrelated things and places"},
                     {"importance", 0.9},
                     {"created_at", at(t0 - 10 * day)}},
        json::object{{"content", "a coffee today"}, {"importance", 0.5}, {"created_at", at(t0)}}};
    const auto order_with = [&](double rel, double rec, double imp) {
        temp_dir scratch;
        auto h = env.start({{"database", (scratch / "m.db").string()},
                            {"weights", {{"relevance", rel}, {"recency", rec}, {"importance", imp}}}});
        std::vector<int64_t> ids;
        for (const auto& m : memories) {
            json::object args = m.as_object();
            args["session_id"] = "s";
            ids.push_back(store(*h, args));
        }
        const auto got = ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "coffee"}, {"now", at(t0)}}));
        std::vector<int> order;
        for (auto id : got) order.push_back(static_cast<int>(std::find(ids.begin(), ids.end(), id) - ids.begin()));
        return order;
    };
    BOOST_TEST(order_with(1, 0, 0) == (std::vector<int>{0, 2, 1}));  // term frequency, then short text
    BOOST_TEST(order_with(0, 1, 0) == (std::vector<int>{2, 1, 0}));  // newest first
    BOOST_TEST(order_with(0, 0, 1) == (std::vector<int>{1, 2, 0}));  // most important first
}

BOOST_AUTO_TEST_CASE(an_empty_query_recalls_by_recency_and_importance) {
    memory_env env;
    auto h = env.start(
        {{"weights", {{"relevance", 5}, {"recency", 1}, {"importance", 1}}}, {"recency_half_life_seconds", 86400}});
    const auto old_important = store(
        *h, {{"session_id", "s"}, {"content", "old but vital"}, {"importance", 1.0}, {"created_at", at(t0 - 3 * day)}});
    const auto new_trivial =
        store(*h, {{"session_id", "s"}, {"content", "new and trivial"}, {"importance", 0.0}, {"created_at", at(t0)}});
    const auto middle = store(*h, {{"session_id", "s"},
                                   {"content", "yesterday, fairly important"},
                                   {"importance", 0.6},
                                   {"created_at", at(t0 - day)}});
    // scores (relevance 0): new 1/7*1 + 0 = .143; middle (.5 + .6)/7 = .157; old (.125 + 1)/7 = .161
    const auto r = ok(*h, "recall", {{"session_id", "s"}, {"now", at(t0)}});
    BOOST_TEST(ids_of(r) == (std::vector<int64_t>{old_important, middle, new_trivial}));
    for (const auto& m : r.at("memories").as_array())
        BOOST_TEST(m.at("components").at("relevance").to_number<double>() == 0.0);
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "   "}, {"now", at(t0)}, {"limit", 1}})) ==
               std::vector<int64_t>{old_important});
}

BOOST_AUTO_TEST_CASE(filters_by_session_and_kind_and_reads_operators_as_words) {
    memory_env env;
    auto h = env.start();
    const auto fact = store(*h, {{"session_id", "s"}, {"content", "Lisbon trip in June"}, {"kind", "fact"}});
    const auto summary =
        store(*h, {{"session_id", "s"}, {"content", "Summary: Lisbon, June, Alfama"}, {"kind", "summary"}});
    store(*h, {{"session_id", "other"}, {"content", "Lisbon for someone else"}});

    auto ids = ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "lisbon"}}));
    std::sort(ids.begin(), ids.end());
    BOOST_TEST(ids == (std::vector<int64_t>{fact, summary}));
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "lisbon"}, {"kinds", {"summary"}}})) ==
               std::vector<int64_t>{summary});
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"kinds", {"preference"}}})).empty());
    // FTS5 syntax in a query is searched for, never interpreted.
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "NOT alfama* OR ( \"-"}})) ==
               std::vector<int64_t>{summary});
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "session_key:x"}})).empty());
    // Stemming: "trips" finds "trip".
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "trips"}})) == std::vector<int64_t>{fact});
}

BOOST_AUTO_TEST_CASE(long_unicode_session_ids_are_kept_apart) {
    memory_env env;
    auto h = env.start();
    std::string a, b;
    for (int i = 0; i < 256; ++i) a += "é";
    b = a.substr(0, a.size() - 2) + "e";  // differs only in the last character
    const auto in_a = store(*h, {{"session_id", a}, {"content", "croissant"}});
    const auto in_b = store(*h, {{"session_id", b}, {"content", "croissant"}});
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", a}, {"query", "croissant"}})) == std::vector<int64_t>{in_a});
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", b}, {"query", "croissant"}})) == std::vector<int64_t>{in_b});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(expiry_list_forget_prune)

BOOST_AUTO_TEST_CASE(expired_memories_are_never_returned_even_before_prune) {
    memory_env env;
    auto h = env.start();
    const auto id = store(
        *h, {{"session_id", "s"}, {"content", "parking spot B12"}, {"created_at", at(t0)}, {"ttl_seconds", 3600}});
    const auto keep =
        store(*h, {{"session_id", "s"}, {"content", "parking is free on Sundays"}, {"created_at", at(t0)}});

    const auto before = at(t0 + hour - 1);
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "parking"}, {"now", before}})).size() == 2u);
    BOOST_TEST(ok(*h, "get", {{"id", id}, {"now", before}}).at("id").as_int64() == id);

    const auto after = at(t0 + hour);  // expires_at is exclusive: gone at that instant
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "parking"}, {"now", after}})) ==
               std::vector<int64_t>{keep});
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"now", after}})) == std::vector<int64_t>{keep});
    BOOST_TEST(ids_of(ok(*h, "list", {{"session_id", "s"}, {"now", after}})) == std::vector<int64_t>{keep});
    BOOST_TEST(static_cast<int>(fails(*h, "get", {{"id", id}, {"now", after}}).code) ==
               static_cast<int>(status_code::not_found));
    BOOST_TEST(count_rows(env.database()) == 2);  // still stored, only hidden

    const auto pruned = ok(*h, "prune", {{"now", after}});
    BOOST_TEST(pruned.at("expired").as_int64() == 1);
    BOOST_TEST(pruned.at("over_cap").as_int64() == 0);
    BOOST_TEST(count_rows(env.database()) == 1);
    BOOST_TEST(ok(*h, "prune", {{"now", after}}).at("expired").as_int64() == 0);  // idempotent
    check_integrity(env.database());
}

BOOST_AUTO_TEST_CASE(list_pages_newest_first_without_repeating_or_skipping) {
    memory_env env;
    auto h = env.start();
    std::vector<int64_t> ids;
    for (int i = 0; i < 5; ++i)
        ids.push_back(store(
            *h, {{"session_id", "s"}, {"content", "item " + std::to_string(i)}, {"created_at", at(t0 + i * hour)}}));
    // Two memories at the same instant are ordered by id, newest first.
    ids.push_back(store(*h, {{"session_id", "s"}, {"content", "tie"}, {"created_at", at(t0 + 4 * hour)}}));
    store(*h, {{"session_id", "other"}, {"content", "not in s"}});

    auto page1 = ok(*h, "list", {{"session_id", "s"}, {"limit", 2}, {"now", at(t0 + day)}});
    BOOST_TEST(ids_of(page1) == (std::vector<int64_t>{ids[5], ids[4]}));
    // Something stored between two pages does not shift the next page.
    store(*h, {{"session_id", "s"}, {"content", "late"}, {"created_at", at(t0 + 5 * hour)}});
    auto page2 =
        ok(*h, "list", {{"session_id", "s"}, {"limit", 2}, {"cursor", page1.at("next_cursor")}, {"now", at(t0 + day)}});
    BOOST_TEST(ids_of(page2) == (std::vector<int64_t>{ids[3], ids[2]}));
    auto page3 =
        ok(*h, "list", {{"session_id", "s"}, {"limit", 2}, {"cursor", page2.at("next_cursor")}, {"now", at(t0 + day)}});
    BOOST_TEST(ids_of(page3) == (std::vector<int64_t>{ids[1], ids[0]}));
    BOOST_TEST(page3.at("next_cursor").is_null());  // nothing older: the last page

    // A page boundary between two memories of the same instant.
    auto single =
        ok(*h, "list", {{"session_id", "s"}, {"limit", 1}, {"cursor", page1.at("next_cursor")}, {"now", at(t0 + day)}});
    BOOST_TEST(ids_of(single) == std::vector<int64_t>{ids[3]});
    const auto first = ok(*h, "list", {{"session_id", "s"}, {"limit", 2}, {"now", at(t0 + day)}});  // late, ids[5]
    BOOST_TEST(ids_of(first).back() == ids[5]);
    single =
        ok(*h, "list", {{"session_id", "s"}, {"limit", 1}, {"cursor", first.at("next_cursor")}, {"now", at(t0 + day)}});
    BOOST_TEST(ids_of(single) == std::vector<int64_t>{ids[4]});  // same instant as ids[5], smaller id
    single = ok(*h, "list",
                {{"session_id", "s"}, {"limit", 1}, {"cursor", single.at("next_cursor")}, {"now", at(t0 + day)}});
    BOOST_TEST(ids_of(single) == std::vector<int64_t>{ids[3]});

    BOOST_TEST(ok(*h, "list", {{"session_id", "s"}, {"limit", 10}}).at("next_cursor").is_null());
    BOOST_TEST(ids_of(ok(*h, "list", {{"session_id", "nobody"}})).empty());
}

BOOST_AUTO_TEST_CASE(forget_one_memory_or_a_whole_session_and_what_is_gone_is_fine) {
    memory_env env;
    auto h = env.start();
    const auto a = store(*h, {{"session_id", "s"}, {"content", "alpha"}});
    const auto b = store(*h, {{"session_id", "s"}, {"content", "beta"}});
    store(*h, {{"session_id", "s"}, {"content", "gamma"}});
    const auto other = store(*h, {{"session_id", "t"}, {"content", "alpha too"}});

    BOOST_TEST(ok(*h, "forget", {{"id", a}}).at("forgotten").as_int64() == 1);
    BOOST_TEST(ok(*h, "forget", {{"id", a}}).at("forgotten").as_int64() == 0);  // already gone: fine
    BOOST_TEST(ok(*h, "forget", {{"id", other}, {"session_id", "s"}}).at("forgotten").as_int64() == 0);  // not in s
    BOOST_TEST(ok(*h, "get", {{"id", other}}).at("id").as_int64() == other);
    BOOST_TEST(ok(*h, "forget", {{"id", b}, {"session_id", "s"}}).at("forgotten").as_int64() == 1);
    BOOST_TEST(ok(*h, "forget", {{"session_id", "s"}}).at("forgotten").as_int64() == 1);
    BOOST_TEST(ok(*h, "forget", {{"session_id", "s"}}).at("forgotten").as_int64() == 0);
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "alpha beta gamma"}})).empty());
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "t"}, {"query", "alpha"}})) == std::vector<int64_t>{other});
    check_integrity(env.database());
}

BOOST_AUTO_TEST_CASE(prune_caps_each_session_dropping_the_least_important_oldest_first) {
    memory_env env;
    auto h = env.start({{"max_memories_per_session", 3}});
    const auto add = [&](const char* session, double importance, ptime::unix_ms created) {
        return store(
            *h, {{"session_id", session}, {"content", "m"}, {"importance", importance}, {"created_at", at(created)}});
    };
    const auto old_mid = add("big", 0.5, t0 - 3 * day);
    const auto low = add("big", 0.1, t0);
    const auto high = add("big", 0.9, t0 - 9 * day);
    const auto mid = add("big", 0.5, t0 - 2 * day);
    const auto new_mid = add("big", 0.5, t0 - day);
    store(*h, {{"session_id", "big"},
               {"content", "m"},
               {"importance", 1.0},
               {"created_at", at(t0 - day)},
               {"ttl_seconds", 60}});  // expired at t0
    add("small", 0.0, t0 - 9 * day);
    add("small", 0.0, t0 - 9 * day);

    // Only one session when asked: "small" is under the cap anyway, "big" is untouched.
    BOOST_TEST(ok(*h, "prune", {{"session_id", "small"}, {"now", at(t0)}}).at("over_cap").as_int64() == 0);
    BOOST_TEST(count_rows(env.database()) == 8);

    const auto pruned = ok(*h, "prune", {{"now", at(t0)}});
    BOOST_TEST(pruned.at("expired").as_int64() == 1);   // the expired one goes first, and does not count
    BOOST_TEST(pruned.at("over_cap").as_int64() == 2);  // then 5 -> 3: the 0.1 one, then the oldest 0.5
    auto kept = ids_of(ok(*h, "list", {{"session_id", "big"}, {"now", at(t0)}}));
    std::sort(kept.begin(), kept.end());
    BOOST_TEST(kept == (std::vector<int64_t>{high, mid, new_mid}));
    BOOST_TEST(static_cast<int>(fails(*h, "get", {{"id", low}}).code) == static_cast<int>(status_code::not_found));
    BOOST_TEST(static_cast<int>(fails(*h, "get", {{"id", old_mid}}).code) == static_cast<int>(status_code::not_found));
    BOOST_TEST(ids_of(ok(*h, "list", {{"session_id", "small"}})).size() == 2u);
    BOOST_TEST(ok(*h, "prune", {{"now", at(t0)}}).at("over_cap").as_int64() == 0);
    check_integrity(env.database());
}

BOOST_AUTO_TEST_CASE(prune_works_in_batches_across_many_memories) {
    memory_env env;
    auto h = env.start({{"max_memories_per_session", 100}});
    // More than one batch (500) of expired memories and of memories over the cap.
    {
        auto db = open_raw(env.database());
        sqlite::transaction tx(db);
        auto st = db.prepare(
            "INSERT INTO memories (session_id, kind, content, importance, created_at, expires_at)"
            " VALUES (?, 'fact', ?, 0.5, ?, ?)");
        for (int i = 0; i < 1200; ++i) {
            st.bind(1, "bulk")
                .bind(2, "bulk " + std::to_string(i))
                .bind(3, t0 + i)
                .bind(4, i % 2 ? std::optional<int64_t>() : t0);
            st.run();
            st.reset();
        }
        tx.commit();
    }
    const auto pruned = ok(*h, "prune", {{"now", at(t0)}});
    BOOST_TEST(pruned.at("expired").as_int64() == 600);
    BOOST_TEST(pruned.at("over_cap").as_int64() == 500);
    BOOST_TEST(count_rows(env.database()) == 100);
    BOOST_TEST(count_rows(env.database(), "created_at < " + std::to_string(t0 + 1200 - 200)) == 0);  // the newest kept
    check_integrity(env.database());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(bad_input_is_invalid_argument_naming_the_field_and_stores_nothing) {
    memory_env env;
    auto h = env.start({{"max_content_bytes", 64}});
    store(*h, {{"session_id", "s"}, {"content", "already here"}});
    const auto before = dump(env.database());
    const std::string big(17000, 'x');
    struct bad_call {
        const char* op;
        json::object args;
        const char* field;
    };
    const std::vector<bad_call> calls{
        {"store", {{"content", "x"}}, "session_id"},
        {"store", {{"session_id", ""}, {"content", "x"}}, "session_id"},
        {"store", {{"session_id", "s"}}, "content"},
        {"store", {{"session_id", "s"}, {"content", " \t\n"}}, "content"},
        {"store", {{"session_id", "s"}, {"content", std::string(65, 'x')}}, "content"},
        {"store", {{"session_id", "s"}, {"content", "x"}, {"kind", "9lives"}}, "kind"},
        {"store", {{"session_id", "s"}, {"content", "x"}, {"importance", 1.5}}, "importance"},
        {"store", {{"session_id", "s"}, {"content", "x"}, {"importance", "high"}}, "importance"},
        {"store", {{"session_id", "s"}, {"content", "x"}, {"ttl_seconds", 0}}, "ttl_seconds"},
        {"store",
         {{"session_id", "s"}, {"content", "x"}, {"created_at", "9999-12-31T00:00:00Z"}, {"ttl_seconds", 86400}},
         "ttl_seconds"},
        {"store", {{"session_id", "s"}, {"content", "x"}, {"created_at", "yesterday"}}, "created_at"},
        {"store", {{"session_id", "s"}, {"content", "x"}, {"created_at", "2024-02-30T00:00:00Z"}}, "created_at"},
        {"store", {{"session_id", "s"}, {"content", "x"}, {"metadata", json::array{1}}}, "metadata"},
        {"store", {{"session_id", "s"}, {"content", "x"}, {"metadata", {{"blob", big}}}}, "metadata"},
        {"store", {{"session_id", "s"}, {"content", "x"}, {"colour", "red"}}, "colour"},
        {"recall", {{"session_id", "s"}, {"limit", 0}}, "limit"},
        {"recall", {{"session_id", "s"}, {"now", "noon"}}, "now"},
        {"recall", {{"session_id", "s"}, {"kinds", {"not a kind"}}}, "kinds"},
        {"list", {{"session_id", "s"}, {"cursor", "page-2"}}, "cursor"},
        {"list", {{"session_id", "s"}, {"cursor", "1714564800000:x"}}, "cursor"},
        {"get", {{"id", 0}}, "id"},
        {"forget", json::object{}, "id"},
        {"prune", {{"now", "2024-05-01T12:00:00"}}, "now"},
    };
    for (const auto& c : calls) {
        const auto e = fails(*h, c.op, c.args);
        BOOST_TEST(static_cast<int>(e.code) == static_cast<int>(status_code::invalid_argument),
                   c.op << " " << json::serialize(c.args));
        BOOST_TEST(contains(e.message, c.field), c.op << ": \"" << e.message << "\" does not name " << c.field);
    }
    BOOST_TEST(dump(env.database()) == before);
}

BOOST_AUTO_TEST_CASE(a_store_failing_mid_transaction_leaves_everything_as_it_was) {
    memory_env env;
    auto h = env.start();
    // An expired memory holding key "k": the next store with "k" first deletes it, then inserts.
    store(*h, {{"session_id", "s"},
               {"content", "old"},
               {"idempotency_key", "k"},
               {"created_at", at(t0)},
               {"ttl_seconds", 60}});
    store(*h, {{"session_id", "s"}, {"content", "bystander"}});
    // Make the insert fail after the delete has run, inside the same transaction.
    open_raw(env.database())
        .exec(
            "CREATE TRIGGER inject_failure AFTER INSERT ON memories WHEN new.content = 'poison'"
            " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    const auto before = dump(env.database());

    const auto e = fails(*h, "store", {{"session_id", "s"}, {"content", "poison"}, {"idempotency_key", "k"}});
    BOOST_TEST(static_cast<int>(e.code) == static_cast<int>(status_code::failed_precondition), e.to_string());
    BOOST_TEST(contains(e.message, "injected failure"));
    BOOST_TEST(dump(env.database()) == before);  // the expired "old" is still there: the delete rolled back
    check_integrity(env.database());
    // And the tool goes on working.
    BOOST_TEST(ok(*h, "store", {{"session_id", "s"}, {"content", "fine"}, {"idempotency_key", "k"}})
                   .at("replayed")
                   .as_bool() == false);
}

BOOST_AUTO_TEST_CASE(a_forget_failing_half_way_through_a_session_deletes_nothing) {
    memory_env env;
    auto h = env.start();
    store(*h, {{"session_id", "s"}, {"content", "first note"}});
    store(*h, {{"session_id", "s"}, {"content", "undeletable note"}});
    store(*h, {{"session_id", "s"}, {"content", "last note"}});
    open_raw(env.database())
        .exec(
            "CREATE TRIGGER inject_failure BEFORE DELETE ON memories WHEN old.content = 'undeletable note'"
            " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    const auto before = dump(env.database());
    fails(*h, "forget", {{"session_id", "s"}});
    BOOST_TEST(dump(env.database()) == before);
    check_integrity(env.database());
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "note"}})).size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_locked_database_is_unavailable_and_keeps_its_data) {
    memory_env env;
    auto h = env.start({{"busy_timeout_ms", 50}});
    const auto id = store(*h, {{"session_id", "s"}, {"content", "stored before the lock"}});
    const auto before = dump(env.database());
    {
        // Another process (here: another connection) holds the write lock with a change pending.
        auto other = open_raw(env.database());
        other.exec("BEGIN IMMEDIATE");
        other.exec("INSERT INTO memory_meta (key, value) VALUES ('held', 'by the test')");
        const auto e = fails(*h, "store", {{"session_id", "s"}, {"content", "must wait"}});
        BOOST_TEST(static_cast<int>(e.code) == static_cast<int>(status_code::unavailable), e.to_string());
        BOOST_TEST(contains(e.message, "memory.db"), e.message);  // names the file
        // Readers are not blocked by a writer (WAL), and do not see its uncommitted change.
        BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "lock"}})) == std::vector<int64_t>{id});
        other.exec("ROLLBACK");
    }
    BOOST_TEST(dump(env.database()) == before);
    store(*h, {{"session_id", "s"}, {"content", "after the lock"}});
    BOOST_TEST(count_rows(env.database()) == 2);
}

BOOST_AUTO_TEST_CASE(waiting_for_a_lock_never_outlasts_the_call_deadline) {
    memory_env env;
    auto h = env.start({{"busy_timeout_ms", 600000}});  // ten minutes
    auto other = open_raw(env.database());
    other.exec("BEGIN IMMEDIATE");
    toolhost::call_options options;
    options.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    const auto e = fails(*h, "store", {{"session_id", "s"}, {"content", "x"}}, options);
    const bool gave_up = e.code == status_code::deadline_exceeded || e.code == status_code::unavailable;
    BOOST_TEST(gave_up, e.to_string());
    // The lock is held until shutdown (which waits for the plugin call to return) is over: if the
    // tool waited the configured ten minutes, the test would hang here until ctest's timeout
    // (600 s, tests/plugins/CMakeLists.txt) failed it.
    h->shutdown();
    other.exec("ROLLBACK");
    BOOST_TEST(count_rows(env.database()) == 0);
}

BOOST_AUTO_TEST_CASE(bad_configuration_or_files_stop_the_tool_from_starting) {
    memory_env env;
    auto e = env.start_error({{"weights", {{"relevance", 0}, {"recency", 0}, {"importance", 0}}}});
    BOOST_TEST(contains(e.message, "weights"), e.to_string());

    e = env.start_error({{"seed_sample", true}, {"sample_file", (env.dir / "missing.json").string()}});
    BOOST_TEST(contains(e.message, "sample_file"), e.to_string());

    fs::create_directories(env.database().parent_path());
    toolhost::test::write_file(env.database(), std::string(8192, 'x'));  // not a database
    e = env.start_error({});
    BOOST_TEST(static_cast<int>(e.code) == static_cast<int>(status_code::data_loss), e.to_string());
    BOOST_TEST(contains(e.message, "memory.db"), e.to_string());

    fs::remove(env.database());
    open_raw(env.database()).exec("PRAGMA user_version = 99");  // written by a newer version
    e = env.start_error({});
    BOOST_TEST(static_cast<int>(e.code) == static_cast<int>(status_code::failed_precondition), e.to_string());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sample)

BOOST_AUTO_TEST_CASE(is_seeded_once_and_stays_forgotten) {
    memory_env env;
    const json::object config{{"seed_sample", true}, {"sample_file", TOOLHOST_MEMORY_SAMPLE}};
    {
        auto h = env.start(config);
        const auto listed = ok(*h, "list", {{"session_id", "demo"}, {"limit", 200}});
        BOOST_TEST(listed.at("memories").as_array().size() == 12u);
        const auto r = ok(*h, "recall", {{"session_id", "demo"}, {"query", "vegetarian restaurant"}});
        BOOST_TEST_REQUIRE(!r.at("memories").as_array().empty());
        BOOST_TEST(contains(std::string(r.at("memories").at(0).at("content").as_string()), "vegetarian"));
        BOOST_TEST(ok(*h, "forget", {{"session_id", "demo"}}).at("forgotten").as_int64() == 12);
        h->shutdown();
    }
    auto h = env.start(config);  // a later start does not bring the demo back
    BOOST_TEST(ids_of(ok(*h, "list", {{"session_id", "demo"}})).empty());
}

BOOST_AUTO_TEST_CASE(is_found_next_to_the_plugin_by_default_and_can_be_turned_off) {
    memory_env env;
    fs::create_directories(env.plugins / "memory" / "sample");
    fs::copy_file(TOOLHOST_MEMORY_SAMPLE, env.plugins / "memory" / "sample" / "demo.json");
    {
        temp_dir off;
        auto h = env.start({{"database", (off / "m.db").string()}});  // seed_sample false
        BOOST_TEST(ids_of(ok(*h, "list", {{"session_id", "demo"}})).empty());
    }
    auto h = env.start({{"seed_sample", true}});
    BOOST_TEST(ids_of(ok(*h, "list", {{"session_id", "demo"}, {"limit", 200}})).size() == 12u);
}

BOOST_AUTO_TEST_CASE(a_broken_sample_names_the_entry_and_field) {
    memory_env env;
    const auto file = env.dir / "broken.json";
    toolhost::test::write_file(file, R"({"memories":[{"session_id":"demo","content":"ok"},
                                                     {"session_id":"demo","content":"x","importance":2}]})");
    const auto e = env.start_error({{"seed_sample", true}, {"sample_file", file.string()}});
    BOOST_TEST(contains(e.message, "memories/1/importance"), e.to_string());
    BOOST_TEST(count_rows(env.database()) == 0);  // all or nothing: not even the first entry
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(concurrency_and_durability)

BOOST_AUTO_TEST_CASE(threads_of_one_host_store_and_recall_at_once) {
    memory_env env;
    auto h = env.start({}, 8);
    constexpr int threads = 8, per_thread = 25;
    std::mutex m;
    std::set<int64_t> ids;
    std::atomic<int> failures{0};
    {
        std::vector<std::jthread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) {
                    const auto s = h->call("memory", "store",
                                           {{"session_id", "shared"},
                                            {"content", "thread " + std::to_string(t) + " item " + std::to_string(i)}});
                    const auto r =
                        h->call("memory", "recall", {{"session_id", "shared"}, {"query", "item"}, {"limit", 5}});
                    if (!s || !r) {
                        ++failures;
                        continue;
                    }
                    std::lock_guard lock(m);
                    ids.insert(json::parse(*s).at("id").as_int64());
                }
            });
    }
    BOOST_TEST(failures.load() == 0);
    BOOST_TEST(ids.size() == static_cast<size_t>(threads * per_thread));
    BOOST_TEST(count_rows(env.database()) == threads * per_thread);
    check_integrity(env.database());
}

BOOST_AUTO_TEST_CASE(processes_that_create_a_new_file_together_all_start) {
    // Two processes that open a file neither has created yet both switch it to WAL, which needs
    // an exclusive lock; SQLite reports that contention as SQLITE_BUSY at once, without waiting
    // in its busy handler. Both must start anyway. (Without the retry in sqlite::database::open,
    // most rounds fail.)
    for (int round = 0; round < 10; ++round) {
        memory_env env;
        writer_process a(env, "a", 1, "normal");
        writer_process b(env, "b", 1, "normal");
        BOOST_TEST(a.read_line().has_value(), a.errors());
        BOOST_TEST(b.read_line().has_value(), b.errors());
        BOOST_TEST(a.wait() == 0, a.errors());
        BOOST_TEST(b.wait() == 0, b.errors());
        BOOST_TEST(count_rows(env.database()) == 2);
    }
}

BOOST_AUTO_TEST_CASE(two_processes_write_the_same_database) {
    memory_env env;
    constexpr int per_process = 150;
    writer_process a(env, "a", per_process, "normal");
    writer_process b(env, "b", per_process, "normal");
    std::vector<ack> acks_a, acks_b;
    while (auto line = a.read_line()) acks_a.push_back(parse_ack(*line));
    while (auto line = b.read_line()) acks_b.push_back(parse_ack(*line));
    BOOST_TEST(a.wait() == 0, a.errors());
    BOOST_TEST(b.wait() == 0, b.errors());
    BOOST_TEST_REQUIRE(acks_a.size() == static_cast<size_t>(per_process));
    BOOST_TEST_REQUIRE(acks_b.size() == static_cast<size_t>(per_process));

    auto db = open_raw(env.database());
    std::set<int64_t> ids;
    for (const auto& [acks, tag] : {std::pair{&acks_a, "a"}, std::pair{&acks_b, "b"}}) {
        for (const auto& k : *acks) {
            ids.insert(k.id);
            BOOST_TEST(content_of(db, k.id) == "entry " + std::to_string(k.n) + " from " + tag);
        }
    }
    BOOST_TEST(ids.size() == static_cast<size_t>(2 * per_process));  // no id handed out twice
    BOOST_TEST(count_rows(env.database()) == 2 * per_process);
    check_integrity(env.database());
}

// Starts a writer, kills it with SIGKILL while it stores, and checks the file.
void kill_a_writer_and_check(const std::string& synchronous) {
    memory_env env;
    std::vector<ack> acks;
    {
        writer_process w(env, "killed", 0, synchronous);
        while (acks.size() < 150) {
            auto line = w.read_line();
            BOOST_TEST_REQUIRE(line.has_value(), "the writer stopped early: " << w.errors());
            acks.push_back(parse_ack(*line));
        }
        w.kill();  // while it is still storing: it never stops on its own
        while (auto line = w.read_line()) acks.push_back(parse_ack(*line));
        BOOST_TEST(w.wait() == 128 + SIGKILL);
    }
    BOOST_TEST_MESSAGE(synchronous << ": " << acks.size() << " stores acknowledged before the kill");

    check_integrity(env.database());
    {
        auto db = open_raw(env.database());
        for (const auto& k : acks) BOOST_TEST(content_of(db, k.id) == "entry " + std::to_string(k.n) + " from killed");
        // At most one store committed without being acknowledged (killed between commit and print),
        // and every row is whole.
        const auto rows = count_rows(env.database());
        BOOST_TEST(rows >= static_cast<int64_t>(acks.size()));
        BOOST_TEST(rows <= static_cast<int64_t>(acks.size()) + 1);
        BOOST_TEST(count_rows(env.database(), "content NOT LIKE 'entry % from killed'") == 0);
    }
    // The tool starts on the recovered file and works.
    auto h = env.start();
    const auto id = store(*h, {{"session_id", "writers"}, {"content", "after the crash"}});
    BOOST_TEST(ok(*h, "get", {{"id", id}}).at("content").as_string() == "after the crash");
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "writers"}, {"query", "crash"}})) == std::vector<int64_t>{id});
    BOOST_TEST(ok(*h, "get", {{"id", acks.back().id}}).at("content").as_string() ==
               "entry " + std::to_string(acks.back().n) + " from killed");
    check_integrity(env.database());
}

BOOST_AUTO_TEST_CASE(a_killed_writer_loses_nothing_acknowledged_synchronous_full) { kill_a_writer_and_check("full"); }

BOOST_AUTO_TEST_CASE(a_killed_writer_loses_nothing_acknowledged_synchronous_normal) {
    kill_a_writer_and_check("normal");
}

BOOST_AUTO_TEST_SUITE_END()
