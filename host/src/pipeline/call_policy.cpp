#include <toolhost/call_policy.hpp>

#include <toolhost/json_text.hpp>

#include <initializer_list>

namespace toolhost {

namespace {

namespace json = boost::json;
using problems_t = std::vector<std::pair<std::string, std::string>>;

std::string shown(const json::value& v) { return toolhost::json_text(v); }

// Reads one resilience object; each reader records (pointer, message) and leaves the target
// alone on a bad value.
class reader {
public:
    explicit reader(problems_t& problems) : problems_(problems) {}

    void keys(const std::string& at, const json::object& o, std::initializer_list<std::string_view> allowed) {
        for (const auto& m : o) {
            bool known = false;
            for (auto a : allowed) known = known || a == m.key();
            if (!known) {
                std::string list;
                for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
                fail(at + "/" + std::string(m.key()),
                     "unknown key '" + std::string(m.key()) + "' (expected one of: " + list + ")");
            }
        }
    }
    const json::object* object(const std::string& at, const json::object& o, std::string_view key) {
        auto* v = o.if_contains(key);
        if (!v) return nullptr;
        if (!v->is_object()) {
            fail(at + "/" + std::string(key), "expected an object, got " + shown(*v));
            return nullptr;
        }
        return &v->get_object();
    }
    template <class T>
    void integer(const std::string& at, const json::object& o, std::string_view key, T& out, int64_t min, int64_t max) {
        auto* v = o.if_contains(key);
        if (!v) return;
        if (v->is_int64() && v->get_int64() >= min && v->get_int64() <= max) {
            out = static_cast<T>(v->get_int64());
        } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(max)) {
            out = static_cast<T>(v->get_uint64());
        } else {
            fail(at + "/" + std::string(key), "expected an integer from " + std::to_string(min) + " to " +
                                                  std::to_string(max) + ", got " + shown(*v));
        }
    }
    void millis(const std::string& at, const json::object& o, std::string_view key, std::chrono::milliseconds& out) {
        int64_t ms = out.count();
        integer(at, o, key, ms, 0, int64_t(366) * 24 * 3600 * 1000);
        out = std::chrono::milliseconds(ms);
    }
    // A duration that may also be null ("no deadline").
    void optional_millis(const std::string& at, const json::object& o, std::string_view key,
                         std::optional<std::chrono::milliseconds>& out) {
        auto* v = o.if_contains(key);
        if (!v) return;
        if (v->is_null()) {
            out.reset();
            return;
        }
        std::chrono::milliseconds ms = out.value_or(std::chrono::milliseconds(0));
        int64_t before = ms.count();
        int64_t value = before;
        integer(at, o, key, value, 1, int64_t(366) * 24 * 3600 * 1000);
        out = std::chrono::milliseconds(value);
    }
    void number(const std::string& at, const json::object& o, std::string_view key, double& out, double min,
                double max) {
        auto* v = o.if_contains(key);
        if (!v) return;
        if (v->is_number() && v->to_number<double>() >= min && v->to_number<double>() <= max) {
            out = v->to_number<double>();
        } else {
            fail(at + "/" + std::string(key), "expected a number from " + shown(json::value(min)) + " to " +
                                                  shown(json::value(max)) + ", got " + shown(*v));
        }
    }
    void boolean(const std::string& at, const json::object& o, std::string_view key, bool& out) {
        auto* v = o.if_contains(key);
        if (!v) return;
        if (v->is_bool())
            out = v->get_bool();
        else
            fail(at + "/" + std::string(key), "expected true or false, got " + shown(*v));
    }
    void codes(const std::string& at, const json::object& o, std::string_view key, std::vector<status_code>& out) {
        auto* v = o.if_contains(key);
        if (!v) return;
        if (!v->is_array()) {
            fail(at + "/" + std::string(key),
                 "expected an array of status names such as \"UNAVAILABLE\", got " + shown(*v));
            return;
        }
        std::vector<status_code> result;
        const auto& a = v->get_array();
        for (std::size_t i = 0; i < a.size(); ++i) {
            std::optional<status_code> c;
            if (a[i].is_string()) c = parse_status_name(a[i].get_string());
            if (!c) {
                fail(at + "/" + std::string(key) + "/" + std::to_string(i),
                     "expected a status name such as \"UNAVAILABLE\", got " + shown(a[i]));
                return;
            }
            result.push_back(*c);
        }
        out = std::move(result);
    }
    void fail(std::string pointer, std::string message) {
        problems_.emplace_back(std::move(pointer), std::move(message));
    }

private:
    problems_t& problems_;
};

}  // namespace

problems_t apply_resilience(call_policy& p, const json::object& o) {
    problems_t problems;
    reader r(problems);
    r.keys("", o, {"timeout_ms", "attempt_timeout_ms", "idempotent", "retry", "circuit_breaker", "bulkhead"});
    r.optional_millis("", o, "timeout_ms", p.timeout);
    r.optional_millis("", o, "attempt_timeout_ms", p.attempt_timeout);
    if (auto* v = o.if_contains("idempotent")) {
        bool b = false;
        r.boolean("", o, "idempotent", b);
        if (v->is_bool()) p.idempotent = b;
    }
    if (const auto* retry = r.object("", o, "retry")) {
        const std::string at = "/retry";
        r.keys(at, *retry,
               {"max_attempts", "initial_backoff_ms", "multiplier", "max_backoff_ms", "jitter", "retry_on",
                "budget_ratio", "budget_min_per_second"});
        r.integer(at, *retry, "max_attempts", p.retry.max_attempts, 1, 100);
        r.millis(at, *retry, "initial_backoff_ms", p.retry.initial_backoff);
        r.number(at, *retry, "multiplier", p.retry.multiplier, 1.0, 100.0);
        r.millis(at, *retry, "max_backoff_ms", p.retry.max_backoff);
        if (auto* j = retry->if_contains("jitter")) {
            if (*j == "none")
                p.retry.jitter = backoff_jitter::none;
            else if (*j == "full")
                p.retry.jitter = backoff_jitter::full;
            else if (*j == "equal")
                p.retry.jitter = backoff_jitter::equal;
            else
                r.fail(at + "/jitter", "expected \"none\", \"full\" or \"equal\", got " + shown(*j));
        }
        r.codes(at, *retry, "retry_on", p.retry.retry_on);
        r.number(at, *retry, "budget_ratio", p.retry_budget_ratio, 0.0, 1000.0);
        r.integer(at, *retry, "budget_min_per_second", p.retry_budget_min_per_second, 0, 1000000);
    }
    if (const auto* b = r.object("", o, "circuit_breaker")) {
        const std::string at = "/circuit_breaker";
        r.keys(at, *b,
               {"enabled", "per_operation", "consecutive_failures", "failure_rate", "minimum_calls", "window_ms",
                "open_ms", "open_multiplier", "max_open_ms", "probe_timeout_ms", "failure_codes"});
        r.boolean(at, *b, "enabled", p.breaker_enabled);
        r.boolean(at, *b, "per_operation", p.breaker_per_operation);
        r.integer(at, *b, "consecutive_failures", p.breaker.consecutive_failures, 0, 1000000);
        r.number(at, *b, "failure_rate", p.breaker.failure_rate, 0.0, 1.0);
        r.integer(at, *b, "minimum_calls", p.breaker.minimum_calls, 0, 1000000);
        r.millis(at, *b, "window_ms", p.breaker.window);
        r.millis(at, *b, "open_ms", p.breaker.open_duration);
        r.number(at, *b, "open_multiplier", p.breaker.open_multiplier, 1.0, 100.0);
        r.millis(at, *b, "max_open_ms", p.breaker.max_open_duration);
        r.millis(at, *b, "probe_timeout_ms", p.breaker.probe_timeout);
        r.codes(at, *b, "failure_codes", p.breaker.failure_codes);
    }
    if (const auto* b = r.object("", o, "bulkhead")) {
        const std::string at = "/bulkhead";
        r.keys(at, *b, {"max_concurrent", "max_queue"});
        r.integer(at, *b, "max_concurrent", p.bulkhead.max_concurrent, 1, 1000000);
        r.integer(at, *b, "max_queue", p.bulkhead.max_queue, 0, 10000000);
    }
    return problems;
}

std::string validate(const call_policy& p) {
    std::string problems;
    auto add = [&](const std::string& line) {
        if (!problems.empty()) problems += "; ";
        problems += line;
    };
    if (auto r = validate(p.retry); !r.empty()) add(r);
    if (p.timeout && p.timeout->count() <= 0) add("timeout: must be positive");
    if (p.attempt_timeout && p.attempt_timeout->count() <= 0) add("attempt_timeout: must be positive");
    if (p.bulkhead.max_concurrent == 0) add("bulkhead.max_concurrent: must be at least 1");
    if (p.retry_budget_ratio < 0) add("retry_budget_ratio: must not be negative");
    // What circuit_breaker's constructor requires, said in the configuration's terms.
    const auto& b = p.breaker;
    if (!(b.failure_rate > 0.0 && b.failure_rate <= 1.0))
        add("circuit_breaker.failure_rate: must be above 0 and at most 1");
    for (const auto& [name, d] :
         {std::pair{"window_ms", b.window}, std::pair{"open_ms", b.open_duration},
          std::pair{"max_open_ms", b.max_open_duration}, std::pair{"probe_timeout_ms", b.probe_timeout}})
        if (d.count() <= 0) add(std::string("circuit_breaker.") + name + ": must be positive");
    if (b.max_open_duration < b.open_duration)
        add("circuit_breaker.max_open_ms (" + std::to_string(b.max_open_duration.count()) + " ms) is below open_ms (" +
            std::to_string(b.open_duration.count()) +
            " ms): an open period starts at open_ms and grows up to max_open_ms; raise max_open_ms");
    if (p.timeout && p.attempt_timeout) {
        auto worst = worst_case_total(p.retry, *p.attempt_timeout);
        if (worst > *p.timeout)
            add("attempts x attempt_timeout + backoff (" +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(worst).count()) +
                " ms) does not fit in timeout (" + std::to_string(p.timeout->count()) +
                " ms): the last attempts could never run; lower max_attempts or attempt_timeout, or raise timeout");
    }
    return problems;
}

}  // namespace toolhost
