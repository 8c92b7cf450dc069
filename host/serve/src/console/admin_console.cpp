#include "console/admin_console.hpp"

#include <toolhost/serve/status_json.hpp>
#include <toolhost/version.hpp>

#include <boost/json/array.hpp>

#include <algorithm>
#include <cmath>

namespace toolhost::serve::detail {

namespace json = boost::json;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t max_message_bytes = 1000;  // a failed call's message, as kept

// At most `n` bytes of `s`, not cutting a UTF-8 sequence.
std::string clip(std::string_view s, std::size_t n) {
    if (s.size() <= n) return std::string(s);
    std::size_t end = n;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    return std::string(s.substr(0, end)) + "…";
}

std::uint64_t minus(std::uint64_t a, std::uint64_t b) noexcept { return a > b ? a - b : 0; }

int64_t unix_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

double seconds(steady::duration d) { return std::chrono::duration<double>(d).count(); }

json::value ms_or_null(double seconds_value) {
    if (seconds_value < 0) return nullptr;
    return seconds_value * 1000.0;
}

std::string percent(double rate) {
    const double p = rate * 100.0;
    char buf[32];
    std::snprintf(buf, sizeof buf, p >= 10 || p == 0 ? "%.0f%%" : "%.1f%%", p);
    return buf;
}

bool is_open(breaker_state s) noexcept {
    return s == breaker_state::open || s == breaker_state::half_open || s == breaker_state::forced_open;
}

// How bad an operation is, worst first; the order of the table.
enum class health { failing, degraded, ok, idle };
constexpr std::string_view health_names[] = {"failing", "degraded", "ok", "idle"};

// Error rates at which an operation is failing, and degraded (with at least this many calls).
constexpr double failing_error_rate = 0.5;
constexpr double degraded_error_rate = 0.01;
constexpr std::uint64_t min_calls_for_rate = 5;

}  // namespace

double histogram_quantile(double q, const std::vector<std::uint64_t>& buckets, const std::vector<double>& bounds) {
    std::uint64_t total = 0;
    for (auto c : buckets) total += c;
    if (total == 0 || buckets.empty()) return -1;
    const double rank = q * static_cast<double>(total);
    std::uint64_t below = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        const std::uint64_t in = buckets[i];
        if (static_cast<double>(below + in) >= rank && in > 0) {
            if (i >= bounds.size()) return bounds.empty() ? -1 : bounds.back();  // +Inf: the last bound
            const double lo = i == 0 ? 0.0 : bounds[i - 1];
            const double hi = bounds[i];
            return lo + (hi - lo) * ((rank - static_cast<double>(below)) / static_cast<double>(in));
        }
        below += in;
    }
    return bounds.empty() ? -1 : bounds.back();
}

admin_console::admin_console(toolhost::host& h, identity id, options o, clocks c)
    : host_(h), identity_(std::move(id)), options_(o), clocks_(std::move(c)), started_wall_(clocks_.wall()),
      started_(clocks_.steady()), bounds_(default_latency_buckets()),
      // Enough for the history and for the window, with the sample that starts each.
      kept_(std::max<std::size_t>(
                options_.history,
                static_cast<std::size_t>(options_.window / std::max(options_.sample_interval, 1s)) + 1) +
            1) {
    samples_.push_back(read());
    subscription_ = host_.subscribe([this](const host_event& e) { on_event(e); });
}

admin_console::~admin_console() { host_.unsubscribe(subscription_); }

admin_console::reading admin_console::read() const {
    reading r;
    r.at = clocks_.steady();
    for (auto& s : host_.operation_statistics()) {
        counts c;
        for (std::size_t code = 0; code < s.calls.size(); ++code) {
            c.calls += s.calls[code];
            if (code != static_cast<std::size_t>(status_code::ok)) c.errors += s.calls[code];
        }
        c.retries = s.retries;
        c.timeouts = s.attempt_timeouts;
        c.short_circuited = s.short_circuited;
        c.buckets = std::move(s.duration_buckets);
        r.ops.emplace(key{std::move(s.tool), std::move(s.operation)}, std::move(c));
    }
    return r;
}

void admin_console::sample() {
    reading r = read();
    std::lock_guard lock(mutex_);
    samples_.push_back(std::move(r));
    while (samples_.size() > kept_) samples_.pop_front();
}

void admin_console::on_event(const host_event& e) {
    if (e.kind != host_event_kind::call_failed) return;
    failed_call f{clocks_.wall(),
                  std::string(e.tool),
                  std::string(e.operation),
                  std::string(status_name(e.status)),
                  clip(e.message, max_message_bytes),
                  clip(e.request_id, 256)};
    std::lock_guard lock(errors_mutex_);
    errors_.push_front(std::move(f));
    if (errors_.size() > options_.max_errors) errors_.pop_back();
}

json::object admin_console::status() const {
    const auto now = clocks_.steady();
    const auto wall = clocks_.wall();
    reading current = read();
    const auto tools = host_.status();
    const auto breakers = host_.circuit_breakers();

    std::map<std::string, const tool_status*, std::less<>> tool_by_name;
    for (const auto& t : tools) tool_by_name.emplace(t.name, &t);
    auto breaker_of = [&](const std::string& tool, const std::string& op) -> const host::breaker_report* {
        const host::breaker_report* own = nullptr;
        for (const auto& b : breakers) {
            if (b.tool != tool) continue;
            if (b.operation == op) return &b;
            if (b.operation.empty()) own = &b;
        }
        return own;
    };

    struct row {
        health h = health::idle;
        double error_rate = 0;
        double per_s = 0;
        json::object o;
    };
    std::vector<row> rows;
    double window_s = 0;
    std::uint64_t all_calls = 0, all_errors = 0;
    {
        std::lock_guard lock(mutex_);
        // The window's start: the newest sample at least `window` old, else the oldest there is.
        const reading* base = &samples_.front();
        for (const auto& s : samples_)
            if (now - s.at >= options_.window) base = &s;
        window_s = std::max(seconds(now - base->at), 1e-3);
        static const counts none;
        auto at = [](const reading& r, const key& k) -> const counts& {
            auto it = r.ops.find(k);
            return it == r.ops.end() ? none : it->second;
        };
        for (const auto& [k, c] : current.ops) {
            const counts& b = at(*base, k);
            row r;
            const std::uint64_t calls = minus(c.calls, b.calls);
            const std::uint64_t errors = minus(c.errors, b.errors);
            const std::uint64_t timeouts = minus(c.timeouts, b.timeouts);
            const std::uint64_t short_circuited = minus(c.short_circuited, b.short_circuited);
            std::vector<std::uint64_t> buckets(c.buckets.size());
            for (std::size_t i = 0; i < buckets.size(); ++i)
                buckets[i] = minus(c.buckets[i], i < b.buckets.size() ? b.buckets[i] : 0);
            all_calls += calls;
            all_errors += errors;
            r.per_s = static_cast<double>(calls) / window_s;
            r.error_rate = calls > 0 ? static_cast<double>(errors) / static_cast<double>(calls) : 0;

            // Health, and why. What the whole tool shares (its state, its worker, its breaker when
            // the operations have none of their own) makes failing or degraded only the operations
            // that were called in the window: the others stay idle with the reason, so that a
            // tool of twenty operations in trouble is one red row, not twenty.
            json::array reasons;
            bool failing = false, degraded = false, unused = false;
            auto shared = [&](bool& flag) -> bool& { return calls > 0 ? flag : unused; };
            const tool_status* t = nullptr;
            if (auto it = tool_by_name.find(k.first); it != tool_by_name.end()) t = it->second;
            if (t != nullptr && t->state == tool_state::failed) {
                shared(failing) = true;
                reasons.emplace_back("tool failed" + (t->error.empty() ? std::string() : ": " + clip(t->error, 200)));
            } else if (t != nullptr && t->state != tool_state::ready) {
                shared(degraded) = true;
                reasons.emplace_back("tool " + std::string(tool_state_name(t->state)));
            }
            if (t != nullptr && t->worker && t->worker->state != "running") {
                shared(degraded) = true;
                reasons.emplace_back("worker " + t->worker->state);
            }
            if (const auto* br = breaker_of(k.first, k.second)) {
                bool& fail_flag = br->operation.empty() ? shared(failing) : failing;
                bool& degrade_flag = br->operation.empty() ? shared(degraded) : degraded;
                switch (br->state.state) {
                case breaker_state::open:
                    fail_flag = true;
                    reasons.emplace_back("circuit breaker open");
                    break;
                case breaker_state::forced_open:
                    fail_flag = true;
                    reasons.emplace_back("circuit breaker forced open");
                    break;
                case breaker_state::half_open:
                    degrade_flag = true;
                    reasons.emplace_back("circuit breaker half-open");
                    break;
                case breaker_state::disabled:
                    degrade_flag = true;
                    reasons.emplace_back("circuit breaker disabled");
                    break;
                case breaker_state::closed: break;
                }
            }
            if (calls >= min_calls_for_rate && r.error_rate >= failing_error_rate) {
                failing = true;
                reasons.emplace_back("error rate " + percent(r.error_rate));
            } else if (errors > 0 && r.error_rate >= degraded_error_rate) {
                degraded = true;
                reasons.emplace_back("error rate " + percent(r.error_rate));
            }
            if (timeouts > 0) {
                degraded = true;
                reasons.emplace_back(std::to_string(timeouts) + (timeouts == 1 ? " timeout" : " timeouts"));
            }
            if (short_circuited > 0) {
                degraded = true;
                reasons.emplace_back(std::to_string(short_circuited) + " short-circuited");
            }
            r.h = failing ? health::failing : degraded ? health::degraded : calls > 0 ? health::ok : health::idle;

            // The history: one point per sample interval, the last one still filling.
            json::array history;
            const std::size_t first = samples_.size() > options_.history ? samples_.size() - options_.history + 1 : 1;
            for (std::size_t i = first; i <= samples_.size(); ++i) {
                const counts& before = at(samples_[i - 1], k);
                const counts& after = i < samples_.size() ? at(samples_[i], k) : c;
                history.push_back(json::object{{"calls", minus(after.calls, before.calls)},
                                               {"errors", minus(after.errors, before.errors)}});
            }

            r.o = {{"tool", k.first},
                   {"operation", k.second},
                   {"health", health_names[static_cast<int>(r.h)]},
                   {"reasons", std::move(reasons)},
                   {"calls", calls},
                   {"errors", errors},
                   {"calls_per_s", r.per_s},
                   {"error_rate", calls > 0 ? json::value(r.error_rate) : json::value(nullptr)},
                   {"p50_ms", ms_or_null(histogram_quantile(0.50, buckets, bounds_))},
                   {"p95_ms", ms_or_null(histogram_quantile(0.95, buckets, bounds_))},
                   {"p99_ms", ms_or_null(histogram_quantile(0.99, buckets, bounds_))},
                   {"in_flight", t != nullptr ? t->in_flight : 0},
                   {"timeouts", timeouts},
                   {"short_circuited", short_circuited},
                   {"retries", minus(c.retries, b.retries)},
                   {"history", std::move(history)}};
            rows.push_back(std::move(r));
        }
    }
    std::stable_sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
        if (a.h != b.h) return a.h < b.h;
        if (a.error_rate != b.error_rate) return a.error_rate > b.error_rate;
        return a.per_s > b.per_s;  // (equal: the map's tool and operation order stays)
    });
    json::array operations;
    for (auto& r : rows) operations.push_back(std::move(r.o));

    json::array tool_list, workers;
    std::size_t ready = 0, failed = 0;
    for (const auto& t : tools) {
        ready += t.state == tool_state::ready;
        failed += t.state == tool_state::failed;
        json::object o{{"name", t.name},
                       {"version", t.version},
                       {"plugin", t.plugin},
                       {"generation", t.generation},
                       {"in_flight", t.in_flight}};
        add_status_json(o, t);
        tool_list.push_back(std::move(o));
        if (t.worker)
            workers.push_back(json::object{{"tool", t.name},
                                           {"pid", t.worker->pid},
                                           {"restarts", t.worker->restarts},
                                           {"state", t.worker->state},
                                           {"last_exit", t.worker->last_exit}});
    }

    json::array breaker_list;
    std::size_t open_breakers = 0;
    const auto clock_now = steady_clock_instance().now();  // the breakers' clock
    for (const auto& b : breakers) {
        open_breakers += is_open(b.state.state);
        breaker_list.push_back(breaker_json(b, clock_now));
    }

    json::array rejections;
    for (const auto& r : host_.rejected_plugins())
        rejections.push_back(json::object{{"path", r.path}, {"reason", r.reason}});

    json::array errors;
    {
        std::lock_guard lock(errors_mutex_);
        for (const auto& e : errors_)
            errors.push_back(json::object{{"at_ms", unix_ms(e.at)},
                                          {"tool", e.tool},
                                          {"operation", e.operation},
                                          {"status", e.status},
                                          {"message", e.message},
                                          {"request_id", e.request_id}});
    }

    json::array dirs;
    for (const auto& d : identity_.plugin_dirs) dirs.emplace_back(d);
    const std::string node = identity_.port ? identity_.node + ":" + std::to_string(identity_.port()) : identity_.node;
    return json::object{
        {"node", node},
        {"version", TOOLHOST_VERSION_STRING},
        {"now_ms", unix_ms(wall)},
        {"started_at_ms", unix_ms(started_wall_)},
        {"uptime_s", seconds(now - started_)},
        {"config_file", identity_.config_file.empty() ? json::value(nullptr) : json::value(identity_.config_file)},
        {"plugin_dirs", std::move(dirs)},
        {"hosts", identity_.hosts ? identity_.hosts() : json::array()},
        {"window_s", std::round(window_s * 10) / 10},
        {"sample_interval_s", options_.sample_interval.count()},
        {"summary", json::object{{"tools", tools.size()},
                                 {"ready", ready},
                                 {"failing", failed},
                                 {"calls_per_s", static_cast<double>(all_calls) / window_s},
                                 {"error_rate", all_calls > 0 ? json::value(static_cast<double>(all_errors) /
                                                                            static_cast<double>(all_calls))
                                                              : json::value(nullptr)},
                                 {"open_breakers", open_breakers}}},
        {"operations", std::move(operations)},
        {"tools", std::move(tool_list)},
        {"breakers", std::move(breaker_list)},
        {"workers", std::move(workers)},
        {"rejections", std::move(rejections)},
        {"errors", std::move(errors)}};
}

}  // namespace toolhost::serve::detail
