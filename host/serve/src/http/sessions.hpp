#pragma once
// The MCP sessions of the HTTP server, by Mcp-Session-Id, each with its GET /mcp stream.

#include "route.hpp"

namespace toolhost::serve::detail {

// One MCP session known to the server, with its GET stream.
struct session_entry {
    std::shared_ptr<mcp::session> session;
    std::mutex m;
    responder stream;              // the GET /mcp stream
    std::uint64_t stream_seq = 0;  // non-zero while one is registered
};

class session_table {
public:
    session_table(mcp::server& mcp, std::size_t max_sessions, std::shared_ptr<shared_state> st)
        : mcp_(mcp), max_(max_sessions), st_(std::move(st)) {}

    std::shared_ptr<session_entry> find(std::string_view id) const {
        std::shared_lock l(m_);
        auto it = sessions_.find(id);
        return it == sessions_.end() ? nullptr : it->second;
    }
    // Opens a session unless max_sessions are open; null then.
    std::shared_ptr<session_entry> add(std::string id);
    // Forgets a session (if `e` is still the one under `id`), closes it and ends its stream.
    void end(const std::string& id, const std::shared_ptr<session_entry>& e);
    // Ends sessions that were closed, or have been idle longer than `limit` with nothing in
    // flight and no GET stream open (a client listening on its stream is still there).
    void sweep(steady::duration limit);
    // Forgets and closes every session (their calls are cancelled).
    void close_all();
    std::size_t size() const {
        std::shared_lock l(m_);
        return sessions_.size();
    }

private:
    mcp::server& mcp_;
    const std::size_t max_;
    const std::shared_ptr<shared_state> st_;
    mutable std::shared_mutex m_;
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::shared_ptr<session_entry>, string_hash, std::equal_to<>> sessions_;
};

}  // namespace toolhost::serve::detail
