// What a hostile client sends, through the real `toolhost serve` (issue 15): every JSON-RPC and
// MCP message shape over stdio and HTTP (none may end the process or leak internals), JSON that
// is wrong at its very end (rejected in one pass), nesting (one limit, serve.json_max_depth, for
// every entry point), numbers no C++ number holds (1e309, integers beyond 64 bits), and strings
// with NUL against maxLength. Each server is a `toolhost serve` child process; HTTP is spoken
// over loopback with Beast, with socket time limits so that a broken server fails the test
// instead of hanging it.
#define BOOST_TEST_MODULE serve_hostile_input
#include <boost/test/unit_test.hpp>

#include <toolhost/serve/mcp.hpp>

#include "test_support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using namespace toolhost;
using toolhost::test::contains;
using toolhost::test::temp_dir;

namespace {

// ------------------------------------------------------------------------------- the servers

// A folder with the testkit fixture (and, when asked, the bundled rag tool with its sample) and
// a configuration file whose "serve" section is `serve`.
struct served_folder {
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    fs::path conf = dir / "toolhost.json";

    explicit served_folder(const std::string& serve = "{}", bool with_rag = false) {
        fs::create_directory(plugins);
        toolhost::test::copy_into(TOOLHOST_FIXTURE_TESTKIT, plugins, "testkit.so");
        if (with_rag) {
#ifdef TOOLHOST_RAG_PLUGIN
            const fs::path rag(TOOLHOST_RAG_PLUGIN);
            toolhost::test::copy_into(rag, plugins, "rag.so");
            if (fs::is_directory(rag.parent_path() / "rag" / "sample")) {
                fs::create_directories(plugins / "rag" / "sample");
                fs::copy(rag.parent_path() / "rag" / "sample", plugins / "rag" / "sample", fs::copy_options::recursive);
            }
#endif
        }
        toolhost::test::write_file(conf, R"({"log_level": "warning", "data_dir": ")" + (dir / "var").string() +
                                             R"(", "serve": )" + serve + "}");
    }
    std::vector<std::string> args(std::initializer_list<std::string> more) const {
        std::vector<std::string> a{TOOLHOST_TEST_EXE, "--no-default-plugins", "--plugin-dir", plugins.string(),
                                   "--config",        conf.string()};
        a.insert(a.end(), more);
        return a;
    }
};

const std::map<std::string, std::string> quiet_env{{"TOOLHOST_PLUGIN_PATH", ""}, {"TOOLHOST_CONFIG", ""}};

// `toolhost serve --stdio` fed `lines`, to the end of its input; its stdout as JSON values.
struct stdio_run {
    toolhost::test::process_result process;
    std::vector<json::value> out;
};

stdio_run serve_stdio(const served_folder& f, const std::vector<std::string>& lines) {
    std::string input;
    for (const auto& l : lines) input += l + "\n";
    stdio_run r{toolhost::test::run_process(f.args({"serve", "--stdio"}), input, quiet_env), {}};
    std::istringstream out(r.process.out);
    for (std::string l; std::getline(out, l);) {
        boost::system::error_code ec;
        auto v = json::parse(l, ec);
        BOOST_TEST_REQUIRE(!ec, "stdout carries only JSON-RPC lines, got: " + l);
        r.out.push_back(std::move(v));
    }
    return r;
}

struct http_answer {
    unsigned status = 0;
    std::string session;  // Mcp-Session-Id
    std::string body;
};

// `toolhost serve --http 127.0.0.1:0` until the test ends.
class http_serving {
public:
    explicit http_serving(const served_folder& f)
        : process_(f.args({"serve", "--http", "127.0.0.1:0", "--port-file", (f.dir / "port").string()}), f.dir.path(),
                   quiet_env) {
        const auto port_file = f.dir / "port";
        BOOST_TEST_REQUIRE(
            toolhost::test::eventually([&] { return fs::exists(port_file) && fs::file_size(port_file) > 0; },
                                       std::chrono::seconds(30)),
            process_.err());
        port_ = static_cast<unsigned short>(std::stoul(toolhost::test::read_file(port_file)));
    }

    // One request on a connection of its own.
    http_answer post(const std::string& target, std::string body, const std::string& session = {}) {
        asio::io_context io;
        asio::ip::tcp::socket sock(io);
        sock.connect({asio::ip::make_address("127.0.0.1"), port_});
        timeval limit{30, 0};  // a server that never answers fails the read instead of hanging
        ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
        req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port_));
        req.set(bhttp::field::content_type, "application/json");
        req.set(bhttp::field::accept, "application/json, text/event-stream");
        if (!session.empty()) req.set("Mcp-Session-Id", session);
        req.body() = std::move(body);
        req.prepare_payload();
        bhttp::write(sock, req);
        boost::beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> p;
        p.body_limit(64u << 20);
        bhttp::read(sock, buffer, p);
        const auto& res = p.get();
        return {res.result_int(), std::string(res["Mcp-Session-Id"]), res.body()};
    }

    // initialize and notifications/initialized: the session's id.
    std::string open_session() {
        auto r = post("/mcp", R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":)"
                              R"("2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
        BOOST_TEST_REQUIRE(r.status == 200u, r.body);
        BOOST_TEST_REQUIRE(!r.session.empty());
        BOOST_TEST_REQUIRE(
            post("/mcp", R"({"jsonrpc":"2.0","method":"notifications/initialized"})", r.session).status == 202u);
        return r.session;
    }

    bool running() { return process_.running(); }
    int stop() { return process_.stop(SIGTERM); }
    std::string log() const { return process_.err(); }

private:
    toolhost::test::background_process process_;
    unsigned short port_ = 0;
};

// Nothing of the server's insides in what a client reads.
bool leaks_internals(std::string_view body) {
    for (std::string_view needle : {"boost", "Boost", ".hpp", ".cpp", "/usr/", "what()"})
        if (contains(body, needle)) return true;
    return false;
}

// ------------------------------------------------------------------------------ message shapes

// What a message must get: no answer at all (responses, notifications), or a JSON-RPC answer
// with this id and a result or an error code.
struct outcome {
    bool answered = false;
    json::value id;
    std::optional<int> error;  // empty: a result
};
const outcome nothing{};
outcome result(json::value id) { return {true, std::move(id), std::nullopt}; }
outcome error(json::value id, int code) { return {true, std::move(id), code}; }

struct shape {
    std::string message;
    outcome expected;
};

const std::string huge_id = "18446744073709551615";  // above INT64_MAX: the probe's id

// Shapes that get the same answer before and after initialize.
std::vector<shape> shapes_at_any_time() {
    using mcp::invalid_params;
    using mcp::invalid_request;
    using mcp::parse_error;
    return {
        // Responses to requests the server never sent, with every kind of id, and malformed ones.
        {R"({"jsonrpc":"2.0","id":)" + huge_id + R"(,"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":)" + huge_id + R"(,"error":{"code":-1,"message":"x"}})", nothing},
        {R"({"jsonrpc":"2.0","id":-9223372036854775808,"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":-1,"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":1,"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":1.5,"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":1e400,"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":123456789012345678901234567890,"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":"r","result":null})", nothing},
        {R"({"jsonrpc":"2.0","id":null,"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":{"a":1},"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":[1],"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":true,"result":{}})", nothing},
        {R"({"jsonrpc":"2.0","id":2,"result":{},"error":{"code":1,"message":"both"}})", nothing},
        {R"({"jsonrpc":"2.0","id":3,"error":"not an object"})", nothing},
        {R"({"jsonrpc":"2.0","id":4,"error":null})", nothing},
        {R"({"jsonrpc":"2.0","id":"no-result"})", error("no-result", invalid_request)},
        {R"({"jsonrpc":"2.0","result":{}})", error(nullptr, invalid_request)},
        // Requests with odd ids: valid ones are echoed, the rest get an error without an id.
        {R"({"jsonrpc":"2.0","id":)" + huge_id + R"(,"method":"ping"})",
         result(json::value(std::numeric_limits<std::uint64_t>::max()))},
        {R"({"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping"})",
         result(json::value(std::numeric_limits<std::int64_t>::min()))},
        {R"({"jsonrpc":"2.0","id":"","method":"ping"})", result("")},
        {R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", error(nullptr, invalid_request)},
        {R"({"jsonrpc":"2.0","id":1e400,"method":"ping"})", error(nullptr, invalid_request)},
        {R"({"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"})", error(nullptr, invalid_request)},
        {R"({"jsonrpc":"2.0","id":null,"method":"ping"})", error(nullptr, invalid_request)},
        {R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})", error(nullptr, invalid_request)},
        {R"({"jsonrpc":"2.0","id":[],"method":"ping"})", error(nullptr, invalid_request)},
        {R"({"jsonrpc":"2.0","id":false,"method":"ping"})", error(nullptr, invalid_request)},
        // Params of the wrong type.
        {R"({"jsonrpc":"2.0","id":"p1","method":"ping","params":null})", error("p1", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"p2","method":"ping","params":"x"})", error("p2", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"p3","method":"ping","params":[1]})", error("p3", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"p4","method":"ping","params":1e400})", error("p4", invalid_params)},
        // Not JSON-RPC 2.0.
        {R"({"jsonrpc":"1.0","id":"v1","method":"ping"})", error("v1", invalid_request)},
        {R"({"jsonrpc":2.0,"id":"v2","method":"ping"})", error("v2", invalid_request)},
        {R"({"id":"v3","method":"ping"})", error("v3", invalid_request)},
        {R"({"jsonrpc":"2.0","id":"m1","method":null})", error("m1", invalid_request)},
        {R"({"jsonrpc":"2.0","id":"m2","method":["ping"]})", error("m2", invalid_request)},
        {R"({"jsonrpc":"2.0","id":"m3","method":7})", error("m3", invalid_request)},
        {"[]", error(nullptr, invalid_request)},
        {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", error(nullptr, invalid_request)},
        {R"("ping")", error(nullptr, invalid_request)},
        {"42", error(nullptr, invalid_request)},
        {"null", error(nullptr, invalid_request)},
        {"{}", error(nullptr, invalid_request)},
        // Notifications: never answered, whatever they carry.
        {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{"a":1}}})", nothing},
        {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":)" + huge_id + "}}", nothing},
        {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1e400}})", nothing},
        {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":[]})", nothing},
        {R"({"jsonrpc":"2.0","method":"notifications/whatever","params":"x"})", nothing},
        // Not JSON.
        {R"({"jsonrpc":"2.0","id":1,"method":"ping")", error(nullptr, parse_error)},
        {R"({"jsonrpc":"2.0","id":1,"method":"ping"}x)", error(nullptr, parse_error)},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffng\"}", error(nullptr, parse_error)},
    };
}

// Shapes of an initialized session.
std::vector<shape> shapes_once_initialized() {
    using mcp::invalid_params;
    using mcp::invalid_request;
    using mcp::resource_not_found;
    return {
        {R"({"jsonrpc":"2.0","id":"l1","method":"tools/list","params":{"cursor":7}})", error("l1", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"l2","method":"tools/list","params":{"cursor":"page:99999999999999999999999"}})",
         error("l2", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"l3","method":"tools/list","params":{"cursor":"page:-1"}})",
         error("l3", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"l4","method":"tools/list","params":{"cursor":null}})", result("l4")},
        {R"({"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":7}})", error("c1", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"c2","method":"tools/call","params":{}})", error("c2", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"c3","method":"tools/call","params":{"name":"testkit_echo","arguments":[1]}})",
         error("c3", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"c4","method":"tools/call","params":{"name":"testkit_echo","arguments":"x"}})",
         error("c4", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"c5","method":"tools/call","params":{"name":"no_such_tool"}})",
         error("c5", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"c6","method":"tools/call","params":{"name":"testkit_echo","arguments":null,)"
         R"("_meta":[]}})",
         result("c6")},
        {R"({"jsonrpc":"2.0","id":"c7","method":"tools/call","params":{"name":"testkit_echo","arguments":{},)"
         R"("_meta":{"progressToken":{"a":1},"traceparent":5}}})",
         result("c7")},
        {R"({"jsonrpc":"2.0","id":"c8","method":"tools/call","params":{"name":"testkit_echo","arguments":{},)"
         R"("_meta":{"progressToken":1e400,"traceparent":"00-zz"}}})",
         result("c8")},
        {R"({"jsonrpc":"2.0","id":"s1","method":"logging/setLevel","params":{"level":5}})",
         error("s1", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"s2","method":"logging/setLevel","params":{}})", error("s2", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"u1","method":"resources/read","params":{}})", error("u1", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"u2","method":"resources/read","params":{"uri":{"a":1}}})",
         error("u2", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"u3","method":"prompts/get","params":{"name":"p","arguments":[1]}})",
         error("u3", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"u4","method":"completion/complete","params":{"ref":"x","argument":5}})",
         error("u4", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"u5","method":"resources/list","params":{"cursor":"res:99999999999999999999:"}})",
         error("u5", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"u6","method":"resources/subscribe","params":{"uri":"x"}})",
         error("u6", resource_not_found)},
        {R"({"jsonrpc":"2.0","id":"u7","method":"resources/unsubscribe","params":{"uri":["x"]}})",
         error("u7", invalid_params)},
        {R"({"jsonrpc":"2.0","id":"i1","method":"initialize","params":{"protocolVersion":"2025-11-25"}})",
         error("i1", invalid_request)},
    };
}

// Whether `got` is the answer `want` describes.
bool matches(const json::value& got, const outcome& want) {
    const auto* o = got.if_object();
    if (o == nullptr || !o->contains("id") || o->at("id") != want.id) return false;
    if (!want.error) return o->contains("result") && !o->contains("error");
    const auto* e = o->if_contains("error");
    return e != nullptr && e->is_object() && e->as_object().contains("code") &&
           e->at("code").to_number<int>() == *want.error && e->at("message").is_string() &&
           !leaks_internals(e->at("message").as_string());
}

const std::string initialize_line = R"({"jsonrpc":"2.0","id":"init","method":"initialize","params":)"
                                    R"({"protocolVersion":"2025-11-25","capabilities":"none","clientInfo":7}})";

// A request for `method` whose params nest arrays down to `depth` levels in all.
std::string nested_message(std::string_view id, std::size_t depth) {
    // {"jsonrpc":..,"params":{"d": [ [ ... ] ]}}: the message, params and depth - 2 arrays.
    return R"({"jsonrpc":"2.0","id":")" + std::string(id) + R"(","method":"ping","params":{"d":)" +
           std::string(depth - 2, '[') + std::string(depth - 2, ']') + "}}";
}

std::string nested_arguments(std::size_t depth) {  // an object with depth - 1 arrays in it
    return R"({"d":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

std::string echo_call(std::string_view id, std::string_view arguments) {
    return R"({"jsonrpc":"2.0","id":")" + std::string(id) +
           R"(","method":"tools/call","params":{"name":"testkit_echo","arguments":)" + std::string(arguments) + "}}";
}

// "r3" (built in steps: GCC 12 warns, -Wrestrict, on "r" + std::to_string(i)).
std::string numbered(std::string_view prefix, std::size_t i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}

// The text of a tools/call result that is a tool error.
std::string tool_error_text(const json::value& response) {
    const auto* r = response.as_object().if_contains("result");
    if (r == nullptr || !r->as_object().contains("isError") || !r->at("isError").as_bool()) return {};
    return std::string(r->at("content").at(0).at("text").as_string());
}

}  // namespace

// ======================================================================== 1. message shapes

BOOST_AUTO_TEST_CASE(every_message_shape_is_answered_over_stdio_and_the_server_goes_on) {
    served_folder f;
    std::vector<shape> sent;
    // The probe's line first, before initialize: it ended the process with SIGABRT.
    for (auto& s : shapes_at_any_time()) sent.push_back(std::move(s));
    sent.push_back({R"({"jsonrpc":"2.0","id":"early","method":"tools/list"})", error("early", mcp::invalid_request)});
    sent.push_back({initialize_line, result("init")});
    sent.push_back({R"({"jsonrpc":"2.0","method":"notifications/initialized","params":[]})", nothing});
    for (auto& s : shapes_at_any_time()) sent.push_back(std::move(s));
    for (auto& s : shapes_once_initialized()) sent.push_back(std::move(s));
    sent.push_back({R"({"jsonrpc":"2.0","id":"last","method":"ping"})", result("last")});

    std::vector<std::string> lines;
    for (const auto& s : sent) lines.push_back(s.message);
    const auto run = serve_stdio(f, lines);
    BOOST_TEST(run.process.exit_code == 0, run.process.err);

    // Answers with the same id come in the order of their messages (tool calls finish on the
    // tool's threads, so answers with different ids may not).
    std::map<std::string, std::vector<const shape*>> expected;
    std::map<std::string, std::vector<json::value>> got;
    std::size_t count = 0;
    for (const auto& s : sent)
        if (s.expected.answered) {
            expected[json::serialize(s.expected.id)].push_back(&s);
            ++count;
        }
    for (const auto& a : run.out)
        got[json::serialize(a.as_object().contains("id") ? a.at("id") : json::value())].push_back(a);
    BOOST_TEST(run.out.size() == count, run.process.out);
    for (const auto& [id, shapes] : expected) {
        const auto& answers = got[id];
        BOOST_TEST_REQUIRE(answers.size() == shapes.size(), "answers with id " << id << ": " << run.process.out);
        for (std::size_t i = 0; i < shapes.size(); ++i)
            BOOST_TEST(matches(answers[i], shapes[i]->expected),
                       shapes[i]->message << "\n  got: " << json::serialize(answers[i]));
    }
}

BOOST_AUTO_TEST_CASE(every_message_shape_is_answered_over_http_without_internals) {
    served_folder f(R"({"http": {"shutdown_grace_ms": 60000}})");
    http_serving server(f);
    // Without a session, the probe's message is refused by the transport, not by an exception.
    auto early = server.post("/mcp", R"({"jsonrpc":"2.0","id":)" + huge_id + R"(,"result":{}})");
    BOOST_TEST(early.status == 400u, early.body);
    BOOST_TEST(!leaks_internals(early.body), early.body);

    const std::string session = server.open_session();
    std::vector<shape> sent = shapes_at_any_time();
    for (auto& s : shapes_once_initialized()) sent.push_back(std::move(s));
    for (const auto& s : sent) {
        const auto r = server.post("/mcp", s.message, session);
        BOOST_TEST(!leaks_internals(r.body), s.message << "\n  got: " << r.body);
        if (!s.expected.answered) {
            BOOST_TEST(r.status == 202u, s.message << "\n  got: " << r.status << " " << r.body);
            BOOST_TEST(r.body.empty());
            continue;
        }
        const unsigned status = s.expected.error == mcp::parse_error ? 400u : 200u;
        BOOST_TEST(r.status == status, s.message << "\n  got: " << r.status << " " << r.body);
        boost::system::error_code ec;
        const auto v = json::parse(r.body, ec);
        BOOST_TEST((!ec && matches(v, s.expected)), s.message << "\n  got: " << r.body);
    }
    // Still serving, and every exchange ended: the stop does not wait for the 60 s grace.
    const auto ping = server.post("/mcp", R"({"jsonrpc":"2.0","id":"last","method":"ping"})", session);
    BOOST_TEST(ping.status == 200u);
    BOOST_TEST(matches(json::parse(ping.body), result("last")), ping.body);
    const auto stopping = std::chrono::steady_clock::now();
    BOOST_TEST(server.stop() == 0, server.log());
    BOOST_TEST((std::chrono::steady_clock::now() - stopping < std::chrono::seconds(30)));
}

// ================================================================ 2. one pass over bad JSON

BOOST_AUTO_TEST_CASE(json_wrong_at_its_end_is_refused_in_one_pass_with_its_offset) {
    // A ping whose params hold close to 4 MiB of numbers (the default body limit), valid or
    // broken by its very last byte.
    std::string valid = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":[)";
    while (valid.size() < (4u << 20) - 64) valid += "1,";
    valid += "1]}}";
    std::string broken = valid;
    broken.back() = 'x';
    const std::string offset = "at offset " + std::to_string(broken.size() - 1);

    served_folder f;
    const auto run = serve_stdio(f, {broken});
    BOOST_TEST_REQUIRE(run.out.size() == 1u);
    BOOST_TEST(matches(run.out[0], error(nullptr, mcp::parse_error)));
    BOOST_TEST(contains(run.out[0].at("error").at("message").as_string(), offset), run.out[0]);

    http_serving server(f);
    const std::string session = server.open_session();
    auto timed = [&](const std::string& body, unsigned status) {
        auto best = std::chrono::steady_clock::duration::max();
        for (int i = 0; i < 3; ++i) {  // the best of three: the cost, not the machine's hiccups
            const auto start = std::chrono::steady_clock::now();
            const auto r = server.post("/mcp", body, session);
            best = std::min(best, std::chrono::steady_clock::now() - start);
            BOOST_TEST(r.status == status, r.body.substr(0, 200));
            if (status == 400u) BOOST_TEST(contains(r.body, offset), r.body);
        }
        return best;
    };
    const auto accepting = timed(valid, 200u);
    const auto refusing = timed(broken, 400u);
    BOOST_TEST_MESSAGE("4 MiB: accepted in " << std::chrono::duration<double>(accepting).count() << " s, refused in "
                                             << std::chrono::duration<double>(refusing).count() << " s");
    // Finding the offset used to parse prefixes in a binary search (about 22 parses of the
    // body); one pass costs what accepting the valid body costs.
    BOOST_TEST((refusing < 3 * accepting), "refused in " << std::chrono::duration<double>(refusing).count()
                                                         << " s, accepted in "
                                                         << std::chrono::duration<double>(accepting).count() << " s");
}

// ================================================================ 6. string lengths

#ifdef TOOLHOST_RAG_PLUGIN
BOOST_AUTO_TEST_CASE(max_length_counts_every_code_point_even_after_a_nul) {
    // rag's search takes a query of at most 2000 characters; a NUL used to end the count.
    const std::string query = "\\u0000" + std::string(1u << 20, 'x');
    const std::string call =
        R"({"jsonrpc":"2.0","id":"q","method":"tools/call","params":{"name":"rag_search","arguments":{"query":")" +
        query + R"("}}})";
    const std::string fits = R"({"jsonrpc":"2.0","id":"f","method":"tools/call","params":{"name":"rag_search",)"
                             R"("arguments":{"query":"\u0000)" +
                             std::string(1999, 'x') + R"("}}})";
    auto refused = [](const json::value& response) {
        const std::string text = tool_error_text(response);
        return contains(text, "INVALID_ARGUMENT") && contains(text, "/query") &&
               contains(text, "at most 2000 characters, got 1048577");
    };
    served_folder f("{}", true);
    const auto run = serve_stdio(f, {initialize_line, call, fits});
    BOOST_TEST(run.process.exit_code == 0, run.process.err);
    BOOST_TEST_REQUIRE(run.out.size() == 3u, run.process.out.substr(0, 2000) << run.process.err);
    BOOST_TEST(refused(run.out[1]), run.out[1]);
    // 2000 characters, NUL included, pass the schema, and rag searches for the words around the
    // NUL (it used to fail with INTERNAL: FTS5 ended its query at the NUL).
    BOOST_TEST(run.out[2].as_object().contains("result"), run.out[2]);
    BOOST_TEST(tool_error_text(run.out[2]).empty(), run.out[2]);

    http_serving server(f);
    const std::string session = server.open_session();
    auto r = server.post("/mcp", call, session);
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(refused(json::parse(r.body)), r.body.substr(0, 2000));
    r = server.post("/v1/tools/rag/search", R"({"query":")" + query + R"("})");
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(contains(r.body, "INVALID_ARGUMENT"), r.body);
    BOOST_TEST(contains(r.body, "/query: expected at most 2000 characters, got 1048577"), r.body);
}
#endif

// ================================================================ 8. numbers

BOOST_AUTO_TEST_CASE(numbers_that_json_cannot_carry_exactly_are_refused_with_their_path) {
    const std::pair<std::string, std::string> refused[] = {
        {"1e309", "/x"},
        {"-1e309", "/x"},
        {"123456789012345678901234567890", "/x"},
        {"-9223372036854775809", "/x"},  // the nearest double is -2^63
        {"18446744073709551617", "/x"},  // 2^64 + 1
    };
    const std::pair<std::string, json::value> kept[] = {
        {"18446744073709551615", json::value(std::numeric_limits<std::uint64_t>::max())},
        {"-9223372036854775808", json::value(std::numeric_limits<std::int64_t>::min())},
        {"18446744073709551616", json::value(18446744073709551616.0)},  // 2^64: a double holds it exactly
        {"100000000000000000000", json::value(1e20)},                   // as JSON.stringify writes 1e20
        {"1e308", json::value(1e308)},
        {"123456789012345678901234567890.0", json::value(1.2345678901234568e29)},  // a double, as written
    };
    std::vector<std::string> lines{initialize_line};
    for (std::size_t i = 0; i < std::size(refused); ++i)
        lines.push_back(echo_call(numbered("r", i), R"({"x":)" + refused[i].first + "}"));
    lines.push_back(echo_call("deep", R"({"a":{"b":[1,123456789012345678901234567890]}})"));
    for (std::size_t i = 0; i < std::size(kept); ++i)
        lines.push_back(echo_call(numbered("k", i), R"({"x":)" + kept[i].first + "}"));

    auto check = [&](const std::vector<json::value>& answers) {
        std::map<std::string, json::value> by_id;
        for (const auto& a : answers)
            if (a.at("id").is_string()) by_id[std::string(a.at("id").as_string())] = a;
        for (std::size_t i = 0; i < std::size(refused); ++i) {
            const std::string text = tool_error_text(by_id[numbered("r", i)]);
            BOOST_TEST(contains(text, "INVALID_ARGUMENT: invalid arguments for testkit.echo: " + refused[i].second +
                                          ": number out of range"),
                       refused[i].first << ": " << text);
        }
        BOOST_TEST(contains(tool_error_text(by_id["deep"]), "/a/b/1: number out of range"),
                   json::serialize(by_id["deep"]));
        for (std::size_t i = 0; i < std::size(kept); ++i) {
            const auto& r = by_id[numbered("k", i)];
            BOOST_TEST_REQUIRE(r.as_object().contains("result"), json::serialize(r));
            BOOST_TEST(r.at("result").at("structuredContent").at("x") == kept[i].second,
                       kept[i].first << ": " << json::serialize(r));
        }
    };
    served_folder f;
    const auto run = serve_stdio(f, lines);
    BOOST_TEST(run.process.exit_code == 0, run.process.err);
    check(run.out);

    http_serving server(f);
    const std::string session = server.open_session();
    std::vector<json::value> answers;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto r = server.post("/mcp", lines[i], session);
        BOOST_TEST(r.status == 200u, r.body);
        answers.push_back(json::parse(r.body));
    }
    check(answers);

    // REST: the body is the arguments.
    for (const auto& [number, where] : refused) {
        const auto r = server.post("/v1/tools/testkit/echo", R"({"x":)" + number + "}");
        BOOST_TEST(r.status == 400u, number << ": " << r.body);
        BOOST_TEST(contains(r.body, R"("code":"INVALID_ARGUMENT")"), r.body);
        BOOST_TEST(contains(r.body, where + ": number out of range"), r.body);
    }
    const auto exact = server.post("/v1/tools/testkit/echo", R"({"x":18446744073709551615})");
    BOOST_TEST(exact.status == 200u);
    BOOST_TEST(json::parse(exact.body).at("result").at("x") == json::value(std::numeric_limits<std::uint64_t>::max()));
}

// ================================================================ 9. one nesting limit

BOOST_AUTO_TEST_CASE(one_nesting_limit_for_stdio_http_and_rest_by_default_64) {
    served_folder f;
    const auto run = serve_stdio(f, {nested_message("ok", 64), nested_message("deep", 65)});
    BOOST_TEST(run.process.exit_code == 0, run.process.err);
    BOOST_TEST_REQUIRE(run.out.size() == 2u, run.process.out);
    BOOST_TEST(matches(run.out[0], result("ok")), run.out[0]);
    BOOST_TEST(matches(run.out[1], error(nullptr, mcp::parse_error)), run.out[1]);
    BOOST_TEST(contains(run.out[1].at("error").at("message").as_string(), "nesting deeper than 64 levels"), run.out[1]);

    http_serving server(f);
    const std::string session = server.open_session();
    auto r = server.post("/mcp", nested_message("ok", 64), session);
    BOOST_TEST(r.status == 200u, r.body);
    r = server.post("/mcp", nested_message("deep", 65), session);
    BOOST_TEST(r.status == 400u, r.body);
    BOOST_TEST(contains(r.body, "nesting deeper than 64 levels"), r.body);
    BOOST_TEST(matches(json::parse(r.body), error(nullptr, mcp::parse_error)), r.body);

    r = server.post("/v1/tools/testkit/echo", nested_arguments(64));
    BOOST_TEST(r.status == 200u, r.body);
    r = server.post("/v1/tools/testkit/echo", nested_arguments(65));
    BOOST_TEST(r.status == 400u, r.body);
    BOOST_TEST(contains(r.body, "the request body is not valid JSON: nesting deeper than 64 levels"), r.body);
}

BOOST_AUTO_TEST_CASE(the_nesting_limit_is_the_serve_setting_json_max_depth) {
    served_folder f(R"({"json_max_depth": 8})");
    const auto run = serve_stdio(f, {nested_message("ok", 8), nested_message("deep", 9)});
    BOOST_TEST(run.process.exit_code == 0, run.process.err);
    BOOST_TEST_REQUIRE(run.out.size() == 2u, run.process.out);
    BOOST_TEST(matches(run.out[0], result("ok")), run.out[0]);
    BOOST_TEST(contains(run.out[1].at("error").at("message").as_string(), "nesting deeper than 8 levels"), run.out[1]);

    http_serving server(f);
    const std::string session = server.open_session();
    BOOST_TEST(server.post("/mcp", nested_message("ok", 8), session).status == 200u);
    auto r = server.post("/mcp", nested_message("deep", 9), session);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(contains(r.body, "nesting deeper than 8 levels"), r.body);
    BOOST_TEST(server.post("/v1/tools/testkit/echo", nested_arguments(8)).status == 200u);
    r = server.post("/v1/tools/testkit/echo", nested_arguments(9));
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(contains(r.body, "nesting deeper than 8 levels"), r.body);
}
