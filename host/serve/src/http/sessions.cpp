#include "sessions.hpp"

namespace toolhost::serve::detail {

template <class Open>
std::shared_ptr<session_entry> session_table::insert(std::string id, std::string_view client, refusal& why, Open open) {
    auto entry = std::make_shared<session_entry>();
    entry->client = std::string(client);
    {
        std::unique_lock l(m_);
        why = refusal::none;
        if (sessions_.size() >= max_) why = refusal::server_full;
        auto quota = per_client_.find(client);
        if (why == refusal::none && quota != per_client_.end() && quota->second >= max_per_client_)
            why = refusal::client_full;
        if (why != refusal::none) return nullptr;
        if (sessions_.contains(id)) return sessions_.find(id)->second;  // adopted twice at once
        entry->session = open(id);
        sessions_.emplace(std::move(id), entry);
        if (quota == per_client_.end())
            per_client_.emplace(entry->client, 1);
        else
            ++quota->second;
        st_->sessions.store(static_cast<std::int64_t>(sessions_.size()), std::memory_order_relaxed);
    }
    if (logging::enabled(logging::level::debug))
        logging::write(logging::level::debug, "serve.http", "MCP session opened", {{"sessions", size()}});
    return entry;
}

std::shared_ptr<session_entry> session_table::add(std::string id, std::string_view client, refusal& why) {
    return insert(std::move(id), client, why, [&](const std::string& i) { return mcp_.open_session(i); });
}

std::shared_ptr<session_entry> session_table::adopt(const shared_session& shared, std::string_view client,
                                                    refusal& why) {
    auto entry = insert(shared.id, client, why, [&](const std::string&) { return mcp_.resume_session(shared); });
    if (entry) {
        std::lock_guard l(entry->m);
        entry->shared_revision = entry->session->revision();
        entry->shared_at = steady::now();
        logging::write(logging::level::info, "serve.cluster", "MCP session taken over from another host",
                       {{"session", shared.id}});
    }
    return entry;
}

void session_table::share(const std::string& id, session_entry& e) {
    if (sharing_ == nullptr) return;
    const auto revision = e.session->revision();
    const auto now = steady::now();
    bool write = false, touch = false;
    {
        std::lock_guard l(e.m);
        if (revision != e.shared_revision) {
            write = true;
            e.shared_revision = revision;
            e.shared_at = now;
        } else if (now - e.shared_at >= touch_every_) {
            touch = true;
            e.shared_at = now;
        }
    }
    if (write) {
        if (auto s = e.session->share()) {
            s->client = e.client;
            sharing_->save(std::move(*s));
        }
    } else if (touch) {
        sharing_->touch(id);
    }
}

void session_table::end(const std::string& id, const std::shared_ptr<session_entry>& e) {
    if (!e) return;
    {
        std::unique_lock l(m_);
        auto it = sessions_.find(id);
        if (it != sessions_.end() && it->second == e) {
            erase(it);
            if (sharing_ != nullptr) sharing_->drop(id);
        }
        st_->sessions.store(static_cast<std::int64_t>(sessions_.size()), std::memory_order_relaxed);
    }
    responder stream;
    std::uint64_t stream_seq = 0;
    {
        std::lock_guard l(e->m);
        stream = e->stream;
        stream_seq = e->stream_seq;
    }
    e->session->close();
    if (stream_seq != 0) stream.post([](exchange& ex) { ex.end_events(); });
}

void session_table::erase(map_by_string<std::shared_ptr<session_entry>>::iterator it) {
    if (auto quota = per_client_.find(it->second->client); quota != per_client_.end() && --quota->second == 0)
        per_client_.erase(quota);
    sessions_.erase(it);
}

void session_table::sweep(steady::duration limit) {
    const auto now = steady::now();
    std::vector<std::pair<std::string, std::shared_ptr<session_entry>>> expired;
    {
        std::shared_lock l(m_);
        for (const auto& [id, e] : sessions_) {
            if (e->session->closed()) {
                expired.emplace_back(id, e);
                continue;
            }
            if (now - e->session->last_activity() < limit || e->session->in_flight() != 0) continue;
            std::lock_guard sl(e->m);
            if (e->stream_seq != 0 && e->stream.alive()) continue;
            expired.emplace_back(id, e);
        }
    }
    for (const auto& [id, e] : expired) end(id, e);
    if (!expired.empty() && logging::enabled(logging::level::debug))
        logging::write(logging::level::debug, "serve.http", "MCP sessions expired",
                       {{"expired", expired.size()}, {"sessions", size()}});
}

void session_table::close_all() {
    std::vector<std::shared_ptr<session_entry>> entries;
    {
        std::unique_lock l(m_);
        for (auto& [id, e] : sessions_) entries.push_back(std::move(e));
        sessions_.clear();
        per_client_.clear();
        st_->sessions.store(0);
    }
    for (auto& e : entries) e->session->close();
}

}  // namespace toolhost::serve::detail
