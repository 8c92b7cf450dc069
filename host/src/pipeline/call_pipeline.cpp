// The one place where the order of a call is written. Every call, asynchronous or inline,
// goes through these steps in this order:
//
//   check    the tool exists, is ready, and the arguments are an object its schema accepts
//   open     the request id, the total deadline, a deposit in the retry budget, the span
//   admit    per attempt: not cancelled, tool still ready, deadline not passed, breaker closed
//   enter    a bulkhead slot, or a place in its queue, or a rejection
//   invoke   the plugin call, under the attempt's deadline (strand or pool when asynchronous)
//   settle   the breaker hears the result; a retryable failure with time and budget left
//            goes back to admit after a backoff; anything else finishes the call
//   finish   metrics, the last log line, the span, and the result to the caller
//
// The asynchronous chain (launch, do_*/on_*) hands each step to the next across the pool and
// the timers; the inline path (call_inline) is a loop over the same steps on one thread.

#include "pipeline/call_pipeline.hpp"

#include "pipeline/blocking_wait.hpp"
#include "pipeline/call_errors.hpp"

#include <toolhost/json_input.hpp>
#include <toolhost/json_schema.hpp>
#include <toolhost/json_source.hpp>
#include <toolhost/json_text.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>
#include <cstring>
#include <random>
#include <thread>

namespace toolhost::detail {

namespace json = boost::json;
namespace errors = call_errors;

namespace {

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

// 64 bits as 16 lower-case hex digits, most significant first, without a loop: the nibbles
// spread to one per byte, then turned into '0'-'9' and 'a'-'f' eight at a time.
void hex16(uint64_t bits, char* out) noexcept {
    auto spread = [](uint64_t x) {  // 8 nibbles (x < 2^32) into the low half of 8 bytes
        x = (x | (x << 16)) & 0x0000ffff0000ffffull;
        x = (x | (x << 8)) & 0x00ff00ff00ff00ffull;
        x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0full;
        return x;
    };
    auto digits = [](uint64_t x) {
        const uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;  // nibble > 9
        // The lowest nibble is in the lowest byte: swapped, it comes last in memory.
        return __builtin_bswap64(x + 0x3030303030303030ull + letters * ('a' - '0' - 10));
    };
    const uint64_t hi = digits(spread(bits >> 32));
    const uint64_t lo = digits(spread(bits & 0xffffffffull));
    std::memcpy(out, &hi, 8);
    std::memcpy(out + 8, &lo, 8);
}

// A request id made by the host: 16 lower-case hex digits, different for every call. Each
// thread starts at 64 random bits and counts up from there, so that a call costs an increment
// and a formatting without a loop, not a random draw. (Counting in the text itself was slower:
// the 16-byte copy of a text whose last byte was just stored stalls store forwarding.)
void next_request_id(char (&out)[16]) noexcept {
    constinit thread_local uint64_t counter = 0;
    constinit thread_local bool seeded = false;
    if (!seeded) [[unlikely]] {
        counter = request_id_bits();
        seeded = true;
    }
    hex16(++counter, out);
}

// `arguments` as text: in `small` when it fits (no heap for small arguments), else in `large`.
std::string_view serialize_arguments(const json::value& arguments, char (&small)[512], std::string& large) {
    if (arguments.get_object().empty()) return "{}";  // operations without arguments are common
    // The project's JSON writer into the stack buffer, moving to `large` once it overflows.
    struct spilling_sink {
        char (&small)[512];
        std::string& large;
        std::size_t size = 0;
        bool spilled = false;
        void append(const char* p, std::size_t n) {
            if (!spilled && size + n <= sizeof(small)) {
                std::memcpy(small + size, p, n);
                size += n;
                return;
            }
            if (!spilled) {
                large.assign(small, size);
                spilled = true;
            }
            large.append(p, n);
        }
        void push_back(char c) { append(&c, 1); }
    } sink{small, large};
    toolhost::write_json(sink, arguments);
    return sink.spilled ? std::string_view(large) : std::string_view(small, sink.size);
}

}  // namespace

call_pipeline::call_pipeline(tool_registry& registry, call_telemetry& telemetry, worker_pool& pool, const clock& clk,
                             timer_service& timers, random_source& random, nested_caller& nested)
    : registry_(registry), telemetry_(telemetry), pool_(pool), clock_(clk), timers_(timers), random_(random),
      nested_(nested) {}

// ================================================================================ the steps

std::optional<tool_error> call_pipeline::check(tool_slot& slot, const operation_descriptor* op,
                                               const json::value& arguments) {
    if (registry_.closed()) return errors::host_shut_down();
    if (const auto state = slot.state.load(std::memory_order_acquire); state != tool_state::ready)
        return errors::not_ready(slot, state);
    if (!arguments.is_object()) return errors::not_an_object(slot, *op, arguments);
    // JSON has no infinity: such a number (1e309, or an integer beyond 64 bits as the input
    // parser marks it) would reach the tool as null or worse, whatever its schema says.
    if (auto where = find_out_of_range_number(arguments)) {
        slot.metrics_for(op).calls[static_cast<std::size_t>(status_code::invalid_argument)]->inc();
        return errors::invalid_arguments(
            slot, *op, validation_error{*where, std::string(out_of_range_number_message)}.to_string());
    }
    if (op->input_schema.accepts_any_object()) return std::nullopt;
    if (auto err = op->input_schema.validate(arguments)) {
        slot.metrics_for(op).calls[static_cast<std::size_t>(status_code::invalid_argument)]->inc();
        return errors::invalid_arguments(slot, *op, err->to_string());
    }
    return std::nullopt;
}

void call_pipeline::open(call_core& core, clock::time_point now) {
    core.started = now;
    // Every call has a request id, the same for all its attempts, so that a tool can use it as
    // an idempotency key (a retried create must not create twice).
    core.request_id = core.options->request_id;
    if (core.request_id.empty()) {
        next_request_id(core.generated_id);
        core.request_id = std::string_view(core.generated_id, sizeof(core.generated_id));
    }
    // The total deadline: the caller's, or the policy's, whichever comes first.
    core.deadline = core.options->deadline.value_or(clock::time_point::max());
    if (core.policy->timeout) core.deadline = std::min(core.deadline, core.started + *core.policy->timeout);
    core.slot->budget->deposit();
    telemetry_.begin(core);
}

std::optional<tool_error> call_pipeline::admit(call_core& core, const call_control& caller,
                                               circuit_breaker::admission& adm, clock::time_point now) {
    if (caller.cancel_requested()) return errors::cancelled(core);
    // A call accepted by a generation that was replaced since finishes there (draining).
    if (const auto state = core.slot->state.load(std::memory_order_acquire);
        state != tool_state::ready && state != tool_state::draining) [[unlikely]]
        return errors::not_ready(*core.slot, state);
    if (now >= core.deadline) return errors::deadline_passed(core);
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
    tool_error e = core.breaker->rejection_error(adm);
    telemetry_.circuit_open(core, e, now);
    return e;
}

// The bulkhead's queue is full: the admitted attempt does not run.
tool_error call_pipeline::refuse_entry(call_core& core, const circuit_breaker::admission& adm) {
    if (core.breaker) core.breaker->release(adm);
    tool_error e = errors::bulkhead_full(*core.slot);
    telemetry_.bulkhead_full(core, e);
    return e;
}

// The deadline passed while the attempt waited in the bulkhead's queue. Not the tool's fault,
// so the breaker records nothing.
tool_error call_pipeline::leave_queue(call_core& core, const circuit_breaker::admission& adm) {
    if (core.breaker) core.breaker->release(adm);
    return errors::deadline_passed_in_queue(core);
}

call_result call_pipeline::invoke(call_core& core, std::string_view arguments, const call_control& control) {
    // Every member named: a default-constructed one would be zeroed first (a `rep stos` that
    // measured as a tenth of the inline call).
    const invocation inv{core.slot->name,           core.op->name, arguments, core.request_id, core.options->session_id,
                         core.plugin_traceparent(), core.attempts, &control,  &nested_,        core.nesting};
    call_result r = core.slot->instance->invoke(inv);
    if (r && core.op->output_schema) check_result(core, r);
    return r;
}

// A result that breaks the operation's declared output_schema does not reach the caller: over
// MCP it would become structuredContent that breaks the advertised outputSchema, which servers
// must not send. It becomes INTERNAL, which the breaker counts and the retry policy leaves alone.
void call_pipeline::check_result(const call_core& core, call_result& r) {
    const auto& schema = *core.op->output_schema;
    const std::string_view text = *r;
    // {"type":"object"} and the like: checking the text is enough, nothing needs to be built.
    if (schema.accepts_any_object()) {
        const auto first = text.find_first_not_of(" \t\r\n");
        if (first != std::string_view::npos && text[first] == '{' && is_valid_json(text)) return;
    }
    auto parsed = parse_json_input(text, result_max_depth);
    if (!parsed) {
        r = errors::result_not_json(*core.slot, *core.op, parsed.error().to_string());
        return;
    }
    if (auto err = schema.validate(*parsed))
        r = errors::result_breaks_output_schema(*core.slot, *core.op, err->to_string());
}

call_pipeline::retry_plan call_pipeline::settle(call_core& core, const call_control& caller,
                                                const circuit_breaker::admission& adm, call_result& result,
                                                bool breaker_told, clock::time_point ended) {
    // A plugin that stopped because its deadline passed reports CANCELLED; the caller did not
    // cancel, so say what really happened.
    if (!result && result.error().code == status_code::cancelled && !caller.cancel_requested() && core.has_deadline() &&
        clock_.now() >= core.deadline)
        result = errors::stopped_at_deadline(core, result.error().message);
    if (core.breaker && !breaker_told)
        core.breaker->on_result(adm, result ? status_code::ok : result.error().code, ended);
    if (result) return {};
    return plan_retry(core, caller, result.error());
}

call_pipeline::retry_plan call_pipeline::plan_retry(call_core& core, const call_control& caller,
                                                    const tool_error& error) {
    const auto& policy = *core.policy;
    const bool idempotent = policy.idempotent.value_or(core.op->idempotent());
    if (!should_retry(policy.retry, error, core.attempts, idempotent) || caller.cancel_requested()) return {};
    const auto delay = next_delay(policy.retry, error, core.attempts, random_);
    const auto now = clock_.now();
    const auto at = now + std::chrono::duration_cast<clock::duration>(delay);
    if (at >= core.deadline) return {};  // no time left: the last error stands
    if (!core.slot->budget->try_withdraw()) {
        telemetry_.budget_exhausted(core, error);
        return {};
    }
    telemetry_.retrying(core, error, delay, now);
    return {true, at};
}

// ===================================================================== the asynchronous chain

boost::system::result<std::shared_ptr<call_state>, tool_error> call_pipeline::prepare(std::string_view tool,
                                                                                      std::string_view operation,
                                                                                      const json::value& arguments,
                                                                                      call_options&& options) {
    tool_slot* slot = registry_.acquire(tool);
    if (slot == nullptr) return errors::no_such_tool(tool);
    // Found just before a new generation took its place (or the tool was removed): look again.
    while (slot->retired.load(std::memory_order_acquire)) [[unlikely]] {
            registry_.release(*slot);
            slot = registry_.acquire(tool);
            if (slot == nullptr) return errors::no_such_tool(tool);
        }
    const auto* op = slot->descriptor().find_operation(operation);
    auto refused = op ? check(*slot, op, arguments)
                      : std::optional<tool_error>(errors::no_such_operation(slot->descriptor(), operation));
    if (refused) {
        registry_.release(*slot);
        return std::move(*refused);
    }
    auto call = std::make_shared<call_state>(clock_);
    call->core.target(*slot, op);
    call->arguments = toolhost::json_text(arguments);
    if (options.on_progress) call->caller.set_progress_handler(std::move(options.on_progress));
    if (options.peer) call->caller.set_peer(options.peer);
    call->options = std::move(options);
    call->core.options = &call->options;
    return call;
}

void call_pipeline::launch(std::shared_ptr<call_state> call, completion_fn done) {
    call->done = std::move(done);
    // One clock reading for the steps that follow each other without waiting: open, admit,
    // enter and the attempt's start (as on the inline path).
    const auto now = clock_.now();
    open(call->core, now);
    do_admit(call, now);
}

void call_pipeline::do_admit(const std::shared_ptr<call_state>& call, clock::time_point now) {
    circuit_breaker::admission adm;
    if (auto refused = admit(call->core, call->caller, adm, now)) {
        do_finish(call, std::move(*refused), now);
        return;
    }
    ++call->core.attempts;
    do_enter(call, adm, now);
}

void call_pipeline::do_enter(const std::shared_ptr<call_state>& call, const circuit_breaker::admission& adm,
                             clock::time_point now) {
    auto& bulkhead = *call->core.slot->bulkhead;
    if (bulkhead.try_enter()) {
        do_run(call, adm, now);
        return;
    }
    // The queue holds the call: nothing else may while it waits for a slot.
    switch (bulkhead.acquire([this, call, adm] { return on_slot_free(call, adm); })) {
    case bulkhead::admission::entered: do_run(call, adm, now); break;
    case bulkhead::admission::queued: break;  // on_slot_free() runs when a slot frees
    case bulkhead::admission::rejected: do_finish(call, refuse_entry(call->core, adm), now); break;
    }
}

bool call_pipeline::on_slot_free(const std::shared_ptr<call_state>& call, const circuit_breaker::admission& adm) {
    if (call->finished.load()) return false;
    do_run(call, adm, clock_.now());  // checks the deadline, which may have passed in the queue
    return true;
}

void call_pipeline::do_run(const std::shared_ptr<call_state>& call, const circuit_breaker::admission& adm,
                           clock::time_point now) {
    auto& core = call->core;
    auto& slot = *core.slot;
    const auto attempt_deadline = core.attempt_deadline(now);
    if (now >= attempt_deadline) {
        slot.bulkhead->release();
        do_settle(call, adm, leave_queue(core, adm), true, now);
        return;
    }
    auto attempt = std::make_shared<attempt_state>(call, adm, core.optional_deadline(attempt_deadline), clock_, now);
    registry_.enter(slot);  // the plugin call itself, released when it really returns
    if (attempt_deadline != clock::time_point::max()) {
        std::lock_guard lock(attempt->timer_mutex);
        attempt->timer = timers_.schedule(attempt_deadline, [this, attempt] { on_attempt_timeout(attempt); });
    }
    if (slot.strand)
        boost::asio::post(*slot.strand, [this, attempt] { on_worker(attempt); });
    else
        boost::asio::post(pool_, [this, attempt] { on_worker(attempt); });
}

void call_pipeline::on_worker(const std::shared_ptr<attempt_state>& attempt) {
    auto& core = attempt->call->core;
    auto& slot = *core.slot;
    const auto started = clock_.now();
    attempt->started.store(started, std::memory_order_relaxed);
    call_result r = attempt->control.cancelled() ? call_result(errors::cancelled_before_plugin())
                                                 : invoke(core, attempt->call->arguments, attempt->control);
    const auto ended = clock_.now();
    slot.bulkhead->release();
    if (attempt->decided.exchange(true)) {
        // Abandoned earlier: the caller has its answer; only the accounting is left.
        telemetry_.abandoned_returned(core, r, started, ended);
    } else {
        {
            std::lock_guard lock(attempt->timer_mutex);
            if (attempt->timer) timers_.cancel(*attempt->timer);
        }
        telemetry_.attempt_finished(core, r, started, ended);
        do_settle(attempt->call, attempt->admission, std::move(r), false, ended);
    }
    registry_.release(slot);
}

void call_pipeline::on_attempt_timeout(const std::shared_ptr<attempt_state>& attempt) {
    if (attempt->decided.exchange(true)) return;
    // The plugin call cannot be killed: tell it to stop, answer the caller now, and keep the
    // bulkhead slot until the plugin really returns.
    attempt->control.cancel();
    auto& core = attempt->call->core;
    if (core.breaker) core.breaker->on_abandoned(attempt->admission);
    tool_error e = errors::attempt_timed_out(core);
    telemetry_.attempt_timed_out(core, e);
    const auto now = clock_.now();
    call_result r(std::move(e));
    telemetry_.attempt_finished(core, r, attempt->started.load(std::memory_order_relaxed), now);
    do_settle(attempt->call, attempt->admission, std::move(r), true, now);
}

void call_pipeline::do_settle(const std::shared_ptr<call_state>& call, const circuit_breaker::admission& adm,
                              call_result result, bool breaker_told, clock::time_point ended) {
    const auto plan = settle(call->core, call->caller, adm, result, breaker_told, ended);
    if (plan.retry)
        do_retry(call, plan.at);
    else
        do_finish(call, std::move(result), ended);
}

void call_pipeline::do_retry(const std::shared_ptr<call_state>& call, clock::time_point at) {
    auto& slot = *call->core.slot;
    std::lock_guard lock(slot.retry_mutex);
    // Checked under the lock end_waiting_retries() takes after the tool is marked stopping, so
    // a retry is either seen and ended there, or not scheduled at all.
    if (const auto state = slot.state.load(); state != tool_state::ready && state != tool_state::draining) {
        do_finish(call, errors::shut_down_before_retry(slot), clock_.now());
        return;
    }
    auto id = timers_.schedule(at, [this, call] { on_retry_timer(call); });
    slot.waiting_retries.emplace(id, call);
}

void call_pipeline::on_retry_timer(const std::shared_ptr<call_state>& call) {
    {
        auto& slot = *call->core.slot;
        std::lock_guard lock(slot.retry_mutex);
        // Gone when end_waiting_retries() took it: then the call was already ended there.
        auto it = std::find_if(slot.waiting_retries.begin(), slot.waiting_retries.end(),
                               [&](const auto& w) { return w.second == call; });
        if (it == slot.waiting_retries.end()) return;
        slot.waiting_retries.erase(it);
    }
    do_admit(call, clock_.now());
}

void call_pipeline::do_finish(const std::shared_ptr<call_state>& call, call_result result, clock::time_point now) {
    if (call->finished.exchange(true)) return;
    telemetry_.end(call->core, result, now);
    auto done = std::move(call->done);
    registry_.release(*call->core.slot);
    done(std::move(result));
}

void call_pipeline::end_waiting_retries(tool_slot& slot) {
    std::vector<std::shared_ptr<call_state>> ended;
    {
        std::lock_guard lock(slot.retry_mutex);
        for (auto it = slot.waiting_retries.begin(); it != slot.waiting_retries.end();) {
            if (timers_.cancel(it->first)) {
                ended.push_back(std::move(it->second));
                it = slot.waiting_retries.erase(it);
            } else {
                ++it;  // firing right now: do_admit() will see the tool stopping
            }
        }
    }
    const auto now = clock_.now();
    for (auto& c : ended) do_finish(c, errors::shut_down_before_retry(slot), now);
}

// =========================================================================== the inline loop

call_result call_pipeline::call_inline(tool_slot& slot, const operation_descriptor* op, const json::value& arguments,
                                       std::string_view arguments_text, const call_options& options,
                                       const call_control* parent, uint32_t nesting) {
    if (slot.strand) return call_through_strand(slot, op, arguments, options, parent, nesting);
    // Counted in this thread's shard: no locked instruction (sharded_count.hpp).
    registry_.enter(slot);
    struct in_flight_guard {
        tool_registry& registry;
        tool_slot& slot;
        bool held = true;
        void release() {
            if (std::exchange(held, false)) registry.release(slot);
        }
        ~in_flight_guard() { release(); }
    } guard{registry_, slot};
    if (auto refused = check(slot, op, arguments)) {
        // A generation replaced (or a tool removed) since the caller resolved it: its calls go on
        // to the new one. Not counted here any more, so that the old one drains.
        if (!slot.retired.load(std::memory_order_acquire)) return std::move(*refused);
        guard.release();
        return call_successor(slot, op, arguments, arguments_text, options, parent, nesting);
    }
    char small[512];
    std::string large;
    // A nested call's text was already checked to parse.
    const std::string_view args_text =
        arguments_text.empty() ? serialize_arguments(arguments, small, large) : arguments_text;

    call_core core;
    core.target(slot, op);
    core.options = &options;
    core.nesting = nesting;
    // One control for the whole call, its deadline moved for each attempt: the parent's
    // cancellation (for nested calls; non-owning, the parent outlives this blocking call) and
    // progress reports.
    call_control caller(
        std::nullopt, clock_,
        parent ? std::shared_ptr<const call_control>(std::shared_ptr<const call_control>(), parent) : nullptr);
    if (options.on_progress) caller.set_progress_handler(options.on_progress);
    if (options.peer) caller.set_peer(options.peer);
    // One clock reading per step: the call's start is also the first attempt's admission and start.
    clock::time_point now = clock_.now();
    open(core, now);
    for (;;) {
        circuit_breaker::admission adm;
        if (auto refused = admit(core, caller, adm, now)) {
            call_result r(std::move(*refused));
            telemetry_.end(core, r, now);
            return r;
        }
        ++core.attempts;
        if (!slot.bulkhead->try_enter()) {
            if (auto refused = wait_for_bulkhead(core, caller, adm)) {
                call_result r(std::move(*refused));
                telemetry_.end(core, r, clock_.now());
                return r;
            }
            now = clock_.now();
        }
        caller.set_deadline(core.optional_deadline(core.attempt_deadline(now)));
        call_result r = invoke(core, args_text, caller);
        const auto ended = clock_.now();
        slot.bulkhead->release();
        telemetry_.attempt_finished(core, r, now, ended);
        const auto plan = settle(core, caller, adm, r, false, ended);
        if (!plan.retry) {
            telemetry_.end(core, r, ended);
            return r;
        }
        if (!wait_for_retry(plan.at, caller)) {
            telemetry_.end(core, r, clock_.now());
            return r;
        }
        now = clock_.now();
    }
}

call_result call_pipeline::call_successor(const tool_slot& retired, const operation_descriptor* op,
                                          const json::value& arguments, std::string_view arguments_text,
                                          const call_options& options, const call_control* parent, uint32_t nesting) {
    // The successor is kept alive by the retired slot, which the caller holds; a removed tool's
    // name may have come back since (a file moved out and in again).
    std::shared_ptr<tool_slot> next = retired.successor;
    if (!next) next = registry_.find(retired.name);
    if (!next) return errors::no_such_tool(retired.name);
    const auto* next_op = next->descriptor().find_operation(op->name);
    if (next_op == nullptr) return errors::no_such_operation(next->descriptor(), op->name);
    return call_inline(*next, next_op, arguments, arguments_text, options, parent, nesting);
}

std::optional<tool_error> call_pipeline::wait_for_bulkhead(call_core& core, const call_control& caller,
                                                           const circuit_breaker::admission& adm) {
    auto wait = std::make_shared<blocking_wait>();
    switch (core.slot->bulkhead->acquire([wait] { return wait->signal(); })) {
    case bulkhead::admission::entered: return std::nullopt;
    case bulkhead::admission::rejected: return refuse_entry(core, adm);
    case bulkhead::admission::queued: break;
    }
    if (wait->wait([&] { return caller.cancel_requested() || clock_.now() >= core.deadline; })) return std::nullopt;
    return leave_queue(core, adm);
}

bool call_pipeline::wait_for_retry(clock::time_point at, const call_control& caller) {
    // On the timer service, so that a virtual clock drives inline retries in tests too.
    auto wait = std::make_shared<blocking_wait>();
    auto id = timers_.schedule(at, [wait] { wait->signal(); });
    if (wait->wait([&] { return caller.cancel_requested() || registry_.closed(); })) return true;
    timers_.cancel(id);
    return false;
}

// A tool that is not thread-safe: its calls must not overlap, so this one goes through its
// strand like every other call, and the caller waits for it.
call_result call_pipeline::call_through_strand(tool_slot& slot, const operation_descriptor* op,
                                               const json::value& arguments, const call_options& options,
                                               const call_control* parent, uint32_t nesting) {
    if (pool_.running_in_this_thread() && nesting == 0) return errors::strand_from_worker(slot);
    if (slot.strand->running_in_this_thread()) return errors::strand_reentered(slot);
    call_options copy = options;
    if (parent && parent->deadline() && (!copy.deadline || *parent->deadline() < *copy.deadline))
        copy.deadline = *parent->deadline();
    auto prepared = prepare(slot.name, op->name, arguments, std::move(copy));
    if (!prepared) return std::move(prepared).error();
    struct outcome {
        blocking_wait wait;
        std::optional<call_result> result;
    };
    auto out = std::make_shared<outcome>();
    launch(std::move(*prepared), completion_fn([out](call_result r) {
               out->result = std::move(r);
               out->wait.signal();
           }));
    out->wait.wait([] { return false; });
    return std::move(*out->result);
}

}  // namespace toolhost::detail
