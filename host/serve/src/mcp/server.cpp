#include "catalog.hpp"
#include "subscriptions.hpp"
#include "input_round.hpp"
#include "protocol.hpp"
#include "session_state.hpp"

#include <toolhost/logging.hpp>
#include <toolhost/serve/mcp.hpp>

namespace toolhost::mcp {

namespace json = boost::json;

server::server(toolhost::host& h, server_options options) : host_(h), options_(std::move(options)) {
    if (options_.page_size == 0) options_.page_size = 100;
    state_key_ = make_state_key(options_.request_state_secret);
    complete_members_ = complete_result_members(options_);
    catalog_ = build_catalog(host_, options_);
    for (const auto& p : catalog_->problems) logging::write(logging::level::error, "mcp", p);
    subscription_ = host_.subscribe([this](const host_event& e) { on_host_event(e); });
}

server::~server() {
    host_.unsubscribe(subscription_);
    std::vector<std::shared_ptr<session>> live;
    {
        std::lock_guard lock(mutex_);
        for (auto& w : sessions_)
            if (auto s = w.lock()) live.push_back(std::move(s));
        sessions_.clear();
    }
    for (auto& s : live) s->close();
}

std::shared_ptr<session> server::open_session(std::string id) {
    std::shared_ptr<session> s(new session(*this, std::move(id), false));
    std::lock_guard lock(mutex_);
    // Forget sessions that are gone, so the list stays as long as the live ones.
    std::erase_if(sessions_, [](const std::weak_ptr<session>& w) { return w.expired(); });
    sessions_.push_back(s);
    return s;
}

std::shared_ptr<session> server::resume_session(const serve::shared_session& shared) {
    auto s = open_session(shared.id);
    std::vector<std::string> watched;
    {
        std::lock_guard lock(s->st_->m);
        auto& st = *s->st_;
        st.initialized = true;
        st.client_ready = shared.client_ready;
        st.version = supported_protocol_version(shared.version) ? shared.version : std::string(latest_protocol_version);
        st.client_capabilities = shared.client_capabilities;
        st.log_threshold.store(shared.log_threshold, std::memory_order_relaxed);
        // As many as this host allows one session (serve.mcp.max_resource_subscriptions).
        for (const auto& uri : shared.watched) {
            if (st.watched.size() >= options_.max_resource_subscriptions) break;
            if (st.watched.insert(uri).second) watched.push_back(uri);
        }
        st.revision.store(1, std::memory_order_relaxed);
    }
    for (const auto& uri : watched) watch(uri, s);
    return s;
}

std::shared_ptr<session> server::stateless_session() {
    return std::shared_ptr<session>(new session(*this, std::string(), true));
}

std::shared_ptr<const server::catalog> server::current() const {
    std::lock_guard lock(mutex_);
    return catalog_;
}

json::array server::tools() const {
    auto cat = current();
    json::array a;
    for (const auto& e : cat->entries) a.push_back(e.listing);
    return a;
}

std::optional<std::pair<std::string, std::string>> server::resolve(std::string_view mcp_name) const {
    auto cat = current();
    if (const auto* e = cat->find(mcp_name)) return std::pair{e->tool, e->operation};
    return std::nullopt;
}

std::vector<std::string> server::naming_problems() const { return current()->problems; }

void server::refresh() {
    auto fresh = build_catalog(host_, options_);
    bool tools = false, prompts = false, resources = false;
    {
        std::lock_guard lock(mutex_);
        tools = fresh->fingerprint != catalog_->fingerprint;
        prompts = fresh->prompts_fingerprint != catalog_->prompts_fingerprint;
        resources = fresh->resources_fingerprint != catalog_->resources_fingerprint;
        if (tools || prompts || resources || fresh->generations != catalog_->generations) catalog_ = fresh;
    }
    if (!tools && !prompts && !resources) return;
    for (const auto& p : fresh->problems) logging::write(logging::level::error, "mcp", p);
    logging::write(logging::level::info, "mcp", "list changed",
                   {{"tools", fresh->entries.size()},
                    {"prompts", fresh->prompts.size()},
                    {"resource_readers", fresh->readers.size()}});
    if (tools) {
        broadcast_list_changed("notifications/tools/list_changed");
        std::function<void()> hook;
        {
            std::lock_guard lock(mutex_);
            hook = on_tools_changed_;
        }
        if (hook) hook();
    }
    if (prompts) broadcast_list_changed("notifications/prompts/list_changed");
    if (resources) broadcast_list_changed("notifications/resources/list_changed");
}

void server::on_tools_changed(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    on_tools_changed_ = std::move(fn);
}

void server::broadcast_list_changed(std::string_view method) {
    std::vector<std::shared_ptr<session>> live;
    std::vector<std::shared_ptr<listener>> listening;
    {
        std::lock_guard lock(mutex_);
        for (auto& w : sessions_)
            if (auto s = w.lock()) live.push_back(std::move(s));
        for (auto& l : listeners_)
            if (l->wants(method)) listening.push_back(l);
    }
    const std::string message = notification(method, {});
    for (auto& s : live) s->send_standalone(message);
    // 2026-07-28: the subscriptions that asked for it; one whose client is gone ends.
    for (auto& l : listening)
        if (!l->notify(method, {})) end_listener(l, false);
}

void server::on_host_event(const host_event& e) {
    switch (e.kind) {
    case host_event_kind::tool_state_changed: return refresh();
    case host_event_kind::resource_updated: return resource_updated(e.tool, e.uri);
    case host_event_kind::resource_list_changed: return broadcast_list_changed("notifications/resources/list_changed");
    default: return;
    }
}

}  // namespace toolhost::mcp
