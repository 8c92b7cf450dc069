#include "registry/tool_registry.hpp"

#include "telemetry/call_telemetry.hpp"

#include <toolhost/logging.hpp>

#include <boost/json/value.hpp>

#include <algorithm>

namespace toolhost::detail {

namespace json = boost::json;

tool_registry::tool_registry(const host_config& config, call_policy default_policy, const clock& clk,
                             call_telemetry& telemetry, worker_pool::executor_type executor)
    : config_(config), default_policy_(std::move(default_policy)), clock_(clk), telemetry_(telemetry),
      executor_(std::move(executor)) {}

// ------------------------------------------------------------------------------ the map

boost::system::result<tool_registry::slot_ptr, std::string> tool_registry::make_slot(
    std::shared_ptr<tool_factory> factory) {
    if (!factory) return std::string("no factory (null)");
    if (auto ok = factory->descriptor().validate(); !ok) return ok.error();
    auto slot = std::make_shared<tool_slot>(std::move(factory), executor_);
    slot->enabled = config_.tool_enabled(slot->name);
    install_policy(*slot, policy_from_config(slot->name));
    for (const auto& op : slot->descriptor().operations)
        if (auto p = operation_policy_from_config(slot->name, op.name))
            slot->operation_policies.emplace(op.name, std::move(*p));
    install_breakers(*slot);
    telemetry_.install(*slot);
    return slot;
}

boost::system::result<tool_registry::slot_ptr, std::string> tool_registry::add(std::shared_ptr<tool_factory> factory) {
    auto made = make_slot(std::move(factory));
    if (!made) return made;
    if (auto ok = insert(*made); !ok) return ok.error();
    return made;
}

boost::system::result<void, std::string> tool_registry::insert(const slot_ptr& slot) {
    std::unique_lock lock(mutex_);
    if (auto it = by_name_.find(slot->name); it != by_name_.end())
        return "duplicate tool name '" + slot->name + "': already provided by " + it->second->descriptor().plugin +
               "; this one was not registered";
    // Breakers first (make_slot): the gauges' callbacks read them from scrape threads.
    telemetry_.publish(*slot);
    by_name_.emplace(slot->name, slot);
    slots_.push_back(slot);
    return {};
}

bool tool_registry::replace(const slot_ptr& current, slot_ptr next) {
    std::unique_lock lock(mutex_);
    auto it = by_name_.find(current->name);
    if (it == by_name_.end() || it->second != current) return false;
    telemetry_.uninstall(*current);
    telemetry_.publish(*next);
    it->second = next;
    *std::find(slots_.begin(), slots_.end(), current) = next;
    // Successor first: a caller that sees the retired flag (acquire) finds it.
    current->successor = std::move(next);
    current->retired.store(true, std::memory_order_release);
    if (current->state.load() == tool_state::ready) current->state.store(tool_state::draining);
    return true;
}

tool_registry::slot_ptr tool_registry::remove(std::string_view name) {
    std::unique_lock lock(mutex_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return nullptr;
    auto slot = it->second;
    by_name_.erase(it);
    slots_.erase(std::find(slots_.begin(), slots_.end(), slot));
    return slot;
}

tool_registry::slot_ptr tool_registry::retire(std::string_view name) {
    auto slot = remove(name);
    if (!slot) return nullptr;
    slot->retired.store(true, std::memory_order_release);
    if (slot->state.load() == tool_state::ready) slot->state.store(tool_state::draining);
    return slot;
}

void tool_registry::forget(tool_slot& slot) { telemetry_.uninstall(slot); }

void tool_registry::carry_state(tool_slot& next, const tool_slot& current) const {
    const auto& p = next.policy;
    const auto& q = current.policy;
    if (next.breaker && current.breaker && p.breaker == q.breaker) next.breaker = current.breaker;
    const auto& ops = next.descriptor().operations;
    for (std::size_t i = 0; i < next.op_breakers.size(); ++i) {
        if (!next.op_breakers[i]) continue;
        const auto* op = current.descriptor().find_operation(ops[i].name);
        if (op == nullptr) continue;
        const auto j = current.index_of(op);
        if (j < current.op_breakers.size() && current.op_breakers[j] &&
            next.policy_for(ops[i].name).breaker == current.policy_for(ops[i].name).breaker)
            next.op_breakers[i] = current.op_breakers[j];
    }
    if (p.bulkhead == q.bulkhead) next.bulkhead = current.bulkhead;
    if (p.retry_budget_ratio == q.retry_budget_ratio && p.retry_budget_min_per_second == q.retry_budget_min_per_second)
        next.budget = current.budget;
}

tool_registry::slot_ptr tool_registry::find(std::string_view name) const {
    std::shared_lock lock(mutex_);
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

tool_slot* tool_registry::acquire(std::string_view name) {
    std::shared_lock lock(mutex_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return nullptr;
    // No shared_ptr copy: its reference count would be one more cache line every calling
    // thread writes.
    it->second->in_flight.add();
    return it->second.get();
}

void tool_registry::release_to_drain(tool_slot& slot) noexcept {
    // Under the drain lock: the drain reads the count under it too, so it cannot see zero (and
    // free the slot) before this thread is done with it.
    std::lock_guard lock(drain_mutex_);
    slot.in_flight.remove();
    drained_.notify_all();
}

namespace {
// A release that saw the tool still serving does not wake the drain (it took no lock), so the
// drain looks again this often.
constexpr auto drain_recheck = std::chrono::milliseconds(5);
}  // namespace

void tool_registry::wait_drained(const tool_slot& slot) {
    // The slot's state was set so that no call starts any more; inline calls count themselves
    // without a full fence, and this one orders them (sharded_count.hpp).
    heavy_fence();
    std::unique_lock lock(drain_mutex_);
    while (slot.in_flight.total() != 0) drained_.wait_for(lock, drain_recheck);
}

bool tool_registry::wait_drained(const tool_slot& slot, std::chrono::steady_clock::time_point until) {
    heavy_fence();
    std::unique_lock lock(drain_mutex_);
    while (slot.in_flight.total() != 0) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= until) return false;
        drained_.wait_until(lock, std::min(until, now + drain_recheck));
    }
    return true;
}

std::vector<tool_registry::slot_ptr> tool_registry::slots() const {
    std::shared_lock lock(mutex_);
    return slots_;
}

bool tool_registry::contains(std::string_view name) const {
    std::shared_lock lock(mutex_);
    return by_name_.contains(name);
}

// ------------------------------------------------------------------------------ policies

call_policy tool_registry::policy_from_config(std::string_view tool) const {
    // The embedder's default, then the file's global "resilience", then the tool's.
    call_policy p = default_policy_;
    if (config_.resilience) apply_resilience(p, config_.resilience->settings);
    if (auto it = config_.tools.find(tool); it != config_.tools.end() && it->second.resilience)
        apply_resilience(p, it->second.resilience->settings);
    return p;
}

std::optional<call_policy> tool_registry::operation_policy_from_config(std::string_view tool,
                                                                       std::string_view op) const {
    auto it = config_.tools.find(tool);
    if (it == config_.tools.end()) return std::nullopt;
    auto r = it->second.operation_resilience.find(op);
    if (r == it->second.operation_resilience.end()) return std::nullopt;
    call_policy p = policy_from_config(tool);
    apply_resilience(p, r->second.settings);
    return p;
}

void tool_registry::install_policy(tool_slot& slot, const call_policy& policy) {
    slot.policy = policy;
    slot.bulkhead = std::make_shared<bulkhead>(policy.bulkhead);
    slot.budget = std::make_shared<retry_budget>(policy.retry_budget_ratio, policy.retry_budget_min_per_second, clock_);
}

std::shared_ptr<circuit_breaker> tool_registry::make_breaker(const tool_slot& slot, const operation_descriptor* op,
                                                             const call_policy& policy) {
    const std::string name = op ? slot.name + "." + op->name : slot.name;
    auto breaker = std::make_shared<circuit_breaker>(name, policy.breaker, clock_);
    breaker->on_transition(telemetry_.watch_breaker(slot, op));
    return breaker;
}

void tool_registry::install_breakers(tool_slot& slot) {
    slot.breaker = slot.policy.breaker_enabled && !slot.policy.breaker_per_operation
                       ? make_breaker(slot, nullptr, slot.policy)
                       : nullptr;
    const auto& ops = slot.descriptor().operations;
    slot.policy_by_op.clear();
    for (const auto& op : ops) slot.policy_by_op.push_back(&slot.policy_for(op.name));
    slot.op_breakers.clear();
    slot.op_breakers.resize(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
        const call_policy& p = slot.policy_for(ops[i].name);
        if (p.breaker_enabled && p.breaker_per_operation) {
            slot.op_breakers[i] = make_breaker(slot, &ops[i], p);
        }
    }
}

boost::system::result<void, std::string> tool_registry::set_policy(std::string_view tool, call_policy policy) {
    if (auto problems = toolhost::validate(policy); !problems.empty())
        return "policy of '" + std::string(tool) + "': " + problems;
    std::shared_lock lock(mutex_);
    auto it = by_name_.find(tool);
    if (it == by_name_.end()) return "no tool named '" + std::string(tool) + "'";
    auto& slot = *it->second;
    if (slot.state.load() == tool_state::ready || slot.in_flight.total() != 0)
        return "tool '" + slot.name + "' is running; set its policy before start()";
    install_policy(slot, policy);
    install_breakers(slot);
    telemetry_.publish(slot);
    return {};
}

boost::system::result<void, std::string> tool_registry::set_operation_policy(std::string_view tool,
                                                                             std::string_view operation,
                                                                             call_policy policy) {
    if (auto problems = toolhost::validate(policy); !problems.empty())
        return "policy of '" + std::string(tool) + "." + std::string(operation) + "': " + problems;
    std::shared_lock lock(mutex_);
    auto it = by_name_.find(tool);
    if (it == by_name_.end()) return "no tool named '" + std::string(tool) + "'";
    auto& slot = *it->second;
    if (!slot.descriptor().find_operation(operation))
        return "tool '" + slot.name + "' has no operation '" + std::string(operation) + "'";
    if (slot.state.load() == tool_state::ready || slot.in_flight.total() != 0)
        return "tool '" + slot.name + "' is running; set its policies before start()";
    slot.operation_policies.insert_or_assign(std::string(operation), std::move(policy));
    install_breakers(slot);
    telemetry_.publish(slot);
    return {};
}

// ------------------------------------------------------------------------------ breakers

bool tool_registry::for_breakers(std::string_view tool, std::string_view operation,
                                 const std::function<void(circuit_breaker&)>& f) const {
    // The breakers are taken under the lock and acted on outside it: acting tells the breaker's
    // listeners (telemetry, the event bus and its subscribers, which read the registry), so the
    // registry's lock is never held while the event bus's is taken.
    std::vector<std::shared_ptr<circuit_breaker>> chosen;
    {
        std::shared_lock lock(mutex_);
        auto it = by_name_.find(tool);
        if (it == by_name_.end()) return false;
        const auto& slot = *it->second;
        if (operation.empty()) {
            if (slot.breaker) chosen.push_back(slot.breaker);
            for (const auto& b : slot.op_breakers)
                if (b) chosen.push_back(b);
        } else {
            const auto* op = slot.descriptor().find_operation(operation);
            if (op == nullptr) return false;
            if (const auto* b = slot.breaker_for(op)) {
                if (slot.breaker.get() == b) chosen.push_back(slot.breaker);
                for (const auto& ob : slot.op_breakers)
                    if (ob.get() == b) chosen.push_back(ob);
            }
        }
    }
    for (const auto& b : chosen) f(*b);
    return true;
}

void tool_registry::reset_all_breakers() {
    std::vector<std::shared_ptr<circuit_breaker>> all;  // reset outside the lock, as above
    {
        std::shared_lock lock(mutex_);
        for (const auto& s : slots_) {
            if (s->breaker) all.push_back(s->breaker);
            for (const auto& b : s->op_breakers)
                if (b) all.push_back(b);
        }
    }
    for (const auto& b : all) b->reset();
}

std::vector<host::breaker_report> tool_registry::breakers() const {
    std::shared_lock lock(mutex_);
    std::vector<host::breaker_report> out;
    for (const auto& s : slots_) {
        if (s->breaker) out.push_back({s->name, {}, s->breaker->get_snapshot(), s->breaker->options()});
        const auto& ops = s->descriptor().operations;
        for (std::size_t i = 0; i < s->op_breakers.size() && i < ops.size(); ++i)
            if (const auto& b = s->op_breakers[i])
                out.push_back({s->name, ops[i].name, b->get_snapshot(), b->options()});
    }
    return out;
}

std::vector<host::operation_stats> tool_registry::operation_statistics() const {
    std::shared_lock lock(mutex_);
    std::vector<host::operation_stats> out;
    for (const auto& s : slots_) {
        const auto& ops = s->descriptor().operations;
        for (std::size_t i = 0; i < ops.size() && i < s->metrics_by_op.size(); ++i) {
            const auto& m = s->metrics_by_op[i];
            host::operation_stats o;
            o.tool = s->name;
            o.operation = ops[i].name;
            for (std::size_t code = 0; code < o.calls.size(); ++code) o.calls[code] = m.calls[code]->value();
            o.retries = m.retries->value();
            o.attempt_timeouts = m.timeouts->value();
            o.short_circuited = m.rejected_breaker->value();
            o.bulkhead_full = m.rejected_bulkhead->value();
            o.retry_budget = m.rejected_budget->value();
            o.duration_buckets = m.call_duration->bucket_counts();
            o.duration_sum_ns = m.call_duration->sum_ns();
            out.push_back(std::move(o));
        }
    }
    return out;
}

// ------------------------------------------------------------------------------ views

namespace {
tool_status snapshot(const tool_slot& s) {
    tool_status st;
    st.name = s.name;
    st.version = s.descriptor().version;
    st.plugin = s.descriptor().plugin;
    st.enabled = s.enabled.load();
    st.state = s.state.load();
    st.error = s.error_text();
    st.in_flight = s.in_flight.total();
    st.generation = s.generation;
    if (s.worker->isolated()) {
        st.isolation = "process";
        st.worker = s.worker->snapshot();
    }
    return st;
}
}  // namespace

std::vector<std::string> tool_registry::list() const {
    std::shared_lock lock(mutex_);
    std::vector<std::string> names;
    for (const auto& s : slots_) names.push_back(s->name);
    return names;
}

std::optional<tool_status> tool_registry::status(std::string_view name) const {
    std::shared_lock lock(mutex_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return std::nullopt;
    return snapshot(*it->second);
}

std::vector<tool_status> tool_registry::status() const {
    std::shared_lock lock(mutex_);
    std::vector<tool_status> out;
    for (const auto& s : slots_) out.push_back(snapshot(*s));
    return out;
}

int64_t tool_registry::in_flight() const noexcept {
    std::shared_lock lock(mutex_);
    int64_t n = 0;
    for (const auto& s : slots_) n += s->in_flight.total();
    return n;
}

std::optional<std::string> check_tool_config(const host_config& cfg, const tool_descriptor& d) {
    auto it = cfg.tools.find(d.name);
    const json::object empty;
    const json::object& conf = it != cfg.tools.end() ? it->second.config : empty;
    const std::string base =
        (it != cfg.tools.end() ? it->second.pointer : "/tools/" + json_pointer_escape(d.name)) + "/config";
    if (!d.config_schema) {
        if (!conf.empty()) return cfg.error_at(base, "tool '" + d.name + "' takes no configuration").to_string();
        return std::nullopt;
    }
    json::value v = conf;
    if (auto err = d.config_schema->validate(v)) return cfg.error_at(base + err->pointer, err->message).to_string();
    return std::nullopt;
}

std::vector<std::string> tool_registry::validate(const host_config& config, const load_report& loaded) const {
    std::vector<std::string> problems;
    for (const auto& r : loaded.rejected) problems.push_back(r.path + ": " + r.reason);
    std::shared_lock lock(mutex_);
    for (const auto& [name, settings] : config.tools) {
        if (!by_name_.contains(name) && settings.enabled)
            problems.push_back(
                config.error_at(settings.pointer, "no plugin provides a tool named '" + name + "'").to_string());
    }
    for (const auto& s : slots_) {
        if (!config.tool_enabled(s->name)) continue;
        if (auto err = check_tool_config(config, s->descriptor())) problems.push_back(*err);
    }
    return problems;
}

}  // namespace toolhost::detail
