// fixture_testkit: the test suites' Swiss-army plugin, written with toolhost/plugin.hpp.
//
// Two tools from one class template: "testkit" (not thread-safe: the host must serialize its
// calls) and "testkit_mt" (thread-safe). Each operation exercises one piece of the host: errors
// and exceptions at the boundary, cancellation, deadlines, concurrency limits and strands,
// progress, logging and the call context. The operations and their JSON shapes are listed in
// tests/plugins/README.md.
//
// Lifecycle recording: when the environment variable TOOLHOST_TEST_LIFECYCLE_LOG names a file,
// every instance appends "create|initialize|cleanup|destroy <tool> <label>" lines to it.
//
// Boost.JSON is compiled into this library header-only (this is the one source file that
// includes boost/json/src.hpp) and hidden by the version script, so the plugin depends on no
// Boost library of the host's.
#include <boost/json/src.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include <toolhost/plugin.hpp>

namespace {

namespace json = boost::json;
namespace sdk = toolhost::sdk;
using std::chrono::steady_clock;
using namespace std::chrono_literals;

// ==================================================================== lifecycle recording

std::mutex lifecycle_mutex;

// Appends "<event> <tool> <label>\n" to $TOOLHOST_TEST_LIFECYCLE_LOG, if set. One open, one
// write, one close per line (O_APPEND), under a mutex, so lines never interleave and a test can
// read the file at any moment.
void record_lifecycle(std::string_view event, std::string_view tool, std::string_view label) noexcept {
    try {
        const char* path = std::getenv("TOOLHOST_TEST_LIFECYCLE_LOG");
        if (path == nullptr || *path == '\0') return;
        std::string line;
        line.append(event).append(" ").append(tool).append(" ").append(label).append("\n");
        std::lock_guard lock(lifecycle_mutex);
        const int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) return;
        const char* p = line.data();
        size_t left = line.size();
        while (left > 0) {
            const ssize_t n = ::write(fd, p, left);
            if (n <= 0) break;
            p += n;
            left -= static_cast<size_t>(n);
        }
        ::close(fd);
    } catch (...) {
        // Recording is best effort; a test that needs it will notice the missing line.
    }
}

// ======================================================================== argument access

[[noreturn]] void bad_argument(std::string_view field, std::string_view what) {
    std::string message(field);
    message.append(": ").append(what);
    throw sdk::error(sdk::status::invalid_argument, message);
}

json::object parse_object(std::string_view text) {
    json::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) bad_argument("arguments", "not valid JSON: " + ec.message());
    if (!v.is_object()) bad_argument("arguments", "must be a JSON object");
    return std::move(v.as_object());
}

std::optional<int64_t> optional_int(const json::object& args, std::string_view field) {
    const json::value* v = args.if_contains(field);
    if (v == nullptr) return std::nullopt;
    json::error_code ec;
    const auto n = v->to_number<int64_t>(ec);
    if (ec) bad_argument(field, "must be an integer");
    return n;
}

int64_t required_int(const json::object& args, std::string_view field) {
    auto n = optional_int(args, field);
    if (!n) bad_argument(field, "required field is missing");
    return *n;
}

std::string_view required_string(const json::object& args, std::string_view field) {
    const json::value* v = args.if_contains(field);
    if (v == nullptr) bad_argument(field, "required field is missing");
    if (!v->is_string()) bad_argument(field, "must be a string");
    return v->get_string();
}

std::string ms_text(steady_clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// ======================================================================== status names

constexpr std::string_view status_names[] = {
    "OK",        "CANCELLED",          "UNKNOWN",           "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",       "DATA_LOSS",
    "UNAUTHENTICATED"};

// ====================================================================== the tool template

constexpr const char* config_schema =
    R"({"type":"object","properties":{"fail_init":{"type":"boolean"},"label":{"type":"string"}},)"
    R"("additionalProperties":false})";

constexpr const char* fail_schema =
    R"({"type":"object","properties":{"code":{"type":["string","integer"]},)"
    R"("message":{"type":"string"},"retry_after_ms":{"type":"integer","minimum":0},)"
    R"("succeed_on_attempt":{"type":"integer","minimum":1}},)"
    R"("required":["code","message"],"additionalProperties":false})";

constexpr const char* no_arguments = R"({"type":"object","additionalProperties":false})";

template <bool ThreadSafe>
class testkit_tool {
public:
    static constexpr std::string_view tool_name = ThreadSafe ? "testkit_mt" : "testkit";

    static sdk::tool_info describe() {
        using namespace std::string_literals;
        constexpr uint64_t idempotent = TOOLHOST_OPERATION_IDEMPOTENT;
        constexpr uint64_t read_only = TOOLHOST_OPERATION_READ_ONLY;
        constexpr uint64_t cancellable = TOOLHOST_OPERATION_CANCELLABLE;
        return {
            .name = std::string(tool_name),
            .version = "1.0.0",
            .description = ThreadSafe ? "Test fixture: every host feature on demand (thread-safe)."
                                      : "Test fixture: every host feature on demand (serialized).",
            .config_schema = config_schema,
            .thread_safe = ThreadSafe,
            .operations = {
                {.name = "echo",
                 .description = "Returns the arguments text unchanged.",
                 .input_schema = R"({"type":"object"})",
                 .output_schema = {},
                 .flags = idempotent | read_only},
                {.name = "throw",
                 .description = "Throws std::runtime_error(\"boom from testkit\").",
                 .input_schema = no_arguments,
                 .output_schema = {},
                 .flags = 0},
                {.name = "fail",
                 .description = "Fails with the given status (a name such as \"NOT_FOUND\", or a "
                                "raw integer code), message and optional retry-after hint; from "
                                "attempt succeed_on_attempt on it succeeds instead. Idempotent, "
                                "so the host retries it.",
                 .input_schema = fail_schema,
                 .output_schema = {},
                 .flags = idempotent},
                {.name = "fail_unsafe",
                 .description = "Like fail, but not idempotent: the host must not retry it.",
                 .input_schema = fail_schema,
                 .output_schema = {},
                 .flags = 0},
                {.name = "sleep",
                 .description = "Sleeps in 1 ms steps, stopping early when cancelled.",
                 .input_schema =
                     R"({"type":"object","properties":{"ms":{"type":"integer","minimum":0}},)"
                     R"("required":["ms"],"additionalProperties":false})",
                 .output_schema = {},
                 .flags = read_only | cancellable},
                {.name = "wait_cancel",
                 .description = "Waits (up to 60 s) until the call is cancelled, then fails with "
                                "CANCELLED.",
                 .input_schema = no_arguments,
                 .output_schema = {},
                 .flags = cancellable},
                {.name = "overlap",
                 .description = "Counts concurrent calls of this instance while sleeping `us` "
                                "microseconds; returns the highest count seen so far.",
                 .input_schema =
                     R"({"type":"object","properties":{"us":{"type":"integer","minimum":0}},)"
                     R"("additionalProperties":false})",
                 .output_schema = {},
                 .flags = 0},
                {.name = "stats",
                 .description = "Returns this instance's highest overlap and its number of calls "
                                "(this one included).",
                 .input_schema = no_arguments,
                 .output_schema = {},
                 .flags = read_only},
                {.name = "rendezvous",
                 .description = "Waits until `n` calls are inside rendezvous at once, or until "
                                "timeout_ms (default 5000) passes.",
                 .input_schema =
                     R"({"type":"object","properties":{"n":{"type":"integer","minimum":1},)"
                     R"("timeout_ms":{"type":"integer","minimum":0}},)"
                     R"("required":["n"],"additionalProperties":false})",
                 .output_schema = {},
                 .flags = 0},
                {.name = "context",
                 .description = "Returns what the plugin sees of the call context.",
                 .input_schema = no_arguments,
                 .output_schema = {},
                 .flags = idempotent | read_only},
                {.name = "progress",
                 .description = "Reports progress 1..steps of steps.",
                 .input_schema =
                     R"({"type":"object","properties":{"steps":{"type":"integer","minimum":0}},)"
                     R"("required":["steps"],"additionalProperties":false})",
                 .output_schema = {},
                 .flags = 0},
                {.name = "call_tool",
                 .description = "Calls `operation` of `tool` with `arguments` through the host "
                                "(toolhost.tool_caller/1) and returns {status, result|error}.",
                 .input_schema =
                     R"({"type":"object","properties":{"tool":{"type":"string"},)"
                     R"("operation":{"type":"string"},"arguments":{"type":"object"}},)"
                     R"("required":["tool","operation"],"additionalProperties":false})",
                 .output_schema = {},
                 .flags = 0},
                {.name = "print",
                 .description = "Writes `text` and a newline to the process's stdout (as a careless plugin would).",
                 .input_schema =
                     R"({"type":"object","properties":{"text":{"type":"string"}},"required":["text"],)"
                     R"("additionalProperties":false})",
                 .output_schema = {},
                 .flags = 0},
                {.name = "ask_client",
                 .description = "Sends `method` with `params` to the call's client (toolhost.client/1) "
                                "and returns {status, result|error}.",
                 .input_schema =
                     R"({"type":"object","properties":{"method":{"type":"string"},"params":{"type":"object"}},)"
                     R"("required":["method"],"additionalProperties":false})",
                 .output_schema = {},
                 .flags = 0},
                {.name = "log",
                 .description = "Logs the message through the call and through the instance host.",
                 .input_schema =
                     R"({"type":"object","properties":{"level":{"type":"string","enum":)"
                     R"(["trace","debug","info","warning","error"]},"message":{"type":"string"}},)"
                     R"("required":["level","message"],"additionalProperties":false})",
                 .output_schema = {},
                 .flags = 0},
            },
        };
    }

    explicit testkit_tool(sdk::host host) : host_(host) { record_lifecycle("create", tool_name, label_); }

    ~testkit_tool() { record_lifecycle("destroy", tool_name, label_); }

    testkit_tool(const testkit_tool&) = delete;
    testkit_tool& operator=(const testkit_tool&) = delete;

    void initialize(sdk::init_context& init) {
        const json::object config = parse_object(init.config());
        if (const json::value* label = config.if_contains("label"); label && label->is_string())
            label_ = std::string(label->get_string());
        bool fail_init = false;
        if (const json::value* f = config.if_contains("fail_init"); f && f->is_bool())
            fail_init = f->get_bool();
        record_lifecycle("initialize", tool_name, label_);
        if (fail_init) throw sdk::error(sdk::status::failed_precondition, "fail_init was set");
    }

    void cleanup() { record_lifecycle("cleanup", tool_name, label_); }

    sdk::result invoke(sdk::call_context& call) {
        calls_.fetch_add(1, std::memory_order_relaxed);
        const std::string_view op = call.operation();
        if (op == "echo") return sdk::result::ok(std::string(call.arguments()));
        const json::object args = parse_object(call.arguments());
        if (op == "throw") throw std::runtime_error("boom from testkit");
        if (op == "fail" || op == "fail_unsafe") return do_fail(call, args);
        if (op == "sleep") return do_sleep(call, args);
        if (op == "wait_cancel") return do_wait_cancel(call);
        if (op == "overlap") return do_overlap(args);
        if (op == "stats") return do_stats();
        if (op == "rendezvous") return do_rendezvous(call, args);
        if (op == "context") return do_context(call);
        if (op == "progress") return do_progress(call, args);
        if (op == "log") return do_log(call, args);
        if (op == "call_tool") return do_call_tool(call, args);
        if (op == "ask_client") return do_ask_client(call, args);
        if (op == "print") {
            const std::string line = std::string(required_string(args, "text")) + "\n";
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fflush(stdout);
            return ok({});
        }
        return sdk::result::fail(sdk::status::unimplemented,
                                 std::string(tool_name) + " has no operation \"" + std::string(op) + "\"");
    }

private:
    static sdk::result ok(const json::object& o) { return sdk::result::ok(json::serialize(o)); }

    static sdk::result do_fail(sdk::call_context& call, const json::object& args) {
        if (auto from = optional_int(args, "succeed_on_attempt"); from && call.attempt() >= *from)
            return ok({{"attempt", call.attempt()}});
        sdk::status code = sdk::status::unknown;
        const json::value* c = args.if_contains("code");
        if (c != nullptr && c->is_string()) {
            const auto it = std::find(std::begin(status_names), std::end(status_names), c->get_string());
            if (it == std::end(status_names) || it == std::begin(status_names))
                bad_argument("code", "must name a status other than OK, e.g. \"NOT_FOUND\"");
            code = static_cast<sdk::status>(it - std::begin(status_names));
        } else {
            // A raw integer code (even one outside 0..16, to test how the host treats it) is
            // returned as is, bypassing the helper's checks. 0 would mean success: refused.
            const int64_t raw = required_int(args, "code");
            if (raw == 0 || raw < std::numeric_limits<int32_t>::min() ||
                raw > std::numeric_limits<int32_t>::max())
                bad_argument("code", "must be a non-zero 32-bit status code");
            code = static_cast<sdk::status>(static_cast<toolhost_status_t>(raw));
        }
        const std::string_view message = required_string(args, "message");
        if (auto retry = optional_int(args, "retry_after_ms"))
            call.retry_after(std::chrono::milliseconds(*retry));
        return sdk::result::fail(code, std::string(message));
    }

    static sdk::result do_sleep(sdk::call_context& call, const json::object& args) {
        const int64_t ms = required_int(args, "ms");
        if (ms < 0) bad_argument("ms", "must not be negative");
        const auto start = steady_clock::now();
        const auto until = start + std::chrono::milliseconds(ms);
        bool cancelled = false;
        while (steady_clock::now() < until) {
            if (call.cancelled()) {
                cancelled = true;
                break;
            }
            std::this_thread::sleep_for(1ms);
        }
        const int64_t slept =
            cancelled ? std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - start).count()
                      : ms;
        return ok({{"slept_ms", slept}, {"cancelled", cancelled}});
    }

    static sdk::result do_wait_cancel(sdk::call_context& call) {
        const auto start = steady_clock::now();
        const auto give_up = start + 60s;
        while (!call.cancelled()) {
            if (steady_clock::now() >= give_up)
                return sdk::result::fail(sdk::status::deadline_exceeded,
                                         "wait_cancel: not cancelled within 60000 ms");
            std::this_thread::sleep_for(1ms);
        }
        return sdk::result::fail(sdk::status::cancelled,
                                 "cancelled after " + ms_text(steady_clock::now() - start) + " ms");
    }

    sdk::result do_overlap(const json::object& args) {
        const int64_t us = optional_int(args, "us").value_or(200);
        if (us < 0) bad_argument("us", "must not be negative");
        const int64_t now_active = active_.fetch_add(1) + 1;
        int64_t seen = active_max_.load();
        while (now_active > seen && !active_max_.compare_exchange_weak(seen, now_active)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(us));
        active_.fetch_sub(1);
        return ok({{"active_max", active_max_.load()}});
    }

    sdk::result do_stats() const {
        return ok({{"active_max", active_max_.load()},
                   {"calls", static_cast<int64_t>(calls_.load(std::memory_order_relaxed))}});
    }

    sdk::result do_rendezvous(sdk::call_context& call, const json::object& args) {
        const int64_t n = required_int(args, "n");
        const int64_t timeout_ms = optional_int(args, "timeout_ms").value_or(5000);
        if (n < 1) bad_argument("n", "must be at least 1");
        if (timeout_ms < 0) bad_argument("timeout_ms", "must not be negative");
        const auto until = steady_clock::now() + std::chrono::milliseconds(timeout_ms);

        std::unique_lock lock(rendezvous_mutex_);
        // A generation counter, so that a caller who arrives as others leave starts a new round
        // instead of being counted into a round that already met.
        const uint64_t my_round = rendezvous_round_;
        ++rendezvous_inside_;
        bool reached = false;
        if (rendezvous_inside_ >= n) {
            ++rendezvous_round_;
            rendezvous_inside_ = 0;
            reached = true;
            rendezvous_cv_.notify_all();
        } else {
            while (!reached) {
                if (rendezvous_round_ != my_round) {
                    reached = true;
                    break;
                }
                if (steady_clock::now() >= until || call.cancelled()) break;
                // Short waits so that cancellation is noticed too.
                rendezvous_cv_.wait_until(lock, std::min(until, steady_clock::now() + 10ms));
            }
            if (!reached) --rendezvous_inside_;  // still counted in this round: leave it
        }
        return ok({{"reached", reached}});
    }

    static sdk::result do_context(sdk::call_context& call) {
        const auto remaining = call.remaining();
        const bool has_deadline = remaining != std::chrono::nanoseconds::max();
        json::object o;
        o["operation"] = call.operation();
        o["request_id"] = call.request_id();
        o["session_id"] = call.session_id();
        o["traceparent"] = call.traceparent();
        o["attempt"] = call.attempt();
        o["has_deadline"] = has_deadline;
        if (has_deadline)
            o["remaining_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(remaining).count();
        else
            o["remaining_ms"] = nullptr;
        o["cancelled"] = call.cancelled();
        return ok(o);
    }

    static sdk::result do_progress(sdk::call_context& call, const json::object& args) {
        const int64_t steps = required_int(args, "steps");
        if (steps < 0) bad_argument("steps", "must not be negative");
        for (int64_t i = 1; i <= steps; ++i)
            call.progress(static_cast<double>(i), static_cast<double>(steps), "step " + std::to_string(i));
        return ok({{"steps", steps}});
    }

    sdk::result do_log(sdk::call_context& call, const json::object& args) const {
        static constexpr std::pair<std::string_view, sdk::log_level> levels[] = {
            {"trace", sdk::log_level::trace},     {"debug", sdk::log_level::debug},
            {"info", sdk::log_level::info},       {"warning", sdk::log_level::warning},
            {"error", sdk::log_level::error}};
        const std::string_view name = required_string(args, "level");
        const auto it = std::find_if(std::begin(levels), std::end(levels),
                                     [&](const auto& l) { return l.first == name; });
        if (it == std::end(levels)) bad_argument("level", "must be trace, debug, info, warning or error");
        const std::string_view message = required_string(args, "message");
        call.log(it->second, message);
        host_.log(it->second, message);
        return ok({});
    }

    // {status, result | error}: what a host extension answered, as this call's result.
    static sdk::result outcome(const sdk::result& r) {
        json::object o;
        o["status"] = static_cast<int>(r.code());
        if (r.code() == sdk::status::ok)
            o["result"] = json::parse(r.text());
        else
            o["error"] = r.text();
        return ok(o);
    }

    sdk::result do_call_tool(sdk::call_context& call, const json::object& args) const {
        const json::value* arguments = args.if_contains("arguments");
        const std::string text = arguments ? json::serialize(*arguments) : std::string("{}");
        return outcome(host_.call_tool(&call, required_string(args, "tool"), required_string(args, "operation"), text));
    }

    sdk::result do_ask_client(sdk::call_context& call, const json::object& args) const {
        const json::value* params = args.if_contains("params");
        return outcome(host_.ask_client(call, required_string(args, "method"), params ? json::serialize(*params) : ""));
    }

    sdk::host host_;
    std::string label_ = "-";

    std::atomic<uint64_t> calls_{0};
    std::atomic<int64_t> active_{0};
    std::atomic<int64_t> active_max_{0};

    std::mutex rendezvous_mutex_;
    std::condition_variable rendezvous_cv_;
    uint64_t rendezvous_round_ = 0;   // guarded by rendezvous_mutex_
    int64_t rendezvous_inside_ = 0;   // guarded by rendezvous_mutex_
};

using testkit = testkit_tool<false>;
using testkit_mt = testkit_tool<true>;

}  // namespace

TOOLHOST_PLUGIN("testkit", "1.0.0", testkit, testkit_mt)
