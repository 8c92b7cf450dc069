#pragma once
// The server: the acceptor, the I/O threads (an io_context each), the MCP sessions, the request
// metrics and the stop sequence. Connections (connection.hpp) use it from their threads.

#include "admin_queue.hpp"
#include "auth/authenticator.hpp"
#include "console/admin_console.hpp"
#include "common.hpp"
#include "limits/rate_limiter.hpp"
#include "route.hpp"
#include "sessions.hpp"
#include "shared_state.hpp"
#include "tls.hpp"

namespace toolhost::serve::detail {

class connection;

// A recurring warning written at most once per interval; the record that is written says how
// many were left out since the last one. One thread uses it.
class rate_limited {
public:
    explicit rate_limited(steady::duration interval) : interval_(interval) {}
    // Whether to write the record now; then `left_out` is the number not written before it.
    bool admit(std::uint64_t& left_out) {
        const auto now = steady::now();
        if (now < next_) {
            ++skipped_;
            return false;
        }
        next_ = now + interval_;
        left_out = std::exchange(skipped_, 0);
        return true;
    }

private:
    const steady::duration interval_;
    steady::time_point next_{};
    std::uint64_t skipped_ = 0;
};

class server_core {
public:
    server_core(toolhost::host& h, mcp::server& m, serve_settings s);
    ~server_core();

    boost::system::result<void, std::string> start(unsigned threads);
    void stop(std::chrono::milliseconds grace);
    std::uint16_t port() const noexcept { return port_.load(); }
    void set_ready(bool r) noexcept { ready_.store(r); }
    std::size_t session_count() const { return sessions_.size(); }
    std::size_t connection_count() const noexcept {
        return static_cast<std::size_t>(st_->connections.load(std::memory_order_relaxed));
    }

    // ---- used by connections (on their threads)
    bool stopping() const noexcept { return st_->stopping.load(std::memory_order_relaxed); }
    bool host_allowed(std::string_view host) const;
    bool origin_allowed(std::string_view origin) const;

    void count(route_id route, unsigned status, steady::duration took, bool timed);

    // serve.http.tls: the context new connections use (null: plain HTTP).
    std::shared_ptr<asio::ssl::context> tls_context() const { return tls_ ? tls_->current() : nullptr; }
    // Reads the TLS certificate and the OAuth keys again (SIGHUP, POST /v1/admin/reload): what
    // did not load keeps the one in use. One message per failure; empty when all is fine.
    std::vector<std::string> reload_credentials();

    void unregister(std::list<std::weak_ptr<connection>>::iterator it) {
        std::lock_guard l(conns_m_);
        conns_.erase(it);
    }

    toolhost::host& host_;
    mcp::server& mcp_;
    const serve_settings settings_;
    const std::shared_ptr<shared_state> st_ = std::make_shared<shared_state>();

    std::function<std::pair<bool, boost::json::object>()> reload_;  // set before start()
    // The store 2025-era sessions are shared through (serve::cluster); before start().
    void set_cluster(std::shared_ptr<cluster> c);
    std::string cluster_;                        // what the hosts share (cluster::describe()); empty: this host alone
    std::function<boost::json::array()> hosts_;  // the console's list of hosts; before start()

private:
    std::atomic<bool> ready_{false};
    session_table sessions_{mcp_, settings_.max_sessions, settings_.max_sessions_per_client, st_};

    // Set up before services_, which refers to them; a failure is reported by start().
    std::string setup_error_;
    std::unique_ptr<auth::authenticator> make_authenticator();
    std::unique_ptr<tls_contexts> make_tls();
    std::vector<std::pair<std::string, bucket_rate>> tool_rates() const;
    std::unique_ptr<auth::authenticator> auth_ = make_authenticator();
    std::unique_ptr<tls_contexts> tls_ = make_tls();
    std::unique_ptr<rate_limiter> limits_ = std::make_unique<rate_limiter>(
        bucket_rate{settings_.rate_limit.requests.per_second, settings_.rate_limit.requests.burst}, tool_rates(),
        [] { return steady::now(); }, settings_.rate_limit.max_clients);

    admin_queue admin_;                         // stopped by stop() once the I/O threads are gone
    std::unique_ptr<session_sharing> sharing_;  // with a cluster; stopped with admin_
    std::unique_ptr<admin_console> make_console();
    const std::unique_ptr<admin_console> console_ = make_console();  // null: serve.http.console is off

public:
    const route_services services_{host_,  mcp_,     settings_, sessions_, ready_,        reload_,
                                   *auth_, *limits_, admin_,    cluster_,  console_.get()};
    auth::authenticator& auth() noexcept { return *auth_; }
    rate_limiter& limits() noexcept { return *limits_; }

private:
    void do_accept();
    // Over max_connections: a 503 and the close, or only the close while max_refusing are under way.
    void refuse(std::shared_ptr<connection> c);
    void on_accept_error(const boost::system::error_code& ec);
    // Out of descriptors: the spare one is given up to take the oldest waiting connection and close
    // it at once (its client learns now instead of waiting in the backlog), then taken again.
    bool shed_one();
    void add_connection(const std::shared_ptr<connection>& c);
    void run_io(asio::io_context& io);
    void schedule_sweep();
    void schedule_console_sample();
    std::vector<std::shared_ptr<connection>> snapshot();

    std::atomic<std::uint16_t> port_{0};
    std::vector<host_port> allowed_hosts_;
    std::vector<std::string> allowed_origins_;
    std::string listen_name_;          // lower case, IPv6 in brackets
    std::size_t max_connections_ = 0;  // settings_.max_connections, or derived from RLIMIT_NOFILE at start
    int spare_fd_ = -1;                // /dev/null, given up by shed_one()
    rate_limited accept_failures_{std::chrono::seconds(10)};  // both on the acceptor's thread
    rate_limited refusals_{std::chrono::seconds(10)};

    // Metrics (references into the host's registry, which outlives the server).
    counter_family* requests_ = nullptr;
    histogram_family* durations_ = nullptr;
    std::array<std::array<std::atomic<counter*>, 600>, r_count> counters_{};
    std::array<std::atomic<histogram*>, r_count> histograms_{};
    gauge_family* gauges_ = nullptr;

    // Declared before the io_context: connections destroyed with it unregister here.
    std::mutex conns_m_;
    std::list<std::weak_ptr<connection>> conns_;

    std::mutex lifecycle_m_;
    bool started_ = false;
    bool stopped_ = false;

    // One io_context per I/O thread (start() adds all but the first); the first one also runs
    // the acceptor and the sweep.
    std::vector<std::unique_ptr<asio::io_context>> ios_ = [] {
        std::vector<std::unique_ptr<asio::io_context>> v;
        v.push_back(std::make_unique<asio::io_context>(1));
        return v;
    }();
    std::vector<asio::executor_work_guard<io_executor>> work_;
    std::size_t next_io_ = 0;  // round robin at accept
    io_executor main_ = ios_.front()->get_executor();
    asio::basic_socket_acceptor<tcp, io_executor> acceptor_{main_};
    timer_type accept_retry_{main_};
    timer_type sweep_timer_{main_};
    timer_type console_timer_{main_};
    std::vector<std::thread> threads_;
};

}  // namespace toolhost::serve::detail
