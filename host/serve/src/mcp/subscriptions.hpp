#pragma once
// subscriptions/listen (2026-07-28): a long-lived request whose stream carries the change notices
// the client asked for, each tagged with the request's id (its subscriptionId), until the client
// cancels it or the server ends it. It replaces the 2025 era's GET stream.

#include <toolhost/serve/mcp_server.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace toolhost::mcp {

struct server::listener {
    boost::json::value id;  // of the subscriptions/listen request: the subscriptionId
    std::shared_ptr<exchange> out;
    bool tools_list_changed = false;
    bool prompts_list_changed = false;
    bool resources_list_changed = false;
    // The resource URIs it watches (resourceSubscriptions, those the server serves); set before
    // it is listed, never changed after.
    std::set<std::string, std::less<>> resources;

    // Whether it asked for the notification `method` (notifications/.../list_changed).
    bool wants(std::string_view method) const noexcept;
    // Whether it watches the resource `uri`.
    bool watches(std::string_view uri) const noexcept;

    // Sends notifications/subscriptions/acknowledged with what the server agreed to send: the
    // first message that carries the subscription's id. False when the client is gone.
    bool acknowledge(boost::json::object honoured);
    // Sends the notification `method` tagged with the subscription; false when the client is
    // gone. Nothing before acknowledge() or after close().
    bool notify(std::string_view method, boost::json::object params);
    // Marks the subscription ended; true for the caller that did. No notify() is under way
    // once it returns, and none follows.
    bool close();

private:
    std::mutex m_;
    bool acknowledged_ = false;
    bool ended_ = false;
};

}  // namespace toolhost::mcp
