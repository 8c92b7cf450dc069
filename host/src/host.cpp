#include <toolhost/host.hpp>
#include <toolhost/logging.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <array>
#include <set>
#include <thread>

namespace toolhost {

namespace detail {

// One registered tool: its factory and, once started, its instance.
struct tool_slot {
    tool_slot(std::shared_ptr<tool_factory> f, host::executor_type ex)
        : factory(std::move(f)), name(factory->descriptor().name), operations(factory->descriptor().operations.data()) {
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
    const operation_descriptor* operations;  // the descriptor's (it never changes), for index_of()
    std::atomic<tool_state> state{tool_state::registered};
    std::unique_ptr<tool_instance> instance;  // written only under the lifecycle mutex, before ready
    std::optional<host::strand_type> strand;  // serializes calls of tools that are not thread-safe
    std::atomic<int64_t> in_flight{0};  // calls accepted and not finished, plus plugin calls running
    bool enabled = true;

    // Resilience state, installed from the policy when the slot is created or the policy set.
    call_policy policy;
    std::map<std::string, call_policy, std::less<>> operation_policies;
    std::unique_ptr<circuit_breaker> breaker;                   // the tool's, when enabled
    std::vector<std::unique_ptr<circuit_breaker>> op_breakers;  // by operation index; set when per-operation
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
    std::vector<op_metrics> metrics_by_op;  // in the descriptor's operation order
    counter* rejected_breaker = nullptr;
    counter* rejected_bulkhead = nullptr;
    counter* rejected_budget = nullptr;
    std::atomic<int64_t> abandoned{0};

    std::size_t index_of(const operation_descriptor* op) const noexcept {
        return static_cast<std::size_t>(op - operations);
    }
    op_metrics& metrics_for(const operation_descriptor* op) { return metrics_by_op[index_of(op)]; }
    /// The breaker a call of `op` goes through: the operation's own, else the tool's (or none).
    circuit_breaker* breaker_for(const operation_descriptor* op) const noexcept {
        const std::size_t i = index_of(op);
        if (i < op_breakers.size() && op_breakers[i]) return op_breakers[i].get();
        return breaker.get();
    }

    // Calls waiting for a retry timer, so that stopping the tool can end them at once.
    std::mutex retry_mutex;
    std::map<timer_service::timer_id, std::shared_ptr<call_state>> waiting_retries;

    const call_policy& policy_for(std::string_view op) const {
        auto it = operation_policies.find(op);
        return it != operation_policies.end() ? it->second : policy;
    }
    // policy_for() of each operation, by operation index, for the call path (no name lookup).
    // Rebuilt by install_breakers(), which runs after every policy change.
    std::vector<const call_policy*> policy_by_op;
    const call_policy& policy_of(const operation_descriptor* op) const noexcept { return *policy_by_op[index_of(op)]; }
    mutable std::mutex error_mutex;
    std::optional<tool_error> error;  // why the last start failed
};

// What every call carries through the pipeline, on either path (async or inline).
struct call_core {
    tool_slot* slot = nullptr;  // alive while the slot's in_flight counts this call
    const operation_descriptor* op = nullptr;
    const call_policy* policy = nullptr;
    tool_slot::op_metrics* metrics = nullptr;
    circuit_breaker* breaker = nullptr;  // the tool's or the operation's; null when disabled
    const call_options* options = nullptr;
    // The total deadline; max(): none. A plain time_point, not an optional: it is read right
    // after begin_call() writes it, and copying a just-written optional stalled store forwarding.
    clock::time_point deadline = clock::time_point::max();
    clock::time_point started;
    uint32_t attempts = 0;  // attempts started; only touched by one step at a time
    uint32_t nesting = 0;   // 0: called from outside; n: a tool's nested call, n deep
    std::string_view request_id;  // the caller's, or generated_id
    char generated_id[16];        // a request id made by the host when the caller gave none
    std::unique_ptr<span_data> span;  // set when the call is traced (sampled)
    std::string own_traceparent;      // the traceparent naming `span`, handed to the plugin

    bool has_deadline() const noexcept { return deadline != clock::time_point::max(); }
    // An attempt starting at `start`: the call's deadline or the attempt timeout, the sooner.
    clock::time_point attempt_deadline(clock::time_point start) const noexcept {
        return policy->attempt_timeout ? std::min(deadline, start + *policy->attempt_timeout) : deadline;
    }
    static std::optional<clock::time_point> optional_deadline(clock::time_point d) noexcept {
        return d == clock::time_point::max() ? std::nullopt : std::optional<clock::time_point>(d);
    }

    std::string_view plugin_traceparent() const noexcept {
        return span ? std::string_view(own_traceparent) : std::string_view(options->traceparent);
    }
};

// One asynchronous call: from prepare to the completion handler, across attempts.
struct call_state {
    call_core core;
    std::string arguments;
    call_options options;
    std::shared_ptr<call_control> caller;  // the caller's cancellation, progress
    completion_fn done;
    std::atomic<bool> finished{false};
};

// One attempt: whichever comes first, the plugin's return or the attempt's deadline, decides it.
struct attempt_state {
    attempt_state(std::shared_ptr<call_state> c, const circuit_breaker::admission& adm,
                  std::optional<clock::time_point> deadline, const clock& clk)
        : call(std::move(c)), admission(adm), control(deadline, clk, call->caller) {}
    std::shared_ptr<call_state> call;
    clock::time_point started;  // when the plugin call began (written before it runs)
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

tool_error no_such_tool(std::string_view tool) {
    return make_tool_error(status_code::not_found, "no tool named '" + std::string(tool) + "'");
}

tool_error no_such_operation(const tool_descriptor& d, std::string_view operation) {
    return make_tool_error(status_code::not_found, "tool '" + d.name + "' has no operation '" + std::string(operation) +
                                                       "' (operations: " + join_names(d.operations) + ")");
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
      pool_(thread_count(config_.threads)),
      exporter_(std::move(options.exporter)) {
    // The configuration's log settings apply to the whole process: Boost.Log is process-wide.
    logging::init(logging::parse_level(config_.log_level).value_or(logging::level::info),
                  logging::parse_format(config_.log_format).value_or(logging::format::text));
    if (config_.tracing) {
        sample_ratio_ = config_.tracing->sample_ratio;
        if (!exporter_) {
            std::string error;
            exporter_ = otlp_http_exporter::create(config_.tracing->exporter, metrics_, &error);
            if (!exporter_)
                logging::write(logging::level::error, "trace", "tracing is off: cannot create the OTLP exporter",
                               {{"endpoint", config_.tracing->exporter.endpoint}, {"error", error}});
        }
    }
}

host::~host() {
    shutdown();
    pool_.join();
}

// ------------------------------------------------------------------------------------ registry

namespace {
std::filesystem::file_time_type modified(const std::filesystem::path& p) {
    std::error_code ec;
    auto t = std::filesystem::last_write_time(p, ec);
    return ec ? std::filesystem::file_time_type{} : t;
}
}  // namespace

const load_report& host::load_plugins() {
    load_report report = loader_.scan(config_.plugin_dirs, false, [this](const std::filesystem::path& p) {
        seen_plugin_files_[p] = modified(p);
        return false;
    });
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

std::vector<std::string> host::load_new_plugins() {
    std::set<std::filesystem::path> loaded;
    for (const auto& lib : load_report_.libraries) {
        std::error_code ec;
        auto canon = std::filesystem::canonical(lib->path(), ec);
        loaded.insert(ec ? std::filesystem::path(lib->path()) : canon);
    }
    auto report = loader_.scan(config_.plugin_dirs, true, [&](const std::filesystem::path& p) {
        const auto mtime = modified(p);
        auto [it, fresh] = seen_plugin_files_.try_emplace(p, mtime);
        if (!fresh && it->second == mtime) return true;  // seen, unchanged
        it->second = mtime;
        if (loaded.contains(p)) {
            logging::write(logging::level::warning, "loader",
                           "a loaded plugin file changed; restart the host to load the new version",
                           {{"path", p.string()}});
            return true;
        }
        return false;
    });
    std::vector<std::string> added;
    for (auto& t : report.tools) {
        const std::string path = t.factory->descriptor().plugin;
        const std::string name = t.factory->descriptor().name;
        if (auto ok = register_factory(t.factory); !ok) {
            logging::write(logging::level::warning, "loader", "tool rejected", {{"path", path}, {"error", ok.error()}});
            load_report_.rejected.push_back({path, ok.error()});
            continue;
        }
        logging::write(logging::level::info, "loader", "new plugin tool registered", {{"tool", name}, {"path", path}});
        load_report_.tools.push_back(std::move(t));
        added.push_back(name);
    }
    for (auto& r : report.rejected) load_report_.rejected.push_back(std::move(r));
    for (auto& l : report.libraries) load_report_.libraries.push_back(std::move(l));
    if (!added.empty() && !shut_down_.load()) {
        start_options so;
        so.concurrent = config_.concurrent_init;
        so.only = added;
        start(so);
    }
    return added;
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
    install_breakers(*slot);
    by_name_.emplace(slot->name, slot);
    slots_.push_back(std::move(slot));
    lock.unlock();
    logging::write(logging::level::debug, "registry", "tool registered", {{"tool", name}});
    emit_tool_state(name, tool_state::registered, "registered");
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
    for (std::size_t i = 0; i < slot->op_breakers.size(); ++i)
        if (slot->op_breakers[i])
            metrics_.gauges("toolhost_operation_circuit_breaker_state", "", {"tool", "operation"})
                .remove_callback({slot->name, slot->descriptor().operations[i].name});
    std::unique_lock lock(drain_mutex_);
    drained_.wait(lock, [&] { return slot->in_flight.load() == 0; });
    logging::write(logging::level::info, "registry", "tool unregistered", {{"tool", std::string(name)}});
    emit_tool_state(name, tool_state::stopped, "unregistered");
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
        slot.metrics_by_op.push_back(m);
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
    slot.bulkhead = std::make_unique<bulkhead>(policy.bulkhead);
    slot.budget = std::make_unique<retry_budget>(policy.retry_budget_ratio, policy.retry_budget_min_per_second, *clock_);
}

std::unique_ptr<circuit_breaker> host::make_breaker(const detail::tool_slot& slot, const operation_descriptor* op,
                                                    const call_policy& policy) {
    const std::string name = op ? slot.name + "." + op->name : slot.name;
    auto breaker = std::make_unique<circuit_breaker>(name, policy.breaker, *clock_);
    counter_family& transitions =
        op ? metrics_.counters("toolhost_operation_circuit_breaker_transitions_total",
                               "State changes of per-operation circuit breakers, by the state entered.",
                               {"tool", "operation", "to"})
           : metrics_.counters("toolhost_tool_circuit_breaker_transitions_total",
                               "Circuit breaker state changes, by the state entered.", {"tool", "to"});
    std::array<counter*, 5> to{};
    for (std::size_t i = 0; i < to.size(); ++i) {
        const auto state = breaker_state_name(static_cast<breaker_state>(i));
        to[i] = op ? &transitions.with({slot.name, op->name, state}) : &transitions.with({slot.name, state});
    }
    breaker->on_transition([this, tool = slot.name, operation = op ? op->name : std::string(), to](const breaker_transition& t) {
        if (static_cast<std::size_t>(t.to) < to.size()) to[static_cast<std::size_t>(t.to)]->inc();
        host_event ev;
        ev.kind = host_event_kind::breaker_transition;
        ev.tool = tool;
        ev.operation = operation;
        ev.message = t.reason;
        ev.from = t.from;
        ev.to = t.to;
        emit(ev);
        logging::write(logging::level::warning, "breaker", "circuit breaker changed state",
                       {{"tool", tool},
                        {"operation", operation.empty() ? json::value() : json::value(operation)},
                        {"from", breaker_state_name(t.from)},
                        {"to", breaker_state_name(t.to)},
                        {"reason", t.reason}});
    });
    return breaker;
}

void host::install_breakers(detail::tool_slot& slot) {
    slot.breaker = slot.policy.breaker_enabled && !slot.policy.breaker_per_operation
                       ? make_breaker(slot, nullptr, slot.policy)
                       : nullptr;
    const auto& ops = slot.descriptor().operations;
    slot.policy_by_op.clear();
    for (const auto& op : ops) slot.policy_by_op.push_back(&slot.policy_for(op.name));
    slot.op_breakers.clear();
    slot.op_breakers.resize(ops.size());
    auto& state = metrics_.gauges("toolhost_operation_circuit_breaker_state",
                                  "Per-operation circuit breaker state: 0 closed, 1 open, 2 half_open, 3 forced_open, 4 disabled.",
                                  {"tool", "operation"});
    for (std::size_t i = 0; i < ops.size(); ++i) {
        const call_policy& p = slot.policy_for(ops[i].name);
        if (p.breaker_enabled && p.breaker_per_operation) {
            slot.op_breakers[i] = make_breaker(slot, &ops[i], p);
            detail::tool_slot* s = &slot;
            state.set_callback({slot.name, ops[i].name}, [s, i] {
                return s->op_breakers[i] ? static_cast<double>(s->op_breakers[i]->state()) : 4.0;
            });
        }
    }
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
    install_breakers(slot);
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
    install_breakers(slot);
    return {};
}

namespace {
// Runs `f` on the breakers `operation` names: every breaker of the tool when it is empty, else
// the one that operation's calls go through. False if there is no such tool or operation.
template <class F>
bool with_breakers(std::shared_mutex& m, const std::map<std::string, std::shared_ptr<detail::tool_slot>, std::less<>>& slots,
                   std::string_view tool, std::string_view operation, F&& f) {
    std::shared_lock lock(m);
    auto it = slots.find(tool);
    if (it == slots.end()) return false;
    const auto& slot = *it->second;
    if (operation.empty()) {
        if (slot.breaker) f(*slot.breaker);
        for (const auto& b : slot.op_breakers)
            if (b) f(*b);
        return true;
    }
    const auto* op = slot.descriptor().find_operation(operation);
    if (op == nullptr) return false;
    if (auto* b = slot.breaker_for(op)) f(*b);
    return true;
}
}  // namespace

bool host::reset_circuit_breaker(std::string_view tool, std::string_view operation) {
    return with_breakers(registry_mutex_, by_name_, tool, operation, [](circuit_breaker& b) { b.reset(); });
}

void host::reset_all_circuit_breakers() {
    std::shared_lock lock(registry_mutex_);
    for (const auto& s : slots_) {
        if (s->breaker) s->breaker->reset();
        for (const auto& b : s->op_breakers)
            if (b) b->reset();
    }
}

bool host::force_open_circuit_breaker(std::string_view tool, std::string_view operation) {
    return with_breakers(registry_mutex_, by_name_, tool, operation, [](circuit_breaker& b) { b.force_open(); });
}

bool host::disable_circuit_breaker(std::string_view tool, std::string_view operation) {
    return with_breakers(registry_mutex_, by_name_, tool, operation, [](circuit_breaker& b) { b.disable(); });
}

std::optional<circuit_breaker::snapshot> host::circuit_breaker_state(std::string_view tool,
                                                                      std::string_view operation) const {
    std::optional<circuit_breaker::snapshot> out;
    with_breakers(registry_mutex_, by_name_, tool, operation, [&](circuit_breaker& b) {
        if (!out) out = b.get_snapshot();  // the tool's own breaker comes first
    });
    return out;
}

std::vector<host::breaker_report> host::circuit_breakers() const {
    std::shared_lock lock(registry_mutex_);
    std::vector<breaker_report> out;
    for (const auto& s : slots_) {
        if (s->breaker) out.push_back({s->name, {}, s->breaker->get_snapshot()});
        const auto& ops = s->descriptor().operations;
        for (std::size_t i = 0; i < s->op_breakers.size() && i < ops.size(); ++i)
            if (s->op_breakers[i]) out.push_back({s->name, ops[i].name, s->op_breakers[i]->get_snapshot()});
    }
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
        emit_tool_state(slot.name, tool_state::failed);
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
    emit_tool_state(slot.name, tool_state::ready);
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

void host::start_on_demand(detail::tool_slot& slot) {
    // try_lock: a shutdown holding the lifecycle lock waits for this very call to drain, so
    // waiting for the lock here could deadlock. Losing the race only means the nested call
    // finds the tool not ready and says so.
    std::unique_lock life(lifecycle_mutex_, std::try_to_lock);
    if (!life.owns_lock() || shut_down_.load() || slot.state.load() != tool_state::registered) return;
    slot.enabled = true;
    initialize_slot(slot);  // a failure shows in the nested call's answer (state failed)
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
    emit_tool_state(slot.name, tool_state::stopped);
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
    if (exporter_) exporter_->flush(std::chrono::seconds(5));
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

// ------------------------------------------------------------------------------------- events

std::string_view host_event_kind_name(host_event_kind k) noexcept {
    switch (k) {
    case host_event_kind::breaker_transition: return "breaker_transition";
    case host_event_kind::retry: return "retry";
    case host_event_kind::attempt_timeout: return "attempt_timeout";
    case host_event_kind::rejection: return "rejection";
    case host_event_kind::tool_state_changed: return "tool_state_changed";
    }
    return "unknown";
}

uint64_t host::subscribe(host_event_handler handler) {
    std::unique_lock lock(events_mutex_);
    const uint64_t id = next_subscriber_++;
    subscribers_.emplace_back(id, std::move(handler));
    has_subscribers_.store(true, std::memory_order_release);
    return id;
}

bool host::unsubscribe(uint64_t id) {
    std::unique_lock lock(events_mutex_);
    auto it = std::find_if(subscribers_.begin(), subscribers_.end(), [&](const auto& s) { return s.first == id; });
    if (it == subscribers_.end()) return false;
    subscribers_.erase(it);
    has_subscribers_.store(!subscribers_.empty(), std::memory_order_release);
    return true;
}

void host::emit_tool_state(std::string_view tool, tool_state state, std::string_view reason) const {
    if (!has_subscribers_.load(std::memory_order_acquire)) return;
    host_event e;
    e.kind = host_event_kind::tool_state_changed;
    e.tool = tool;
    e.state = state;
    e.reason = reason;
    emit(e);
}

void host::emit(const host_event& e) const {
    if (!has_subscribers_.load(std::memory_order_acquire)) return;
    std::shared_lock lock(events_mutex_);
    for (const auto& [id, handler] : subscribers_) {
        try {
            handler(e);
        } catch (const std::exception& ex) {
            logging::write(logging::level::error, "events", "event handler threw",
                           {{"subscriber", id}, {"event", host_event_kind_name(e.kind)}, {"error", ex.what()}});
        } catch (...) {
            logging::write(logging::level::error, "events", "event handler threw",
                           {{"subscriber", id}, {"event", host_event_kind_name(e.kind)}});
        }
    }
}

// ------------------------------------------------------------------------------ shared steps

namespace {

json::value opt_string(std::string_view s) { return s.empty() ? json::value() : json::value(s); }

double ms(clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// 64 random bits for a generated request id. Not the injectable random source: ids need no
// reproducibility, and drawing them from it would shift the jitter sequence tests rely on.
uint64_t request_id_bits() noexcept {
    thread_local uint64_t state = [] {
        std::random_device rd;
        return (uint64_t{rd()} << 32) ^ rd() ^ std::hash<std::thread::id>{}(std::this_thread::get_id());
    }();
    // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// 64 bits as 16 lower-case hex digits, without a loop: the nibbles spread to one per byte,
// then turned into '0'-'9' and 'a'-'f' eight at a time (the low nibble first).
void hex16(uint64_t bits, char* out) noexcept {
    auto spread = [](uint64_t x) {  // 8 nibbles (x < 2^32) into the low half of 8 bytes
        x = (x | (x << 16)) & 0x0000ffff0000ffffull;
        x = (x | (x << 8)) & 0x00ff00ff00ff00ffull;
        x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0full;
        return x;
    };
    auto digits = [](uint64_t x) {
        const uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;  // nibble > 9
        return x + 0x3030303030303030ull + letters * ('a' - '0' - 10);
    };
    const uint64_t lo = digits(spread(bits & 0xffffffffull));
    const uint64_t hi = digits(spread(bits >> 32));
    std::memcpy(out, &lo, 8);
    std::memcpy(out + 8, &hi, 8);
}

// An event about one call; the caller sets the kind-specific fields (reason, delay).
host_event call_event(host_event_kind kind, const detail::call_core& core, uint32_t attempt, status_code status,
                      std::string_view message, std::string_view reason = {}) {
    host_event ev;
    ev.kind = kind;
    ev.tool = core.slot->name;
    ev.operation = core.op->name;
    ev.request_id = core.request_id;
    ev.attempt = attempt;
    ev.status = status;
    ev.message = message;
    ev.reason = reason;
    return ev;
}

// Span times are wall-clock; the pipeline measures on the (injectable) monotonic clock. A span
// keeps its wall-clock start and adds monotonic durations to it, for every event, so that the
// events' order is the pipeline's own (and a virtual clock in a test moves them too).
std::chrono::system_clock::time_point wall_at(const span_data& span, clock::time_point started, clock::time_point t) {
    return span.start + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - started);
}

}  // namespace

void host::begin_call(detail::call_core& core, clock::time_point now) {
    core.started = now;
    // Every call has a request id, the same for all its attempts, so that a tool can use it as
    // an idempotency key (a retried create must not create twice).
    core.request_id = core.options->request_id;
    if (core.request_id.empty()) {
        hex16(request_id_bits(), core.generated_id);
        core.request_id = std::string_view(core.generated_id, sizeof(core.generated_id));
    }
    // The total deadline: the caller's, or the policy's, whichever comes first.
    core.deadline = core.options->deadline.value_or(clock::time_point::max());
    if (core.policy->timeout) core.deadline = std::min(core.deadline, core.started + *core.policy->timeout);
    core.slot->budget->deposit();
    if (exporter_ || logging::enabled(logging::level::info)) begin_call_telemetry(core);
}

void host::begin_call_telemetry(detail::call_core& core) {
    if (exporter_) {
        // Sampling: a caller's traceparent decides (its sampled flag); without one, the ratio.
        auto parent = core.options->traceparent.empty() ? std::nullopt
                                                         : trace_context::parse(core.options->traceparent);
        const bool sampled = parent ? parent->sampled() : (sample_ratio_ >= 1.0 || random_->next_unit() < sample_ratio_);
        if (sampled) {
            auto span = std::make_unique<span_data>();
            trace_context own;
            if (parent) {
                own.trace_id = parent->trace_id;
                span->parent_span_id = parent->span_id;
            } else {
                random_id(*random_, own.trace_id.data(), own.trace_id.size());
            }
            random_id(*random_, own.span_id.data(), own.span_id.size());
            own.flags = 1;
            span->trace_id = own.trace_id;
            span->span_id = own.span_id;
            span->name = "tool." + core.slot->name + "." + core.op->name;
            span->start = std::chrono::system_clock::now();
            core.own_traceparent = own.to_traceparent();
            core.span = std::move(span);
        }
    }
    if (logging::enabled(logging::level::info)) {
        logging::write(logging::level::info, "call", "call started",
                       {{"tool", core.slot->name},
                        {"operation", core.op->name},
                        {"request_id", opt_string(core.request_id)},
                        {"session_id", opt_string(core.options->session_id)},
                        {"traceparent", opt_string(core.plugin_traceparent())}});
    }
}

std::optional<tool_error> host::gate(detail::call_core& core, const call_control& caller,
                                     circuit_breaker::admission& adm, clock::time_point now) {
    auto& slot = *core.slot;
    if (caller.cancel_requested())
        return make_tool_error(status_code::cancelled, core.attempts == 0 ? "the call was cancelled before it started"
                                                                          : "the call was cancelled between attempts");
    if (slot.state.load(std::memory_order_acquire) != tool_state::ready)
        return make_tool_error(status_code::unavailable, "tool '" + slot.name + "' is shutting down");
    if (now >= core.deadline)
        return make_tool_error(status_code::deadline_exceeded,
                               "the deadline passed before " + slot.name + "." + core.op->name +
                                   (core.attempts == 0 ? " started" : " could be tried again"));
    // Member by member, not `adm = try_acquire()`: GCC copies the struct with 16-byte moves
    // that straddle the narrower stores just made, which stalls store forwarding (measured as a
    // tenth of the inline call).
    const auto a = core.breaker ? core.breaker->try_acquire() : circuit_breaker::admission{true};
    adm.allowed = a.allowed;
    adm.probe = a.probe;
    adm.generation = a.generation;
    adm.retry_at = a.retry_at;
    adm.state = a.state;
    if (adm.allowed) return std::nullopt;  // always so without a breaker
    slot.rejected_breaker->inc();
    tool_error e = core.breaker->rejection_error(adm);
    if (core.span)
        core.span->events.push_back({"rejected", wall_at(*core.span, core.started, now),
                                     {{"reason", std::string("circuit_open")}}});
    emit(call_event(host_event_kind::rejection, core, core.attempts + 1, e.code, e.message, "circuit_open"));
    return e;
}

call_result host::deadline_exceeded_if_late(const detail::call_core& core, const call_control& caller,
                                            call_result r) const {
    // A plugin that stopped because its deadline passed reports CANCELLED; the caller did not
    // cancel, so say what really happened.
    if (!r && r.error().code == status_code::cancelled && !caller.cancel_requested() && core.has_deadline() &&
        clock_->now() >= core.deadline)
        return make_tool_error(status_code::deadline_exceeded, core.slot->name + "." + core.op->name +
                                                                   " stopped at its deadline: " + r.error().message);
    return r;
}

void host::attempt_finished(detail::call_core& core, const call_result& r, clock::time_point started,
                            clock::time_point ended) {
    core.metrics->attempt_duration->observe(ended - started);
    if (core.span) {
        attributes a{{"attempt", static_cast<int64_t>(core.attempts)},
                     {"status", std::string(r ? std::string_view("OK") : status_name(r.error().code))},
                     {"duration_ms", ms(ended - started)}};
        if (!r) a.emplace_back("error", r.error().message);
        core.span->events.push_back({"attempt", wall_at(*core.span, core.started, ended), std::move(a)});
    }
}

host::retry_plan host::plan_retry(detail::call_core& core, const call_control& caller, const tool_error& error) {
    auto& slot = *core.slot;
    const auto& policy = *core.policy;
    const bool idempotent = policy.idempotent.value_or(core.op->idempotent());
    if (!should_retry(policy.retry, error, core.attempts, idempotent) || caller.cancel_requested()) return {};
    const auto delay = next_delay(policy.retry, error, core.attempts, *random_);
    const auto now = clock_->now();
    const auto at = now + std::chrono::duration_cast<clock::duration>(delay);
    if (at >= core.deadline) return {};  // no time left: the last error stands
    if (!slot.budget->try_withdraw()) {
        slot.rejected_budget->inc();
        logging::write(logging::level::warning, "call", "retry budget exhausted; not retrying",
                       {{"tool", slot.name}, {"operation", core.op->name}, {"request_id", opt_string(core.request_id)}});
        emit(call_event(host_event_kind::rejection, core, core.attempts, error.code, "retry budget exhausted", "retry_budget"));
        return {};
    }
    core.metrics->retries->inc();
    if (logging::enabled(logging::level::info))
        logging::write(logging::level::info, "call", "retrying",
                       {{"tool", slot.name},
                        {"operation", core.op->name},
                        {"request_id", opt_string(core.request_id)},
                        {"session_id", opt_string(core.options->session_id)},
                        {"attempt", core.attempts},
                        {"status", status_name(error.code)},
                        {"error", error.message},
                        {"delay_ms", ms(std::chrono::duration_cast<clock::duration>(delay))}});
    if (core.span)
        core.span->events.push_back({"retry", wall_at(*core.span, core.started, now),
                                     {{"attempt", static_cast<int64_t>(core.attempts)},
                                      {"delay_ms", ms(std::chrono::duration_cast<clock::duration>(delay))}}});
    host_event ev = call_event(host_event_kind::retry, core, core.attempts, error.code, error.message);
    ev.delay = std::chrono::duration_cast<std::chrono::nanoseconds>(delay);
    emit(ev);
    return {true, at};
}

void host::end_call(detail::call_core& core, const call_result& result, clock::time_point ended) {
    auto& slot = *core.slot;
    auto& m = *core.metrics;
    m.calls[static_cast<std::size_t>(result ? status_code::ok : result.error().code)]->inc();
    m.call_duration->observe(ended - core.started);
    if (logging::enabled(logging::level::info)) {
        logging::write(logging::level::info, "call", "call finished",
                       {{"tool", slot.name},
                        {"operation", core.op->name},
                        {"request_id", opt_string(core.request_id)},
                        {"session_id", opt_string(core.options->session_id)},
                        {"attempt", core.attempts},
                        {"duration_ms", ms(ended - core.started)},
                        {"status", result ? std::string_view("OK") : status_name(result.error().code)},
                        {"error", result ? json::value() : json::value(result.error().message)}});
    }
    if (core.span) {
        auto& span = *core.span;
        span.end = wall_at(span, core.started, ended);
        span.attributes = {{"toolhost.tool", slot.name},
                           {"toolhost.operation", core.op->name},
                           {"toolhost.attempts", static_cast<int64_t>(core.attempts)},
                           {"toolhost.status", std::string(result ? std::string_view("OK") : status_name(result.error().code))}};
        span.attributes.emplace_back("toolhost.request_id", std::string(core.request_id));
        if (!core.options->session_id.empty()) span.attributes.emplace_back("toolhost.session_id", core.options->session_id);
        if (core.nesting > 0) span.attributes.emplace_back("toolhost.nesting", static_cast<int64_t>(core.nesting));
        if (!result) {
            span.error = true;
            span.status_message = result.error().message;
        }
        exporter_->export_span(std::move(span));
        core.span.reset();
    }
}

// ------------------------------------------------------------------------------ async path

boost::system::result<std::shared_ptr<detail::call_state>, tool_error> host::prepare_call(
    std::string_view tool, std::string_view operation, const json::value& arguments, call_options&& options) {
    detail::tool_slot* slot = nullptr;
    {
        std::shared_lock lock(registry_mutex_);
        auto it = by_name_.find(tool);
        if (it == by_name_.end())
            return no_such_tool(tool);
        slot = it->second.get();
        // Counted while the registry lock is held, so unregister() cannot free the slot under
        // us (it waits for the count to drop). No shared_ptr copy: its reference count would be
        // one more cache line every calling thread writes.
        slot->in_flight.fetch_add(1);
    }
    auto fail = [&](tool_error e) {
        release(*slot);
        return e;
    };
    const auto* op = slot->descriptor().find_operation(operation);
    if (op == nullptr) return fail(no_such_operation(slot->descriptor(), operation));
    auto state = slot->state.load();
    if (state != tool_state::ready) {
        switch (state) {
        case tool_state::failed:
            return fail(make_tool_error(status_code::failed_precondition, "tool '" + slot->name +
                                                                              "' is not available: it failed to start: " +
                                                                              slot->error_text()));
        case tool_state::stopping:
        case tool_state::stopped:
            return fail(make_tool_error(status_code::unavailable, "tool '" + slot->name + "' is shut down"));
        default:
            return fail(make_tool_error(status_code::failed_precondition,
                                        "tool '" + slot->name + "' is not initialized (state: " +
                                            std::string(tool_state_name(state)) + "); start the host first"));
        }
    }
    if (!arguments.is_object())
        return fail(make_tool_error(status_code::invalid_argument, "arguments of " + slot->name + "." + op->name +
                                                                       " must be a JSON object, got " +
                                                                       std::string(kind_name(arguments))));
    if (auto err = op->input_schema.validate(arguments)) {
        slot->metrics_for(op).calls[static_cast<std::size_t>(status_code::invalid_argument)]->inc();
        return fail(make_tool_error(status_code::invalid_argument,
                                    "invalid arguments for " + slot->name + "." + op->name + ": " + err->to_string()));
    }
    auto call = std::make_shared<detail::call_state>();
    call->core.slot = slot;
    call->core.op = op;
    call->core.policy = &slot->policy_of(op);
    call->core.metrics = &slot->metrics_for(op);
    call->core.breaker = slot->breaker_for(op);
    call->arguments = json::serialize(arguments);
    call->caller = std::make_shared<call_control>(std::nullopt, *clock_);
    if (options.on_progress) call->caller->set_progress_handler(std::move(options.on_progress));
    if (options.peer) call->caller->set_peer(options.peer);
    call->options = std::move(options);
    call->core.options = &call->options;
    return call;
}

void host::launch(std::shared_ptr<detail::call_state> call, completion done) {
    call->done = std::move(done);
    begin_call(call->core, clock_->now());
    start_attempt(call);
}

void host::start_attempt(const std::shared_ptr<detail::call_state>& call) {
    auto& slot = *call->core.slot;
    circuit_breaker::admission adm;
    if (auto refused = gate(call->core, *call->caller, adm, clock_->now())) {
        finish(call, std::move(*refused));
        return;
    }
    ++call->core.attempts;
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
    case bulkhead::admission::rejected: {
        slot.rejected_bulkhead->inc();
        if (call->core.breaker) call->core.breaker->release(adm);
        tool_error e = make_tool_error(status_code::resource_exhausted,
                                       "tool '" + slot.name + "' is at its concurrency limit (" +
                                           std::to_string(slot.bulkhead->options().max_concurrent) + " running, " +
                                           std::to_string(slot.bulkhead->options().max_queue) + " queued)");
        emit(call_event(host_event_kind::rejection, call->core, call->core.attempts, e.code, e.message, "bulkhead_full"));
        finish(call, std::move(e));
        break;
    }
    }
}

void host::run_attempt(const std::shared_ptr<detail::call_state>& call, const circuit_breaker::admission& adm) {
    auto& core = call->core;
    auto& slot = *core.slot;
    const auto now = clock_->now();
    const auto attempt_deadline = core.attempt_deadline(now);
    auto attempt = std::make_shared<detail::attempt_state>(call, adm, core.optional_deadline(attempt_deadline), *clock_);
    if (now >= attempt_deadline) {
        // Waited in the bulkhead queue past its deadline: give the slot back without running.
        // Not the tool's fault, so the breaker records nothing.
        slot.bulkhead->release();
        if (core.breaker) core.breaker->release(adm);
        complete_attempt(call, adm,
                         make_tool_error(status_code::deadline_exceeded, "the deadline passed while " + slot.name + "." +
                                                                             core.op->name + " waited for a free slot"),
                         true);
        return;
    }
    slot.in_flight.fetch_add(1);  // the plugin call itself, released when it really returns
    if (attempt_deadline != clock::time_point::max()) {
        std::lock_guard lock(attempt->timer_mutex);
        attempt->timer = timers_->schedule(attempt_deadline, [this, attempt] {
            if (attempt->decided.exchange(true)) return;
            // The plugin call cannot be killed: tell it to stop, answer the caller now, and keep
            // the bulkhead slot until the plugin really returns.
            attempt->control.cancel();
            abandoned_.fetch_add(1);
            auto& c = attempt->call->core;
            c.slot->abandoned.fetch_add(1);
            c.metrics->timeouts->inc();
            if (c.breaker) c.breaker->on_abandoned(attempt->admission);
            logging::write(logging::level::warning, "call", "attempt timed out; plugin call abandoned",
                           {{"tool", c.slot->name},
                            {"operation", c.op->name},
                            {"request_id", opt_string(c.request_id)},
                            {"attempt", c.attempts}});
            tool_error e = make_tool_error(status_code::deadline_exceeded,
                                           c.slot->name + "." + c.op->name + " did not answer by its deadline (attempt " +
                                               std::to_string(c.attempts) + ")");
            emit(call_event(host_event_kind::attempt_timeout, c, c.attempts, e.code, e.message));
            const auto t = clock_->now();
            attempt_finished(c, call_result(e), attempt->started, t);
            complete_attempt(attempt->call, attempt->admission, std::move(e), true);
        });
    }
    auto job = [this, attempt] {
        auto& c = attempt->call->core;
        auto& s = *c.slot;
        const invocation inv{s.name,          c.op->name,
                             attempt->call->arguments,  c.request_id,
                             c.options->session_id,     c.plugin_traceparent(),
                             c.attempts,                &attempt->control,
                             this,                      c.nesting};  // every member: no zeroing first
        attempt->started = clock_->now();
        call_result r = attempt->control.cancelled()
                            ? call_result(make_tool_error(status_code::cancelled, "cancelled before the plugin ran"))
                            : s.instance->invoke(inv);
        const auto ended = clock_->now();
        s.bulkhead->release();
        if (attempt->decided.exchange(true)) {
            // Abandoned earlier: the caller has its answer; only the accounting is left.
            c.metrics->attempt_duration->observe(ended - attempt->started);
            abandoned_.fetch_sub(1);
            s.abandoned.fetch_sub(1);
            logging::write(logging::level::info, "call", "abandoned plugin call finished",
                           {{"tool", s.name},
                            {"operation", c.op->name},
                            {"request_id", opt_string(c.request_id)},
                            {"duration_ms", ms(ended - attempt->started)},
                            {"status", r ? std::string_view("OK") : status_name(r.error().code)}});
        } else {
            {
                std::lock_guard lock(attempt->timer_mutex);
                if (attempt->timer) timers_->cancel(*attempt->timer);
            }
            attempt_finished(c, r, attempt->started, ended);
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
    auto& core = call->core;
    auto& slot = *core.slot;
    result = deadline_exceeded_if_late(core, *call->caller, std::move(result));
    if (core.breaker && !breaker_told) core.breaker->on_result(adm, result ? status_code::ok : result.error().code);
    if (result) {
        finish(call, std::move(result));
        return;
    }
    const auto plan = plan_retry(core, *call->caller, result.error());
    if (!plan.retry) {
        finish(call, std::move(result));
        return;
    }
    std::lock_guard lock(slot.retry_mutex);
    // Checked under the lock stop_slot() takes after marking the tool stopping, so a retry is
    // either seen and ended there, or not scheduled at all.
    if (slot.state.load() != tool_state::ready) {
        finish(call, make_tool_error(status_code::unavailable,
                                     "tool '" + slot.name + "' shut down before the call could be retried"));
        return;
    }
    auto id = timers_->schedule(plan.at, [this, call] {
        {
            auto& s = *call->core.slot;
            std::lock_guard l(s.retry_mutex);
            // Gone when stop_slot() took it: then the call was already ended there.
            bool mine = false;
            for (auto it = s.waiting_retries.begin(); it != s.waiting_retries.end(); ++it)
                if (it->second == call) {
                    s.waiting_retries.erase(it);
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
    end_call(call->core, result, clock_->now());
    auto done = std::move(call->done);
    release(*call->core.slot);
    done(std::move(result));
}

call_result host::call(std::string tool, std::string operation, json::value arguments, call_options options) {
    auto f = async_call(std::move(tool), std::move(operation), std::move(arguments), std::move(options),
                        boost::asio::use_future);
    return f.get();
}

// ------------------------------------------------------------------------------ inline path

boost::system::result<operation_ref, tool_error> host::resolve(std::string_view tool, std::string_view operation) const {
    operation_ref ref;
    {
        std::shared_lock lock(registry_mutex_);
        auto it = by_name_.find(tool);
        if (it == by_name_.end()) return no_such_tool(tool);
        ref.slot_ = it->second;
    }
    const auto& d = ref.slot_->descriptor();
    ref.op_ = d.find_operation(operation);
    if (ref.op_ == nullptr) return no_such_operation(d, operation);
    return ref;
}

call_result host::call_inline(std::string_view tool, std::string_view operation, const json::value& arguments,
                              const call_options& options) {
    auto target = resolve(tool, operation);
    if (!target) return std::move(target).error();
    return call_inline(*target, arguments, options);
}

bool host::wait_until(clock::time_point at, const call_control& caller) {
    // Waits on the host's timer service, so a virtual clock drives inline retries in tests too.
    struct waiter {
        std::mutex m;
        std::condition_variable cv;
        bool fired = false;
    };
    auto w = std::make_shared<waiter>();
    auto id = timers_->schedule(at, [w] {
        std::lock_guard lock(w->m);
        w->fired = true;
        w->cv.notify_all();
    });
    std::unique_lock lock(w->m);
    // Wakes now and then to notice a cancellation; the timer decides when the wait is over.
    while (!w->fired) {
        if (caller.cancel_requested() || shut_down_.load()) {
            lock.unlock();
            timers_->cancel(id);
            return false;
        }
        w->cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    return true;
}

call_result host::call_inline(const operation_ref& target, const json::value& arguments, const call_options& options) {
    if (!target) return make_tool_error(status_code::invalid_argument, "call_inline: empty operation_ref");
    return call_inline_impl(target, arguments, {}, options, nullptr, 0);
}

call_result host::call_inline_impl(const operation_ref& target, const json::value& arguments,
                                   std::string_view arguments_text,
                                   const call_options& options, const call_control* parent, uint32_t nesting) {
    auto& slot = *target.slot_;
    const auto* op = target.op_;
    if (shut_down_.load(std::memory_order_relaxed))
        return make_tool_error(status_code::unavailable, "the host is shut down; no new calls are accepted");
    if (slot.strand) {
        // Not thread-safe: its calls must not overlap: go through the strand like every other call, and wait.
        if (pool_.running_in_this_thread() && nesting == 0)
            return make_tool_error(status_code::failed_precondition,
                                   "call_inline of '" + slot.name + "' (not thread-safe) from a worker thread would wait on the pool it occupies");
        if (slot.strand && slot.strand->running_in_this_thread())
            return make_tool_error(status_code::failed_precondition,
                                   "'" + slot.name + "' is not thread-safe and is already serving this chain of calls; "
                                   "calling it again would wait for itself");
        call_options copy = options;
        if (parent && parent->deadline() && (!copy.deadline || *parent->deadline() < *copy.deadline))
            copy.deadline = *parent->deadline();
        return call(slot.name, op->name, arguments, std::move(copy));
    }
    slot.in_flight.fetch_add(1);
    struct in_flight_guard {
        host* h;
        detail::tool_slot& s;
        ~in_flight_guard() { h->release(s); }
    } guard{this, slot};
    if (const auto state = slot.state.load(std::memory_order_acquire); state != tool_state::ready)
        return make_tool_error(state == tool_state::stopping || state == tool_state::stopped ? status_code::unavailable
                                                                                             : status_code::failed_precondition,
                               "tool '" + slot.name + "' is not ready (state: " + std::string(tool_state_name(state)) + ")");
    if (!arguments.is_object())
        return make_tool_error(status_code::invalid_argument, "arguments of " + slot.name + "." + op->name +
                                                                  " must be a JSON object, got " +
                                                                  std::string(kind_name(arguments)));
    if (!op->input_schema.accepts_any_object()) {
        if (auto err = op->input_schema.validate(arguments)) {
            slot.metrics_for(op).calls[static_cast<std::size_t>(status_code::invalid_argument)]->inc();
            return make_tool_error(status_code::invalid_argument,
                                   "invalid arguments for " + slot.name + "." + op->name + ": " + err->to_string());
        }
    }
    // The arguments as text, in a stack buffer when they fit (no heap for small arguments).
    char small[512];
    std::string large;
    std::string_view args_text = arguments_text;  // a nested call's text, already checked to parse
    if (args_text.empty() && arguments.get_object().empty()) {
        args_text = "{}";  // operations without arguments are common
    } else if (args_text.empty()) {
        // Reused per thread: constructing a serializer costs more than serializing "{}".
        thread_local json::serializer sr;
        sr.reset(&arguments);
        std::string_view first = sr.read(small, sizeof(small));
        if (sr.done()) {
            args_text = first;
        } else {
            large.assign(first);
            while (!sr.done()) {
                char chunk[4096];
                large.append(sr.read(chunk, sizeof(chunk)));
            }
            args_text = large;
        }
    }

    detail::call_core core;
    core.slot = &slot;
    core.op = op;
    core.policy = &slot.policy_of(op);
    core.metrics = &slot.metrics_for(op);
    core.breaker = slot.breaker_for(op);
    core.options = &options;
    core.nesting = nesting;
    // One control for the whole call, its deadline moved for each attempt: the parent's
    // cancellation (for nested calls; non-owning, the parent outlives this blocking call) and
    // progress reports.
    call_control caller(std::nullopt, *clock_,
                        parent ? std::shared_ptr<const call_control>(std::shared_ptr<const call_control>(), parent) : nullptr);
    if (options.on_progress) caller.set_progress_handler(options.on_progress);
    if (options.peer) caller.set_peer(options.peer);
    // One clock reading per step: the call's start is also the first attempt's gate and start.
    clock::time_point now = clock_->now();
    begin_call(core, now);

    for (;;) {
        circuit_breaker::admission adm;
        if (auto refused = gate(core, caller, adm, now)) {
            call_result r(std::move(*refused));
            end_call(core, r, now);
            return r;
        }
        ++core.attempts;
        if (!slot.bulkhead->try_enter()) {
            // Wait for a slot on this thread, within the deadline.
            struct slot_wait {
                std::mutex m;
                std::condition_variable cv;
                int state = 0;  // 0 waiting, 1 got a slot, 2 gave up
            };
            auto w = std::make_shared<slot_wait>();
            auto admission = slot.bulkhead->acquire([w] {
                std::lock_guard lock(w->m);
                if (w->state == 2) return false;
                w->state = 1;
                w->cv.notify_all();
                return true;
            });
            bool entered = admission == bulkhead::admission::entered;
            if (admission == bulkhead::admission::queued) {
                std::unique_lock lock(w->m);
                while (w->state == 0) {
                    if (caller.cancel_requested() || clock_->now() >= core.deadline) {
                        w->state = 2;
                        break;
                    }
                    w->cv.wait_for(lock, std::chrono::milliseconds(10));
                }
                entered = w->state == 1;
            }
            if (!entered) {
                if (core.breaker) core.breaker->release(adm);
                tool_error e = admission == bulkhead::admission::rejected
                                   ? make_tool_error(status_code::resource_exhausted,
                                                     "tool '" + slot.name + "' is at its concurrency limit (" +
                                                         std::to_string(slot.bulkhead->options().max_concurrent) +
                                                         " running, " + std::to_string(slot.bulkhead->options().max_queue) +
                                                         " queued)")
                                   : make_tool_error(status_code::deadline_exceeded,
                                                     "the deadline passed while " + slot.name + "." + op->name +
                                                         " waited for a free slot");
                if (admission == bulkhead::admission::rejected) {
                    slot.rejected_bulkhead->inc();
                    emit(call_event(host_event_kind::rejection, core, core.attempts, e.code, e.message, "bulkhead_full"));
                }
                call_result r(std::move(e));
                end_call(core, r, clock_->now());
                return r;
            }
            now = clock_->now();  // waited for the slot
        }
        const auto started = now;
        caller.set_deadline(core.optional_deadline(core.attempt_deadline(started)));
        // Every member named: a default-constructed one would be zeroed first (a `rep stos`
        // that measured as a tenth of the inline call).
        const invocation inv{slot.name,       op->name,      args_text, core.request_id, options.session_id,
                             core.plugin_traceparent(), core.attempts, &caller,  this,            nesting};
        call_result r = slot.instance->invoke(inv);
        const auto ended = clock_->now();
        slot.bulkhead->release();
        attempt_finished(core, r, started, ended);
        if (!r) r = deadline_exceeded_if_late(core, caller, std::move(r));
        if (core.breaker) core.breaker->on_result(adm, r ? status_code::ok : r.error().code, ended);
        if (r) {
            end_call(core, r, ended);
            return r;
        }
        const auto plan = plan_retry(core, caller, r.error());
        if (!plan.retry || !wait_until(plan.at, caller)) {
            end_call(core, r, clock_->now());
            return r;
        }
        now = clock_->now();
    }
}

// ----------------------------------------------------------------------- tool calls a tool

call_result host::call_nested(const invocation& parent, std::string_view tool, std::string_view operation,
                              std::string_view arguments) noexcept {
    constexpr uint32_t max_nesting = 8;
    try {
        if (tool == parent.tool)
            return make_tool_error(status_code::failed_precondition,
                                   "tool '" + std::string(tool) + "' cannot call itself through the host");
        if (parent.nesting + 1 > max_nesting)
            return make_tool_error(status_code::failed_precondition,
                                   "nested tool calls go deeper than " + std::to_string(max_nesting) + " levels (a cycle?)");
        boost::system::error_code ec;
        json::value args = json::parse(arguments, ec);
        if (ec)
            return make_tool_error(status_code::invalid_argument,
                                   "arguments for " + std::string(tool) + "." + std::string(operation) +
                                       " are not valid JSON: " + ec.message());
        auto target = resolve(tool, operation);
        if (!target) return std::move(target).error();
        // A host started with only some tools (`toolhost call` starts just the one it calls)
        // starts an enabled tool that another tool calls on first use.
        if (target->slot_->state.load() == tool_state::registered && config_.tool_enabled(target->slot_->name))
            start_on_demand(*target->slot_);
        call_options options;
        options.request_id = std::string(parent.request_id);
        options.session_id = std::string(parent.session_id);
        options.traceparent = std::string(parent.traceparent);
        if (parent.control && parent.control->deadline()) options.deadline = *parent.control->deadline();
        return call_inline_impl(*target, args, arguments, options, parent.control, parent.nesting + 1);
    } catch (const std::bad_alloc&) {
        return make_tool_error(status_code::resource_exhausted, "out of memory in a nested tool call");
    } catch (const std::exception& e) {
        return make_tool_error(status_code::internal, std::string("nested tool call failed: ") + e.what());
    }
}

}  // namespace toolhost
