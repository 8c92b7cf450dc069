#include "isolation/worker_server.hpp"

#include "isolation/channel.hpp"
#include "isolation/crash_report.hpp"
#include "isolation/worker_protocol.hpp"

#include <toolhost/logging.hpp>
#include <toolhost/plugin_library.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace toolhost::detail {

namespace {

namespace wp = worker_protocol;
using steady = std::chrono::steady_clock;
constexpr auto forever = steady::time_point::max();

// The channel, shared by the reading thread and the call threads: a message of several
// datagrams must not interleave with another, so sending is one at a time.
class sender {
public:
    explicit sender(channel& ch) : ch_(ch) {}
    void send(std::uint32_t kind, std::uint64_t id, std::string_view payload) {
        std::lock_guard lock(mutex_);
        if (ch_.send(kind, id, payload, forever) != channel::status::ok) {
            // The host is gone or broke the protocol: nothing is left to answer to.
            std::fflush(nullptr);
            ::_exit(0);
        }
    }

private:
    channel& ch_;
    std::mutex mutex_;
};

// The answers to this worker's own requests of the host (nested calls, questions to the client).
class replies {
public:
    std::uint64_t open() {
        std::lock_guard lock(mutex_);
        const auto id = ++next_;
        waiting_.emplace(id, std::nullopt);
        return id;
    }
    void deliver(std::uint64_t id, call_result r) {
        std::lock_guard lock(mutex_);
        auto it = waiting_.find(id);
        if (it == waiting_.end()) return;  // not ours: a confused host; ignore it
        it->second = std::move(r);
        cv_.notify_all();
    }
    call_result wait(std::uint64_t id) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return waiting_.at(id).has_value(); });
        auto node = waiting_.extract(id);
        return std::move(*node.mapped());
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::uint64_t next_ = 0;
    std::map<std::uint64_t, std::optional<call_result>> waiting_;
};

// The tool's resource notices, one datagram each on the events socket (worker_protocol.hpp). The
// host checks what they say; this end only keeps the plugin's thread from waiting.
class notice_sender final : public instance_events {
public:
    explicit notice_sender(int fd) noexcept : fd_(fd) {}

    void resource_updated(std::string_view uri) noexcept override {
        if (uri.size() > TOOLHOST_RESOURCE_URI_MAX) return dropped("the URI is longer than TOOLHOST_RESOURCE_URI_MAX");
        send(wp::resource_updated, uri);
    }
    void resource_list_changed() noexcept override { send(wp::resource_list_changed, {}); }

private:
    void send(std::uint64_t kind, std::string_view uri) noexcept {
        if (fd_ < 0) return;
        try {
            wp::writer m;
            m.u64(kind).str(uri);
            const auto& d = m.text();
            if (::send(fd_, d.data(), d.size(), MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(d.size())) return;
            // Any error but a full socket means the host is gone, and this process ends with the channel.
            if (errno == EAGAIN || errno == EWOULDBLOCK) dropped("the host is not keeping up with the tool's notices");
        } catch (...) {
        }
    }
    // The first drop is a warning, the rest are debug records (a plugin in a loop must not flood the log).
    void dropped(const char* why) noexcept {
        const auto level = warned_.exchange(true) ? logging::level::debug : logging::level::warning;
        try {
            if (logging::enabled(level))
                logging::write(level, "isolation", "resource notice dropped", {{"reason", why}});
        } catch (...) {
        }
    }

    int fd_;
    std::atomic<bool> warned_{false};
};

struct worker_state;

// One call the host sent, alive while it runs.
struct running_call : call_peer {
    worker_state& w;
    std::uint64_t id;
    call_control control;
    std::int64_t peer_log_level = -1;
    bool can_ask = false;

    running_call(worker_state& ws, std::uint64_t i, std::optional<steady::time_point> deadline)
        : w(ws), id(i), control(deadline) {}

    bool wants_log(int32_t level) const noexcept override { return peer_log_level >= 0 && level >= peer_log_level; }
    void log(int32_t level, std::string_view, std::string_view message) noexcept override;
    call_result request(std::string_view method, std::string_view params, const call_control&) noexcept override;
};

struct worker_state : nested_caller {
    channel ch;
    sender out{ch};
    replies answers;
    std::unique_ptr<tool_instance> instance;
    std::mutex running_mutex;
    std::condition_variable none_running;
    std::map<std::uint64_t, running_call*> running;  // null: read, not started yet
    std::set<std::uint64_t> cancelled_early;
    std::set<std::string, std::less<>> nonblocking;  // operations flagged NONBLOCKING (thread-safe tool)

    // Leader and followers: the thread holding `leader` reads the channel. When it reads a call it
    // hands the role on (to a waiting thread, or a new one when none waits) and runs the call
    // itself, so a call starts on the thread that woke for it, with no hand-off in between.
    std::mutex leader;
    std::atomic<int> waiting_to_lead{0};

    int events_fd = -1;  // the events socket (resource notices), or -1

    explicit worker_state(int fd, int events) : ch(fd), events_fd(events) {}

    call_result call_nested(const invocation& parent, std::string_view tool, std::string_view operation,
                            std::string_view arguments) noexcept override {
        try {
            const auto& call = static_cast<const running_call&>(*parent.control->peer());
            const auto rid = answers.open();
            wp::writer m;
            m.u64(call.id).str(tool).str(operation).str(arguments);
            out.send(wp::nested, rid, m.text());
            return answers.wait(rid);
        } catch (const std::exception& e) {
            return make_tool_error(status_code::internal, std::string("nested call: ") + e.what());
        }
    }

    void run_call(std::uint64_t id, const std::string& payload) {
        wp::reader r(payload);
        const auto operation = r.str();
        const auto arguments = r.str();
        const auto request_id = r.str();
        const auto session_id = r.str();
        const auto traceparent = r.str();
        const auto attempt = r.u64();
        const auto left_ns = r.i64();
        const auto nesting = r.u64();
        const auto peer_log_level = r.i64();
        const auto can_ask = r.u64();
        if (!r.ok()) {
            out.send(
                wp::result, id,
                wp::outcome::encode(make_tool_error(status_code::internal, "malformed call message from the host")));
            std::lock_guard lock(running_mutex);
            running.erase(id);
            cancelled_early.erase(id);
            if (running.empty()) none_running.notify_all();
            return;
        }
        std::optional<steady::time_point> deadline;
        if (left_ns >= 0) deadline = steady::now() + std::chrono::nanoseconds(left_ns);
        // The peer is the call itself (it forwards to the host), kept alive by the shared_ptr the
        // control holds for as long as the call runs.
        auto call = std::make_shared<running_call>(*this, id, deadline);
        call->peer_log_level = peer_log_level;
        call->can_ask = can_ask != 0;
        call->control.set_peer(call);
        call->control.set_progress_handler([this, id](double done, double total, std::string_view message) {
            wp::writer m;
            m.f64(done).f64(total).str(message);
            out.send(wp::progress, id, m.text());
        });
        {
            std::lock_guard lock(running_mutex);
            running[id] = call.get();
            if (cancelled_early.erase(id) != 0) call->control.cancel();  // cancel came before this
        }
        const invocation inv{instance_name,
                             operation,
                             arguments,
                             request_id,
                             session_id,
                             traceparent,
                             static_cast<std::uint32_t>(attempt),
                             &call->control,
                             this,
                             static_cast<std::uint32_t>(nesting)};
        const call_result result = instance->invoke(inv);
        call->control.set_peer(nullptr);  // breaks the cycle
        out.send(wp::result, id, wp::outcome::encode(result));
        std::lock_guard lock(running_mutex);
        running.erase(id);
        if (running.empty()) none_running.notify_all();
    }

    // One thread's life: wait to lead, read, and run the calls read.
    void serve() {
        for (;;) {
            waiting_to_lead.fetch_add(1, std::memory_order_relaxed);
            std::unique_lock lead(leader);
            waiting_to_lead.fetch_sub(1, std::memory_order_relaxed);
            for (;;) {
                auto in = ch.receive(forever, wp::max_message);
                if (in.state != channel::status::ok) {
                    // The host closed the channel without a stop (it is going away): no cleanup.
                    std::fflush(nullptr);
                    ::_exit(0);
                }
                auto& m = in.msg;
                if (m.kind == wp::call) {
                    {
                        std::lock_guard lock(running_mutex);
                        running.emplace(m.id, nullptr);  // counted from now, for stop
                    }
                    // An operation that never blocks and returns within microseconds runs on
                    // the leader, which reads on afterwards: no hand-over, no wake-up.
                    if (!nonblocking.empty() && nonblocking.contains(wp::reader(m.payload).str())) {
                        run_call(m.id, m.payload);
                        continue;
                    }
                    if (waiting_to_lead.load(std::memory_order_relaxed) == 0)
                        std::thread(&worker_state::serve, this).detach();
                    lead.unlock();
                    run_call(m.id, m.payload);
                    break;  // back in the queue to lead
                }
                handle(m);
            }
        }
    }

    void handle(channel::message& m) {
        switch (m.kind) {
        case wp::cancel: cancel(m.id); break;
        case wp::nested_done:
        case wp::ask_done:
            if (auto r = wp::outcome::decode(m.payload))
                answers.deliver(m.id, std::move(*r));
            else
                answers.deliver(m.id, make_tool_error(status_code::internal, "malformed answer from the host"));
            break;
        case wp::stop: {
            std::unique_lock lock(running_mutex);
            none_running.wait(lock, [&] { return running.empty(); });
            instance->cleanup();
            instance.reset();
            std::fflush(nullptr);
            ::_exit(0);
        }
        default: break;  // unknown: a newer host; ignore
        }
    }

    void cancel(std::uint64_t id) {
        std::lock_guard lock(running_mutex);
        auto it = running.find(id);
        if (it == running.end()) return;  // over already
        if (it->second != nullptr)
            it->second->control.cancel();
        else
            cancelled_early.insert(id);  // read, not started yet
    }

    std::string instance_name;
};

void running_call::log(int32_t level, std::string_view, std::string_view message) noexcept {
    try {
        wp::writer m;
        m.i64(level).str(message);
        w.out.send(wp::call_log, id, m.text());
    } catch (...) {
    }
}

call_result running_call::request(std::string_view method, std::string_view params, const call_control&) noexcept {
    if (!can_ask)
        return make_tool_error(status_code::failed_precondition,
                               "this call has no client to ask (it came from the command line, the REST API or an "
                               "embedding program, not from an MCP client)");
    try {
        const auto rid = w.answers.open();
        wp::writer m;
        m.u64(id).str(method).str(params);
        w.out.send(wp::ask, rid, m.text());
        return w.answers.wait(rid);
    } catch (const std::exception& e) {
        return make_tool_error(status_code::internal, std::string("client request: ") + e.what());
    }
}

void set_limit(int resource, std::uint64_t value) {
    if (value == 0) return;
    rlimit l{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
    // RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL a second later should the plugin catch it.
    if (resource == RLIMIT_CPU) l.rlim_max = static_cast<rlim_t>(value + 1);
    ::setrlimit(resource, &l);
}

// Opens the library and makes the tool: an error message, or empty when the instance is ready.
std::string start(worker_state& w, std::string_view payload, toolhost_abi_version_t abi, status_code& code) {
    wp::reader r(payload);
    const std::string file(r.str());
    const auto index = r.u64();
    const std::string name(r.str());
    const std::string config(r.str());
    const std::string data_dir(r.str());
    const auto level = r.i64();
    code = status_code::internal;
    if (!r.ok()) return "malformed init message from the host";
    logging::init(static_cast<logging::level>(std::clamp<std::int64_t>(level, 0, 5)), logging::format::json);
    // A private copy: a build written over the file in place cannot crash this worker (SIGBUS).
    auto lib = plugin_library::open_copy(file, abi);
    if (!lib) {
        code = status_code::failed_precondition;
        return file + ": " + lib.error();
    }
    auto tool = (*lib)->tool(static_cast<std::uint32_t>(std::min<std::uint64_t>(index, UINT32_MAX)));
    if (tool.name != name || !tool.factory) {
        code = status_code::failed_precondition;
        return "the plugin file " + file + " no longer offers tool '" + name + "' as tool #" + std::to_string(index) +
               " (it changed after it was scanned)";
    }
    instance_context context;
    if (w.events_fd >= 0) context.events = std::make_shared<notice_sender>(w.events_fd);
    auto made = tool.factory->create(context);
    if (!made) {
        code = made.error().code;
        return made.error().message;
    }
    w.instance = std::move(*made);
    w.instance_name = name;
    const auto& d = tool.factory->descriptor();
    if (d.thread_safe)
        for (const auto& op : d.operations)
            if (op.flags & TOOLHOST_OPERATION_NONBLOCKING) w.nonblocking.insert(op.name);
    if (auto ok = w.instance->initialize(config, data_dir); !ok) {
        w.instance.reset();
        code = ok.error().code;
        return ok.error().message;
    }
    return {};
}

}  // namespace

std::string wp::outcome::encode(const call_result& r) {
    writer m;
    if (r) {
        m.i64(static_cast<std::int64_t>(status_code::ok)).str(*r).i64(-1);
    } else {
        const auto& e = r.error();
        m.i64(static_cast<std::int64_t>(e.code)).str(e.message).i64(e.retry_after ? e.retry_after->count() : -1);
    }
    return std::move(m.text());
}

std::optional<call_result> wp::outcome::decode(std::string_view payload) {
    reader r(payload);
    const auto code = r.i64();
    const auto text = r.str();
    const auto retry_after = r.i64();
    if (!r.ok() || code < 0 || code > static_cast<std::int64_t>(status_code::unauthenticated)) return std::nullopt;
    if (code == 0) return call_result(std::string(text));
    tool_error e{static_cast<status_code>(code), std::string(text), std::nullopt};
    if (retry_after >= 0) e.retry_after = std::chrono::milliseconds(retry_after);
    return call_result(std::move(e));
}

int run_tool_worker(int fd, int events_fd, toolhost_abi_version_t abi, const worker_limits& limits) {
    crash_report::never_install();  // the host reports how this process ended
    set_limit(RLIMIT_AS, limits.max_memory_bytes);
    set_limit(RLIMIT_CPU, limits.max_cpu_seconds);
    // Leaked on purpose: call threads may still be blocked when the process exits.
    auto& w = *new worker_state(fd, events_fd);
    {
        wp::writer hello;
        hello.u64(abi.major).u64(abi.minor).u64(static_cast<std::uint64_t>(::getpid()));
        w.out.send(wp::hello, 0, hello.text());
    }
    auto init = w.ch.receive(forever, wp::max_message);
    if (init.state != channel::status::ok || init.msg.kind != wp::init) return 0;
    status_code code{};
    if (auto error = start(w, init.msg.payload, abi, code); !error.empty()) {
        wp::writer m;
        m.i64(static_cast<std::int64_t>(code)).str(error);
        w.out.send(wp::init_failed, 0, m.text());
        return 0;
    }
    w.out.send(wp::ready, 0, {});
    w.serve();
    return 0;
}

}  // namespace toolhost::detail
