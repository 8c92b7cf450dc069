#include "isolation/worker_tool.hpp"

#include "isolation/worker_protocol.hpp"

#include <toolhost/logging.hpp>

#include <boost/json/parse.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace toolhost::detail {

namespace wp = worker_protocol;
namespace json = boost::json;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {
// How long the host waits for a message's later pieces once its first has arrived, and for a
// send to a worker that does not read; past that the worker is broken and is killed.
constexpr auto piece_timeout = 10s;
constexpr auto send_timeout = 30s;
// How long a worker may take to run cleanup() and exit after stop.
constexpr auto stop_timeout = 10s;
// How often a waiting call looks at its cancellation (which has no notification of its own).
constexpr auto cancel_poll = 20ms;

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }
}  // namespace

// ------------------------------------------------------------------------------ pieces

struct worker_tool::pending_call {
    std::mutex m;
    std::condition_variable cv;
    std::deque<channel::message> inbox;  // result, progress, call_log, nested, ask
    bool gone = false;                   // the worker ended before the result came
    bool take_over = false;              // the reader left: this call is to read next
    bool waiting = false;                // its thread sleeps on cv (for hand_over)
    std::string gone_reason;
};

struct worker_tool::run_outcome {
    bool ready = false;    // the worker got to ready
    bool stopped = false;  // it ended because the host stopped it
    bool killed = false;   // the host killed it (a call past its grace): restart at once
    steady::time_point ready_at{};
    std::optional<tool_error> start_error;  // init_failed, or the start went wrong otherwise
    std::string how;                        // how it ended, for messages
};

// The worker's stdout and stderr, one pipe: JSON log records written by the worker's logging
// are logged again as they are (on channel plugin.<tool>), anything else line by line. At most
// `rate` lines a second (after a burst of `burst`) are logged; the rest are counted and dropped,
// so that a flooding plugin costs the host nothing but reading.
class worker_tool::output_log {
public:
    static constexpr double rate = 100, burst = 1000;
    static constexpr std::size_t max_line = 8192;

    explicit output_log(const std::string& tool) : channel_("plugin." + tool), tool_(tool) {}

    void feed(std::string_view data, std::int64_t pid) {
        remember(data);
        while (!data.empty()) {
            const auto nl = data.find('\n');
            const auto piece = data.substr(0, nl);
            if (partial_.size() < max_line) partial_.append(piece.substr(0, max_line - partial_.size()));
            if (nl == std::string_view::npos) return;
            line(pid);
            data.remove_prefix(nl + 1);
        }
    }
    void flush(std::int64_t pid) {
        if (!partial_.empty()) line(pid);
        report_dropped(pid);
    }
    /// The last lines of output (for a crash message), trimmed.
    std::string tail() const {
        auto t = tail_;
        while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
        if (auto nl = t.find('\n'); tail_.size() >= tail_max && nl != std::string::npos) t.erase(0, nl + 1);
        return t;
    }

private:
    static constexpr std::size_t tail_max = 600;

    void remember(std::string_view data) {
        tail_.append(data.substr(data.size() > tail_max ? data.size() - tail_max : 0));
        if (tail_.size() > tail_max) tail_.erase(0, tail_.size() - tail_max);
    }

    void line(std::int64_t pid) {
        const auto now = steady::now();
        tokens_ = std::min(burst, tokens_ + rate * std::chrono::duration<double>(now - refilled_).count());
        refilled_ = now;
        if (tokens_ < 1) {
            ++dropped_;
            partial_.clear();
            return;
        }
        tokens_ -= 1;
        report_dropped(pid);
        write(partial_, pid);
        partial_.clear();
    }

    void report_dropped(std::int64_t pid) {
        if (dropped_ == 0) return;
        logging::write(logging::level::warning, channel_,
                       "dropped lines of the worker's output (more than " + std::to_string(int(rate)) + " a second)",
                       {{"tool", tool_}, {"pid", pid}, {"dropped", dropped_}});
        dropped_ = 0;
    }

    void write(std::string_view text, std::int64_t pid) {
        if (!text.empty() && text.front() == '{') {
            boost::system::error_code ec;
            json::value v = json::parse(text, ec);
            const json::object* o = ec ? nullptr : v.if_object();
            const json::value* lv = o ? o->if_contains("level") : nullptr;
            const json::value* mv = o ? o->if_contains("message") : nullptr;
            if (lv && mv && lv->is_string() && mv->is_string()) {
                if (auto level = logging::parse_level(lv->get_string())) {
                    json::object fields = *o;
                    fields["pid"] = pid;
                    fields["tool"] = tool_;  // whatever the record says: this is where it came from
                    logging::write_fields(*level, channel_, mv->get_string(), fields);
                    return;
                }
            }
        }
        logging::write(logging::level::info, channel_, text, {{"tool", tool_}, {"pid", pid}, {"stream", "output"}});
    }

    std::string channel_, tool_;
    std::string partial_, tail_;
    double tokens_ = burst;
    steady::time_point refilled_ = steady::now();
    std::uint64_t dropped_ = 0;
};

// ------------------------------------------------------------------------------ life

worker_tool::worker_tool(worker_settings settings, std::shared_ptr<worker_monitor> monitor,
                         std::function<void(const tool_error&)> gave_up)
    : settings_(std::move(settings)), monitor_(std::move(monitor)), gave_up_(std::move(gave_up)) {}

worker_tool::~worker_tool() {
    if (supervisor_.joinable()) {
        {
            std::lock_guard lock(state_mutex_);
            phase_ = phase::stopping;
            kill_generation_ = UINT64_MAX;  // whichever runs
            kill_reason_ = "the tool instance was destroyed";
            state_cv_.notify_all();
        }
        wake();
        supervisor_.join();
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void_result worker_tool::initialize(std::string_view config_json, const std::filesystem::path& data_dir) {
    config_ = std::string(config_json);
    data_dir_ = data_dir;
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return make_tool_error(status_code::unavailable, "eventfd: " + std::string(std::strerror(errno)));
    monitor_->isolate();
    {
        std::lock_guard lock(state_mutex_);
        phase_ = phase::starting;
    }
    supervisor_ = std::thread([this] { supervise(); });
    std::unique_lock lock(state_mutex_);
    state_cv_.wait(lock,
                   [&] { return phase_ == phase::running || phase_ == phase::failed || phase_ == phase::stopped; });
    if (phase_ == phase::running) return {};
    return start_error_.value_or(unavailable("the worker process of tool '" + settings_.tool + "' did not start"));
}

void worker_tool::cleanup() noexcept {
    if (!supervisor_.joinable()) return;
    bool over = false;  // failed (gave up) or stopped (abandon()ed): the supervisor is done
    {
        std::lock_guard lock(state_mutex_);
        over = phase_ == phase::failed || phase_ == phase::stopped;
        if (!over) phase_ = phase::stopping;
        state_cv_.notify_all();
    }
    if (!over) {
        bool send_stop = false;
        {
            std::lock_guard lock(send_mutex_);
            if (accepting_) {
                send_stop = channel_.send(wp::stop, 0, {}, steady::now() + 1s) == channel::status::ok;
                accepting_ = false;
            }
        }
        if (!send_stop) request_kill(UINT64_MAX, "the tool was stopped while its worker was not running");
        std::unique_lock lock(state_mutex_);
        if (!state_cv_.wait_for(lock, stop_timeout, [&] { return phase_ == phase::stopped; })) {
            lock.unlock();
            request_kill(UINT64_MAX, "cleanup() did not end within " + ms_text(stop_timeout));
        }
    }
    supervisor_.join();
}

void worker_tool::abandon(std::string reason) {
    {
        std::lock_guard lock(state_mutex_);
        phase_ = phase::stopping;
        kill_generation_ = UINT64_MAX;
        kill_reason_ = std::move(reason);
        state_cv_.notify_all();
    }
    wake();
}

void worker_tool::wake() noexcept {
    if (wake_fd_ < 0) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void worker_tool::request_kill(std::uint64_t generation, std::string reason) {
    {
        std::lock_guard lock(state_mutex_);
        kill_generation_ = generation;
        kill_reason_ = std::move(reason);
    }
    wake();
}

tool_error worker_tool::unavailable(std::string message, std::optional<std::chrono::milliseconds> retry_after) const {
    return tool_error{status_code::unavailable, std::move(message), retry_after};
}

// ------------------------------------------------------------------------------ supervising

void worker_tool::supervise() {
    unsigned consecutive = 0;  // crashes since the worker last ran for a whole crash window
    std::deque<steady::time_point> crashes;
    bool restart = false;
    std::unique_lock lock(state_mutex_);
    while (phase_ != phase::stopping) {
        phase_ = phase::starting;
        lock.unlock();
        monitor_->set_state(restart ? "restarting" : "starting");
        run_outcome out = run_worker(restart);
        lock.lock();
        if (out.stopped || phase_ == phase::stopping) break;
        if (!restart && !out.ready) {
            // The first start: initialize() reports it, and the tool never becomes ready.
            start_error_ = out.start_error.value_or(
                unavailable("the worker process of tool '" + settings_.tool + "' " + out.how + " while starting"));
            phase_ = phase::failed;
            monitor_->set_state("failed");
            state_cv_.notify_all();
            return;
        }
        restart = true;
        why_not_running_ = "the worker process of tool '" + settings_.tool + "' " + out.how;
        if (out.killed) continue;  // the host's own doing: start a fresh one now
        const auto now = steady::now();
        if (out.ready && now - out.ready_at >= settings_.crash_window) consecutive = 0;
        crashes.push_back(now);
        while (now - crashes.front() > settings_.crash_window) crashes.pop_front();
        if (crashes.size() >= settings_.max_crashes) {
            auto e = unavailable("the worker process of tool '" + settings_.tool + "' ended " +
                                 std::to_string(crashes.size()) + " times within " + ms_text(settings_.crash_window) +
                                 " (the last one " + out.how + "); the tool is failed until it is restarted");
            why_not_running_ = e.message;
            phase_ = phase::failed;
            monitor_->set_state("failed");
            state_cv_.notify_all();
            lock.unlock();
            gave_up_(e);
            return;
        }
        const std::chrono::milliseconds delay =
            std::min(settings_.max_backoff, settings_.first_backoff * (std::int64_t{1} << std::min(consecutive, 20u)));
        ++consecutive;
        phase_ = phase::backoff;
        restart_at_ = now + delay;
        monitor_->set_state("restarting");
        state_cv_.wait_until(lock, restart_at_, [&] { return phase_ == phase::stopping; });
    }
    phase_ = phase::stopped;
    monitor_->set_state("stopped");
    state_cv_.notify_all();
}

worker_tool::run_outcome worker_tool::run_worker(bool restart) {
    run_outcome out;
    std::vector<std::string> args{"tool", "--abi",
                                  std::to_string(settings_.abi.major) + "." + std::to_string(settings_.abi.minor),
                                  "--parent", std::to_string(::getpid())};
    if (settings_.limits.max_memory_bytes != 0) {
        args.push_back("--max-memory");
        args.push_back(std::to_string(settings_.limits.max_memory_bytes));
    }
    if (settings_.limits.max_cpu_seconds != 0) {
        args.push_back("--max-cpu");
        args.push_back(std::to_string(settings_.limits.max_cpu_seconds));
    }
    if (settings_.identity && file_identity::of(settings_.plugin) != settings_.identity) {
        // Replaced since the scan (a new build, perhaps not trusted): not this tool's file any more.
        const std::string why = "the plugin file " + settings_.plugin.string() +
                                " changed after it was scanned; it is loaded again at the next scan (reload)";
        out.how = "was not started: " + why;
        out.start_error = make_tool_error(status_code::failed_precondition, why);
        return out;
    }
    int fd = -1, events_fd = -1;
    auto spawned =
        child_process::spawn(settings_.executable, args, fd, child_process::stdout_to::stderr_pipe, &events_fd);
    if (!spawned) {
        out.how = "could not be started: " + spawned.error();
        out.start_error = unavailable(spawned.error());
        return out;
    }
    child_process child = std::move(*spawned);
    const auto pid = static_cast<std::int64_t>(child.pid());
    const std::unique_ptr<int, void (*)(int*)> events_guard(&events_fd, [](int* f) { ::close(*f); });
    bool events_open = true;
    std::uint64_t generation = 0;
    int chfd = -1;
    {
        std::scoped_lock lock(send_mutex_, read_mutex_);
        channel_ = channel(fd);
        chfd = channel_.fd();
        accepting_ = false;
        generation = ++generation_;
        channel_closed_ = false;
    }
    output_log output(settings_.tool);
    char buf[65536];
    auto read_output = [&](std::size_t budget) {
        for (std::size_t total = 0; total < budget;) {
            const ssize_t n = ::read(child.stderr_fd(), buf, sizeof buf);
            if (n <= 0) return;
            output.feed(std::string_view(buf, static_cast<std::size_t>(n)), pid);
            total += static_cast<std::size_t>(n);
        }
    };
    std::string kill_reason;
    bool protocol_error = false;
    auto kill = [&](std::string why) {
        if (kill_reason.empty()) kill_reason = std::move(why);
        child.kill();
    };
    const auto start_deadline = steady::now() + settings_.start_timeout;
    std::optional<steady::time_point> closed_at;  // the worker's end of the channel closed
    for (;;) {
        // After ready the calls read the channel themselves (serve_call): each wakes for its own
        // answer, with no hand-off through this thread.
        pollfd fds[5] = {{closed_at || out.ready ? -1 : chfd, POLLIN, 0},
                         {child.stderr_fd(), POLLIN, 0},
                         {child.pidfd(), POLLIN, 0},
                         {wake_fd_, POLLIN, 0},
                         {events_open ? events_fd : -1, POLLIN, 0}};
        int timeout = -1;
        auto until = [&](steady::time_point t) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(t - steady::now()).count();
            const int ms = static_cast<int>(std::clamp<std::int64_t>(left, 0, 1 << 30));
            timeout = timeout < 0 ? ms : std::min(timeout, ms);
        };
        if (!out.ready && kill_reason.empty()) until(start_deadline);
        if (closed_at && kill_reason.empty()) until(*closed_at + 1s);
        const int r = ::poll(fds, 5, timeout);
        if (r < 0 && errno != EINTR) kill("poll failed: " + std::string(std::strerror(errno)));
        if (r == 0) {
            if (!out.ready && steady::now() >= start_deadline)
                kill("it did not get ready within " + ms_text(settings_.start_timeout));
            else if (closed_at)
                kill("it closed its channel but did not exit");
            continue;
        }
        if (fds[3].revents & POLLIN) {
            std::uint64_t n;
            [[maybe_unused]] auto got = ::read(wake_fd_, &n, sizeof n);
            std::lock_guard lock(state_mutex_);
            if (kill_generation_ == generation || kill_generation_ == UINT64_MAX) {
                out.killed = phase_ != phase::stopping;
                kill(kill_reason_);
                kill_generation_ = 0;
            } else if (phase_ == phase::stopping && !out.ready) {
                kill("the tool was stopped while its worker was starting");
            }
            if (channel_closed_.load() && !closed_at) closed_at = steady::now();  // a call read the end
        }
        if (fds[1].revents) read_output(256 * 1024);
        if (fds[4].revents) events_open = read_notices(events_fd);
        if (fds[0].revents) {
            std::lock_guard reading(read_mutex_);
            for (int batch = 0; batch < 256; ++batch) {
                auto in = channel_.try_receive(wp::max_message, piece_timeout);
                if (in.state == channel::status::timeout) break;
                if (in.state == channel::status::closed) {
                    closed_at = steady::now();
                    break;
                }
                if (in.state == channel::status::error) {
                    protocol_error = true;
                    kill("it broke the protocol: " + in.error);
                    break;
                }
                if (!dispatch(in.msg, out, child, restart)) {
                    protocol_error = true;
                    kill("it broke the protocol (message " + std::to_string(in.msg.kind) + ")");
                    break;
                }
            }
        }
        if (fds[2].revents & POLLIN) break;  // it ended
    }

    // The worker is gone. Its answers that arrived before the end still count.
    {
        std::lock_guard lock(send_mutex_);
        accepting_ = false;
    }
    if (!protocol_error) {
        std::lock_guard reading(read_mutex_);  // a call reading now sees the end and lets go
        for (;;) {
            auto in = channel_.try_receive(wp::max_message, 0ms);
            if (in.state != channel::status::ok || !dispatch(in.msg, out, child, restart)) break;
        }
    }
    auto ended = child.wait_for(1000ms);
    const child_exit exit = ended ? *ended : child.kill_and_wait();
    read_output(SIZE_MAX);
    output.flush(pid);
    {
        std::lock_guard lock(state_mutex_);
        out.stopped = phase_ == phase::stopping && kill_reason.empty() && out.ready;
    }
    if (!kill_reason.empty())
        out.how = "was killed by the host: " + kill_reason;
    else
        out.how = exit.describe();
    if (!kill_reason.empty() || !(exit.code == 0 && !exit.signaled) || !out.ready) {
        if (auto tail = output.tail(); !tail.empty() && !out.killed) out.how += " (its last output: " + tail + ")";
    }
    std::string reason = !kill_reason.empty() ? "killed_by_host"
                         : exit.signaled ? (::sigabbrev_np(exit.code) ? "SIG" + std::string(::sigabbrev_np(exit.code))
                                                                      : "signal_" + std::to_string(exit.code))
                                         : "exit_" + std::to_string(exit.code);
    monitor_->ended(pid, out.how, out.stopped ? "stopped" : "restarting", reason);
    if (!out.stopped)
        logging::write(out.ready ? logging::level::error : logging::level::warning, "isolation", "worker process ended",
                       {{"tool", settings_.tool}, {"pid", pid}, {"how", out.how}});
    end_pending("the worker process of tool '" + settings_.tool + "' " + out.how + " during the call");
    {
        std::lock_guard lock(send_mutex_);
        channel_.close();
    }
    if (!out.ready && !out.start_error)
        out.start_error =
            unavailable("the worker process of tool '" + settings_.tool + "' " + out.how + " before it was ready");
    return out;
}

// Hands the worker's resource notices to settings.events; false once the socket has ended (the
// worker is going). A malformed notice is dropped: it comes from the plugin's process, like the
// notices themselves, and costs no call anything.
bool worker_tool::read_notices(int fd) {
    char buf[wp::max_notice + 1];
    for (int batch = 0; batch < 256; ++batch) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) return false;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        wp::reader r(std::string_view(buf, static_cast<std::size_t>(n)));
        const auto kind = r.u64();
        const auto uri = r.str();
        if (!r.ok() || (kind != wp::resource_updated && kind != wp::resource_list_changed)) {
            logging::write(logging::level::warning, "isolation", "malformed resource notice from the worker dropped",
                           {{"tool", settings_.tool}, {"bytes", n}});
            continue;
        }
        if (!settings_.events) continue;
        if (kind == wp::resource_updated)
            settings_.events->resource_updated(uri);
        else
            settings_.events->resource_list_changed();
    }
    return true;
}

bool worker_tool::dispatch(channel::message& m, run_outcome& out, child_process& child, bool restart) {
    switch (m.kind) {
    case wp::hello: {
        wp::reader r(m.payload);
        const auto major = r.u64();
        r.u64();  // minor
        const auto pid = r.u64();
        if (!r.ok() || out.ready) return false;
        if (major != settings_.abi.major || pid != static_cast<std::uint64_t>(child.pid())) {
            out.start_error = unavailable("the worker program " + settings_.executable.string() + " speaks ABI " +
                                          std::to_string(major) + ", not " + std::to_string(settings_.abi.major) +
                                          " (a toolhost-worker of another toolhost version?)");
            return false;
        }
        wp::writer init;
        init.str(settings_.plugin.string())
            .u64(settings_.index)
            .str(settings_.tool)
            .str(config_)
            .str(data_dir_.string())
            .i64(logging::detail::min_level.load(std::memory_order_relaxed));
        std::lock_guard lock(send_mutex_);
        return channel_.send(wp::init, 0, init.text(), steady::now() + send_timeout) == channel::status::ok;
    }
    case wp::ready: {
        if (out.ready) return false;
        out.ready = true;
        out.ready_at = steady::now();
        {
            std::lock_guard lock(send_mutex_);
            accepting_ = true;
        }
        monitor_->started(child.pid(), restart);  // first: whoever waits for running sees it there
        {
            std::lock_guard lock(state_mutex_);
            if (phase_ == phase::starting) phase_ = phase::running;
            why_not_running_.clear();
            state_cv_.notify_all();
        }
        return true;
    }
    case wp::init_failed: {
        wp::reader r(m.payload);
        const auto code = r.i64();
        const auto message = r.str();
        if (!r.ok() || code <= 0 || code > static_cast<std::int64_t>(status_code::unauthenticated)) return false;
        out.start_error = tool_error{static_cast<status_code>(code), std::string(message), std::nullopt};
        return true;
    }
    default: return out.ready && deliver(m);
    }
}

bool worker_tool::deliver(channel::message& m) {
    std::uint64_t call = m.id;
    switch (m.kind) {
    case wp::result:
    case wp::progress:
    case wp::call_log: break;
    case wp::nested:
    case wp::ask: {
        wp::reader r(m.payload);
        call = r.u64();
        break;
    }
    default: return false;
    }
    std::shared_ptr<pending_call> p;
    {
        std::lock_guard lock(pending_mutex_);
        if (auto it = pending_.find(call); it != pending_.end()) p = it->second;
    }
    if (!p) return true;  // a call that has already ended; nothing waits
    std::lock_guard lock(p->m);
    p->inbox.push_back(std::move(m));
    p->cv.notify_one();
    return true;
}

// Reads what has arrived (waiting up to `wait` for the first message) and hands each message to
// its call. Only with read_mutex_ held, for the worker of `generation`.
bool worker_tool::read_channel(std::uint64_t generation, std::chrono::milliseconds wait) {
    if (channel_closed_.load() || generation_ != generation) return false;
    bool polled = false;  // under load the answers are there already: poll() only when none is
    for (int batch = 0; batch < 64;) {
        auto in = channel_.try_receive(wp::max_message, piece_timeout);
        if (in.state == channel::status::timeout) {
            if (polled || batch > 0) break;
            pollfd p{channel_.fd(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return true;
            polled = true;
            continue;
        }
        ++batch;
        if (in.state != channel::status::ok) {
            // The end (the supervisor learns it from the pidfd too), or garbage: either way this
            // worker is done for.
            channel_closed_ = true;
            if (in.state == channel::status::error) request_kill(generation, "it broke the protocol: " + in.error);
            wake();
            return false;
        }
        if (!deliver(in.msg)) {
            channel_closed_ = true;
            request_kill(generation, "it broke the protocol (message " + std::to_string(in.msg.kind) + ")");
            return false;
        }
    }
    return true;
}

// The reader is done reading for now: another waiting call takes over, so that answers keep
// being read while this one works on its own messages or leaves.
void worker_tool::hand_over(std::uint64_t except) {
    std::lock_guard lock(pending_mutex_);
    for (auto& [id, p] : pending_) {
        if (id == except) continue;
        std::lock_guard plock(p->m);
        if (!p->waiting) continue;  // busy with its own messages: it tries to read when it waits
        p->take_over = true;
        p->cv.notify_one();
        return;
    }
}

void worker_tool::end_pending(const std::string& reason) {
    std::unordered_map<std::uint64_t, std::shared_ptr<pending_call>> ended;
    {
        std::lock_guard lock(pending_mutex_);
        ended.swap(pending_);
    }
    for (auto& [id, p] : ended) {
        std::lock_guard lock(p->m);
        p->gone = true;
        p->gone_reason = reason;
        p->cv.notify_one();
    }
}

// ------------------------------------------------------------------------------ calling

std::optional<tool_error> worker_tool::wait_until_running(const invocation& call) {
    std::unique_lock lock(state_mutex_);
    for (;;) {
        switch (phase_) {
        case phase::running: return std::nullopt;
        case phase::starting:
            // A fresh worker is on its way (after a kill): worth waiting for, within the deadline.
            if (call.control->cancelled())
                return make_tool_error(
                    call.control->cancel_requested() ? status_code::cancelled : status_code::deadline_exceeded,
                    "the worker process of tool '" + settings_.tool + "' was still starting when the call ended");
            state_cv_.wait_for(lock, cancel_poll);
            break;
        case phase::backoff: {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(restart_at_ - steady::now());
            return unavailable(why_not_running_ + "; a new one starts in " + ms_text(std::max(left, 0ms)),
                               std::max(left, 0ms));
        }
        case phase::failed: return unavailable(why_not_running_);
        default: return unavailable("tool '" + settings_.tool + "' is stopped");
        }
    }
}

call_result worker_tool::invoke(const invocation& call) noexcept {
    try {
        if (auto refused = wait_until_running(call)) return std::move(*refused);
        const auto& control = *call.control;
        std::int64_t peer_level = -1;
        bool can_ask = false;
        if (call_peer* peer = control.peer()) {
            can_ask = true;
            for (std::int32_t l = TOOLHOST_LOG_TRACE; l <= TOOLHOST_LOG_ERROR; ++l)
                if (peer->wants_log(l)) {
                    peer_level = l;
                    break;
                }
        }
        std::int64_t left_ns = -1;
        if (control.deadline()) left_ns = std::max<std::int64_t>(0, control.remaining().count());
        wp::writer m;
        m.str(call.operation)
            .str(call.arguments)
            .str(call.request_id)
            .str(call.session_id)
            .str(call.traceparent)
            .u64(call.attempt)
            .i64(left_ns)
            .u64(call.nesting)
            .i64(peer_level)
            .u64(can_ask ? 1 : 0);
        auto p = std::make_shared<pending_call>();
        std::uint64_t id = 0, generation = 0;
        {
            std::lock_guard lock(send_mutex_);
            if (!accepting_) return unavailable("the worker process of tool '" + settings_.tool + "' just ended");
            id = ++next_id_;
            generation = generation_;
            {
                std::lock_guard plock(pending_mutex_);
                pending_.emplace(id, p);
            }
            std::string error;
            if (channel_.send(wp::call, id, m.text(), steady::now() + send_timeout, &error) != channel::status::ok) {
                std::lock_guard plock(pending_mutex_);
                pending_.erase(id);
                accepting_ = false;
                request_kill(generation, "a call could not be sent to it: " + error);
                return unavailable("the worker process of tool '" + settings_.tool + "' did not take the call (" +
                                   error + ")");
            }
        }
        return serve_call(call, *p, id, generation);
    } catch (const std::bad_alloc&) {
        return make_tool_error(status_code::resource_exhausted, "out of memory");
    } catch (const std::exception& e) {
        return make_tool_error(status_code::internal, e.what());
    }
}

call_result worker_tool::serve_call(const invocation& call, pending_call& p, std::uint64_t id,
                                    std::uint64_t generation) {
    const auto& control = *call.control;
    std::optional<steady::time_point> cancel_sent;
    bool kill_sent = false;
    auto finish = [&](call_result r) {
        std::lock_guard lock(pending_mutex_);
        pending_.erase(id);
        return r;
    };
    std::unique_lock lock(p.m);
    for (;;) {
        if (!p.inbox.empty()) {
            channel::message m = std::move(p.inbox.front());
            p.inbox.pop_front();
            lock.unlock();
            wp::reader r(m.payload);
            switch (m.kind) {
            case wp::result: {
                auto outcome = wp::outcome::decode(m.payload);
                if (!outcome) {
                    // A worker that breaks the protocol is not trusted with the next call either.
                    request_kill(generation, "it sent a malformed result");
                    return finish(
                        make_tool_error(status_code::internal,
                                        "the worker process of tool '" + settings_.tool + "' sent a malformed result"));
                }
                return finish(std::move(*outcome));
            }
            case wp::progress: {
                const double done = r.f64(), total = r.f64();
                const auto message = r.str();
                if (r.ok()) control.report_progress(done, total, message);
                break;
            }
            case wp::call_log: {
                const auto level = r.i64();
                const auto message = r.str();
                call_peer* peer = control.peer();
                if (r.ok() && peer && level >= TOOLHOST_LOG_TRACE && level <= TOOLHOST_LOG_ERROR &&
                    peer->wants_log(static_cast<std::int32_t>(level)))
                    peer->log(static_cast<std::int32_t>(level),
                              std::string(call.tool) + "." + std::string(call.operation), message);
                break;
            }
            case wp::nested: {
                r.u64();
                const auto tool = r.str(), operation = r.str(), arguments = r.str();
                call_result answer =
                    !r.ok() ? call_result(make_tool_error(status_code::invalid_argument, "malformed nested call"))
                    : call.nested
                        ? call.nested->call_nested(call, tool, operation, arguments)
                        : call_result(make_tool_error(status_code::unimplemented,
                                                      "this call cannot call other tools (no host behind it)"));
                send_answer(wp::nested_done, m.id, answer);
                break;
            }
            case wp::ask: {
                r.u64();
                const auto method = r.str(), params = r.str();
                call_peer* peer = control.peer();
                call_result answer =
                    !r.ok() ? call_result(make_tool_error(status_code::invalid_argument, "malformed client request"))
                    : peer  ? peer->request(method, params, control)
                            : call_result(
                                  make_tool_error(status_code::failed_precondition, "this call has no client to ask"));
                send_answer(wp::ask_done, m.id, answer);
                break;
            }
            default: break;
            }
            lock.lock();
            continue;
        }
        if (p.gone) {
            auto reason = std::move(p.gone_reason);
            lock.unlock();
            return finish(unavailable(std::move(reason)));
        }
        const auto now = steady::now();
        if (!cancel_sent && control.cancelled()) {
            lock.unlock();
            {
                std::lock_guard slock(send_mutex_);
                if (accepting_ && generation_ == generation) channel_.send(wp::cancel, id, {}, now + send_timeout);
            }
            cancel_sent = now;
            lock.lock();
            continue;
        }
        if (cancel_sent && !kill_sent && now >= *cancel_sent + settings_.cancel_grace) {
            kill_sent = true;
            request_kill(generation, std::string(call.operation) + " (request " + std::string(call.request_id) +
                                         ") did not stop within " + ms_text(settings_.cancel_grace) +
                                         " of being cancelled");
        }
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(cancel_poll);
        if (cancel_sent && !kill_sent)
            wait = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(*cancel_sent + settings_.cancel_grace - now),
                              0ms, wait);
        if (kill_sent) wait = 1000ms;  // the supervisor ends this call when the worker is gone
        // Read the channel ourselves when nobody else does; else wait for our messages, or for
        // the reader to hand the reading over.
        p.take_over = false;
        lock.unlock();
        if (!channel_closed_.load() && read_mutex_.try_lock()) {
            std::unique_lock reading(read_mutex_, std::adopt_lock);
            reader_active_ = true;
            const bool more = read_channel(generation, wait);
            reader_active_ = false;
            reading.unlock();
            lock.lock();
            if (!p.inbox.empty() || p.gone || !more) {
                lock.unlock();
                hand_over(id);
                lock.lock();
            }
            continue;
        }
        lock.lock();
        // Sleep while a call reads (it hands the reading over when it leaves). With nobody
        // reading (the supervisor holding the channel for a moment, or a reader just between
        // taking it and saying so), look again soon, without spinning: on one vCPU a spinning
        // waiter would take the time the reader needs.
        if (p.inbox.empty() && !p.gone && !p.take_over) {
            p.waiting = true;
            if (reader_active_.load() || channel_closed_.load())
                p.cv.wait_for(lock, wait);
            else
                p.cv.wait_for(lock, std::chrono::microseconds(100));
            p.waiting = false;
        }
    }
}

void worker_tool::send_answer(std::uint32_t kind, std::uint64_t id, const call_result& r) {
    std::lock_guard lock(send_mutex_);
    if (accepting_) channel_.send(kind, id, wp::outcome::encode(r), steady::now() + send_timeout);
}

}  // namespace toolhost::detail
