#pragma once
// The MCP engine under test (test_mcp, test_mcp_stateless): a host serving the testkit fixture,
// an mcp::server over it, and an exchange that records what the engine sends for one message.

#include <toolhost/serve/mcp.hpp>

#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace toolhost::test::mcp_engine {

namespace json = boost::json;
namespace mcp = toolhost::mcp;
using toolhost::host;
using toolhost::test::temp_dir;

// Everything the engine sends for one message, in order; waits for the end.
class recorder final : public mcp::exchange {
public:
    bool send(std::string message) override {
        std::lock_guard lock(m_);
        if (gone) return false;
        sent_.push_back(json::parse(message));
        cv_.notify_all();
        return true;
    }
    void long_lived() override { long_lived_called = true; }
    std::atomic<bool> long_lived_called{false};
    std::atomic<bool> gone{false};  // the client went away: send() fails
    void finish(std::string message) override {
        std::lock_guard lock(m_);
        finished_ = true;
        if (!message.empty()) response_ = json::parse(message);
        cv_.notify_all();
    }
    // The response (null for none); fails the test if it does not come within 30 s.
    json::value wait() {
        std::unique_lock lock(m_);
        BOOST_TEST_REQUIRE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return finished_; }));
        return response_;
    }
    // The n-th message sent before the response (waits for it).
    json::value sent(std::size_t n) {
        std::unique_lock lock(m_);
        BOOST_TEST_REQUIRE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return sent_.size() > n; }));
        return sent_[n];
    }
    std::vector<json::value> all_sent() {
        std::lock_guard lock(m_);
        return sent_;
    }
    bool finished() {
        std::lock_guard lock(m_);
        return finished_;
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<json::value> sent_;
    bool finished_ = false;
    json::value response_;
};

class stream final : public mcp::standalone_stream {
public:
    bool send(std::string message) override {
        std::lock_guard lock(m_);
        messages.push_back(json::parse(message));
        return true;
    }
    std::vector<json::value> take() {
        std::lock_guard lock(m_);
        return std::exchange(messages, {});
    }

private:
    std::mutex m_;
    std::vector<json::value> messages;
};

struct env {
    temp_dir dir;
    std::unique_ptr<host> h;
    std::unique_ptr<mcp::server> srv;

    explicit env(mcp::server_options o = {}) {
        h = std::make_unique<host>(toolhost::test::testkit_config(dir.path()));
        h->load_plugins();
        BOOST_TEST_REQUIRE(h->start({}).ok());
        srv = std::make_unique<mcp::server>(*h, std::move(o));
    }
    ~env() {
        srv.reset();
        h->shutdown();
    }

    // Sends one message on `s` and waits for its response.
    static json::value ask(mcp::session& s, const json::value& message) {
        auto r = std::make_shared<recorder>();
        s.handle(json::serialize(message), r);
        return r->wait();
    }
    static json::value request(mcp::session& s, int id, std::string_view method, json::object params = {}) {
        return ask(s, json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    }
    std::shared_ptr<mcp::session> initialized(std::string version = "2025-11-25", json::object capabilities = {}) {
        auto s = srv->open_session("s-1");
        auto r = request(*s, 0, "initialize",
                         {{"protocolVersion", version},
                          {"capabilities", std::move(capabilities)},
                          {"clientInfo", {{"name", "test"}, {"version", "1"}}}});
        BOOST_TEST_REQUIRE(r.as_object().contains("result"));
        auto n = std::make_shared<recorder>();
        s->handle(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", n);
        BOOST_TEST(n->wait().is_null());
        return s;
    }
};

const json::object& result_of(const json::value& response) {
    BOOST_TEST_REQUIRE(response.as_object().contains("result"), json::serialize(response));
    return response.at("result").as_object();
}

int64_t error_code_of(const json::value& response) {
    BOOST_TEST_REQUIRE(response.as_object().contains("error"), json::serialize(response));
    return response.at("error").at("code").to_number<int64_t>();
}

json::object call(std::string_view name, json::object arguments) {
    return {{"name", name}, {"arguments", std::move(arguments)}};
}

}  // namespace toolhost::test::mcp_engine
