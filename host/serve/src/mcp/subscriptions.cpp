#include "subscriptions.hpp"

#include "protocol.hpp"
#include "session_state.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost/logging.hpp>

#include <algorithm>

namespace toolhost::mcp {

namespace json = boost::json;

namespace {

std::string tagged(const json::value& id, std::string_view method, json::object params) {
    params["_meta"] = json::object{{meta_key::subscription_id, id}};
    return notification(method, std::move(params));
}

}  // namespace

bool server::listener::notify(std::string_view method, json::object params) {
    std::string message = tagged(id, method, std::move(params));
    std::lock_guard lock(m_);
    if (ended_ || !acknowledged_) return true;
    return out->send(std::move(message));
}

bool server::listener::acknowledge(json::object honoured) {
    std::string message =
        tagged(id, "notifications/subscriptions/acknowledged", json::object{{"notifications", std::move(honoured)}});
    std::lock_guard lock(m_);
    if (ended_) return true;
    acknowledged_ = true;
    return out->send(std::move(message));
}

bool server::listener::wants(std::string_view method) const noexcept {
    if (method == "notifications/tools/list_changed") return tools_list_changed;
    if (method == "notifications/prompts/list_changed") return prompts_list_changed;
    if (method == "notifications/resources/list_changed") return resources_list_changed;
    return false;
}

bool server::listener::close() {
    std::lock_guard lock(m_);  // waits for a notify() under way
    return !std::exchange(ended_, true);
}

bool server::listen(const std::shared_ptr<listener>& l) {
    std::lock_guard lock(mutex_);
    if (listeners_.size() >= options_.max_subscriptions) return false;
    listeners_.push_back(l);
    return true;
}

void server::end_listener(const std::shared_ptr<listener>& l, bool graceful) {
    if (!l->close()) return;
    {
        std::lock_guard lock(mutex_);
        std::erase(listeners_, l);
    }
    if (!graceful) return l->out->finish({});  // cancelled: no response
    // The server ends it (shutting down, or the session closed): the revision's graceful end, an
    // empty result tagged like the stream's notifications.
    json::object result;
    complete_result(result, server_info(options_));
    result["_meta"].as_object()[meta_key::subscription_id] = l->id;
    l->out->finish(response(l->id, std::move(result)));
}

void session::on_listen(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                        const request_context&) {
    const json::value* given = params.if_contains("notifications");
    const json::object* filter = given != nullptr ? given->if_object() : nullptr;
    auto invalid = [&](const std::string& why) {
        out->finish(error_response(id, invalid_params, "invalid params: " + why));
    };
    if (filter == nullptr)
        return invalid(
            "\"notifications\" is required: an object naming the notifications to receive "
            "(toolsListChanged, promptsListChanged, resourcesListChanged, resourceSubscriptions)");
    for (std::string_view flag : {"toolsListChanged", "promptsListChanged", "resourcesListChanged"}) {
        const json::value* v = filter->if_contains(flag);
        if (v != nullptr && !v->is_bool())
            return invalid("\"notifications." + std::string(flag) + "\" must be a boolean, got " +
                           toolhost::json_text(*v));
    }
    if (const json::value* uris = filter->if_contains("resourceSubscriptions")) {
        const json::array* a = uris->if_array();
        if (a == nullptr || !std::all_of(a->begin(), a->end(), [](const json::value& u) { return u.is_string(); }))
            return invalid("\"notifications.resourceSubscriptions\" must be an array of resource URIs (strings)");
    }

    // What this server sends: list changes of tools, prompts and resources (plugins bring and
    // take them with the live plugin folder). Updates of single resources are not sent, so
    // resourceSubscriptions is left out of the acknowledgement, as the revision asks.
    auto l = std::make_shared<server::listener>();
    l->id = id;
    l->out = out;
    json::object honoured;
    auto honour = [&](std::string_view flag, bool& wanted) {
        if (const json::value* v = filter->if_contains(flag); v != nullptr && v->get_bool()) {
            wanted = true;
            honoured[flag] = true;
        }
    };
    honour("toolsListChanged", l->tools_list_changed);
    honour("promptsListChanged", l->prompts_list_changed);
    honour("resourcesListChanged", l->resources_list_changed);

    const std::string key = toolhost::json_text(id);
    {
        std::lock_guard lock(st_->m);
        if (st_->closed) return out->finish(error_response(id, invalid_request, "the session has ended"));
        if (st_->listens.contains(key) || st_->in_flight.contains(key))
            return out->finish(error_response(id, invalid_request,
                                              "invalid request: a request with id " + key +
                                                  " is still open; a subscription is known by its request's id"));
        st_->listens.emplace(key, l);
    }
    if (!server_.listen(l)) {
        {
            std::lock_guard lock(st_->m);
            st_->listens.erase(key);
        }
        logging::write(logging::level::warning, "mcp", "subscription refused: limit reached",
                       {{"limit", server_.options().max_subscriptions}});
        return out->finish(error_response(id, internal_error,
                                          "Subscription limit reached: the server has " +
                                              std::to_string(server_.options().max_subscriptions) +
                                              " subscriptions open"));
    }
    out->long_lived();
    // The acknowledgement is the first message that carries the subscription's id; the server
    // sends it no notice before (listener::notify).
    if (!l->acknowledge(std::move(honoured))) {
        end_listen(key, false);
        return;
    }
    if (logging::enabled(logging::level::debug))
        logging::write(logging::level::debug, "mcp", "subscription opened",
                       {{"session", id_}, {"id", key}, {"tools_list_changed", l->tools_list_changed}});
}

bool session::end_listen(const std::string& key, bool graceful) {
    std::shared_ptr<server::listener> l;
    {
        std::lock_guard lock(st_->m);
        auto it = st_->listens.find(key);
        if (it == st_->listens.end()) return false;
        l = std::move(it->second);
        st_->listens.erase(it);
    }
    server_.end_listener(l, graceful);
    return true;
}

}  // namespace toolhost::mcp
