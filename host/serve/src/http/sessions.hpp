#pragma once
// The MCP sessions of the HTTP server, by Mcp-Session-Id, each with its GET /mcp stream.

#include "route.hpp"
#include "session_sharing.hpp"

namespace toolhost::serve::detail {

// One MCP session known to the server, with its GET stream.
struct session_entry {
    std::shared_ptr<mcp::session> session;
    std::string client;  // exchange::client() of its initialize: whose quota it counts in
    std::mutex m;
    responder stream;              // the GET /mcp stream
    std::uint64_t stream_seq = 0;  // non-zero while one is registered
    // With a shared store: the session's revision written last, and when it was last written or
    // touched (under m).
    std::uint64_t shared_revision = 0;
    steady::time_point shared_at{};
};

class session_table {
public:
    session_table(mcp::server& mcp, std::size_t max_sessions, std::size_t max_per_client,
                  std::shared_ptr<shared_state> st)
        : mcp_(mcp), max_(max_sessions), max_per_client_(max_per_client), st_(std::move(st)) {}

    // The session `id` if `client` (exchange::client()) opened it: a session is bound to its
    // client (its OAuth client or subject, the static token, or its address), so that an id seen
    // by someone else (a log, a proxy) does not let them in. Another client's id is not found.
    std::shared_ptr<session_entry> find(std::string_view id, std::string_view client) const {
        std::shared_lock l(m_);
        auto it = sessions_.find(id);
        return it == sessions_.end() || it->second->client != client ? nullptr : it->second;
    }
    enum class refusal { none, server_full, client_full };
    // Opens a session for `client` unless max_sessions are open, or max_sessions_per_client of
    // that client's; null then, and `why` says which.
    std::shared_ptr<session_entry> add(std::string id, std::string_view client, refusal& why);
    // A session another host opened, as the shared store has it, for `client`; null over the
    // limits (`why` says which).
    std::shared_ptr<session_entry> adopt(const shared_session& shared, std::string_view client, refusal& why);
    // With a shared store (set_sharing): after a message of session `id`, writes its state when
    // it changed, or marks it used now and then.
    void share(const std::string& id, session_entry& e);
    // Forgets a session (if `e` is still the one under `id`), closes it and ends its stream.
    void end(const std::string& id, const std::shared_ptr<session_entry>& e);
    // Ends sessions that were closed, or have been idle longer than `limit` with nothing in
    // flight and no GET stream open (a client listening on its stream is still there).
    void sweep(steady::duration limit);
    // Forgets and closes every session (their calls are cancelled).
    void close_all();
    // The shared store (serve::cluster) the sessions are written to; null: none. A session in use
    // is marked used there every quarter of `idle_timeout` (at most every minute), so that no
    // host expires it meanwhile. Before any session opens.
    void set_sharing(session_sharing* sharing, steady::duration idle_timeout) noexcept {
        sharing_ = sharing;
        touch_every_ = std::min<steady::duration>(idle_timeout / 4, std::chrono::minutes(1));
    }
    session_sharing* sharing() const noexcept { return sharing_; }
    std::size_t size() const {
        std::shared_lock l(m_);
        return sessions_.size();
    }

private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    template <class T>
    using map_by_string = std::unordered_map<std::string, T, string_hash, std::equal_to<>>;

    // Registers `entry` (its session made by `open`) under `id` unless over the limits.
    template <class Open>
    std::shared_ptr<session_entry> insert(std::string id, std::string_view client, refusal& why, Open open);
    // Forgets a session, and its place in its client's quota; m_ is held exclusively.
    void erase(map_by_string<std::shared_ptr<session_entry>>::iterator it);

    mcp::server& mcp_;
    const std::size_t max_;
    const std::size_t max_per_client_;
    const std::shared_ptr<shared_state> st_;
    session_sharing* sharing_ = nullptr;
    steady::duration touch_every_ = std::chrono::minutes(1);
    mutable std::shared_mutex m_;
    map_by_string<std::shared_ptr<session_entry>> sessions_;
    map_by_string<std::size_t> per_client_;  // live sessions by exchange::client()
};

}  // namespace toolhost::serve::detail
