#include "server_core.hpp"

#include "connection.hpp"

#include <toolhost/serve/failure_json.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace toolhost::serve::detail {
namespace {

// max_connections' default: three quarters of the open-file limit, the rest left to the host, its
// plugins and the answers to refused connections.
std::size_t default_max_connections() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    const auto limit = std::min<rlim_t>(rl.rlim_cur, 1u << 24);
    return std::max<std::size_t>(1, static_cast<std::size_t>(limit) / 4 * 3);
}

// What a connection taken by shed_one() is sent, without reading its request.
const std::string& out_of_descriptors_response() {
    static const std::string response = [] {
        const std::string body =
            failure_json("UNAVAILABLE", "Service Unavailable: the server has no file descriptor left for a connection");
        return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    }();
    return response;
}

}  // namespace

server_core::server_core(toolhost::host& h, mcp::server& m, serve_settings s)
    : host_(h), mcp_(m), settings_(std::move(s)) {
    for (const auto& a : settings_.allowed_hosts) {
        host_port hp = split_host(a);
        if (hp.valid) allowed_hosts_.push_back(std::move(hp));
    }
    for (const auto& o : settings_.allowed_origins) allowed_origins_.push_back(normalize_origin(o));
    auto& reg = host_.metrics();
    requests_ = &reg.counters("toolhost_http_requests_total", "HTTP requests served, by route and status code.",
                              {"route", "code"});
    durations_ = &reg.histograms(
        "toolhost_http_request_duration_seconds",
        "Time from a request's arrival to its response's end (SSE streams of GET /mcp excluded).", {"route"});
    gauges_ = &reg.gauges("toolhost_http_open", "Open HTTP connections and MCP sessions.", {"what"});
    std::weak_ptr<shared_state> weak = st_;
    gauges_->set_callback({"connections"}, [weak] {
        auto s = weak.lock();
        return s ? static_cast<double>(s->connections.load(std::memory_order_relaxed)) : 0.0;
    });
    gauges_->set_callback({"mcp_sessions"}, [weak] {
        auto s = weak.lock();
        return s ? static_cast<double>(s->sessions.load(std::memory_order_relaxed)) : 0.0;
    });
}

server_core::~server_core() {
    stop(0ms);
    if (spare_fd_ >= 0) ::close(spare_fd_);
    gauges_->remove_callback({"connections"});
    gauges_->remove_callback({"mcp_sessions"});
}

bool server_core::host_allowed(std::string_view host) const {
    const host_port hp = split_host(host);
    if (!hp.valid) return false;
    if (is_loopback_name(hp.name) || hp.name == listen_name_) return true;
    return std::any_of(allowed_hosts_.begin(), allowed_hosts_.end(),
                       [&](const host_port& a) { return a.name == hp.name && (a.port.empty() || a.port == hp.port); });
}

bool server_core::origin_allowed(std::string_view origin) const {
    if (is_loopback_origin(origin)) return true;
    if (allowed_origins_.empty()) return false;
    const std::string o = normalize_origin(origin);
    return std::find(allowed_origins_.begin(), allowed_origins_.end(), o) != allowed_origins_.end();
}

void server_core::count(route_id route, unsigned status, steady::duration took, bool timed) {
    if (status >= 600) status = 599;
    auto& slot = counters_[route][status];
    counter* c = slot.load(std::memory_order_acquire);
    if (c == nullptr) {
        const std::string code = std::to_string(status);
        c = &requests_->with({route_names[route], code});
        slot.store(c, std::memory_order_release);
    }
    c->inc();
    if (!timed) return;
    histogram* h = histograms_[route].load(std::memory_order_acquire);
    if (h == nullptr) {
        h = &durations_->with({route_names[route]});
        histograms_[route].store(h, std::memory_order_release);
    }
    h->observe(took);
}

// An I/O thread. After handling something it keeps polling for a short while before it blocks
// in epoll_wait: a client that sends its next request right after an answer (an agent's tool
// loop) then finds the thread awake instead of paying a wake-up, which measured as half the
// round trip of a single client. Under load there is always work and the spin never runs; when
// idle the thread blocks after the spin, so it costs nothing either.
//
// A handler that throws costs what it was doing (connections catch what their routes throw; this
// is the last resort for the rest), never the thread: it is logged and the thread goes on.
void server_core::run_io(asio::io_context& io) {
    using clock = std::chrono::steady_clock;
    constexpr auto spin = std::chrono::microseconds(50);
    auto active = clock::now();
    while (!io.stopped()) {
        try {
            if (io.poll() != 0) {
                active = clock::now();
                continue;
            }
            if (io.stopped()) break;
            if (clock::now() - active < spin) continue;
            if (io.run_one() == 0) break;  // stopped
            active = clock::now();
        } catch (const std::exception& e) {
            logging::write(logging::level::error, "serve.http", "an I/O handler threw", {{"error", e.what()}});
        } catch (...) {
            logging::write(logging::level::error, "serve.http", "an I/O handler threw",
                           {{"error", "an exception that is not a std::exception"}});
        }
    }
}

std::unique_ptr<auth::authenticator> server_core::make_authenticator() {
    auto a = auth::authenticator::create(settings_);
    if (a) return std::move(*a);
    // start() refuses to serve; meanwhile the routes need an authenticator to refer to.
    setup_error_ = a.error();
    serve_settings none;
    none.auth_token = "\n";  // no header holds a newline: nothing is let in
    return std::move(*auth::authenticator::create(none));
}

std::unique_ptr<tls_contexts> server_core::make_tls() {
    if (!settings_.tls.enabled()) return nullptr;
    auto t = tls_contexts::open(settings_.tls);
    if (t) return std::move(*t);
    if (setup_error_.empty()) setup_error_ = "serve.http.tls: " + t.error();
    return nullptr;
}

std::vector<std::string> server_core::reload_credentials() {
    std::vector<std::string> problems;
    if (tls_) {
        if (auto problem = tls_->reload(); !problem.empty()) {
            problems.push_back("serve.http.tls: " + problem + "; the certificate in use stays");
        } else {
            logging::write(logging::level::info, "serve.http", "TLS certificate reloaded",
                           {{"certificate", settings_.tls.certificate}});
        }
    }
    if (auth_->oauth()) {
        if (auto problem = auth_->refresh_keys(); !problem.empty())
            problems.push_back("serve.http.oauth: " + problem + "; the keys in use stay");
    }
    for (const auto& p : problems) logging::write(logging::level::error, "serve.http", "reload failed", {{"error", p}});
    return problems;
}

std::vector<std::pair<std::string, bucket_rate>> server_core::tool_rates() const {
    std::vector<std::pair<std::string, bucket_rate>> out;
    for (const auto& [tool, r] : settings_.rate_limit.tools) out.emplace_back(tool, bucket_rate{r.per_second, r.burst});
    return out;
}

boost::system::result<void, std::string> server_core::start(unsigned threads) {
    std::lock_guard l(lifecycle_m_);
    if (started_) return std::string("the HTTP server was already started");
    if (!setup_error_.empty()) return setup_error_;
    if (auto problem = check_listen_address(settings_.listen); !problem.empty())
        return "serve.http.listen '" + settings_.listen + "': " + problem;
    auto [host, port] = split_listen_address(settings_.listen);
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) return "serve.http.listen '" + settings_.listen + "': " + ec.message();
    listen_name_ = address.is_v6() ? "[" + to_lower(address.to_string()) + "]" : address.to_string();
    if (auto problem = unauthenticated_exposure(settings_); !problem.empty()) return problem;
    const tcp::endpoint where(address, port);
    acceptor_.open(where.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(where, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) acceptor_.non_blocking(true, ec);  // shed_one() accepts synchronously
    if (ec) {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        return "cannot listen on " + settings_.listen + ": " + ec.message();
    }
    port_.store(acceptor_.local_endpoint(ec).port());
    started_ = true;
    max_connections_ = settings_.max_connections != 0 ? settings_.max_connections : default_max_connections();
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const unsigned n = std::max(1u, threads);
    while (ios_.size() < n) ios_.push_back(std::make_unique<asio::io_context>(1));
    for (auto& io : ios_) work_.push_back(asio::make_work_guard(*io));
    asio::dispatch(main_, [this] {
        do_accept();
        if (!settings_.stateless) schedule_sweep();
        if (console_) schedule_console_sample();
    });
    threads_.reserve(n);
    for (auto& io : ios_) threads_.emplace_back([this, &io = *io] { run_io(io); });
    logging::write(logging::level::info, "serve.http", "listening",
                   {{"address", listen_name_ + ":" + std::to_string(port_.load())},
                    {"threads", n},
                    {"max_connections", max_connections_},
                    {"stateless", settings_.stateless},
                    {"auth", auth_->required()},
                    {"oauth", auth_->oauth()},
                    {"tls", tls_ != nullptr}});
    return {};
}

void server_core::do_accept() {
    auto c = std::make_shared<connection>(*this, *ios_[next_io_++ % ios_.size()]);
    acceptor_.async_accept(c->socket(), [this, c](const boost::system::error_code& ec) mutable {
        if (!acceptor_.is_open() || ec == asio::error::operation_aborted) return;
        if (ec) return on_accept_error(ec);
        if (st_->stopping.load()) {
            boost::system::error_code ignored;
            c->socket().close(ignored);
            return;
        }
        if (st_->connections.load(std::memory_order_relaxed) >= static_cast<std::int64_t>(max_connections_)) {
            refuse(std::move(c));
        } else {
            c->count_open();
            add_connection(c);
            const auto& ex = c->executor();
            asio::dispatch(ex, [c = std::move(c)] { c->run(); });
        }
        do_accept();
    });
}

void server_core::add_connection(const std::shared_ptr<connection>& c) {
    std::lock_guard l(conns_m_);
    conns_.push_front(c);
    c->set_registration(conns_.begin());
}

void server_core::refuse(std::shared_ptr<connection> c) {
    if (std::uint64_t left_out = 0; refusals_.admit(left_out))
        logging::write(logging::level::warning, "serve.http", "connection refused: max_connections are open",
                       {{"max_connections", max_connections_},
                        {"refused_since_last_record", left_out ? json::value(left_out) : json::value()}});
    // Over TLS a 503 would need a handshake first: the overloaded server spends nothing on it.
    if (tls_ || st_->refusing.load(std::memory_order_relaxed) >= max_refusing) {
        boost::system::error_code ignored;  // enough answers under way: this one is only closed
        c->socket().close(ignored);
        return;
    }
    c->count_refusing();
    add_connection(c);
    const auto& ex = c->executor();
    asio::dispatch(ex, [c = std::move(c), max = max_connections_] {
        c->refuse("Service Unavailable: the server has its maximum of " + std::to_string(max) + " connections open");
    });
}

void server_core::on_accept_error(const boost::system::error_code& ec) {
    if (std::uint64_t left_out = 0; accept_failures_.admit(left_out))
        logging::write(logging::level::warning, "serve.http", "accept failed",
                       {{"error", ec.message()},
                        {"failures_since_last_record", left_out ? json::value(left_out) : json::value()}});
    const bool out_of_descriptors =
        ec == boost::system::errc::too_many_files_open || ec == boost::system::errc::too_many_files_open_in_system;
    if (out_of_descriptors && shed_one()) return do_accept();
    // Otherwise wait a little instead of spinning.
    accept_retry_.expires_after(50ms);
    accept_retry_.async_wait([this](const boost::system::error_code& e) {
        if (!e && acceptor_.is_open()) do_accept();
    });
}

bool server_core::shed_one() {
    if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (spare_fd_ < 0) return false;
    ::close(spare_fd_);
    const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
        if (!tls_) {  // a TLS client would take it for a broken handshake all the same
            const std::string& answer = out_of_descriptors_response();
            [[maybe_unused]] const auto sent = ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        ::close(fd);
    }
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
}

std::chrono::milliseconds sweep_interval(std::uint64_t timeout_ms) {
    return std::clamp(std::chrono::milliseconds(timeout_ms / 2), std::chrono::milliseconds(10),
                      std::chrono::milliseconds(60000));
}

void server_core::set_cluster(std::shared_ptr<cluster> c) {
    if (!c) return;
    cluster_ = c->describe();
    if (settings_.stateless) return;  // no sessions to share
    sharing_ = std::make_unique<session_sharing>(std::move(c));
    sessions_.set_sharing(sharing_.get(), std::chrono::milliseconds(settings_.session_idle_timeout_ms));
}

void server_core::schedule_sweep() {
    sweep_timer_.expires_after(sweep_interval(settings_.session_idle_timeout_ms));
    sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || st_->stopping.load()) return;
        sessions_.sweep(std::chrono::milliseconds(settings_.session_idle_timeout_ms));
        if (sharing_) sharing_->expire(static_cast<int64_t>(settings_.session_idle_timeout_ms));
        schedule_sweep();
    });
}

std::unique_ptr<admin_console> server_core::make_console() {
    if (!settings_.console) return nullptr;
    admin_console::identity id;
    id.node = settings_.node_id;
    id.port = [this] { return port_.load(); };
    id.hosts = [this] { return hosts_ ? hosts_() : json::array(); };
    id.config_file = host_.config().file.string();
    for (const auto& d : host_.config().plugin_dirs) id.plugin_dirs.push_back(d.string());
    return std::make_unique<admin_console>(host_, std::move(id));
}

// The console's history: a sample of the counters every interval, on the acceptor's thread.
void server_core::schedule_console_sample() {
    console_timer_.expires_after(console_->sample_interval());
    console_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || st_->stopping.load()) return;
        console_->sample();
        schedule_console_sample();
    });
}

std::vector<std::shared_ptr<connection>> server_core::snapshot() {
    std::vector<std::shared_ptr<connection>> all;
    std::lock_guard l(conns_m_);
    all.reserve(conns_.size());
    for (const auto& w : conns_)
        if (auto c = w.lock()) all.push_back(std::move(c));
    return all;
}

void server_core::stop(std::chrono::milliseconds grace) {
    std::lock_guard l(lifecycle_m_);
    if (stopped_) return;
    stopped_ = true;
    if (!started_) return;
    st_->stopping.store(true);
    logging::write(logging::level::info, "serve.http", "stopping",
                   {{"grace_ms", static_cast<std::int64_t>(grace.count())}, {"in_progress", st_->busy.load()}});

    // 1. No new connections.
    std::promise<void> closed;
    auto closed_future = closed.get_future();
    asio::post(main_, [this, &closed] {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        accept_retry_.cancel();
        sweep_timer_.cancel();
        console_timer_.cancel();
        closed.set_value();
    });
    const bool acceptor_closed = closed_future.wait_for(10s) == std::future_status::ready;

    // 2. Idle connections close, GET streams end, the others answer 503 from now on. (Waited
    // for: a stream that ends with a last message becomes work in progress in on_stopping.)
    {
        auto all = snapshot();
        auto left = std::make_shared<std::atomic<std::size_t>>(all.size());
        auto done = std::make_shared<std::promise<void>>();
        auto all_told = done->get_future();
        if (all.empty()) done->set_value();
        for (auto& c : all) {
            const auto& ex = c->executor();
            asio::post(ex, [c = std::move(c), left, done] {
                c->on_stopping();
                if (left->fetch_sub(1) == 1) done->set_value();
            });
        }
        all_told.wait_for(10s);
    }

    // 3. Wait for the requests and calls in progress, up to `grace`.
    {
        std::unique_lock lk(st_->wait_m);
        st_->wait_cv.wait_for(lk, grace, [&] { return st_->busy.load() == 0; });
    }

    // 4. Nothing reaches a connection any more; sessions end (their calls are cancelled).
    {
        std::unique_lock gate(st_->gate_m);
        st_->open = false;
    }
    sessions_.close_all();

    // 5. The I/O threads end; every socket closes.
    work_.clear();
    for (auto& io : ios_) io->stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    admin_.stop();  // a reload or restart under way finishes; its answer has nowhere to go
    // The session writes still queued go out (each bounded by the store's deadline): the
    // sessions of this host live on in the store, for the others to take over.
    if (sharing_) sharing_->stop();
    if (!acceptor_closed) {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
    }
    {
        auto all = snapshot();
        for (auto& c : all) c->force_close();
    }
    logging::write(logging::level::info, "serve.http", "stopped", {{"abandoned", st_->busy.load()}});
}

}  // namespace toolhost::serve::detail
