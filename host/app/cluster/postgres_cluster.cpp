#include "postgres_cluster.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost_plugins/postgres.hpp>

#include <boost/json/parse.hpp>

#include <mutex>
#include <optional>

namespace toolhost::cli {
namespace {

namespace pg = toolhost::plugins::postgres;
namespace json = boost::json;

constexpr std::string_view channel = "toolhost_tools";

const std::vector<std::string_view> migrations = {
    // 1: the 2025-era MCP sessions every host may take over.
    R"(CREATE TABLE toolhost_sessions (
        id      text        PRIMARY KEY,
        client  text        NOT NULL,
        state   jsonb       NOT NULL,
        owner   text        NOT NULL,
        used_at timestamptz NOT NULL DEFAULT now());
    CREATE INDEX toolhost_sessions_used_at ON toolhost_sessions (used_at);)",
    // 2: the hosts, as each last reported itself (the console's list of hosts).
    R"(CREATE TABLE toolhost_nodes (
        node       text        PRIMARY KEY,
        plugin_set text        NOT NULL,
        seen_at    timestamptz NOT NULL DEFAULT now());)",
};

std::string state_json(const serve::shared_session& s) {
    json::array watched;
    for (const auto& u : s.watched) watched.emplace_back(u);
    return toolhost::json_text(json::object{{"version", s.version},
                                            {"capabilities", s.client_capabilities},
                                            {"log_threshold", s.log_threshold},
                                            {"client_ready", s.client_ready},
                                            {"watched", std::move(watched)}});
}

// The stored state back; what does not read as expected is left at its default (a row written
// by a newer host may have more).
void read_state(std::string_view text, serve::shared_session& s) {
    json::error_code ec;
    const json::value v = json::parse(text, ec);
    const json::object* o = ec ? nullptr : v.if_object();
    if (o == nullptr) return;
    if (const auto* x = o->if_contains("version"); x && x->is_string()) s.version = x->get_string();
    if (const auto* x = o->if_contains("capabilities"); x && x->is_object()) s.client_capabilities = x->get_object();
    if (const auto* x = o->if_contains("log_threshold"); x && x->is_int64())
        s.log_threshold = static_cast<int32_t>(x->get_int64());
    if (const auto* x = o->if_contains("client_ready"); x && x->is_bool()) s.client_ready = x->get_bool();
    if (const auto* x = o->if_contains("watched"); x && x->is_array())
        for (const auto& u : x->get_array())
            if (u.is_string()) s.watched.emplace_back(u.get_string());
}

class postgres_cluster final : public serve::cluster {
public:
    postgres_cluster(const std::string& url, std::string node, std::chrono::milliseconds timeout)
        : url_(url), node_(std::move(node)), timeout_(timeout), pool_(url, 2, "toolhost cluster", timeout),
          description_("postgresql " + pool_.where()) {
        run("preparing the shared tables", [&](pg::connection& c) { pg::migrate(c, "serve", migrations); });
    }

    std::string describe() const override { return description_; }

    void save_session(const serve::shared_session& s) override {
        run("saving an MCP session", [&](pg::connection& c) {
            c.exec(
                "INSERT INTO toolhost_sessions (id, client, state, owner, used_at)"
                " VALUES ($1, $2, $3::jsonb, $4, now())"
                " ON CONFLICT (id) DO UPDATE SET client = excluded.client, state = excluded.state,"
                " owner = excluded.owner, used_at = now()",
                s.id, s.client, state_json(s), node_);
        });
    }

    void touch_session(std::string_view id) override {
        run("recording an MCP session's use", [&](pg::connection& c) {
            c.exec("UPDATE toolhost_sessions SET used_at = now(), owner = $2 WHERE id = $1", id, node_);
        });
    }

    std::optional<serve::shared_session> load_session(std::string_view id) override {
        std::optional<serve::shared_session> out;
        run("reading an MCP session", [&](pg::connection& c) {
            auto r = c.exec("SELECT client, state::text FROM toolhost_sessions WHERE id = $1", id);
            if (r.rows() == 0) return;
            auto& s = out.emplace();
            s.id = std::string(id);
            s.client = r.string(0, 0);
            read_state(r.text(0, 1), s);
        });
        return out;
    }

    void drop_session(std::string_view id) override {
        run("removing an MCP session",
            [&](pg::connection& c) { c.exec("DELETE FROM toolhost_sessions WHERE id = $1", id); });
    }

    int64_t expire_sessions(int64_t idle_ms) override {
        int64_t n = 0;
        run("expiring idle MCP sessions", [&](pg::connection& c) {
            n = c.exec(
                     "DELETE FROM toolhost_sessions WHERE used_at < now() - make_interval(secs => $1::double precision "
                     "/ 1000)",
                     idle_ms)
                    .affected();
        });
        return n;
    }

    std::vector<serve::node_report> heartbeat(std::string_view node, std::string_view plugin_set,
                                              int64_t within_ms) override {
        std::vector<serve::node_report> out;
        run("recording this host's heartbeat", [&](pg::connection& c) {
            c.exec(
                "INSERT INTO toolhost_nodes (node, plugin_set, seen_at) VALUES ($1, $2, now())"
                " ON CONFLICT (node) DO UPDATE SET plugin_set = excluded.plugin_set, seen_at = now()",
                node, plugin_set);
            auto r = c.exec(
                "SELECT node, plugin_set, (extract(epoch FROM now() - seen_at) * 1000)::bigint"
                " FROM toolhost_nodes WHERE seen_at > now() - make_interval(secs => $1::double precision / 1000)"
                " ORDER BY node",
                within_ms);
            for (int i = 0; i < r.rows(); ++i) {
                auto& n = out.emplace_back();
                r.read_row(i, n.node, n.plugin_set, n.seen_ms_ago);
            }
        });
        return out;
    }

    void announce_tools_changed(std::string_view node, std::string_view plugin_set) override {
        const std::string payload = toolhost::json_text(json::object{{"node", node}, {"plugin_set", plugin_set}});
        run("announcing a tool list change",
            [&](pg::connection& c) { c.exec("SELECT pg_notify($1, $2)", channel, payload); });
    }

    bool listen(int wait_ms, const std::function<void(std::string_view, std::string_view)>& on_change,
                std::string& why) override {
        try {
            if (!listener_ || !listener_->usable()) {
                listener_.reset();
                auto c = pg::connection::open(url_, deadline(), "toolhost cluster");
                c.set_deadline(deadline());
                c.exec("LISTEN " + std::string(channel));
                listener_ = std::make_unique<pg::connection>(std::move(c));
            }
            for (const auto& n :
                 listener_->notifications(std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms))) {
                json::error_code ec;
                const json::value v = json::parse(n.payload, ec);
                const json::object* o = ec ? nullptr : v.if_object();
                const json::value* node = o ? o->if_contains("node") : nullptr;
                const json::value* set = o ? o->if_contains("plugin_set") : nullptr;
                if (node && node->is_string())
                    on_change(node->get_string(),
                              set && set->is_string() ? std::string_view(set->get_string()) : std::string_view());
            }
            return true;
        } catch (const sdk::error& e) {
            listener_.reset();
            why = "listening for tool list changes on the database at " + pool_.where() + ": " + e.what();
            return false;
        }
    }

private:
    std::chrono::steady_clock::time_point deadline() const { return std::chrono::steady_clock::now() + timeout_; }

    template <class Fn>
    void run(std::string_view what, Fn&& fn) {
        try {
            auto lease = pool_.acquire(deadline());
            fn(*lease);
        } catch (const sdk::error& e) {
            pg::name_the_database(what, e, pool_.where());
            throw;
        }
    }

    const std::string url_;
    const std::string node_;
    const std::chrono::milliseconds timeout_;
    pg::connection_pool pool_;
    const std::string description_;
    std::unique_ptr<pg::connection> listener_;  // the listening thread's only
};

}  // namespace

std::shared_ptr<serve::cluster> open_postgres_cluster(const std::string& url, const std::string& node,
                                                      std::chrono::milliseconds timeout) {
    return std::make_shared<postgres_cluster>(url, node, timeout);
}

std::string describe_database(const std::string& url) { return "postgresql " + pg::describe(url); }

}  // namespace toolhost::cli
