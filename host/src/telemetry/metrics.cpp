#include "telemetry/utf8.hpp"

#include <toolhost/metrics.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace toolhost {
namespace {

using detail::sanitize_utf8;

bool is_alpha_(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// The names of the samples a family writes; two families must not share one.
std::vector<std::string> sample_names(metric_family::kind k, std::string_view name) {
    std::string n(name);
    if (k != metric_family::kind::histogram) return {n};
    return {n + "_bucket", n + "_sum", n + "_count"};
}

std::string_view kind_name(metric_family::kind k) noexcept {
    switch (k) {
    case metric_family::kind::counter: return "counter";
    case metric_family::kind::gauge: return "gauge";
    case metric_family::kind::histogram: return "histogram";
    }
    return "untyped";
}

}  // namespace

// --- histogram

namespace detail {
namespace {
// Bit i set: exclusive shard i has an owner. The last shard is the shared one.
std::atomic<std::uint32_t> owned_shards{0};
static_assert(metric_shards >= 2 && metric_shards <= 32);

// Gives the shard back when its thread exits. The release on the mask orders the owner's last
// plain stores before the next owner's acquire, so no count is lost across owners.
struct shard_release {
    ~shard_release() {
        const metric_shard_id s = tls_metric_shard;
        if (s.assigned && s.exclusive) {
            // Anything this thread records from here on (later thread_local destructors) goes
            // to the shared shard.
            tls_metric_shard = metric_shard_id{static_cast<std::uint32_t>(metric_shards - 1), false, true};
            owned_shards.fetch_and(~(std::uint32_t{1} << s.index), std::memory_order_release);
        }
    }
};
}  // namespace

metric_shard_id assign_metric_shard() noexcept {
    thread_local shard_release releaser;  // constructed once per thread, destroyed at its exit
    (void)releaser;
    metric_shard_id s{static_cast<std::uint32_t>(metric_shards - 1), false, true};
    std::uint32_t mask = owned_shards.load(std::memory_order_relaxed);
    for (;;) {
        std::uint32_t free_index = metric_shards - 1;
        for (std::uint32_t i = 0; i + 1 < metric_shards; ++i)
            if ((mask & (std::uint32_t{1} << i)) == 0) {
                free_index = i;
                break;
            }
        if (free_index == metric_shards - 1) break;  // all taken: share the last one
        if (owned_shards.compare_exchange_weak(mask, mask | (std::uint32_t{1} << free_index), std::memory_order_acquire,
                                               std::memory_order_relaxed)) {
            s = metric_shard_id{free_index, true, true};
            break;
        }
    }
    tls_metric_shard = s;
    return s;
}
}  // namespace detail

histogram::histogram(std::span<const std::int64_t> bounds_ns)
    : bounds_(bounds_ns), stride_((bounds_ns.size() + 1 + 7) / 8 * 8),  // 8 counters = one 64-byte line
      buckets_(new std::atomic<std::uint64_t>[stride_ * detail::metric_shards]) {
    for (std::size_t i = 0; i < stride_ * detail::metric_shards; ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe_seconds(double seconds) noexcept {
    if (!(seconds > 0)) return observe(std::chrono::nanoseconds(0));  // also NaN
    const double ns = seconds * 1e9;
    observe(std::chrono::nanoseconds(ns >= 9.2e18 ? std::numeric_limits<std::int64_t>::max() : std::llround(ns)));
}

std::vector<std::uint64_t> histogram::bucket_counts() const {
    std::vector<std::uint64_t> out(bounds_.size() + 1);
    for (std::size_t shard = 0; shard < detail::metric_shards; ++shard)
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] += buckets_[shard * stride_ + i].load(std::memory_order_relaxed);
    return out;
}

std::uint64_t histogram::count() const noexcept {
    std::uint64_t n = 0;
    for (std::size_t shard = 0; shard < detail::metric_shards; ++shard)
        for (std::size_t i = 0; i <= bounds_.size(); ++i)
            n += buckets_[shard * stride_ + i].load(std::memory_order_relaxed);
    return n;
}

std::vector<double> default_latency_buckets() {
    return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
            50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0,  10.0,  30.0};
}

// --- metrics_registry

metrics_registry::metrics_registry(metrics_options options) : options_(options) {
    // The overflow family has no limit of its own: it has one child per family at most.
    auto* f = new counter_family(*this, metric_family::kind::counter, std::string(overflow_metric_name),
                                 "Label sets refused because their metric family was full; their "
                                 "updates went to the family's __overflow__ child.",
                                 {"metric"}, std::numeric_limits<std::size_t>::max());
    families_.emplace(std::string(overflow_metric_name), std::unique_ptr<metric_family>(f));
    overflow_ = f;
}

metrics_registry::~metrics_registry() = default;

bool metrics_registry::valid_metric_name(std::string_view s) noexcept {
    if (s.empty() || !(is_alpha_(s[0]) || s[0] == ':')) return false;
    return std::all_of(s.begin() + 1, s.end(), [](char c) { return is_alpha_(c) || is_digit(c) || c == ':'; });
}

bool metrics_registry::valid_label_name(std::string_view s) noexcept {
    if (s.empty() || !is_alpha_(s[0]) || s.starts_with("__")) return false;
    return std::all_of(s.begin() + 1, s.end(), [](char c) { return is_alpha_(c) || is_digit(c); });
}

template <class Family, class Make>
Family& metrics_registry::get_or_create(std::string_view name, metric_family::kind k,
                                        std::initializer_list<std::string_view> label_names, Make make) {
    if (!valid_metric_name(name)) {
        throw std::invalid_argument("invalid metric name \"" + std::string(name) + "\"");
    }
    std::vector<std::string> labels;
    for (std::string_view l : label_names) {
        if (!valid_label_name(l)) {
            throw std::invalid_argument("metric " + std::string(name) + ": invalid label name \"" + std::string(l) +
                                        "\"");
        }
        if (k == metric_family::kind::histogram && l == "le") {
            throw std::invalid_argument("metric " + std::string(name) + ": \"le\" is reserved in histograms");
        }
        if (std::find(labels.begin(), labels.end(), l) != labels.end()) {
            throw std::invalid_argument("metric " + std::string(name) + ": duplicate label name \"" + std::string(l) +
                                        "\"");
        }
        labels.emplace_back(l);
    }

    std::lock_guard lock(mutex_);
    if (auto it = families_.find(name); it != families_.end()) {
        metric_family& f = *it->second;
        if (f.type() != k || f.label_names() != labels) {
            throw std::invalid_argument("metric " + std::string(name) +
                                        " is already registered with another type or other labels");
        }
        return static_cast<Family&>(f);
    }
    const auto mine = sample_names(k, name);
    for (const auto& [other_name, other] : families_) {
        for (const auto& s : sample_names(other->type(), other_name)) {
            if (std::find(mine.begin(), mine.end(), s) != mine.end()) {
                throw std::invalid_argument("metric " + std::string(name) + " would write samples named " + s +
                                            ", as " + other_name + " does");
            }
        }
    }
    std::unique_ptr<Family> f(make(std::string(name), std::move(labels)));
    Family& ref = *f;
    families_.emplace(std::string(name), std::move(f));
    return ref;
}

counter_family& metrics_registry::counters(std::string_view name, std::string_view help,
                                           std::initializer_list<std::string_view> label_names) {
    return get_or_create<counter_family>(
        name, metric_family::kind::counter, label_names, [&](std::string n, std::vector<std::string> l) {
            return new counter_family(*this, metric_family::kind::counter, std::move(n), std::string(help),
                                      std::move(l), options_.max_children);
        });
}

gauge_family& metrics_registry::gauges(std::string_view name, std::string_view help,
                                       std::initializer_list<std::string_view> label_names) {
    return get_or_create<gauge_family>(
        name, metric_family::kind::gauge, label_names, [&](std::string n, std::vector<std::string> l) {
            return new gauge_family(*this, metric_family::kind::gauge, std::move(n), std::string(help), std::move(l),
                                    options_.max_children);
        });
}

histogram_family& metrics_registry::histograms(std::string_view name, std::string_view help,
                                               std::initializer_list<std::string_view> label_names,
                                               std::vector<double> bounds_seconds) {
    auto& f = get_or_create<histogram_family>(
        name, metric_family::kind::histogram, label_names, [&](std::string n, std::vector<std::string> l) {
            return new histogram_family(*this, std::move(n), std::string(help), std::move(l), options_.max_children,
                                        bounds_seconds);
        });
    if (f.bounds() != bounds_seconds) {
        throw std::invalid_argument("metric " + std::string(name) + " is already registered with other bucket bounds");
    }
    return f;
}

std::string metrics_registry::render_prometheus() const {
    std::vector<const metric_family*> families;
    {
        std::lock_guard lock(mutex_);
        families.reserve(families_.size());
        for (const auto& [name, f] : families_) families.push_back(f.get());
    }
    std::string out;
    for (const metric_family* f : families) f->render(out);
    return out;
}

boost::json::value metrics_registry::to_json() const {
    std::vector<const metric_family*> families;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, f] : families_) families.push_back(f.get());
    }
    boost::json::object out;
    for (const metric_family* f : families) {
        boost::json::array samples;
        f->to_json(samples);
        if (samples.empty()) continue;
        boost::json::array labels;
        for (const auto& l : f->label_names()) labels.emplace_back(l);
        out[f->name()] = boost::json::object{{"type", kind_name(f->type())},
                                             {"help", sanitize_utf8(f->help())},
                                             {"labels", std::move(labels)},
                                             {"samples", std::move(samples)}};
    }
    return out;
}

}  // namespace toolhost
