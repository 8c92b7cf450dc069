#include "subscriptions.hpp"

#include "catalog.hpp"
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

bool server::listener::watches(std::string_view uri) const noexcept { return resources.find(uri) != resources.end(); }

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
    const json::array* uris = nullptr;
    if (const json::value* given_uris = filter->if_contains("resourceSubscriptions")) {
        uris = given_uris->if_array();
        if (uris == nullptr ||
            !std::all_of(uris->begin(), uris->end(), [](const json::value& u) { return u.is_string(); }))
            return invalid("\"notifications.resourceSubscriptions\" must be an array of resource URIs (strings)");
        if (const auto limit = server_.options().max_resource_subscriptions; uris->size() > limit)
            return invalid("\"notifications.resourceSubscriptions\" names " + std::to_string(uris->size()) +
                           " resources; this server watches at most " + std::to_string(limit) +
                           " per subscription (serve.mcp.max_resource_subscriptions)");
    }

    // What this server sends: list changes of tools, prompts and resources (plugins bring and
    // take them with the live plugin folder), and updates of the resources it serves (a tool
    // announces them, toolhost/resource_events.h). The acknowledgement names what it agreed to:
    // of resourceSubscriptions, the URIs some tool serves.
    auto l = std::make_shared<server::listener>();
    l->id = id;
    l->out = out;
    json::object honoured;
    if (uris != nullptr) {
        auto cat = server_.current();
        json::array watched;
        for (const auto& u : *uris)
            if (cat->reader_of(u.get_string()) != nullptr && l->resources.emplace(u.get_string()).second)
                watched.push_back(u);
        if (!watched.empty()) honoured["resourceSubscriptions"] = std::move(watched);
    }
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

// ------------------------------------------------------------------------- resource updates

void server::watch(const std::string& uri, std::weak_ptr<session> s) {
    std::lock_guard lock(mutex_);
    auto& sessions = watchers_[uri];
    std::erase_if(sessions, [](const std::weak_ptr<session>& w) { return w.expired(); });
    sessions.push_back(std::move(s));
}

void server::unwatch(const std::string& uri, const session* s) {
    std::lock_guard lock(mutex_);
    auto it = watchers_.find(uri);
    if (it == watchers_.end()) return;
    std::erase_if(it->second, [s](const std::weak_ptr<session>& w) {
        auto p = w.lock();
        return p == nullptr || p.get() == s;
    });
    if (it->second.empty()) watchers_.erase(it);
}

void server::resource_updated(std::string_view tool, std::string_view uri) {
    // Only the tool that serves a URI speaks for it: a tool cannot stir up clients that watch
    // another tool's resources.
    auto cat = current();
    const auto* reader = cat->reader_of(uri);
    if (reader == nullptr || reader->tool != tool) {
        if (logging::enabled(logging::level::debug))
            logging::write(logging::level::debug, "mcp", "resource update ignored: another tool serves the URI",
                           {{"tool", tool}, {"uri", uri}, {"served_by", reader ? reader->tool : std::string()}});
        return;
    }
    std::vector<std::shared_ptr<session>> sessions;
    std::vector<std::shared_ptr<listener>> listening;
    {
        std::lock_guard lock(mutex_);
        if (auto it = watchers_.find(uri); it != watchers_.end())
            for (auto& w : it->second)
                if (auto s = w.lock()) sessions.push_back(std::move(s));
        for (auto& l : listeners_)
            if (l->watches(uri)) listening.push_back(l);
    }
    if (sessions.empty() && listening.empty()) return;
    const json::object params{{"uri", uri}};
    const std::string message = notification("notifications/resources/updated", params);
    for (auto& s : sessions) s->send_standalone(message);
    for (auto& l : listening)
        if (!l->notify("notifications/resources/updated", params)) end_listener(l, false);
}

void session::on_resources_subscribe(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                                     const request_context& ctx) {
    const json::string* uri = uri_param(id, params, "resources/subscribe", *out);
    if (uri == nullptr) return;
    const std::string target(*uri);
    if (server_.current()->reader_of(target) == nullptr)
        return out->finish(resource_not_found_error(id, target, ctx.stateless, "no tool serves this URI"));
    const auto limit = server_.options().max_resource_subscriptions;
    bool added = false;
    {
        std::lock_guard lock(st_->m);
        if (st_->closed) return out->finish(error_response(id, invalid_request, "the session has ended"));
        if (st_->stateless)
            return out->finish(error_response(
                id, invalid_request,
                "invalid request: resources/subscribe needs a session to deliver updates on, and this server "
                "serves without sessions (serve.http.stateless); subscribe with subscriptions/listen "
                "(2026-07-28) instead"));
        if (!st_->watched.contains(target)) {
            if (st_->watched.size() >= limit)
                return out->finish(error_response(
                    id, invalid_params,
                    "invalid params: this session watches " + std::to_string(st_->watched.size()) +
                        " resources, the most this server allows (serve.mcp.max_resource_subscriptions); "
                        "unsubscribe from one first"));
            st_->watched.insert(target);
            st_->revision.fetch_add(1, std::memory_order_relaxed);
            added = true;
        }
    }
    if (added) server_.watch(target, weak_from_this());
    out->finish(response(id, json::object{}));
}

void session::on_resources_unsubscribe(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                                       const request_context&) {
    const json::string* uri = uri_param(id, params, "resources/unsubscribe", *out);
    if (uri == nullptr) return;
    const std::string target(*uri);
    bool removed = false;
    {
        std::lock_guard lock(st_->m);
        removed = st_->watched.erase(target) > 0;
        if (removed) st_->revision.fetch_add(1, std::memory_order_relaxed);
    }
    if (removed) server_.unwatch(target, this);
    // Unsubscribing from a URI the session does not watch is no error: the outcome is the same.
    out->finish(response(id, json::object{}));
}

}  // namespace toolhost::mcp
