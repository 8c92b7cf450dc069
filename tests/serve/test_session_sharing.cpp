// 2025-era MCP sessions shared between two HTTP servers through a serve::cluster (the seam that
// toolhost serve fills with PostgreSQL: host/app/cluster, tested for real with three processes,
// nginx and PostgreSQL in tests/mcp/cluster.test.mjs). Here the two servers run in one process
// with a cluster kept in memory, so that the ASan and TSan presets see the sharing thread, the
// look-ups off the I/O threads and the take-over: a session opened on A goes on on B with what it
// negotiated; a session B cannot find, or that another client opened, is 404; a DELETE on B ends
// it for both; a store that fails leaves the session serving on its own host.
#define BOOST_TEST_MODULE session_sharing
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>
#include <toolhost/serve/cluster.hpp>
#include <toolhost/serve/http_server.hpp>
#include <toolhost/serve/mcp.hpp>

#include "test_support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>

using namespace toolhost;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using toolhost::test::contains;
using toolhost::test::temp_dir;

namespace {

// A serve::cluster that keeps everything in this process: what several servers in one process
// would share. `down` makes every call fail, as a database that went away.
class memory_cluster final : public serve::cluster {
public:
    std::atomic<bool> down{false};
    std::atomic<int> loads{0};

    std::string describe() const override { return "memory"; }
    void save_session(const serve::shared_session& s) override {
        std::lock_guard l(m_);
        check();
        sessions_[s.id] = s;
    }
    void touch_session(std::string_view) override { check(); }
    std::optional<serve::shared_session> load_session(std::string_view id) override {
        ++loads;
        std::lock_guard l(m_);
        check();
        auto it = sessions_.find(std::string(id));
        if (it == sessions_.end()) return std::nullopt;
        return it->second;
    }
    void drop_session(std::string_view id) override {
        std::lock_guard l(m_);
        check();
        sessions_.erase(std::string(id));
    }
    int64_t expire_sessions(int64_t) override { return 0; }
    std::vector<serve::node_report> heartbeat(std::string_view, std::string_view, int64_t) override { return {}; }
    void announce_tools_changed(std::string_view, std::string_view) override {}
    bool listen(int, const std::function<void(std::string_view, std::string_view)>&, std::string&) override {
        return true;
    }

    std::optional<serve::shared_session> stored(const std::string& id) {
        std::lock_guard l(m_);
        auto it = sessions_.find(id);
        return it == sessions_.end() ? std::nullopt : std::optional(it->second);
    }

private:
    void check() const {
        if (down) throw std::runtime_error("the store is down");
    }
    std::mutex m_;
    std::map<std::string, serve::shared_session> sessions_;
};

// One server: its own host (the testkit fixture), engine and HTTP server, sharing `c`.
struct server {
    temp_dir dir;
    std::unique_ptr<host> h;
    std::unique_ptr<mcp::server> mcp;
    std::unique_ptr<serve::http_server> http;

    server(const std::string& node, std::shared_ptr<serve::cluster> c, serve_settings s = {}) {
        h = std::make_unique<host>(toolhost::test::testkit_config(dir.path(), 2));
        h->load_plugins();
        BOOST_TEST_REQUIRE(h->start({}).ok());
        mcp = std::make_unique<mcp::server>(*h, mcp::server_options{});
        s.listen = "127.0.0.1:0";
        s.node_id = node;
        http = std::make_unique<serve::http_server>(*h, *mcp, s);
        http->set_cluster(std::move(c));
        auto started = http->start(2);
        BOOST_TEST_REQUIRE(started.has_value());
    }
    ~server() {
        http->stop(5s);
        http.reset();
        h->shutdown();  // before the engine: a call that completes late uses it
        mcp.reset();
    }
};

struct reply {
    unsigned status = 0;
    std::string session;  // Mcp-Session-Id
    std::string body;
};

// One request on a new connection, from `from` (a loopback address: the client's identity).
reply request(const server& s, bhttp::verb verb, const std::string& body, const std::string& session = {},
              const std::string& from = "127.0.0.1") {
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    sock.open(asio::ip::tcp::v4());
    sock.bind({asio::ip::make_address(from), 0});
    sock.connect({asio::ip::make_address("127.0.0.1"), s.http->port()});
    bhttp::request<bhttp::string_body> req{verb, "/mcp", 11};
    req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(s.http->port()));
    req.set(bhttp::field::accept, "application/json, text/event-stream");
    req.set(bhttp::field::content_type, "application/json");
    req.set("MCP-Protocol-Version", "2025-11-25");
    if (!session.empty()) req.set("Mcp-Session-Id", session);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(sock, req);
    boost::beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(sock, buf, res);
    return {res.result_int(), std::string(res["Mcp-Session-Id"]), res.body()};
}

std::string rpc(int id, const std::string& method, const json::object& params = {}) {
    return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
}

// initialize in an older revision (2025-03-26: tools without outputSchema), with sampling (a
// capability B must learn from the store), + notifications/initialized.
std::string open_session(const server& s, const std::string& from = "127.0.0.1") {
    auto r = request(s, bhttp::verb::post,
                     rpc(1, "initialize",
                         {{"protocolVersion", "2025-03-26"},
                          {"capabilities", {{"sampling", json::object{}}}},
                          {"clientInfo", {{"name", "t"}, {"version", "1"}}}}),
                     {}, from);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto n =
        request(s, bhttp::verb::post, R"({"jsonrpc":"2.0","method":"notifications/initialized"})", r.session, from);
    BOOST_TEST_REQUIRE(n.status == 202u);
    return r.session;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_session_opened_on_one_host_goes_on_on_another) {
    auto store = std::make_shared<memory_cluster>();
    server a("alpha", store), b("beta", store);
    const std::string id = open_session(a);
    BOOST_TEST(id.starts_with("alpha."));
    auto level = request(a, bhttp::verb::post, rpc(2, "logging/setLevel", {{"level", "error"}}), id);
    BOOST_TEST_REQUIRE(level.status == 200u);
    // Written behind the requests, off the I/O threads: eventually all of it.
    BOOST_TEST_REQUIRE(toolhost::test::eventually(
        [&] {
            auto s = store->stored(id);
            return s && s->client_ready && s->log_threshold != TOOLHOST_LOG_INFO;
        },
        10s));
    const auto saved = *store->stored(id);
    BOOST_TEST(saved.version == "2025-03-26");
    BOOST_TEST(saved.client_capabilities.contains("sampling"));

    // B never saw it: it reads it from the store and answers in the session's revision (a
    // session of the latest revision gets output schemas; this one does not).
    auto listed = request(b, bhttp::verb::post, rpc(3, "tools/list"), id);
    BOOST_TEST(listed.status == 200u, listed.body);
    BOOST_TEST(contains(listed.body, "testkit"), listed.body);
    BOOST_TEST(!contains(listed.body, "outputSchema"), listed.body);
    auto latest = request(b, bhttp::verb::post,
                          rpc(1, "initialize",
                              {{"protocolVersion", "2025-11-25"},
                               {"capabilities", json::object{}},
                               {"clientInfo", {{"name", "t"}, {"version", "1"}}}}));
    BOOST_TEST_REQUIRE(latest.status == 200u);
    BOOST_TEST(contains(request(b, bhttp::verb::post, rpc(2, "tools/list"), latest.session).body, "outputSchema"));
    auto called = request(b, bhttp::verb::post,
                          rpc(4, "tools/call", {{"name", "testkit_mt_echo"}, {"arguments", {{"x", 1}}}}), id);
    BOOST_TEST(called.status == 200u, called.body);
    BOOST_TEST(contains(called.body, R"(\"x\":1)"), called.body);
    BOOST_TEST(b.http->sessions() == 2u);  // taken over, and the one opened there
    BOOST_TEST(store->loads.load() == 1);  // once taken over, it is B's own

    // A DELETE on B ends it in the store too.
    BOOST_TEST(request(b, bhttp::verb::delete_, {}, id).status == 200u);
    BOOST_TEST_REQUIRE(toolhost::test::eventually([&] { return !store->stored(id); }, 10s));
}

BOOST_AUTO_TEST_CASE(a_request_that_takes_a_session_over_counts_once_against_the_clients_rate) {
    // One call of testkit_mt per client, then none for a long while: the request that makes B take
    // the session over is that one call (it is handled twice inside B: before the take-over and
    // after it), and only the next one is refused.
    serve_settings limited;
    limited.rate_limit.tools = {{"testkit_mt", {.per_second = 0.001, .burst = 1}}};
    auto store = std::make_shared<memory_cluster>();
    server a("alpha", store), b("beta", store, limited);
    const std::string id = open_session(a);
    BOOST_TEST_REQUIRE(toolhost::test::eventually(
        [&] {
            auto s = store->stored(id);
            return s && s->client_ready;
        },
        10s));
    const auto call = rpc(2, "tools/call", {{"name", "testkit_mt_echo"}, {"arguments", {{"x", 1}}}});
    auto first = request(b, bhttp::verb::post, call, id);
    BOOST_TEST(first.status == 200u, first.body);
    BOOST_TEST(contains(first.body, R"(\"x\":1)"), first.body);
    BOOST_TEST(store->loads.load() == 1);
    auto second = request(b, bhttp::verb::post, call, id);
    BOOST_TEST(second.status == 429u, second.body);
    BOOST_TEST(contains(second.body, "serve.http.rate_limit.tools"), second.body);
}

BOOST_AUTO_TEST_CASE(a_session_nobody_stored_or_another_client_opened_is_not_found) {
    auto store = std::make_shared<memory_cluster>();
    server a("alpha", store), b("beta", store);
    // Of our shape but stored nowhere: looked up, then 404 (the client initializes again).
    auto unknown = request(b, bhttp::verb::post, rpc(1, "tools/list"), "alpha.0123456789abcdef0123456789abcdef");
    BOOST_TEST(unknown.status == 404u, unknown.body);
    // Not of our shape: 404 without a look-up.
    const int loads = store->loads.load();
    BOOST_TEST(request(b, bhttp::verb::post, rpc(1, "tools/list"), "x").status == 404u);
    BOOST_TEST(request(b, bhttp::verb::post, rpc(1, "tools/list"), std::string(300, 'a')).status == 404u);
    BOOST_TEST(store->loads.load() == loads);

    // Opened by 127.0.0.1, asked for by 127.0.0.2 (another client when there is no token): 404.
    const std::string id = open_session(a);
    BOOST_TEST_REQUIRE(toolhost::test::eventually([&] { return store->stored(id).has_value(); }, 10s));
    auto other = request(b, bhttp::verb::post, rpc(2, "tools/list"), id, "127.0.0.2");
    BOOST_TEST(other.status == 404u, other.body);
    BOOST_TEST(b.http->sessions() == 0u);
    // Its own client's request is: B takes the session over.
    BOOST_TEST(request(b, bhttp::verb::post, rpc(3, "ping"), id).status == 200u);
    BOOST_TEST(b.http->sessions() == 1u);
}

BOOST_AUTO_TEST_CASE(a_store_that_fails_leaves_sessions_serving_on_their_own_host) {
    auto store = std::make_shared<memory_cluster>();
    server a("alpha", store), b("beta", store);
    store->down = true;
    const std::string id = open_session(a);  // initialize does not wait for the store
    BOOST_TEST(request(a, bhttp::verb::post, rpc(2, "tools/list"), id).status == 200u);
    // B cannot read it: 404, the client starts over.
    BOOST_TEST(request(b, bhttp::verb::post, rpc(2, "tools/list"), id).status == 404u);
    store->down = false;
    // The next change is written: B can take it over from then on.
    BOOST_TEST(request(a, bhttp::verb::post, rpc(3, "logging/setLevel", {{"level", "debug"}}), id).status == 200u);
    BOOST_TEST_REQUIRE(toolhost::test::eventually([&] { return store->stored(id).has_value(); }, 10s));
    BOOST_TEST(request(b, bhttp::verb::post, rpc(4, "tools/list"), id).status == 200u);
}
