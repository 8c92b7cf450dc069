#pragma once
/// Counters, gauges and latency histograms with label sets, rendered in the Prometheus text
/// exposition format (version 0.0.4) and as JSON.
///
/// Use: look a labelled child up once, keep the reference, update it on the hot path.
///
///     auto& calls = registry.counters("toolhost_calls_total", "Calls by outcome.", {"tool", "status"});
///     counter& echo_ok = calls.with({"echo", "OK"});       // once, e.g. when the tool registers
///     echo_ok.inc();                                        // per call: one relaxed atomic add
///
/// Families and children are created under a mutex and never destroyed before the registry, so
/// the references they hand out stay valid for the registry's lifetime. Updates are lock-free
/// and allocate nothing.
///
/// Bounded cardinality: a family holds at most metrics_options::max_children label sets. Past
/// that, with() returns the family's shared overflow child, whose label values are all
/// "__overflow__", and counts the refusal in toolhost_metrics_label_overflow_total{metric=...}.
///
/// Programming errors (an invalid metric or label name, the wrong number of label values, the
/// same name registered with another type, labels or buckets) throw std::invalid_argument.

#include <toolhost/export.hpp>

#include <boost/json/value.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost {

class metrics_registry;

namespace detail {
/// Counters and histograms are split into this many cache-line-sized shards, so threads that
/// record the same metric do not fight over one cache line (measured: 11.5 ns per call's
/// updates on one thread, 147 ns with two threads on one unsharded child).
///
/// The first metric_shards - 1 threads to record a metric each own a shard exclusively (until
/// they exit, when the shard passes to the next new thread): an owner updates its cells with a
/// relaxed load and store, no locked read-modify-write, since nobody else writes them. Any
/// further threads share the last shard with atomic adds. Readers sum all shards.
inline constexpr std::size_t metric_shards = 8;

struct metric_shard_id {
    std::uint32_t index = 0;
    bool exclusive = false;
    bool assigned = false;
};
/// Constant-initialized, so reading it is a plain thread-local access.
TOOLHOST_API inline thread_local metric_shard_id tls_metric_shard{};
/// Claims a shard for this thread (out of line; first use only).
TOOLHOST_API metric_shard_id assign_metric_shard() noexcept;

/// This thread's shard.
inline metric_shard_id metric_shard() noexcept {
    const metric_shard_id s = tls_metric_shard;
    if (s.assigned) [[likely]]
        return s;
    return assign_metric_shard();
}

/// Adds `n` to a cell of shard `s`.
inline void metric_add(std::atomic<std::uint64_t>& cell, std::uint64_t n, metric_shard_id s) noexcept {
    if (s.exclusive)
        cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    else
        cell.fetch_add(n, std::memory_order_relaxed);
}
}  // namespace detail

/// A monotonically increasing integer count. [thread-safe, lock-free]
class counter {
public:
    void inc(std::uint64_t n = 1) noexcept {
        const auto s = detail::metric_shard();
        detail::metric_add(cells_[s.index].value, n, s);
    }
    std::uint64_t value() const noexcept {
        std::uint64_t v = 0;
        for (const auto& c : cells_) v += c.value.load(std::memory_order_relaxed);
        return v;
    }

private:
    struct alignas(64) cell {
        std::atomic<std::uint64_t> value{0};
    };
    std::array<cell, detail::metric_shards> cells_;
};

/// A value that goes up and down. [thread-safe, lock-free]
class alignas(64) gauge {
public:
    void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void add(double d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
    void inc() noexcept { add(1.0); }
    void dec() noexcept { add(-1.0); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

/// A latency histogram with fixed bucket boundaries. [thread-safe, lock-free]
///
/// Observations are durations. Boundaries and the sum are kept as integer nanoseconds, so
/// observe() is a binary search over the boundaries plus two relaxed integer atomic adds (the
/// bucket and the sum): no CAS loop on a double. The sum is exact up to 584 years of total
/// observed time and is rendered in seconds. Negative durations count as zero.
class TOOLHOST_API histogram {
public:
    /// `bounds_ns` must outlive the histogram (it belongs to the family).
    explicit histogram(std::span<const std::int64_t> bounds_ns);

    void observe(std::chrono::nanoseconds d) noexcept {
        const std::int64_t ns = d.count() < 0 ? 0 : d.count();
        const auto s = detail::metric_shard();
        detail::metric_add(buckets_[s.index * stride_ + bucket_index(ns)], 1, s);
        detail::metric_add(sums_[s.index].value, static_cast<std::uint64_t>(ns), s);
    }
    /// observe() for a value in seconds (rounded to the nanosecond).
    void observe_seconds(double seconds) noexcept;

    /// Per-bucket (not cumulative) counts; the last entry is the +Inf bucket.
    std::vector<std::uint64_t> bucket_counts() const;
    /// The number of observations (the sum of the bucket counts).
    std::uint64_t count() const noexcept;
    /// The sum of the observations in nanoseconds.
    std::uint64_t sum_ns() const noexcept {
        std::uint64_t v = 0;
        for (const auto& c : sums_) v += c.value.load(std::memory_order_relaxed);
        return v;
    }

private:
    std::size_t bucket_index(std::int64_t ns) const noexcept {
        // First boundary >= ns ("le"); past the last boundary is the +Inf bucket. Most
        // observations of a healthy host fall in the first bucket: check it first.
        if (!bounds_.empty() && ns <= bounds_[0]) return 0;
        std::size_t lo = 0;
        std::size_t n = bounds_.size();
        while (n > 0) {
            const std::size_t half = n / 2;
            if (bounds_[lo + half] < ns) {
                lo += half + 1;
                n -= half + 1;
            } else {
                n = half;
            }
        }
        return lo;
    }

    std::span<const std::int64_t> bounds_;
    // One row of bounds + 1 buckets per shard, each row padded to whole cache lines.
    std::size_t stride_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
    struct alignas(64) cell {
        std::atomic<std::uint64_t> value{0};
    };
    std::array<cell, detail::metric_shards> sums_;
};

/// Upper bounds in seconds from 50 µs to 30 s, for call and attempt latencies.
TOOLHOST_API std::vector<double> default_latency_buckets();

/// The common part of counter, gauge and histogram families: name, help, label names and the
/// bounded set of label values. [thread-safe]
class TOOLHOST_API metric_family {
public:
    enum class kind { counter, gauge, histogram };

    virtual ~metric_family() = default;
    metric_family(const metric_family&) = delete;
    metric_family& operator=(const metric_family&) = delete;

    const std::string& name() const noexcept { return name_; }
    const std::string& help() const noexcept { return help_; }
    kind type() const noexcept { return kind_; }
    const std::vector<std::string>& label_names() const noexcept { return label_names_; }
    /// The number of label sets in use, the overflow child included.
    std::size_t size() const;

protected:
    friend class metrics_registry;

    metric_family(metrics_registry& owner, kind k, std::string name, std::string help,
                  std::vector<std::string> label_names, std::size_t max_children);

    using label_values = std::vector<std::string>;
    /// Checks the arity and returns the key to store under; sets `overflow` when the family is
    /// full and `values` is new, in which case the key is the overflow key. Call with mutex_ held.
    const label_values& admit(const std::string_view* values, std::size_t n, bool& overflow,
                              label_values& scratch) const;
    /// Whether a child with these values exists. Call with mutex_ held.
    virtual bool contains(const label_values& values) const = 0;
    virtual std::size_t child_count() const = 0;
    void count_overflow();

    virtual void render(std::string& out) const = 0;
    virtual void to_json(boost::json::array& samples) const = 0;

    metrics_registry& owner_;
    const kind kind_;
    const std::string name_;
    const std::string help_;
    const std::vector<std::string> label_names_;
    const std::size_t max_children_;
    const label_values overflow_key_;
    mutable std::mutex mutex_;
};

/// Counters sharing a name and label names.
class TOOLHOST_API counter_family final : public metric_family {
public:
    /// The counter for these label values (one per label name, in order), created on first use;
    /// the reference stays valid for the registry's lifetime. Not for the hot path: look up
    /// once and keep the reference.
    counter& with(std::initializer_list<std::string_view> values);
    counter& with(std::span<const std::string> values);

private:
    friend class metrics_registry;
    using metric_family::metric_family;
    counter& with_impl(const std::string_view* values, std::size_t n);
    bool contains(const label_values& values) const override { return children_.contains(values); }
    std::size_t child_count() const override { return children_.size(); }
    void render(std::string& out) const override;
    void to_json(boost::json::array& samples) const override;

    std::map<label_values, std::unique_ptr<counter>> children_;
};

/// Gauges sharing a name and label names, set directly or computed by a callback at render time.
class TOOLHOST_API gauge_family final : public metric_family {
public:
    /// As counter_family::with().
    gauge& with(std::initializer_list<std::string_view> values);
    gauge& with(std::span<const std::string> values);

    /// A gauge whose value `fn` computes whenever the registry is rendered, replacing an earlier
    /// callback with the same label values. `fn` runs on the rendering thread without any
    /// registry lock held, and must stay callable until remove_callback() or the registry's end.
    /// Returns false (and counts an overflow) if the family is full.
    /// Throws std::invalid_argument if a plain gauge already has these label values.
    bool set_callback(std::initializer_list<std::string_view> values, std::function<double()> fn);
    /// Removes the callback for these label values; returns whether there was one.
    bool remove_callback(std::initializer_list<std::string_view> values);

private:
    friend class metrics_registry;
    using metric_family::metric_family;
    gauge& with_impl(const std::string_view* values, std::size_t n);
    bool contains(const label_values& values) const override {
        return children_.contains(values) || callbacks_.contains(values);
    }
    std::size_t child_count() const override { return children_.size() + callbacks_.size(); }
    /// (label values, value) in label order, callbacks evaluated without the lock.
    std::vector<std::pair<label_values, double>> collect() const;
    void render(std::string& out) const override;
    void to_json(boost::json::array& samples) const override;

    std::map<label_values, std::unique_ptr<gauge>> children_;
    std::map<label_values, std::shared_ptr<const std::function<double()>>> callbacks_;
};

/// Latency histograms sharing a name, label names and bucket boundaries.
class TOOLHOST_API histogram_family final : public metric_family {
public:
    /// As counter_family::with().
    histogram& with(std::initializer_list<std::string_view> values);
    histogram& with(std::span<const std::string> values);

    /// The upper bounds in seconds, as given (without +Inf).
    const std::vector<double>& bounds() const noexcept { return bounds_seconds_; }

private:
    friend class metrics_registry;
    histogram_family(metrics_registry& owner, std::string name, std::string help, std::vector<std::string> label_names,
                     std::size_t max_children, std::vector<double> bounds_seconds);
    histogram& with_impl(const std::string_view* values, std::size_t n);
    bool contains(const label_values& values) const override { return children_.contains(values); }
    std::size_t child_count() const override { return children_.size(); }
    void render(std::string& out) const override;
    void to_json(boost::json::array& samples) const override;

    const std::vector<double> bounds_seconds_;
    const std::vector<std::int64_t> bounds_ns_;
    std::map<label_values, std::unique_ptr<histogram>> children_;
};

struct metrics_options {
    /// The most label sets one family holds before with() returns the overflow child.
    std::size_t max_children = 10000;
};

/// The set of metric families that one host exposes. [thread-safe]
class TOOLHOST_API metrics_registry {
public:
    explicit metrics_registry(metrics_options options = {});
    ~metrics_registry();
    metrics_registry(const metrics_registry&) = delete;
    metrics_registry& operator=(const metrics_registry&) = delete;

    /// The counter family `name`, created on first use. Asking again with the same type and
    /// label names returns the same family (the first help text stays). By Prometheus
    /// convention counter names end in "_total".
    counter_family& counters(std::string_view name, std::string_view help,
                             std::initializer_list<std::string_view> label_names = {});
    /// The gauge family `name`, as counters().
    gauge_family& gauges(std::string_view name, std::string_view help,
                         std::initializer_list<std::string_view> label_names = {});
    /// The histogram family `name`, as counters(); `bounds_seconds` must be strictly increasing,
    /// finite and non-negative, and the same on every request for this name. "le" is reserved.
    histogram_family& histograms(std::string_view name, std::string_view help,
                                 std::initializer_list<std::string_view> label_names = {},
                                 std::vector<double> bounds_seconds = default_latency_buckets());

    /// Every family with at least one sample, sorted by name, children sorted by label values,
    /// in the text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4).
    std::string render_prometheus() const;

    /// The same content as one JSON value, for `toolhost metrics --json`:
    ///   {"<name>": {"type": "counter", "help": "...", "labels": ["tool", ...],
    ///               "samples": [{"labels": {"tool": "echo"}, "value": 3}, ...]}, ...}
    /// Histogram samples carry "count", "sum" (seconds) and "buckets": [{"le": 0.005,
    /// "count": <cumulative>}, ..., {"le": "+Inf", "count": <count>}]. Non-finite gauge values
    /// are the strings "NaN", "+Inf" and "-Inf".
    boost::json::value to_json() const;

    /// Whether `s` is a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*
    static bool valid_metric_name(std::string_view s) noexcept;
    /// Whether `s` is a valid label name: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__".
    static bool valid_label_name(std::string_view s) noexcept;

    /// The name of the family that counts refused label sets.
    static constexpr std::string_view overflow_metric_name = "toolhost_metrics_label_overflow_total";

private:
    friend class metric_family;

    template <class Family, class Make>
    Family& get_or_create(std::string_view name, metric_family::kind k,
                          std::initializer_list<std::string_view> label_names, Make make);

    metrics_options options_;
    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<metric_family>, std::less<>> families_;
    counter_family* overflow_ = nullptr;
};

}  // namespace toolhost
