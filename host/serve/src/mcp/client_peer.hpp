#pragma once
// The client of one tools/call, as the plugin sees it (call_peer).

#include "input_round.hpp"
#include "session_state.hpp"

#include <toolhost/host.hpp>
#include <toolhost/serve/mcp.hpp>

#include <chrono>
#include <memory>
#include <string_view>

namespace toolhost::mcp {

// Log messages become notifications/message and requests go to the client on the call's
// exchange.
class client_peer final : public call_peer {
public:
    // `round`: a stateless-era call's questions and answers (input_round.hpp); null for a session's.
    client_peer(std::weak_ptr<session> s, session::state* st, std::shared_ptr<exchange> out,
                std::chrono::milliseconds timeout, bool inline_call, const request_context& ctx,
                std::shared_ptr<input_round> round)
        : session_(std::move(s)), st_(st), out_(std::move(out)), timeout_(timeout), inline_call_(inline_call),
          stateless_(ctx.stateless), stateless_log_threshold_(ctx.log_threshold),
          capabilities_(ctx.stateless ? ctx.client_capabilities : boost::json::object{}), round_(std::move(round)) {}

    // A stateless-era request asks for log messages in its own _meta, or gets none.
    bool wants_log(int32_t level) const noexcept override {
        return level >= (stateless_ ? stateless_log_threshold_ : st_->log_threshold.load(std::memory_order_relaxed));
    }

    void log(int32_t level, std::string_view logger, std::string_view message) noexcept override;
    call_result request(std::string_view method, std::string_view params,
                        const call_control& control) noexcept override;

private:
    call_result request_impl(std::string_view method, std::string_view params, const call_control& control);
    // A stateless-era call asks through its input round instead.
    call_result ask_in_round(std::string_view method, std::string_view params, std::string_view capability);

    std::weak_ptr<session> session_;
    session::state* st_;  // valid while session_ locks
    std::shared_ptr<exchange> out_;
    std::chrono::milliseconds timeout_;
    bool inline_call_;
    bool stateless_;
    int32_t stateless_log_threshold_;
    boost::json::object capabilities_;  // stateless: the request's
    std::shared_ptr<input_round> round_;
};

}  // namespace toolhost::mcp
