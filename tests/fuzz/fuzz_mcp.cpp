// The MCP engine (toolhost::mcp::session): whole JSON-RPC messages, one per line of the input,
// to a fresh session each time, with the testkit fixture's tools behind it (echo, errors,
// sleeps, nested calls, requests to the client). Every message must be answered or finished;
// nothing may throw out of handle() or crash.
#include "fuzz_mcp_env.hpp"

#include <toolhost/serve/mcp_protocol.hpp>
#include <toolhost/serve/mcp_server.hpp>
#include <toolhost/serve/mcp_session.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace {

// Everything sent for one message; the harness waits a bounded time for its end.
class sink final : public toolhost::mcp::exchange {
public:
    bool send(std::string) override { return true; }
    void finish(std::string) override { done(); }
    // A subscription answers when it ends (the session's close, below): the next line goes on
    // meanwhile.
    void long_lived() override { done(); }
    void wait() {
        std::unique_lock lock(m_);
        cv_.wait_for(lock, std::chrono::seconds(2), [&] { return done_; });
    }

private:
    void done() {
        std::lock_guard lock(m_);
        done_ = true;
        cv_.notify_all();
    }
    std::mutex m_;
    std::condition_variable cv_;
    bool done_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static toolhost::fuzz::mcp_environment env("mcp");
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto session = env.server->open_session("fuzz");
    while (!input.empty()) {
        const auto eol = input.find('\n');
        const auto line = input.substr(0, eol);
        input.remove_prefix(eol == std::string_view::npos ? input.size() : eol + 1);
        auto out = std::make_shared<sink>();
        session->handle(line, out);
        out->wait();
    }
    session->close();
    return 0;
}
