#include <toolhost/host.hpp>
#include <toolhost/logging.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <thread>

namespace toolhost {

namespace detail {

// One registered tool: its factory and, once started, its instance.
struct tool_slot {
    tool_slot(std::shared_ptr<tool_factory> f, host::executor_type ex)
        : factory(std::move(f)), name(factory->descriptor().name) {
        if (!factory->descriptor().thread_safe) strand.emplace(ex);
    }

    const tool_descriptor& descriptor() const noexcept { return factory->descriptor(); }

    void set_error(std::optional<tool_error> e) {
        std::lock_guard lock(error_mutex);
        error = std::move(e);
    }
    std::optional<tool_error> get_error() const {
        std::lock_guard lock(error_mutex);
        return error;
    }
    std::string error_text() const {
        auto e = get_error();
        return e ? e->to_string() : std::string();
    }

    std::shared_ptr<tool_factory> factory;
    std::string name;
    std::atomic<tool_state> state{tool_state::registered};
    std::unique_ptr<tool_instance> instance;  // written only under the lifecycle mutex, before ready
    std::optional<host::strand_type> strand;  // serializes calls of tools that are not thread-safe
    std::atomic<int64_t> in_flight{0};  // calls accepted and not finished, plus plugin calls running
    bool enabled = true;

    // Resilience state, installed from the policy when the slot is created or the policy set.
    call_policy policy;
    std::map<std::string, call_policy, std::less<>> operation_policies;
    std::unique_ptr<circuit_breaker> breaker;
    std::unique_ptr<toolhost::bulkhead> bulkhead;
    std::unique_ptr<retry_budget> budget;
    // Metric handles, looked up once at registration so the call path only increments.
    struct op_metrics {
        std::array<counter*, 17> calls{};  // by status code
        histogram* call_duration = nullptr;
        histogram* attempt_duration = nullptr;
        counter* retries = nullptr;
        counter* timeouts = nullptr;
    };
    std::map<std::string, op_metrics, std::less<>> metrics_by_op;
    counter* rejected_breaker = nullptr;
    counter* rejected_bulkhead = nullptr;
    counter* rejected_budget = nullptr;
    std::atomic<int64_t> abandoned{0};

    op_metrics& metrics_for(std::string_view op) { return metrics_by_op.find(op)->second; }

    // Calls waiting for a retry timer, so that stopping the tool can end them at once.
    std::mutex retry_mutex;
    std::map<timer_service::timer_id, std::shared_ptr<call_state>> waiting_retries;

    const call_policy& policy_for(std::string_view op) const {
        auto it = operation_policies.find(op);
        return it != operation_policies.end() ? it->second : policy;
    }
    mutable std::mutex error_mutex;
    std::optional<tool_error> error;  // why the last start failed
};

// One call through the pipeline: from prepare to the completion handler, across attempts.
struct call_state {
    tool_slot* slot = nullptr;  // alive while the slot's in_flight counts this call
    const operation_descriptor* op = nullptr;
    const call_policy* policy = nullptr;
    std::string arguments;
    call_options options;
    std::shared_ptr<call_control> caller;  // the caller's cancellation, progress
    std::optional<clock::time_point> deadline;  // the total deadline
    completion_fn done;
    std::atomic<bool> finished{false};
    uint32_t attempts = 0;  // attempts started; only touched by one step at a time
    clock::time_point started;
};

// One attempt: whichever comes first, the plugin's return or the attempt's deadline, decides it.
struct attempt_state {
    attempt_state(std::shared_ptr<call_state> c, const circuit_breaker::admission& adm,
                  std::optional<clock::time_point> deadline, const clock& clk)
        : call(std::move(c)), admission(adm), control(deadline, clk, call->caller) {}
    std::shared_ptr<call_state> call;
    circuit_breaker::admission admission;
    call_control control;
    std::atomic<bool> decided{false};
    std::optional<timer_service::timer_id> timer;
    std::mutex timer_mutex;
};

}  // namespace detail

namespace {

namespace json = boost::json;

unsigned thread_count(unsigned configured) {
    if (configured > 0) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
}

std::string join_names(const std::vector<operation_descriptor>& ops) {
    std::string s;
    for (const auto& o : ops) {
        if (!s.empty()) s += ", ";
        s += o.name;
    }
    return s;
}

std::string_view kind_name(const json::value& v) {
    switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
    }
    return "a value";
}

}  // namespace

std::string_view tool_state_name(tool_state s) noexcept {
    switch (s) {
    case tool_state::registered: return "registered";
    case tool_state::initializing: return "initializing";
    case tool_state::ready: return "ready";
    case tool_state::failed: return "failed";
    case tool_state::stopping: return "stopping";
    case tool_state::stopped: return "stopped";
    }
    return "unknown";
}

host::host(host_options options)
    : config_(std::move(options.config)),
      loader_(options.loader),
      default_policy_(std::move(options.default_policy)),
      clock_(options.time ? options.time : &steady_clock_instance()),
      own_timers_(options.timers ? nullptr : std::make_unique<thread_timer_service>()),
      timers_(options.timers ? options.timers : own_timers_.get()),
      random_(options.random ? options.random : &default_random()),
      pool_(thread_count(config_.threads)) {
    // The configuration's log settings apply to the whole process: Boost.Log is process-wide.
    logging::init(logging::parse_level(config_.log_level).value_or(logging::level::info),
                  logging::parse_format(config_.log_format).value_or(logging::format::text));
}

host::~host() {
    shutdown();
    pool_.join();
}

// ------------------------------------------------------------------------------------ registry

const load_report& host::load_plugins() {
    load_report report = loader_.scan(config_.plugin_dirs);
    std::vector<library_tool> kept;
    for (auto& t : report.tools) {
        const std::string path = t.factory->descriptor().plugin;
        if (auto ok = register_factory(t.factory); !ok) {
            report.rejected.push_back({path, ok.error()});
            logging::write(logging::level::warning, "loader", "tool rejected",
                           {{"path", path}, {"error", ok.error()}});
            continue;
        }
        kept.push_back(std::move(t));
    }
    report.tools = std::move(kept);
    load_report_ = std::move(report);
    return load_report_;
}

boost::system::result<void, std::string> host::register_factory(std::shared_ptr<tool_factory> factory) {
    if (!factory) return std::string("no factory (null)");
    if (auto ok = factory->descriptor().validate(); !ok) return ok.error();
    const auto& name = factory->descriptor().name;
    std::unique_lock lock(registry_mutex_);
    if (auto it = by_name_.find(name); it != by_name_.end())
        return "duplicate tool name '" + name + "': already provided by " +
               it->second->descriptor().plugin + "; this one was not registered";
    auto slot = std::make_shared<detail::tool_slot>(std::move(factory), pool_.get_executor());
    install_policy(*slot, policy_from_config(slot->name));
    for (const auto& op : slot->descriptor().operations)
        if (auto p = operation_policy_from_config(slot->name, op.name)) slot->operation_policies.emplace(op.name, std::move(*p));
    install_metrics(*slot);
    by_name_.emplace(slot->name, slot);
    slots_.push_back(std::move(slot));
    logging::write(logging::level::debug, "registry", "tool registered", {{"tool", name}});
    return {};
}

boost::system::result<void, std::string> host::register_entry(const toolhost_plugin_entry_t* entry,
                                                              std::string name) {
    auto lib = plugin_library::from_entry(entry, std::move(name), loader_.abi());
    if (!lib) return lib.error();
    std::string errors;
    for (auto& t : (*lib)->tools()) {
        auto ok = t.factory ? register_factory(t.factory) : boost::system::result<void, std::string>(t.error);
        if (!ok) errors += (errors.empty() ? "" : "; ") + ok.error();
    }
    if (!errors.empty()) return errors;
    return {};
}

bool host::unregister(std::string_view name) {
    std::lock_guard life(lifecycle_mutex_);
    std::shared_ptr<detail::tool_slot> slot;
    {
        std::unique_lock lock(registry_mutex_);
        auto it = by_name_.find(name);
        if (it == by_name_.end()) return false;
        slot = it->second;
        by_name_.erase(it);
        slots_.erase(std::find(slots_.begin(), slots_.end(), slot));
    }
    // No new call can find the slot now; stop_slot waits for those that already did.
    stop_slot(*slot);
    for (auto family : {"toolhost_tool_in_flight", "toolhost_tool_abandoned_calls", "toolhost_tool_circuit_breaker_state",
                        "toolhost_tool_state"})
        metrics_.gauges(family, "", {"tool"}).remove_callback({slot->name});
    std::unique_lock lock(drain_mutex_);
    drained_.wait(lock, [&] { return slot->in_flight.load() == 0; });
    logging::write(logging::level::info, "registry", "tool unregistered", {{"tool", std::string(name)}});
    return true;
}

call_policy host::policy_from_config(std::string_view tool) const {
    // The embedder's default, then the file's global "resilience", then the tool's.
    call_policy p = default_policy_;
    if (config_.resilience) apply_resilience(p, config_.resilience->settings);
    if (auto it = config_.tools.find(tool); it != config_.tools.end() && it->second.resilience)
        apply_resilience(p, it->second.resilience->settings);
    return p;
}

std::optional<call_policy> host::operation_policy_from_config(std::string_view tool, std::string_view op) const {
    auto it = config_.tools.find(tool);
    if (it == config_.tools.end()) return std::nullopt;
    auto r = it->second.operation_resilience.find(op);
    if (r == it->second.operation_resilience.end()) return std::nullopt;
    call_policy p = policy_from_config(tool);
    apply_resilience(p, r->second.settings);
    return p;
}

void host::install_metrics(detail::tool_slot& slot) {
    auto& calls = metrics_.counters("toolhost_tool_calls_total", "Calls finished, by tool, operation and status.",
                                    {"tool", "operation", "status"});
    auto& call_duration = metrics_.histograms("toolhost_tool_call_duration_seconds",
                                              "Call latency from submit to result, retries included.",
                                              {"tool", "operation"});
    auto& attempt_duration = metrics_.histograms("toolhost_tool_attempt_duration_seconds",
                                                 "Latency of one attempt (one plugin call).", {"tool", "operation"});
    auto& retries = metrics_.counters("toolhost_tool_retries_total", "Retries made.", {"tool", "operation"});
    auto& timeouts = metrics_.counters("toolhost_tool_attempt_timeouts_total",
                                       "Attempts that hit their deadline (their plugin call abandoned).",
                                       {"tool", "operation"});
    auto& rejections = metrics_.counters("toolhost_tool_rejections_total",
                                         "Calls or retries refused without running, by reason.", {"tool", "reason"});
    for (const auto& op : slot.descriptor().operations) {
        detail::tool_slot::op_metrics m;
        for (std::size_t code = 0; code < m.calls.size(); ++code)
            m.calls[code] = &calls.with({slot.name, op.name, status_name(static_cast<status_code>(code))});
        m.call_duration = &call_duration.with({slot.name, op.name});
        m.attempt_duration = &attempt_duration.with({slot.name, op.name});
        m.retries = &retries.with({slot.name, op.name});
        m.timeouts = &timeouts.with({slot.name, op.name});
        slot.metrics_by_op.emplace(op.name, m);
    }
    slot.rejected_breaker = &rejections.with({slot.name, "circuit_open"});
    slot.rejected_bulkhead = &rejections.with({slot.name, "bulkhead_full"});
    slot.rejected_budget = &rejections.with({slot.name, "retry_budget"});
    // Gauges read at render time. The slot outlives them: unregister() removes them first.
    detail::tool_slot* s = &slot;
    metrics_.gauges("toolhost_tool_in_flight", "Calls accepted and not finished, plus plugin calls running.", {"tool"})
        .set_callback({slot.name}, [s] { return static_cast<double>(s->in_flight.load()); });
    metrics_.gauges("toolhost_tool_abandoned_calls",
                    "Plugin calls still running after their caller was answered with DEADLINE_EXCEEDED.", {"tool"})
        .set_callback({slot.name}, [s] { return static_cast<double>(s->abandoned.load()); });
    metrics_.gauges("toolhost_tool_circuit_breaker_state",
                    "Circuit breaker state: 0 closed, 1 open, 2 half_open, 3 forced_open, 4 disabled.", {"tool"})
        .set_callback({slot.name}, [s] { return s->breaker ? static_cast<double>(s->breaker->state()) : 4.0; });
    metrics_.gauges("toolhost_tool_state", "Lifecycle state: 0 registered, 1 initializing, 2 ready, 3 failed, 4 stopping, 5 stopped.",
                    {"tool"})
        .set_callback({slot.name}, [s] { return static_cast<double>(s->state.load()); });
}

void host::install_policy(detail::tool_slot& slot, const call_policy& policy) {
    slot.policy = policy;
    slot.breaker = policy.breaker_enabled ? std::make_unique<circuit_breaker>(slot.name, policy.breaker, *clock_) : nullptr;
    if (slot.breaker) {
        auto& transitions = metrics_.counters("toolhost_tool_circuit_breaker_transitions_total",
                                              "Circuit breaker state changes, by the state entered.", {"tool", "to"});
        std::array<counter*, 5> to{};
        for (std::size_t i = 0; i < to.size(); ++i)
            to[i] = &transitions.with({slot.name, breaker_state_name(static_cast<breaker_state>(i))});
        slot.breaker->on_transition([name = slot.name, to](const breaker_transition& t) {
            if (static_cast<std::size_t>(t.to) < to.size()) to[static_cast<std::size_t>(t.to)]->inc();
            logging::write(logging::level::warning, "breaker", "circuit breaker changed state",
                           {{"tool", name},
                            {"from", breaker_state_name(t.from)},
                            {"to", breaker_state_name(t.to)},
                            {"reason", t.reason}});
        });
    }
    slot.bulkhead = std::make_unique<bulkhead>(policy.bulkhead);
    slot.budget = std::make_unique<retry_budget>(policy.retry_budget_ratio, policy.retry_budget_min_per_second, *clock_);
}

boost::system::result<void, std::string> host::set_policy(std::string_view tool, call_policy policy) {
    if (auto problems = toolhost::validate(policy); !problems.empty()) return "policy of '" + std::string(tool) + "': " + problems;
    std::lock_guard life(lifecycle_mutex_);
    std::shared_lock lock(registry_mutex_);
    auto it = by_name_.find(tool);
    if (it == by_name_.end()) return "no tool named '" + std::string(tool) + "'";
    auto& slot = *it->second;
    if (slot.state.load() == tool_state::ready || slot.in_flight.load() != 0)
        return "tool '" + slot.name + "' is running; set its policy before start()";
    install_policy(slot, policy);
    return {};
}

boost::system::result<void, std::string> host::set_operation_policy(std::string_view tool, std::string_view operation,
                                                                    call_policy policy) {
    if (auto problems = toolhost::validate(policy); !problems.empty())
        return "policy of '" + std::string(tool) + "." + std::string(operation) + "': " + problems;
    std::lock_guard life(lifecycle_mutex_);
    std::shared_lock lock(registry_mutex_);
    auto it = by_name_.find(tool);
    if (it == by_name_.end()) return "no tool named '" + std::string(tool) + "'";
    auto& slot = *it->second;
    if (!slot.descriptor().find_operation(operation))
        return "tool '" + slot.name + "' has no operation '" + std::string(operation) + "'";
    if (slot.state.load() == tool_state::ready || slot.in_flight.load() != 0)
        return "tool '" + slot.name + "' is running; set its policies before start()";
    slot.operation_policies.insert_or_assign(std::string(operation), std::move(policy));
    return {};
}

namespace {
template <class F>
bool with_breaker(std::shared_mutex& m, const std::map<std::string, std::shared_ptr<detail::tool_slot>, std::less<>>& slots,
                  std::string_view tool, F&& f) {
    std::shared_lock lock(m);
    auto it = slots.find(tool);
    if (it == slots.end()) return false;
    if (it->second->breaker) f(*it->second->breaker);
    return true;
}
}  // namespace

bool host::reset_circuit_breaker(std::string_view tool) {
    return with_breaker(registry_mutex_, by_name_, tool, [](circuit_breaker& b) { b.reset(); });
}

void host::reset_all_circuit_breakers() {
    std::shared_lock lock(registry_mutex_);
    for (const auto& s : slots_)
        if (s->breaker) s->breaker->reset();
}

bool host::force_open_circuit_breaker(std::string_view tool) {
    return with_breaker(registry_mutex_, by_name_, tool, [](circuit_breaker& b) { b.force_open(); });
}

bool host::disable_circuit_breaker(std::string_view tool) {
    return with_breaker(registry_mutex_, by_name_, tool, [](circuit_breaker& b) { b.disable(); });
}

std::optional<circuit_breaker::snapshot> host::circuit_breaker_state(std::string_view tool) const {
    std::optional<circuit_breaker::snapshot> out;
    with_breaker(registry_mutex_, by_name_, tool, [&](circuit_breaker& b) { out = b.get_snapshot(); });
    return out;
}

std::vector<std::string> host::list() const {
    std::shared_lock lock(registry_mutex_);
    std::vector<std::string> names;
    for (const auto& s : slots_) names.push_back(s->name);
    return names;
}

std::shared_ptr<const tool_factory> host::find(std::string_view name) const {
    std::shared_lock lock(registry_mutex_);
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second->factory;
}

namespace {
tool_status snapshot(const detail::tool_slot& s, const host_config& cfg) {
    tool_status st;
    st.name = s.name;
    st.version = s.descriptor().version;
    st.plugin = s.descriptor().plugin;
    st.enabled = cfg.tool_enabled(s.name);
    st.state = s.state.load();
    st.error = s.error_text();
    st.in_flight = s.in_flight.load();
    return st;
}
}  // namespace

std::optional<tool_status> host::status(std::string_view name) const {
    std::shared_lock lock(registry_mutex_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return std::nullopt;
    return snapshot(*it->second, config_);
}

std::vector<tool_status> host::status() const {
    std::shared_lock lock(registry_mutex_);
    std::vector<tool_status> out;
    for (const auto& s : slots_) out.push_back(snapshot(*s, config_));
    return out;
}

namespace {

// Checks a tool's configuration against its schema; the message is a located diagnostic.
std::optional<std::string> check_tool_config(const host_config& cfg, const tool_descriptor& d) {
    auto it = cfg.tools.find(d.name);
    const json::object empty;
    const json::object& conf = it != cfg.tools.end() ? it->second.config : empty;
    const std::string base = (it != cfg.tools.end() ? it->second.pointer : "/tools/" + json_pointer_escape(d.name)) + "/config";
    if (!d.config_schema) {
        if (!conf.empty())
            return cfg.error_at(base, "tool '" + d.name + "' takes no configuration").to_string();
        return std::nullopt;
    }
    json::value v = conf;
    if (auto err = d.config_schema->validate(v))
        return cfg.error_at(base + err->pointer, err->message).to_string();
    return std::nullopt;
}

}  // namespace

std::vector<std::string> host::validate() const {
    std::vector<std::string> problems;
    for (const auto& r : load_report_.rejected) problems.push_back(r.path + ": " + r.reason);
    std::shared_lock lock(registry_mutex_);
    for (const auto& [name, settings] : config_.tools) {
        if (!by_name_.contains(name) && settings.enabled)
            problems.push_back(
                config_.error_at(settings.pointer, "no plugin provides a tool named '" + name + "'").to_string());
    }
    for (const auto& s : slots_) {
        if (!config_.tool_enabled(s->name)) continue;
        if (auto err = check_tool_config(config_, s->descriptor())) problems.push_back(*err);
    }
    return problems;
}

// ------------------------------------------------------------------------------------ lifecycle

void host::initialize_slot(detail::tool_slot& slot) {
    const auto& d = slot.descriptor();
    auto fail = [&](const tool_error& e) {
        slot.set_error(e);
        slot.state.store(tool_state::failed);
        logging::write(logging::level::error, "lifecycle", "tool failed to start",
                       {{"tool", slot.name}, {"status", status_name(e.code)}, {"error", e.message}});
    };
    if (auto err = check_tool_config(config_, d)) {
        fail(make_tool_error(status_code::invalid_argument, *err));
        return;
    }
    auto created = slot.factory->create();
    if (!created) {
        fail(created.error());
        return;
    }
    slot.instance = std::move(*created);
    slot.state.store(tool_state::initializing);

    std::error_code ec;
    auto dir = config_.data_dir / d.name;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        slot.instance.reset();
        fail(make_tool_error(status_code::unavailable,
                             "cannot create data directory '" + dir.string() + "': " + ec.message()));
        return;
    }
    auto it = config_.tools.find(d.name);
    const std::string conf = it != config_.tools.end() ? json::serialize(it->second.config) : "{}";
    auto started = std::chrono::steady_clock::now();
    auto ok = slot.instance->initialize(conf, dir);
    if (!ok) {
        slot.instance.reset();  // destroy() even when initialize() failed; no cleanup()
        fail(ok.error());
        return;
    }
    slot.set_error(std::nullopt);
    slot.state.store(tool_state::ready);
    logging::write(logging::level::info, "lifecycle", "tool ready",
                   {{"tool", slot.name},
                    {"duration_ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count()}});
}

start_report host::start(const start_options& options) {
    std::lock_guard life(lifecycle_mutex_);
    start_report report;
    if (shut_down_.load()) {
        report.failed.emplace_back("*", make_tool_error(status_code::unavailable, "the host is shut down"));
        return report;
    }
    std::vector<std::shared_ptr<detail::tool_slot>> to_start;
    {
        std::shared_lock lock(registry_mutex_);
        auto wanted = [&](const std::string& n) {
            return !options.only || std::find(options.only->begin(), options.only->end(), n) != options.only->end();
        };
        for (const auto& s : slots_) {
            s->enabled = config_.tool_enabled(s->name);
            auto st = s->state.load();
            if (!s->enabled || !wanted(s->name) || st == tool_state::ready) continue;
            to_start.push_back(s);
        }
        // A tool asked for by name or configured as enabled that no plugin provides is a failure.
        if (options.only) {
            for (const auto& n : *options.only) {
                if (!by_name_.contains(n))
                    report.failed.emplace_back(n, make_tool_error(status_code::not_found, "no tool named '" + n + "'"));
                else if (!config_.tool_enabled(n))
                    report.failed.emplace_back(n, make_tool_error(status_code::failed_precondition,
                                                                  "tool '" + n + "' is disabled in the configuration"));
            }
        } else {
            for (const auto& [n, settings] : config_.tools)
                if (settings.enabled && !by_name_.contains(n))
                    report.failed.emplace_back(
                        n, make_tool_error(status_code::not_found,
                                           config_.error_at(settings.pointer, "no plugin provides a tool named '" + n + "'").to_string()));
        }
    }
    logging::write(logging::level::info, "lifecycle", "starting tools",
                   {{"count", to_start.size()}, {"concurrent", options.concurrent}});

    if (options.concurrent && to_start.size() > 1) {
        // One thread per tool: initialize() may block on I/O, and the pool's threads belong to
        // calls. Start-up is rare enough that a thread each costs nothing that matters.
        std::vector<std::jthread> threads;
        threads.reserve(to_start.size());
        for (auto& s : to_start) threads.emplace_back([this, s] { initialize_slot(*s); });
    } else {
        for (auto& s : to_start) initialize_slot(*s);
    }

    for (auto& s : to_start) {
        if (s->state.load() == tool_state::ready)
            report.ready.push_back(s->name);
        else
            report.failed.emplace_back(s->name, s->get_error().value_or(make_tool_error(status_code::unknown, "failed to start")));
    }
    if (options.fail_on_error && !report.failed.empty()) {
        // Clean up the ones that did start, newest first, so nothing is left half-running.
        for (auto it = to_start.rbegin(); it != to_start.rend(); ++it)
            if ((*it)->state.load() == tool_state::ready) stop_slot(**it);
        report.ready.clear();
    }
    return report;
}

void host::stop_slot(detail::tool_slot& slot) {
    auto st = slot.state.load();
    if (st != tool_state::ready) {
        return;
    }
    slot.state.store(tool_state::stopping);
    // Calls waiting for a retry would otherwise hold the drain for their whole backoff.
    std::vector<std::shared_ptr<detail::call_state>> ended;
    {
        std::lock_guard lock(slot.retry_mutex);
        for (auto it = slot.waiting_retries.begin(); it != slot.waiting_retries.end();) {
            if (timers_->cancel(it->first)) {
                ended.push_back(std::move(it->second));
                it = slot.waiting_retries.erase(it);
            } else {
                ++it;  // firing right now: start_attempt() will see the tool stopping
            }
        }
    }
    for (auto& c : ended)
        finish(c, make_tool_error(status_code::unavailable, "tool '" + slot.name + "' shut down before the call could be retried"));
    {
        std::unique_lock lock(drain_mutex_);
        drained_.wait(lock, [&] { return slot.in_flight.load() == 0; });
    }
    slot.instance->cleanup();
    slot.instance.reset();
    slot.state.store(tool_state::stopped);
    logging::write(logging::level::info, "lifecycle", "tool stopped", {{"tool", slot.name}});
}

void host::shutdown() {
    std::lock_guard life(lifecycle_mutex_);
    if (shut_down_.exchange(true)) return;
    std::vector<std::shared_ptr<detail::tool_slot>> slots;
    {
        std::shared_lock lock(registry_mutex_);
        slots = slots_;
    }
    for (auto it = slots.rbegin(); it != slots.rend(); ++it) stop_slot(**it);
    logging::write(logging::level::debug, "lifecycle", "host shut down");
}

// ------------------------------------------------------------------------------------ calls

void host::release(detail::tool_slot& slot) noexcept {
    if (slot.in_flight.fetch_sub(1) == 1) {
        auto st = slot.state.load();
        if (st != tool_state::ready && st != tool_state::initializing) {
            std::lock_guard lock(drain_mutex_);
            drained_.notify_all();
        }
    }
}

int64_t host::in_flight() const noexcept {
    std::shared_lock lock(registry_mutex_);
    int64_t n = 0;
    for (const auto& s : slots_) n += s->in_flight.load();
    return n;
}

const std::shared_ptr<call_control>& host::caller_control(const detail::call_state& call) noexcept {
    return call.caller;
}

boost::system::result<std::shared_ptr<detail::call_state>, tool_error> host::prepare_call(
    std::string_view tool, std::string_view operation, const json::value& arguments, call_options&& options) {
    if (shut_down_.load(std::memory_order_relaxed))
        return make_tool_error(status_code::unavailable, "the host is shut down; no new calls are accepted");
    detail::tool_slot* slot = nullptr;
    {
        std::shared_lock lock(registry_mutex_);
        auto it = by_name_.find(tool);
        if (it == by_name_.end())
            return make_tool_error(status_code::not_found, "no tool named '" + std::string(tool) + "'");
        slot = it->second.get();
        // Counted while the registry lock is held, so unregister() cannot free the slot under us.
        slot->in_flight.fetch_add(1);
    }
    auto state = slot->state.load();
    if (state != tool_state::ready) {
        release(*slot);
        switch (state) {
        case tool_state::failed:
            return make_tool_error(status_code::failed_precondition,
                                   "tool '" + slot->name + "' is not available: it failed to start: " + slot->error_text());
        case tool_state::stopping:
        case tool_state::stopped:
            return make_tool_error(status_code::unavailable, "tool '" + slot->name + "' is shut down");
        default:
            return make_tool_error(status_code::failed_precondition,
                                   "tool '" + slot->name + "' is not initialized (state: " +
                                       std::string(tool_state_name(state)) + "); start the host first");
        }
    }
    const auto& d = slot->descriptor();
    const auto* op = d.find_operation(operation);
    if (op == nullptr) {
        release(*slot);
        return make_tool_error(status_code::not_found, "tool '" + d.name + "' has no operation '" +
                                                           std::string(operation) + "' (operations: " +
                                                           join_names(d.operations) + ")");
    }
    if (!arguments.is_object()) {
        release(*slot);
        return make_tool_error(status_code::invalid_argument,
                               "arguments of " + d.name + "." + op->name + " must be a JSON object, got " +
                                   std::string(kind_name(arguments)));
    }
    if (auto err = op->input_schema.validate(arguments)) {
        slot->metrics_for(op->name).calls[static_cast<std::size_t>(status_code::invalid_argument)]->inc();
        release(*slot);
        return make_tool_error(status_code::invalid_argument,
                               "invalid arguments for " + d.name + "." + op->name + ": " + err->to_string());
    }
    auto call = std::make_shared<detail::call_state>();
    call->slot = slot;
    call->op = op;
    call->policy = &slot->policy_for(op->name);
    call->arguments = json::serialize(arguments);
    call->caller = std::make_shared<call_control>(std::nullopt, *clock_);
    if (options.on_progress) call->caller->set_progress_handler(std::move(options.on_progress));
    call->options = std::move(options);
    return call;
}

void host::launch(std::shared_ptr<detail::call_state> call, completion done) {
    call->done = std::move(done);
    call->started = clock_->now();
    // The total deadline: the caller's, or the policy's, whichever comes first.
    std::optional<clock::time_point> deadline = call->options.deadline;
    if (call->policy->timeout) {
        auto own = call->started + *call->policy->timeout;
        if (!deadline || own < *deadline) deadline = own;
    }
    call->deadline = deadline;
    call->slot->budget->deposit();
    start_attempt(call);
}

void host::start_attempt(const std::shared_ptr<detail::call_state>& call) {
    auto& slot = *call->slot;
    const auto now = clock_->now();
    if (call->caller->cancel_requested()) {
        finish(call, make_tool_error(status_code::cancelled,
                                     call->attempts == 0 ? "the call was cancelled before it started"
                                                         : "the call was cancelled between attempts"));
        return;
    }
    if (slot.state.load() != tool_state::ready) {
        finish(call, make_tool_error(status_code::unavailable, "tool '" + slot.name + "' is shutting down"));
        return;
    }
    if (call->deadline && now >= *call->deadline) {
        finish(call, make_tool_error(status_code::deadline_exceeded,
                                     "the deadline passed before " + slot.name + "." + call->op->name +
                                         (call->attempts == 0 ? " started" : " could be tried again")));
        return;
    }
    circuit_breaker::admission adm;
    adm.allowed = true;
    if (slot.breaker) {
        adm = slot.breaker->try_acquire();
        if (!adm.allowed) {
            slot.rejected_breaker->inc();
            finish(call, slot.breaker->rejection_error(adm));
            return;
        }
    }
    ++call->attempts;
    if (slot.bulkhead->try_enter()) {
        run_attempt(call, adm);
        return;
    }
    // The queue holds the call: nothing else may while it waits for a slot.
    auto admission = slot.bulkhead->acquire([this, call, adm] {
        if (call->finished.load()) return false;
        run_attempt(call, adm);
        return true;
    });
    switch (admission) {
    case bulkhead::admission::entered:
        run_attempt(call, adm);
        break;
    case bulkhead::admission::queued:
        break;  // run_attempt() runs when a slot frees; the deadline check there ends it if late
    case bulkhead::admission::rejected:
        slot.rejected_bulkhead->inc();
        if (slot.breaker) slot.breaker->release(adm);
        finish(call, make_tool_error(status_code::resource_exhausted,
                                     "tool '" + slot.name + "' is at its concurrency limit (" +
                                         std::to_string(slot.bulkhead->options().max_concurrent) + " running, " +
                                         std::to_string(slot.bulkhead->options().max_queue) + " queued)"));
        break;
    }
}

void host::run_attempt(const std::shared_ptr<detail::call_state>& call, const circuit_breaker::admission& adm) {
    auto& slot = *call->slot;
    const auto now = clock_->now();
    std::optional<clock::time_point> attempt_deadline = call->deadline;
    if (call->policy->attempt_timeout) {
        auto own = now + *call->policy->attempt_timeout;
        if (!attempt_deadline || own < *attempt_deadline) attempt_deadline = own;
    }
    auto attempt = std::make_shared<detail::attempt_state>(call, adm, attempt_deadline, *clock_);
    if (attempt_deadline && now >= *attempt_deadline) {
        // Waited in the bulkhead queue past its deadline: give the slot back without running.
        // Not the tool's fault, so the breaker records nothing.
        slot.bulkhead->release();
        if (slot.breaker) slot.breaker->release(adm);
        complete_attempt(call, adm,
                         make_tool_error(status_code::deadline_exceeded,
                                         "the deadline passed while " + slot.name + "." + call->op->name +
                                             " waited for a free slot"),
                         true);
        return;
    }
    slot.in_flight.fetch_add(1);  // the plugin call itself, released when it really returns
    if (attempt_deadline) {
        std::lock_guard lock(attempt->timer_mutex);
        attempt->timer = timers_->schedule(*attempt_deadline, [this, attempt] {
            if (attempt->decided.exchange(true)) return;
            // The plugin call cannot be killed: tell it to stop, answer the caller now, and keep
            // the bulkhead slot until the plugin really returns.
            attempt->control.cancel();
            abandoned_.fetch_add(1);
            auto& c = *attempt->call;
            c.slot->abandoned.fetch_add(1);
            c.slot->metrics_for(c.op->name).timeouts->inc();
            if (c.slot->breaker) c.slot->breaker->on_abandoned(attempt->admission);
            logging::write(logging::level::warning, "call", "attempt timed out; plugin call abandoned",
                           {{"tool", c.slot->name}, {"operation", c.op->name}, {"attempt", c.attempts}});
            complete_attempt(attempt->call, attempt->admission,
                             make_tool_error(status_code::deadline_exceeded,
                                             c.slot->name + "." + c.op->name + " did not answer by its deadline (attempt " +
                                                 std::to_string(c.attempts) + ")"),
                             true);
        });
    }
    auto job = [this, attempt] {
        auto& c = *attempt->call;
        auto& s = *c.slot;
        invocation inv;
        inv.tool = s.name;
        inv.operation = c.op->name;
        inv.arguments = c.arguments;
        inv.request_id = c.options.request_id;
        inv.session_id = c.options.session_id;
        inv.traceparent = c.options.traceparent;
        inv.attempt = c.attempts;
        inv.control = &attempt->control;
        const auto attempt_started = clock_->now();
        call_result r = attempt->control.cancelled()
                            ? call_result(make_tool_error(status_code::cancelled, "cancelled before the plugin ran"))
                            : s.instance->invoke(inv);
        s.metrics_for(c.op->name).attempt_duration->observe(clock_->now() - attempt_started);
        s.bulkhead->release();
        if (attempt->decided.exchange(true)) {
            // Abandoned earlier: the caller has its answer; only the accounting is left.
            abandoned_.fetch_sub(1);
            s.abandoned.fetch_sub(1);
            logging::write(logging::level::info, "call", "abandoned plugin call finished",
                           {{"tool", s.name}, {"operation", c.op->name},
                            {"status", r ? std::string_view("OK") : status_name(r.error().code)}});
        } else {
            {
                std::lock_guard lock(attempt->timer_mutex);
                if (attempt->timer) timers_->cancel(*attempt->timer);
            }
            complete_attempt(attempt->call, attempt->admission, std::move(r), false);
        }
        release(s);
    };
    if (slot.strand)
        boost::asio::post(*slot.strand, std::move(job));
    else
        boost::asio::post(pool_, std::move(job));
}

void host::complete_attempt(const std::shared_ptr<detail::call_state>& call, const circuit_breaker::admission& adm,
                            call_result result, bool breaker_told) {
    auto& slot = *call->slot;
    if (!result && result.error().code == status_code::cancelled && !call->caller->cancel_requested() &&
        call->deadline && clock_->now() >= *call->deadline)
        result = make_tool_error(status_code::deadline_exceeded,
                                 slot.name + "." + call->op->name + " stopped at its deadline: " + result.error().message);
    if (slot.breaker && !breaker_told) slot.breaker->on_result(adm, result ? status_code::ok : result.error().code);
    if (result) {
        finish(call, std::move(result));
        return;
    }
    const auto& policy = *call->policy;
    const bool idempotent = policy.idempotent.value_or(call->op->idempotent());
    if (!should_retry(policy.retry, result.error(), call->attempts, idempotent) || call->caller->cancel_requested()) {
        finish(call, std::move(result));
        return;
    }
    const auto delay = next_delay(policy.retry, result.error(), call->attempts, *random_);
    const auto at = clock_->now() + std::chrono::duration_cast<clock::duration>(delay);
    if (call->deadline && at >= *call->deadline) {
        finish(call, std::move(result));  // no time left for another attempt: the last error stands
        return;
    }
    if (!slot.budget->try_withdraw()) {
        slot.rejected_budget->inc();
        logging::write(logging::level::warning, "call", "retry budget exhausted; not retrying",
                       {{"tool", slot.name}, {"operation", call->op->name}});
        finish(call, std::move(result));
        return;
    }
    slot.metrics_for(call->op->name).retries->inc();
    logging::write(logging::level::info, "call", "retrying",
                   {{"tool", slot.name},
                    {"operation", call->op->name},
                    {"attempt", call->attempts},
                    {"status", status_name(result.error().code)},
                    {"error", result.error().message},
                    {"delay_ms", std::chrono::duration<double, std::milli>(delay).count()}});
    std::lock_guard lock(slot.retry_mutex);
    // Checked under the lock stop_slot() takes after marking the tool stopping, so a retry is
    // either seen and ended there, or not scheduled at all.
    if (slot.state.load() != tool_state::ready) {
        finish(call, make_tool_error(status_code::unavailable,
                                     "tool '" + slot.name + "' shut down before the call could be retried"));
        return;
    }
    auto id = timers_->schedule(at, [this, call] {
        {
            std::lock_guard l(call->slot->retry_mutex);
            // Gone when stop_slot() took it: then the call was already ended there.
            bool mine = false;
            for (auto it = call->slot->waiting_retries.begin(); it != call->slot->waiting_retries.end(); ++it)
                if (it->second == call) {
                    call->slot->waiting_retries.erase(it);
                    mine = true;
                    break;
                }
            if (!mine) return;
        }
        start_attempt(call);
    });
    slot.waiting_retries.emplace(id, call);
}

void host::finish(const std::shared_ptr<detail::call_state>& call, call_result result) {
    if (call->finished.exchange(true)) return;
    auto& slot = *call->slot;
    auto& m = slot.metrics_for(call->op->name);
    m.calls[static_cast<std::size_t>(result ? status_code::ok : result.error().code)]->inc();
    m.call_duration->observe(clock_->now() - call->started);
    if (logging::enabled(logging::level::debug)) {
        auto opt = [](const std::string& s) { return s.empty() ? json::value() : json::value(s); };
        logging::write(logging::level::debug, "call", result ? "call finished" : "call failed",
                       {{"tool", slot.name},
                        {"operation", call->op->name},
                        {"request_id", opt(call->options.request_id)},
                        {"session_id", opt(call->options.session_id)},
                        {"attempts", call->attempts},
                        {"duration_ms", std::chrono::duration<double, std::milli>(clock_->now() - call->started).count()},
                        {"status", result ? std::string_view("OK") : status_name(result.error().code)},
                        {"error", result ? json::value() : json::value(result.error().message)}});
    }
    auto done = std::move(call->done);
    release(slot);
    done(std::move(result));
}

call_result host::call(std::string tool, std::string operation, json::value arguments, call_options options) {
    auto f = async_call(std::move(tool), std::move(operation), std::move(arguments), std::move(options),
                        boost::asio::use_future);
    return f.get();
}

}  // namespace toolhost
