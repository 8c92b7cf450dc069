#include <toolhost/serve/service.hpp>

#include <toolhost/logging.hpp>
#include <toolhost/serve/http_server.hpp>
#include <toolhost/serve/mcp.hpp>
#include <toolhost/serve/plugin_watcher.hpp>
#include <toolhost/serve/status_json.hpp>
#include <toolhost/serve/stdio_server.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

namespace toolhost::serve {
namespace {

mcp::server_options mcp_options(const serve_settings& s) {
    mcp::server_options o;
    o.tool_name = s.tool_name;
    o.page_size = s.page_size;
    o.instructions = s.instructions;
    o.call_timeout = std::chrono::milliseconds(s.call_timeout_ms);
    o.list_ttl = std::chrono::milliseconds(s.list_ttl_ms);
    o.list_cache_scope = s.list_cache_scope;
    o.max_subscriptions = s.max_subscriptions;
    o.max_resource_subscriptions = s.max_resource_subscriptions;
    o.request_state_secret = s.request_state_secret;
    o.json_max_depth = s.json_max_depth;
    return o;
}

// Every HTTP connection is a descriptor, and serve.http.max_connections' default follows the
// open-file limit: the soft limit goes up to the hard one.
void raise_open_file_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
    const auto before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) == 0)
        logging::write(logging::level::debug, "serve", "open-file limit raised",
                       {{"from", static_cast<std::uint64_t>(before)}, {"to", static_cast<std::uint64_t>(rl.rlim_max)}});
}

}  // namespace

struct service::impl {
    toolhost::host& host;
    const service_settings settings;
    std::ostream& report;
    const std::chrono::milliseconds grace{settings.serve.shutdown_grace_ms};

    std::optional<mcp::server> mcp;
    std::optional<http_server> http;
    std::unique_ptr<stdio_server> stdio;
    std::unique_ptr<plugin_watcher> watcher;
    std::thread cluster_thread;             // announces this host's tool list changes, hears the others'
    bool announce_pending = false;          // under m
    bool cluster_stop = false;              // under m
    boost::json::array hosts;               // under m: the hosts of the last heartbeat (the console's list)
    std::vector<std::string> left_running;  // tools whose calls outlived the stop's grace

    std::mutex reload_m;  // one reload at a time
    std::mutex m;
    std::condition_variable stop_cv;
    bool started = false;
    bool stop_requested = false;
    bool hurry = false;  // a second stop(): no more drain delay
    bool stopped = false;

    impl(toolhost::host& h, service_settings s, std::ostream& r) : host(h), settings(std::move(s)), report(r) {}

    bool start_tools() {
        start_options so;
        so.concurrent = host.config().concurrent_init;
        so.fail_on_error = host.config().fail_on_error;
        auto started_tools = host.start(so);
        for (const auto& [name, e] : started_tools.failed)
            report << "toolhost: tool '" << name << "' did not start: " << status_name(e.code) << ": " << e.message
                   << '\n';
        return started_tools.ok() || !host.config().fail_on_error;
    }

    bool start_http() {
        const serve_settings& s = settings.serve;
        http.emplace(host, *mcp, s);
        if (settings.cluster) {
            http->set_cluster(settings.cluster);
            http->set_hosts_source([this] {
                std::lock_guard lock(m);
                return hosts;
            });
        }
        // Before start(), as http_server asks: the I/O threads read it from then on.
        http->set_reload_handler([this] {
            auto r = reload("POST /v1/admin/reload");
            return std::pair{r.applied, r.to_json()};
        });
        const unsigned io_threads =
            s.io_threads > 0 ? s.io_threads : std::max(1u, std::thread::hardware_concurrency() / 2);
        if (auto bound = http->start(io_threads); !bound) {
            report << "toolhost: cannot serve HTTP on " << s.listen << ": " << bound.error() << '\n';
            http.reset();
            return false;
        }
        http->set_ready(true);
        auto [address, port] = split_listen_address(s.listen);
        if (address.find(':') != std::string::npos) address = "[" + address + "]";
        report << "toolhost: serving MCP at " << (s.tls.enabled() ? "https://" : "http://") << address << ':'
               << http->port() << "/mcp, REST at /v1/tools (" << mcp->tools().size() << " MCP tools"
               << (s.stateless ? ", stateless" : "") << ")\n";
        if (settings.port_file) write_port_file(*settings.port_file);
        return true;
    }

    boost::system::result<host_config, std::vector<json_diagnostic>> read_config() const {
        if (settings.read_config) return settings.read_config();
        const auto& file = host.config().file;
        return file.empty() ? default_config(process_env) : load_config(file, process_env);
    }

    reload_outcome reload(std::string_view trigger) {
        std::lock_guard one(reload_m);
        reload_outcome out;
        auto next = read_config();
        if (next) {
            // The "serve" section is checked too, though only a restart applies it.
            if (auto serving = load_settings(*next, process_env); !serving) next = serving.error();
        }
        if (!next) {
            for (const auto& d : next.error()) out.problems.push_back(d.to_string());
        } else if (auto applied = host.reload(std::move(*next)); !applied) {
            out.problems = std::move(applied).error();
        } else {
            out.applied = true;
            out.report = std::move(*applied);
        }
        if (http) out.credentials_kept = http->reload_credentials();  // logs what it could not load
        if (out.applied) {
            logging::write(logging::level::info, "serve", "configuration reloaded",
                           {{"trigger", std::string(trigger)}, {"result", out.to_json()}});
            if (!out.report.needs_restart.empty())
                logging::write(logging::level::warning, "serve",
                               "changed settings that need a restart were not applied",
                               {{"settings", out.to_json().at("needs_restart")}});
        } else {
            logging::write(logging::level::error, "serve", "configuration reload refused; nothing changed",
                           {{"trigger", std::string(trigger)}, {"problems", out.to_json().at("problems")}});
        }
        return out;
    }

    // Written aside and renamed, so that a reader never sees half a number.
    void write_port_file(const std::filesystem::path& file) {
        std::filesystem::path tmp = file;
        tmp += ".tmp";
        std::ofstream(tmp) << http->port() << '\n';
        std::error_code ec;
        std::filesystem::rename(tmp, file, ec);
        if (ec) report << "toolhost: cannot write " << file.string() << ": " << ec.message() << '\n';
    }

    // With a cluster: tells the other hosts when this one's tool list changes, and this host's
    // listeners when another's does (their clients list again, whichever host answers).
    void start_cluster() {
        mcp->on_tools_changed([this] {
            std::lock_guard lock(m);
            announce_pending = true;
            stop_cv.notify_all();
        });
        cluster_thread = std::thread([this] { run_cluster(); });
    }

    void run_cluster() {
        const std::string& node = settings.serve.node_id;
        auto on_change = [&](std::string_view from, std::string_view plugin_set) {
            if (from == node) return;  // our own announcement
            logging::write(logging::level::info, "serve.cluster", "another host's tool list changed",
                           {{"node", std::string(from)}, {"plugin_set", std::string(plugin_set)}});
            mcp->remote_tools_changed();
        };
        auto retry_at = std::chrono::steady_clock::time_point{};
        auto next_heartbeat = std::chrono::steady_clock::time_point{};
        for (;;) {
            bool announce = false;
            {
                std::unique_lock lock(m);
                if (cluster_stop) return;
                if (std::chrono::steady_clock::now() < retry_at)
                    stop_cv.wait_until(lock, retry_at, [&] { return cluster_stop; });
                if (cluster_stop) return;
                announce = std::exchange(announce_pending, false);
            }
            std::string why;
            try {
                if (announce) settings.cluster->announce_tools_changed(node, plugin_set_digest(host));
                if (const auto now = std::chrono::steady_clock::now(); now >= next_heartbeat) {
                    // Every 5 s; a host not heard of for 15 s is no longer listed.
                    next_heartbeat = now + std::chrono::seconds(5);
                    boost::json::array seen;
                    for (const auto& n : settings.cluster->heartbeat(node, plugin_set_digest(host), 15000))
                        seen.push_back(boost::json::object{{"node", n.node},
                                                           {"plugin_set", n.plugin_set},
                                                           {"seen_ms_ago", n.seen_ms_ago},
                                                           {"self", n.node == node}});
                    std::lock_guard lock(m);
                    hosts = std::move(seen);
                }
                if (settings.cluster->listen(250, on_change, why)) continue;
            } catch (const std::exception& e) {
                why = e.what();
                if (announce) {
                    std::lock_guard lock(m);
                    announce_pending = true;  // tried again with the next round
                }
            }
            logging::write(logging::level::warning, "serve.cluster",
                           "cannot exchange tool list changes with the other hosts; trying again in 5 s",
                           {{"error", why}});
            retry_at = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        }
    }

    void stop_cluster() {
        {
            std::lock_guard lock(m);
            cluster_stop = true;
            stop_cv.notify_all();
        }
        if (cluster_thread.joinable()) cluster_thread.join();
        if (mcp) mcp->on_tools_changed(nullptr);
    }

    // The folder watch first (no tool appears or changes while stopping), then the transports, then
    // the tools.
    void stop_sequence() {
        {
            std::lock_guard lock(m);
            if (stopped || !started) return;
            stopped = true;
        }
        // Draining: /readyz has said 503 since stop() (a load balancer stops sending new
        // requests); everything else is served as before for serve.http.drain_delay_ms, unless a
        // second stop() hurries it. Then the stop proper.
        if (http && settings.serve.drain_delay_ms > 0) {
            std::unique_lock lock(m);
            if (stop_cv.wait_for(lock, std::chrono::milliseconds(settings.serve.drain_delay_ms), [&] { return hurry; }))
                logging::write(logging::level::info, "serve", "drain cut short by a second stop request");
        }
        if (watcher) watcher->stop();
        stop_cluster();
        if (http) http->stop(grace);
        std::unique_ptr<stdio_server> closing;
        {
            std::lock_guard lock(m);  // stop() may be telling it to stop right now
            closing = std::move(stdio);
        }
        closing.reset();
        left_running = host.shutdown(grace).left_running;
        logging::write(logging::level::info, "serve", "stopped");
    }
};

const std::vector<std::string>& service::left_running() const noexcept { return impl_->left_running; }

service::service(toolhost::host& h, service_settings settings, std::ostream& report)
    : impl_(std::make_unique<impl>(h, std::move(settings), report)) {}

service::~service() {
    stop();
    {
        std::lock_guard lock(impl_->m);
        impl_->hurry = true;  // going away: no drain delay
    }
    impl_->stop_sequence();
}

bool service::start() {
    impl& s = *impl_;
    if (s.settings.http) {
        // Before any tool starts: an exposure that is refused costs nothing.
        if (auto problem = unauthenticated_exposure(s.settings.serve); !problem.empty()) {
            s.report << "toolhost: cannot serve HTTP: " << problem << '\n';
            return false;
        }
        raise_open_file_limit();
    }
    if (!s.start_tools()) {
        s.host.shutdown();
        return false;
    }
    s.mcp.emplace(s.host, mcp_options(s.settings.serve));
    for (const auto& p : s.mcp->naming_problems()) s.report << "toolhost: " << p << '\n';
    if (s.settings.http && !s.start_http()) {
        s.host.shutdown();
        return false;
    }
    if (s.settings.cluster) s.start_cluster();
    if (s.settings.stdio) {
        s.stdio = std::make_unique<stdio_server>(*s.mcp, s.settings.stdio_in, s.settings.stdio_out);
        s.report << "toolhost: serving MCP on stdio (" << s.mcp->tools().size() << " MCP tools)\n";
    }
    s.report.flush();
    if (const auto& o = s.settings.serve; o.plugin_rescan_ms > 0)
        s.watcher = std::make_unique<plugin_watcher>(
            s.host, s.host.config().plugin_dirs,
            plugin_watch_settings{.quiet = std::chrono::milliseconds(o.plugin_quiet_ms),
                                  .safety_scan = std::chrono::milliseconds(o.plugin_safety_scan_ms),
                                  .poll = std::chrono::milliseconds(o.plugin_rescan_ms)});
    std::lock_guard lock(s.m);
    s.started = true;
    return true;
}

void service::run() {
    impl& s = *impl_;
    if (s.stdio) {
        s.stdio->run(s.grace);
    } else {
        std::unique_lock lock(s.m);
        s.stop_cv.wait(lock, [&] { return s.stop_requested; });
    }
    s.stop_sequence();
}

void service::stop(std::string_view signal) {
    impl& s = *impl_;
    {
        std::lock_guard lock(s.m);
        if (s.stop_requested) {
            s.hurry = true;
            s.stop_cv.notify_all();
            return;
        }
        s.stop_requested = true;
        // Not ready from now on: /readyz answers 503 during the drain and the stop.
        if (s.http) s.http->set_ready(false);
    }
    if (!signal.empty())
        logging::write(logging::level::info, "serve", "stopping: finishing calls in flight",
                       {{"signal", std::string(signal)},
                        {"drain_delay_ms", s.settings.serve.drain_delay_ms},
                        {"grace_ms", s.settings.serve.shutdown_grace_ms}});
    {
        std::lock_guard lock(s.m);
        if (s.stdio) s.stdio->stop();
    }
    s.stop_cv.notify_all();
}

reload_outcome service::reload(std::string_view trigger) { return impl_->reload(trigger); }

boost::json::object reload_outcome::to_json() const {
    namespace json = boost::json;
    auto strings = [](const std::vector<std::string>& v) { return json::array(v.begin(), v.end()); };
    json::object out;
    if (!applied) {
        out = {{"ok", false}, {"problems", strings(problems)}};
        if (!credentials_kept.empty()) out["credentials_kept"] = strings(credentials_kept);
        return out;
    }
    json::array failed;
    for (const auto& [tool, error] : report.failed) failed.push_back(json::object{{"tool", tool}, {"error", error}});
    out = {{"ok", true},
           {"enabled", strings(report.enabled)},
           {"disabled", strings(report.disabled)},
           {"restarted", strings(report.restarted)},
           {"policies", strings(report.policies)},
           {"failed", std::move(failed)},
           {"needs_restart", strings(report.needs_restart)},
           {"log_changed", report.log_changed}};
    if (!credentials_kept.empty()) out["credentials_kept"] = strings(credentials_kept);
    return out;
}

std::uint16_t service::http_port() const noexcept { return impl_->http ? impl_->http->port() : 0; }

}  // namespace toolhost::serve
