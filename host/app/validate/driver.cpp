// The child's side of `toolhost validate-plugin` (checks.hpp): runs the plugin through a real host
// and says what happened. Everything here may be cut short by the plugin (a crash, an exit, a
// hang): each step is announced before it runs, so the supervisor can name what was running, and
// nothing is kept for later that a lost process would take with it.
//
// Steps, in an order that is the same in every run (so that a fresh child can resume after the
// step that cost the last one):
//   leaks       per tool, before any host exists (one thread, no pools): create, initialize,
//               one call per operation, cleanup, destroy, six times; descriptors and threads of
//               the process counted after the first cycle and after the last
//   start       the tool created and initialized by a host, behind a probe (probe_factory) that
//               counts the plugin's invoke() calls: that is how "the plugin never ran" is known
//   call        each valid argument case of each operation, with a deadline
//   invalid     each invalid case: the host must refuse it, and the probe must not see it
//   concurrency a thread-safe tool's valid cases from several threads at once
//   cancel      each valid case of a cancellable operation, cancelled once the plugin runs it
//   stop        cleanup and destroy through the host
// After every step, what the plugin wrote to stdout (a pipe this process reads, as the scanner
// child does) is reported against that step.

#include "validate/argument_cases.hpp"
#include "validate/checks.hpp"

#include <toolhost/host.hpp>
#include <toolhost/json_input.hpp>
#include <toolhost/json_text.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/plugin_loader.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

namespace toolhost::cli::validate {

namespace json = boost::json;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

// ------------------------------------------------------------------------------------ the job

json::object job::to_json() const {
    json::array skip(skip_tools.begin(), skip_tools.end());
    return {{"plugin_dir", plugin_dir.string()},
            {"data_dir", data_dir.string()},
            {"timeout_ms", timeout.count()},
            {"resume", resume},
            {"skip_tools", std::move(skip)},
            {"lost_steps", json::array(lost_steps.begin(), lost_steps.end())},
            {"configs", configs},
            {"config_file", config_file.string()}};
}

boost::system::result<job, std::string> job::from_json(std::string_view text) {
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    using result = boost::system::result<job, std::string>;
    if (ec || !v.is_object()) return result(boost::system::in_place_error, "the job is not a JSON object");
    const json::object& o = v.get_object();
    job j;
    try {
        j.plugin_dir = std::string(o.at("plugin_dir").as_string());
        j.data_dir = std::string(o.at("data_dir").as_string());
        j.timeout = std::chrono::milliseconds(o.at("timeout_ms").to_number<std::int64_t>());
        j.resume = o.at("resume").to_number<std::size_t>();
        for (const auto& t : o.at("skip_tools").as_array()) j.skip_tools.emplace_back(t.as_string());
        for (const auto& s : o.at("lost_steps").as_array()) j.lost_steps.push_back(s.to_number<std::size_t>());
        j.configs = o.at("configs").as_object();
        j.config_file = std::string(o.at("config_file").as_string());
    } catch (const std::exception& e) {
        return result(boost::system::in_place_error, std::string("the job is malformed: ") + e.what());
    }
    return j;
}

namespace {

// --------------------------------------------------------------------------------- reporting

// One JSON object a line on the report descriptor. Calls of the thread-safety check report from
// several threads: one line at a time.
class reporter {
public:
    explicit reporter(int fd) : fd_(fd) {}

    void begin(std::size_t step, std::string_view check, std::string_view tool, const std::string& what) {
        send({{"event", "begin"}, {"step", step}, {"check", check}, {"tool", tool}, {"what", what}});
    }
    void end(std::size_t step) { send({{"event", "end"}, {"step", step}}); }
    void pass(std::string_view check, std::string_view message = {}) { verdict(check, "pass", message); }
    void fail(std::string_view check, std::string_view message) { verdict(check, "fail", message); }
    void skip(std::string_view check, std::string_view message) { verdict(check, "skip", message); }
    /// Tells the supervisor that a long step still makes progress (its timeout counts from here).
    void alive() { send({{"event", "alive"}}); }
    void done() { send({{"event", "done"}}); }

private:
    void verdict(std::string_view check, std::string_view outcome, std::string_view message) {
        send({{"event", "verdict"}, {"check", check}, {"outcome", outcome}, {"message", message}});
    }
    void send(const json::object& o) {
        std::string line = toolhost::json_text(o);
        line += '\n';
        std::lock_guard lock(mutex_);
        for (const char* p = line.data(); p < line.data() + line.size();) {
            const ssize_t n = ::write(fd_, p, static_cast<std::size_t>(line.data() + line.size() - p));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) std::_Exit(0);  // the supervisor is gone: nobody to tell
            p += n;
        }
    }

    int fd_;
    std::mutex mutex_;
};

// Descriptor 1 becomes the write end of a pipe this process reads after each step, so that
// output is told apart per step. Non-blocking: a plugin that prints more than the pipe holds
// gets EAGAIN, not a hang.
class stdout_capture {
public:
    stdout_capture() {
        int p[2];
        if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return;
        if (::dup2(p[1], STDOUT_FILENO) < 0) {
            ::close(p[0]);
            ::close(p[1]);
            return;
        }
        ::close(p[1]);
        read_ = p[0];
    }
    stdout_capture(const stdout_capture&) = delete;
    stdout_capture& operator=(const stdout_capture&) = delete;

    std::string drain() {
        std::fflush(stdout);
        std::cout.flush();
        std::string out;
        char buf[4096];
        for (ssize_t n; read_ >= 0 && (n = ::read(read_, buf, sizeof buf)) > 0;)
            if (out.size() < 65536) out.append(buf, static_cast<std::size_t>(n));
        return out;
    }

private:
    int read_ = -1;
};

// JSON for a message, at most `max` bytes of it.
std::string excerpt(std::string_view text, std::size_t max = 200) {
    if (text.size() <= max) return std::string(text);
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    return std::string(text.substr(0, cut)) + "... (" + std::to_string(text.size()) + " bytes)";
}
std::string excerpt(const json::value& v) { return excerpt(toolhost::json_text(v)); }

// ------------------------------------------------------------------------------------ probe

// Counts the plugin's invoke() calls of one tool and tells when none runs.
struct probe {
    std::mutex mutex;
    std::condition_variable changed;
    std::uint64_t entered = 0;
    int running = 0;
    std::multiset<std::string> operations;  // of the calls running now, for messages about hangs
    // What the plugin answered, by request id, before the host looked at it (the host turns a
    // result that is not JSON into its own INTERNAL error, for instance): the driver judges these.
    std::map<std::string, call_result, std::less<>> answers;

    std::optional<call_result> take_answer(const std::string& request_id) {
        std::lock_guard lock(mutex);
        auto it = answers.find(request_id);
        if (it == answers.end()) return std::nullopt;
        call_result r = std::move(it->second);
        answers.erase(it);
        return r;
    }

    std::uint64_t entries() {
        std::lock_guard lock(mutex);
        return entered;
    }
    bool wait_entered(std::uint64_t after, steady::time_point until) {
        std::unique_lock lock(mutex);
        return changed.wait_until(lock, until, [&] { return entered > after; });
    }
    bool wait_idle(steady::time_point until) {
        std::unique_lock lock(mutex);
        return changed.wait_until(lock, until, [&] { return running == 0; });
    }
    /// The operations still running, "a, b".
    std::string running_operations() {
        std::lock_guard lock(mutex);
        std::string s;
        for (const auto& op : std::set<std::string>(operations.begin(), operations.end()))
            s += (s.empty() ? "" : ", ") + op;
        return s;
    }
};

class probe_instance final : public tool_instance {
public:
    probe_instance(std::unique_ptr<tool_instance> inner, std::shared_ptr<probe> p)
        : inner_(std::move(inner)), probe_(std::move(p)) {}
    void_result initialize(std::string_view config_json, const fs::path& data_dir) override {
        return inner_->initialize(config_json, data_dir);
    }
    call_result invoke(const invocation& call) noexcept override {
        {
            std::lock_guard lock(probe_->mutex);
            ++probe_->entered;
            ++probe_->running;
            probe_->operations.emplace(call.operation);
        }
        probe_->changed.notify_all();
        call_result r = inner_->invoke(call);
        {
            std::lock_guard lock(probe_->mutex);
            --probe_->running;
            probe_->operations.erase(probe_->operations.find(std::string(call.operation)));
            probe_->answers.insert_or_assign(std::string(call.request_id), r);
        }
        probe_->changed.notify_all();
        return r;
    }
    void cleanup() noexcept override { inner_->cleanup(); }

private:
    std::unique_ptr<tool_instance> inner_;
    std::shared_ptr<probe> probe_;
};

class probe_factory final : public tool_factory {
public:
    probe_factory(std::shared_ptr<tool_factory> inner, std::shared_ptr<probe> p)
        : inner_(std::move(inner)), probe_(std::move(p)) {}
    const tool_descriptor& descriptor() const noexcept override { return inner_->descriptor(); }
    boost::system::result<std::unique_ptr<tool_instance>, tool_error> create(const instance_context& context) override {
        auto made = inner_->create(context);
        if (!made) return made.error();
        return std::unique_ptr<tool_instance>(new probe_instance(std::move(*made), probe_));
    }

private:
    std::shared_ptr<tool_factory> inner_;
    std::shared_ptr<probe> probe_;
};

// ------------------------------------------------------------------------------------ the plan

struct operation_plan {
    const operation_descriptor* op = nullptr;
    std::vector<argument_case> valid, invalid;
    std::set<std::size_t> lost;  // valid cases whose call crashed or hung a child
};

struct tool_plan {
    std::string name;
    std::shared_ptr<tool_factory> factory;
    std::shared_ptr<probe> calls = std::make_shared<probe>();
    json::object config;
    std::vector<operation_plan> operations;
    bool skipped = false;  // its start cost an earlier child
    bool started = false;
    bool stuck = false;  // a call of it still runs plugin code: nothing more of it is run
};

enum class step_kind { leaks, start, call, invalid, concurrency, cancel, stop };

struct step {
    step_kind kind;
    std::size_t tool = 0, operation = 0, index = 0;
};

std::string_view check_of(step_kind k) {
    switch (k) {
    case step_kind::leaks: return "leaks";
    case step_kind::start:
    case step_kind::stop: return "lifecycle";
    case step_kind::call: return "calls";
    case step_kind::invalid: return "invalid_arguments";
    case step_kind::concurrency: return "thread_safety";
    case step_kind::cancel: return "cancellation";
    }
    return "calls";
}

// The cases of an operation that the host's validator agrees with: valid ones it accepts, invalid
// ones it refuses, plus invalid ones that break a keyword it ignores (those must be caught).
operation_plan plan_operation(const operation_descriptor& op) {
    operation_plan p{&op, {}, {}, {}};
    for (auto& c : generate_cases(op.input_schema.source())) {
        const bool refused = !c.arguments.is_object() || op.input_schema.validate(c.arguments).has_value();
        if (c.valid && !refused) p.valid.push_back(std::move(c));
        if (!c.valid && (refused || ignored_by_draft7(c.keyword))) p.invalid.push_back(std::move(c));
    }
    return p;
}

std::vector<step> make_steps(const std::vector<tool_plan>& tools) {
    std::vector<step> steps;
    for (std::size_t t = 0; t < tools.size(); ++t) steps.push_back({step_kind::leaks, t});
    for (std::size_t t = 0; t < tools.size(); ++t) {
        steps.push_back({step_kind::start, t});
        const auto& ops = tools[t].operations;
        for (std::size_t o = 0; o < ops.size(); ++o)
            for (std::size_t c = 0; c < ops[o].valid.size(); ++c) steps.push_back({step_kind::call, t, o, c});
        for (std::size_t o = 0; o < ops.size(); ++o)
            for (std::size_t c = 0; c < ops[o].invalid.size(); ++c) steps.push_back({step_kind::invalid, t, o, c});
        steps.push_back({step_kind::concurrency, t});
        for (std::size_t o = 0; o < ops.size(); ++o)
            if (ops[o].op->cancellable()) steps.push_back({step_kind::cancel, t, o});
        steps.push_back({step_kind::stop, t});
    }
    return steps;
}

// ------------------------------------------------------------------------------------ counting

// The open descriptors of this process, but the one that lists them.
std::set<int> open_descriptors() {
    std::set<int> fds;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return fds;
    const int own = ::dirfd(dir);
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        if (const int fd = std::atoi(e->d_name); fd != own) fds.insert(fd);
    }
    ::closedir(dir);
    return fds;
}

std::size_t thread_count() {
    std::error_code ec;
    std::size_t n = 0;
    for (auto it = fs::directory_iterator("/proc/self/task", ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
        ++n;
    return n;
}

// ------------------------------------------------------------------------------------ the driver

class driver {
public:
    driver(const job& j, int report_fd) : job_(j), rep_(report_fd) {}

    int run() {
        plugin_loader loader;  // no scan cache: every run looks at the file afresh
        const auto report = loader.scan({job_.plugin_dir});
        for (const auto& t : report.tools) {
            if (!t.factory) continue;  // the supervisor reports refused tools (descriptors)
            tool_plan p;
            p.name = t.name;
            p.factory = t.factory;
            if (const auto* c = job_.configs.if_contains(t.name); c != nullptr && c->is_object())
                p.config = c->get_object();
            p.skipped = std::find(job_.skip_tools.begin(), job_.skip_tools.end(), t.name) != job_.skip_tools.end();
            for (const auto& op : t.factory->descriptor().operations) p.operations.push_back(plan_operation(op));
            tools_.push_back(std::move(p));
        }
        const auto steps = make_steps(tools_);
        for (std::size_t i : job_.lost_steps)
            if (i < steps.size() && steps[i].kind == step_kind::call)
                tools_[steps[i].tool].operations[steps[i].operation].lost.insert(steps[i].index);
        std::vector<std::size_t> stop_step(tools_.size(), 0);
        for (std::size_t i = 0; i < steps.size(); ++i)
            if (steps[i].kind == step_kind::stop) stop_step[steps[i].tool] = i;
        for (std::size_t i = 0; i < steps.size(); ++i) {
            const step& s = steps[i];
            tool_plan& t = tools_[s.tool];
            if (t.skipped || t.stuck) continue;
            if (s.kind == step_kind::start && !host_) make_host();
            if (i < job_.resume) {
                // Reported by an earlier child; a tool that started then is started again, quietly,
                // when steps of it are left.
                if (s.kind == step_kind::start && stop_step[s.tool] >= job_.resume)
                    t.started = static_cast<bool>(host_->start(only(t)).ok());
                continue;
            }
            if (s.kind != step_kind::leaks && s.kind != step_kind::start && !t.started) continue;
            const std::string what = describe(s);
            rep_.begin(i, check_of(s.kind), t.name, what);
            run_step(s);
            if (const std::string printed = stdout_.drain(); !printed.empty())
                rep_.fail("no_stdout", "the plugin wrote to stdout while " + what + ": " +
                                           toolhost::json_text(std::string_view(excerpt(printed))) +
                                           "; stdout carries the MCP stdio protocol: log through the host instead");
            else
                rep_.pass("no_stdout");
            rep_.end(i);
        }
        const bool stuck = std::any_of(tools_.begin(), tools_.end(), [](const tool_plan& t) { return t.stuck; });
        if (stuck) {
            // Plugin code that does not return cannot be stopped in this process; the host's
            // shutdown would wait for it forever.
            rep_.done();
            std::_Exit(0);
        }
        // The host's shutdown cleans up what an earlier child left started (a tool replayed after
        // its stop step cost that child): one step more, after which nothing is run again.
        const std::size_t last = steps.size();
        if (host_ && job_.resume > last) {
            rep_.done();
            std::_Exit(0);
        }
        if (host_) {
            const std::string what = "shutting the host down (cleanup and destroy of the tools still started)";
            rep_.begin(last, "lifecycle", "", what);
            host_->shutdown();
            if (const std::string printed = stdout_.drain(); !printed.empty())
                rep_.fail("no_stdout", "the plugin wrote to stdout while " + what + ": " +
                                           toolhost::json_text(std::string_view(excerpt(printed))));
            rep_.end(last);
        }
        rep_.done();
        return 0;
    }

private:
    static start_options only(const tool_plan& t) {
        start_options o;
        o.concurrent = false;
        o.only = std::vector<std::string>{t.name};
        return o;
    }

    void make_host() {
        host_options o;
        o.config.data_dir = job_.data_dir;
        o.config.threads = 4;
        o.config.concurrent_init = false;
        o.config.log_level = job_.log_level;
        o.config.log_format = job_.log_format;
        for (const auto& t : tools_) {
            tool_settings s;
            s.config = t.config;
            s.pointer = "/tools/" + t.name;
            o.config.tools[t.name] = std::move(s);
        }
        // One attempt under the job's deadline, no breaker: every call reaches the plugin.
        o.default_policy.timeout = job_.timeout;
        o.default_policy.attempt_timeout = job_.timeout;
        o.default_policy.retry.max_attempts = 1;
        o.default_policy.breaker_enabled = false;
        host_.emplace(std::move(o));
        for (auto& t : tools_) {
            if (t.skipped) continue;
            if (auto r = host_->register_factory(std::make_shared<probe_factory>(t.factory, t.calls)); !r) {
                t.skipped = true;
                rep_.fail("lifecycle", t.name + " could not be registered: " + r.error());
            }
        }
    }

    std::string describe(const step& s) const {
        const tool_plan& t = tools_[s.tool];
        auto op_name = [&] { return t.name + "." + t.operations[s.operation].op->name; };
        switch (s.kind) {
        case step_kind::leaks:
            return "repeating create, initialize, a call of each operation, cleanup and destroy of " + t.name;
        case step_kind::start: return "creating and initializing " + t.name;
        case step_kind::call: {
            const auto& c = t.operations[s.operation].valid[s.index];
            return "calling " + op_name() + " with the '" + c.label + "' arguments " + excerpt(c.arguments);
        }
        case step_kind::invalid: {
            const auto& c = t.operations[s.operation].invalid[s.index];
            return "calling " + op_name() + " with invalid arguments (" + c.label + ") " + excerpt(c.arguments);
        }
        case step_kind::concurrency:
            return "calling " + t.name + "'s operations from " + std::to_string(concurrent_threads) +
                   " threads at once";
        case step_kind::cancel: return "cancelling calls of " + op_name();
        case step_kind::stop: return "cleaning up and destroying " + t.name;
        }
        return {};
    }

    void run_step(const step& s) {
        tool_plan& t = tools_[s.tool];
        switch (s.kind) {
        case step_kind::leaks: return leaks(t);
        case step_kind::start: return start(t);
        case step_kind::call: return valid_call(t, t.operations[s.operation], t.operations[s.operation].valid[s.index]);
        case step_kind::invalid:
            return invalid_call(t, t.operations[s.operation], t.operations[s.operation].invalid[s.index]);
        case step_kind::concurrency: return concurrency(t);
        case step_kind::cancel: return cancellation(t, t.operations[s.operation]);
        case step_kind::stop: return stop(t);
        }
    }

    // The checks that the calls of a tool that did not start, or that hangs, cannot answer.
    void skip_calls_of(const std::string& why) {
        for (std::string_view check :
             {"calls", "invalid_arguments", "results", "output_schema", "errors", "thread_safety", "cancellation"})
            rep_.skip(check, why);
    }

    // ----------------------------------------------------------------------------- leaks

    void leaks(tool_plan& t) {
        const fs::path dir = job_.data_dir / t.name;
        std::error_code ec;
        fs::create_directories(dir, ec);
        const std::string config = toolhost::json_text(t.config);
        // An instance that lives through every cycle keeps the library loaded: the cycles repeat
        // initialize and cleanup, not dlopen and dlclose (a library that cannot be unloaded is
        // no error, docs/plugin-abi.md).
        auto keeper = t.factory->create({});
        if (!keeper) {
            rep_.skip("leaks", t.name + " could not be created: " + keeper.error().message);
            return;
        }
        auto cycle = [&](int n) -> std::string {
            auto made = t.factory->create({});
            if (!made) return "create failed: " + made.error().message;
            auto& instance = *made;
            if (auto r = instance->initialize(config, dir); !r)
                return "initialize failed with " + std::string(status_name(r.error().code)) + ": " + r.error().message;
            for (const auto& op : t.operations) {
                if (op.valid.empty()) continue;
                const std::string args = toolhost::json_text(op.valid.front().arguments);
                const std::string request = "validate-leaks-" + std::to_string(n);
                call_control control(steady::now() + job_.timeout);
                invocation call;
                call.tool = t.name;
                call.operation = op.op->name;
                call.arguments = args;
                call.request_id = request;
                call.control = &control;
                (void)instance->invoke(call);
                rep_.alive();
            }
            instance->cleanup();
            return {};
        };
        if (auto problem = cycle(0); !problem.empty()) {
            rep_.skip("leaks", t.name + ": " + problem);
            return;
        }
        const std::set<int> fds_before = open_descriptors();
        const std::size_t threads_before = thread_count();
        for (int n = 1; n <= leak_cycles; ++n)
            if (auto problem = cycle(n); !problem.empty()) {
                rep_.skip("leaks", t.name + ": " + problem);
                return;
            }
        // A thread told to stop in cleanup() may take a moment to be gone.
        const auto until = steady::now() + std::chrono::seconds(1);
        while (thread_count() > threads_before && steady::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const std::size_t threads_after = thread_count();
        std::vector<std::string> left;
        for (int fd : open_descriptors()) {
            if (fds_before.count(fd) != 0) continue;
            std::error_code lec;
            const auto target = fs::read_symlink("/proc/self/fd/" + std::to_string(fd), lec);
            left.push_back(std::to_string(fd) + " -> " + (lec ? std::string("?") : target.string()));
        }
        const std::string cycles =
            std::to_string(leak_cycles) + " cycles of create, initialize, calls, cleanup and destroy";
        bool ok = true;
        if (!left.empty()) {
            std::string list;
            for (std::size_t i = 0; i < left.size() && i < 5; ++i) list += (i ? ", " : "") + left[i];
            if (left.size() > 5) list += ", ...";
            rep_.fail("leaks", cycles + " of " + t.name + " left " + std::to_string(left.size()) +
                                   " more file descriptors open (" + list +
                                   "): close in cleanup() (or destroy) what initialize() and the calls opened");
            ok = false;
        }
        if (threads_after > threads_before) {
            rep_.fail("leaks", cycles + " of " + t.name + " left " + std::to_string(threads_after - threads_before) +
                                   " more threads running: stop and join in cleanup() the threads initialize() or "
                                   "the calls started");
            ok = false;
        }
        if (ok) rep_.pass("leaks", t.name);
    }

    // ----------------------------------------------------------------------------- lifecycle

    void start(tool_plan& t) {
        const auto report = host_->start(only(t));
        if (report.ok()) {
            t.started = true;
            rep_.pass("lifecycle", t.name);
            return;
        }
        const tool_error& e = report.failed.front().second;
        std::string hint = e.code == status_code::invalid_argument
                               ? "; give its configuration under tools." + t.name + ".config in the file --config names"
                               : "";
        const std::string origin = job_.config_file.empty() ? "its default configuration ({})"
                                                            : "its configuration, tools." + t.name + ".config of " +
                                                                  job_.config_file.string() + " ({} when absent)";
        rep_.fail("lifecycle", t.name + " did not start with " + origin + ": " + std::string(status_name(e.code)) +
                                   ": " + e.message + hint);
        skip_calls_of(t.name + " did not start");
    }

    void stop(tool_plan& t) {
        host_->unregister(t.name);
        rep_.pass("lifecycle", t.name);
    }

    // ----------------------------------------------------------------------------- calls

    struct outcome {
        std::optional<call_result> answer;  // nullopt: the host did not answer by the deadline
        std::optional<call_result> plugin;  // what the plugin answered, when it ran and returned
        std::string request_id;
        bool entered = false;  // the plugin's invoke() ran
        std::chrono::milliseconds after_cancel{0};
        bool cancelled = false;
        bool stuck = false;  // still in plugin code hang_grace after the deadline (or no answer at all)
    };

    // One call through the host under the job's deadline. With `cancel`, the call is cancelled as
    // soon as the plugin runs it, and `after_cancel` says how long the plugin went on.
    // With `wait_idle`, waits for the plugin to return (at most hang_grace after the deadline).
    outcome call(tool_plan& t, const operation_descriptor& op, const json::value& args, bool cancel = false,
                 bool wait_idle = true) {
        outcome out;
        const auto before = t.calls->entries();
        const auto deadline = steady::now() + job_.timeout;
        call_options co;
        co.deadline = deadline;
        co.request_id = "validate-" + std::to_string(next_request_.fetch_add(1));
        const std::string request_id = co.request_id;
        out.request_id = request_id;
        // Kept until the host answered; leaked if it never does, since its slot may still be used.
        auto* signal = new boost::asio::cancellation_signal;
        auto f = host_->async_call(t.name, op.name, args, std::move(co),
                                   boost::asio::bind_cancellation_slot(signal->slot(), boost::asio::use_future));
        std::optional<steady::time_point> cancelled_at;
        if (cancel && t.calls->wait_entered(before, deadline)) {
            cancelled_at = steady::now();
            signal->emit(boost::asio::cancellation_type::terminal);
        }
        if (f.wait_until(deadline + hang_grace) == std::future_status::ready) {
            out.answer = f.get();
            delete signal;
        }
        out.entered = t.calls->entries() > before;
        if (cancelled_at) {
            t.calls->wait_idle(deadline + hang_grace);
            out.cancelled = true;
            out.after_cancel = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - *cancelled_at);
        }
        if (wait_idle && !t.calls->wait_idle(std::max(steady::now(), deadline) + hang_grace)) out.stuck = true;
        if (!out.answer) out.stuck = true;
        out.plugin = t.calls->take_answer(request_id);
        return out;
    }

    void hang(tool_plan& t, std::string_view check, const std::string& where) {
        t.stuck = true;
        rep_.fail(check, where + " did not return within " + std::to_string(job_.timeout.count()) +
                             " ms and went on running " + std::to_string(hang_grace.count()) +
                             " ms past its deadline: poll call->is_cancelled() (cancelled() in C++) and "
                             "remaining_ns() in anything that can take long, and return when it says so");
        skip_calls_of("not checked further: a call of " + t.name + " still runs plugin code");
    }

    // What the answer of a call that reached the plugin says about results, output schema, errors.
    void judge(const operation_descriptor& op, const std::string& where, const call_result& r) {
        if (r) {
            auto parsed = parse_json_input(*r, default_json_max_depth);
            if (!parsed) {
                rep_.fail("results", where + " returned a result that is not valid JSON (" +
                                         parsed.error().to_string() +
                                         "): " + toolhost::json_text(std::string_view(excerpt(*r))) +
                                         "; write results with a JSON serializer");
                return;
            }
            if (auto at = find_out_of_range_number(*parsed)) {
                rep_.fail("results", where + " returned a number JSON cannot carry at " + (at->empty() ? "/" : *at) +
                                         " (NaN, infinity or beyond a double): return it as a string, or a finite "
                                         "number");
                return;
            }
            rep_.pass("results");
            if (!op.output_schema) {
                rep_.skip("output_schema", "no operation that answered declares an output_schema");
            } else if (auto e = op.output_schema->validate(*parsed)) {
                rep_.fail("output_schema", where + " returned a result its output_schema refuses: " + e->to_string() +
                                               " (result: " + excerpt(*parsed) +
                                               "); fix the result, or the schema if the result is right");
            } else {
                rep_.pass("output_schema");
            }
            return;
        }
        const tool_error& e = r.error();
        if (e.message.empty() || e.message.ends_with(" and no message"))
            rep_.fail("errors", where + " failed with " + std::string(status_name(e.code)) +
                                    " and no message: call set_error() (throw sdk::error in C++) with what was "
                                    "wrong, naming the field or record");
        else if (e.message.find("which is not a toolhost_status_t") != std::string::npos)
            rep_.fail("errors", where + ": " + e.message + "; return one of the codes of toolhost/status.h");
        else
            rep_.pass("errors");
    }

    void valid_call(tool_plan& t, const operation_plan& p, const argument_case& c) {
        const std::string where =
            t.name + "." + p.op->name + " with the '" + c.label + "' arguments " + excerpt(c.arguments);
        const outcome o = call(t, *p.op, c.arguments);
        if (o.stuck) return hang(t, "calls", where);
        rep_.pass("calls");
        if (o.plugin) judge(*p.op, where, *o.plugin);
    }

    void invalid_call(tool_plan& t, const operation_plan& p, const argument_case& c) {
        const std::string where =
            "the '" + c.label + "' arguments " + excerpt(c.arguments) + " of " + t.name + "." + p.op->name;
        const outcome o = call(t, *p.op, c.arguments);
        if (o.stuck) return hang(t, "invalid_arguments", "the plugin, given " + where + ",");
        const std::string broken = "`" + c.keyword + "` at " + (c.pointer.empty() ? "/" : c.pointer);
        if (o.entered) {
            std::string why = ignored_by_draft7(c.keyword)
                                  ? "the host validates JSON Schema draft-07, which has no `" + c.keyword +
                                        "`: write it in draft-07 terms (`dependencies` for `dependentRequired`), or "
                                        "drop it and check it in the plugin"
                                  : "the host's validation let them through";
            rep_.fail("invalid_arguments", where + " reached the plugin although they break " + broken + ": " + why);
            return;
        }
        if (o.answer && !*o.answer && o.answer->error().code == status_code::invalid_argument) {
            rep_.pass("invalid_arguments");
            return;
        }
        const std::string got =
            !o.answer   ? "no answer"
            : *o.answer ? "OK"
                        : std::string(status_name(o.answer->error().code)) + ": " + o.answer->error().message;
        rep_.fail("invalid_arguments",
                  where + " (breaking " + broken + ") were answered " + got + " instead of INVALID_ARGUMENT");
    }

    // ----------------------------------------------------------------------------- threads

    void concurrency(tool_plan& t) {
        if (std::none_of(t.operations.begin(), t.operations.end(),
                         [](const operation_plan& p) { return p.op->cancellable(); }))
            rep_.skip("cancellation", t.name + ": no operation is flagged CANCELLABLE");
        if (!t.factory->descriptor().thread_safe) {
            rep_.skip("thread_safety",
                      t.name + " is not flagged thread-safe: the host never runs two of its calls at once");
            return;
        }
        struct job_item {
            const operation_plan* op;
            const argument_case* c;
        };
        std::vector<job_item> items;
        for (const auto& op : t.operations)
            for (std::size_t c = 0; c < op.valid.size(); ++c)
                if (op.lost.count(c) == 0) items.push_back({&op, &op.valid[c]});
        if (items.empty()) {
            rep_.skip("thread_safety", t.name + ": no operation has arguments to call it with");
            return;
        }
        struct answered {
            const job_item* item;
            outcome o;
        };
        std::mutex mutex;
        std::vector<answered> answers;
        std::vector<std::thread> threads;
        for (int k = 0; k < concurrent_threads; ++k)
            threads.emplace_back([&, k] {
                // Each thread calls every case, starting at a different one.
                for (std::size_t n = 0; n < items.size(); ++n) {
                    const job_item& item =
                        items[(n + static_cast<std::size_t>(k) * items.size() / concurrent_threads) % items.size()];
                    outcome o = call(t, *item.op->op, item.c->arguments, false, false);
                    rep_.alive();
                    std::lock_guard lock(mutex);
                    answers.push_back({&item, std::move(o)});
                }
            });
        for (auto& th : threads) th.join();
        const bool unanswered =
            std::any_of(answers.begin(), answers.end(), [](const answered& a) { return a.o.stuck; });
        if (unanswered || !t.calls->wait_idle(steady::now() + hang_grace))
            return hang(t, "thread_safety",
                        "a call of " + t.name + " (running: " + t.calls->running_operations() + ") made while " +
                            std::to_string(concurrent_threads) + " threads called it at once");
        for (auto& a : answers) {
            if (!a.o.plugin) a.o.plugin = t.calls->take_answer(a.o.request_id);
            if (a.o.plugin)
                judge(*a.item->op->op,
                      t.name + "." + a.item->op->op->name + " with the '" + a.item->c->label +
                          "' arguments, called from several threads at once,",
                      *a.o.plugin);
        }
        rep_.pass("thread_safety", t.name);
    }

    // ----------------------------------------------------------------------------- cancellation

    void cancellation(tool_plan& t, const operation_plan& p) {
        for (std::size_t i = 0; i < p.valid.size(); ++i) {
            if (p.lost.count(i) != 0) continue;
            const argument_case& c = p.valid[i];
            const outcome o = call(t, *p.op, c.arguments, true);
            const std::string where = t.name + "." + p.op->name + " (flagged CANCELLABLE), called with the '" +
                                      c.label + "' arguments " + excerpt(c.arguments) + ",";
            if (o.stuck) return hang(t, "cancellation", where);
            rep_.alive();
            if (!o.cancelled) continue;
            if (o.after_cancel > cancel_grace) {
                rep_.fail("cancellation", where + " went on for " + std::to_string(o.after_cancel.count()) +
                                              " ms after its call was cancelled (at most " +
                                              std::to_string(cancel_grace.count()) +
                                              " ms): poll call->is_cancelled() (cancelled() in C++) and return "
                                              "CANCELLED, or do not flag it CANCELLABLE");
                return;
            }
            rep_.pass("cancellation", t.name + "." + p.op->name);
        }
    }

    const job& job_;
    reporter rep_;
    stdout_capture stdout_;
    std::vector<tool_plan> tools_;
    std::optional<host> host_;
    std::atomic<std::uint64_t> next_request_{1};
};

}  // namespace

int run_driver(const job& j, int report_fd) { return driver(j, report_fd).run(); }

}  // namespace toolhost::cli::validate
