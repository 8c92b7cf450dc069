// The metric families: counters, gauges and histograms by label values, and how each writes
// itself out (Prometheus text, JSON).

#include "telemetry/exposition.hpp"

#include <toolhost/metrics.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace toolhost {
namespace {

using detail::append_double;
using detail::append_header;
using detail::append_labels;
using detail::append_uint;
using detail::json_double;
using detail::json_labels;
using detail::ns_to_seconds;

constexpr std::string_view overflow_value = "__overflow__";

std::vector<std::int64_t> to_nanoseconds(const std::vector<double>& bounds) {
    std::vector<std::int64_t> ns;
    ns.reserve(bounds.size());
    for (double b : bounds) {
        if (!std::isfinite(b) || b < 0 || b > 9.2e9)
            throw std::invalid_argument("histogram bucket bounds must be finite, >= 0 and < 9.2e9 s");
        ns.push_back(std::llround(b * 1e9));
        if (ns.size() > 1 && ns[ns.size() - 2] >= ns.back())
            throw std::invalid_argument("histogram bucket bounds must be strictly increasing (at 1 ns resolution)");
    }
    return ns;
}

/// Copies the (key, child) pairs of a map under the family's lock; the keys and children are
/// never erased, so the pointers stay valid after the lock is released.
template <class Map>
auto snapshot(std::mutex& m, const Map& children) {
    using child = typename Map::mapped_type::element_type;
    std::vector<std::pair<const std::vector<std::string>*, const child*>> out;
    std::lock_guard lock(m);
    out.reserve(children.size());
    for (const auto& [k, v] : children) out.emplace_back(&k, v.get());
    return out;
}

}  // namespace

// --- metric_family

metric_family::metric_family(metrics_registry& owner, kind k, std::string name, std::string help,
                             std::vector<std::string> label_names, std::size_t max_children)
    : owner_(owner), kind_(k), name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
      max_children_(max_children), overflow_key_(label_names_.size(), std::string(overflow_value)) {}

std::size_t metric_family::size() const {
    std::lock_guard lock(mutex_);
    return child_count();
}

const metric_family::label_values& metric_family::admit(const std::string_view* values, std::size_t n, bool& overflow,
                                                        label_values& scratch) const {
    if (n != label_names_.size()) {
        throw std::invalid_argument("metric " + name_ + " has " + std::to_string(label_names_.size()) +
                                    " label(s), got " + std::to_string(n) + " value(s)");
    }
    scratch.assign(values, values + n);
    overflow = false;
    if (contains(scratch) || child_count() < max_children_) return scratch;
    overflow = true;
    return overflow_key_;
}

void metric_family::count_overflow() {
    // Never called on the overflow family itself: it has no limit.
    if (owner_.overflow_ != nullptr) owner_.overflow_->with({std::string_view(name_)}).inc();
}

// --- counter_family

counter& counter_family::with(std::initializer_list<std::string_view> values) {
    return with_impl(values.begin(), values.size());
}

counter& counter_family::with(std::span<const std::string> values) {
    std::vector<std::string_view> v(values.begin(), values.end());
    return with_impl(v.data(), v.size());
}

counter& counter_family::with_impl(const std::string_view* values, std::size_t n) {
    bool overflow = false;
    counter* c = nullptr;
    {
        std::lock_guard lock(mutex_);
        label_values scratch;
        const label_values& key = admit(values, n, overflow, scratch);
        auto& slot = children_[key];
        if (!slot) slot = std::make_unique<counter>();
        c = slot.get();
    }
    if (overflow) count_overflow();
    return *c;
}

void counter_family::render(std::string& out) const {
    const auto children = snapshot(mutex_, children_);
    if (children.empty()) return;
    append_header(out, *this, "counter");
    for (const auto& [labels, c] : children) {
        out += name_;
        append_labels(out, label_names_, *labels);
        out += ' ';
        append_uint(out, c->value());
        out += '\n';
    }
}

void counter_family::to_json(boost::json::array& samples) const {
    for (const auto& [labels, c] : snapshot(mutex_, children_)) {
        samples.push_back(boost::json::object{{"labels", json_labels(label_names_, *labels)}, {"value", c->value()}});
    }
}

// --- gauge_family

gauge& gauge_family::with(std::initializer_list<std::string_view> values) {
    return with_impl(values.begin(), values.size());
}

gauge& gauge_family::with(std::span<const std::string> values) {
    std::vector<std::string_view> v(values.begin(), values.end());
    return with_impl(v.data(), v.size());
}

gauge& gauge_family::with_impl(const std::string_view* values, std::size_t n) {
    bool overflow = false;
    gauge* g = nullptr;
    {
        std::lock_guard lock(mutex_);
        label_values scratch;
        const label_values& key = admit(values, n, overflow, scratch);
        if (callbacks_.contains(key)) {
            throw std::invalid_argument("metric " + name_ + ": these label values belong to a callback gauge");
        }
        auto& slot = children_[key];
        if (!slot) slot = std::make_unique<gauge>();
        g = slot.get();
    }
    if (overflow) count_overflow();
    return *g;
}

bool gauge_family::set_callback(std::initializer_list<std::string_view> values, std::function<double()> fn) {
    bool overflow = false;
    {
        std::lock_guard lock(mutex_);
        label_values scratch;
        const label_values& key = admit(values.begin(), values.size(), overflow, scratch);
        if (!overflow) {
            if (children_.contains(key)) {
                throw std::invalid_argument("metric " + name_ + ": these label values belong to a plain gauge");
            }
            callbacks_[key] = std::make_shared<const std::function<double()>>(std::move(fn));
        }
    }
    if (overflow) count_overflow();
    return !overflow;
}

bool gauge_family::remove_callback(std::initializer_list<std::string_view> values) {
    label_values key(values.begin(), values.end());
    std::lock_guard lock(mutex_);
    return callbacks_.erase(key) > 0;
}

std::vector<std::pair<gauge_family::label_values, double>> gauge_family::collect() const {
    std::vector<std::pair<label_values, std::shared_ptr<const std::function<double()>>>> calls;
    std::vector<std::pair<label_values, double>> out;
    {
        std::lock_guard lock(mutex_);
        out.reserve(children_.size() + callbacks_.size());
        for (const auto& [k, g] : children_) out.emplace_back(k, g->value());
        calls.reserve(callbacks_.size());
        for (const auto& [k, fn] : callbacks_) calls.emplace_back(k, fn);
    }
    // Callbacks run unlocked: they may be slow or even touch the registry.
    for (auto& [k, fn] : calls) out.emplace_back(std::move(k), (*fn)());
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

void gauge_family::render(std::string& out) const {
    const auto samples = collect();
    if (samples.empty()) return;
    append_header(out, *this, "gauge");
    for (const auto& [labels, v] : samples) {
        out += name_;
        append_labels(out, label_names_, labels);
        out += ' ';
        append_double(out, v);
        out += '\n';
    }
}

void gauge_family::to_json(boost::json::array& samples) const {
    for (const auto& [labels, v] : collect()) {
        samples.push_back(
            boost::json::object{{"labels", json_labels(label_names_, labels)}, {"value", json_double(v)}});
    }
}

// --- histogram_family

histogram_family::histogram_family(metrics_registry& owner, std::string name, std::string help,
                                   std::vector<std::string> label_names, std::size_t max_children,
                                   std::vector<double> bounds_seconds)
    : metric_family(owner, kind::histogram, std::move(name), std::move(help), std::move(label_names), max_children),
      bounds_seconds_(std::move(bounds_seconds)), bounds_ns_(to_nanoseconds(bounds_seconds_)) {}

histogram& histogram_family::with(std::initializer_list<std::string_view> values) {
    return with_impl(values.begin(), values.size());
}

histogram& histogram_family::with(std::span<const std::string> values) {
    std::vector<std::string_view> v(values.begin(), values.end());
    return with_impl(v.data(), v.size());
}

histogram& histogram_family::with_impl(const std::string_view* values, std::size_t n) {
    bool overflow = false;
    histogram* h = nullptr;
    {
        std::lock_guard lock(mutex_);
        label_values scratch;
        const label_values& key = admit(values, n, overflow, scratch);
        auto& slot = children_[key];
        if (!slot) slot = std::make_unique<histogram>(bounds_ns_);
        h = slot.get();
    }
    if (overflow) count_overflow();
    return *h;
}

void histogram_family::render(std::string& out) const {
    const auto children = snapshot(mutex_, children_);
    if (children.empty()) return;
    append_header(out, *this, "histogram");
    std::string le;
    for (const auto& [labels, h] : children) {
        // Read the buckets once and derive the cumulative counts and _count from the same
        // numbers, so the +Inf bucket always equals _count even under concurrent updates.
        const auto counts = h->bucket_counts();
        const std::uint64_t sum_ns = h->sum_ns();
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            le.clear();
            if (i < bounds_seconds_.size()) {
                append_double(le, bounds_seconds_[i]);
            } else {
                le = "+Inf";
            }
            out += name_;
            out += "_bucket";
            append_labels(out, label_names_, *labels, "le", le);
            out += ' ';
            append_uint(out, cumulative);
            out += '\n';
        }
        out += name_;
        out += "_sum";
        append_labels(out, label_names_, *labels);
        out += ' ';
        append_double(out, ns_to_seconds(sum_ns));
        out += '\n';
        out += name_;
        out += "_count";
        append_labels(out, label_names_, *labels);
        out += ' ';
        append_uint(out, cumulative);
        out += '\n';
    }
}

void histogram_family::to_json(boost::json::array& samples) const {
    for (const auto& [labels, h] : snapshot(mutex_, children_)) {
        const auto counts = h->bucket_counts();
        boost::json::array buckets;
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            boost::json::value le =
                i < bounds_seconds_.size() ? boost::json::value(bounds_seconds_[i]) : boost::json::value("+Inf");
            buckets.push_back(boost::json::object{{"le", std::move(le)}, {"count", cumulative}});
        }
        samples.push_back(boost::json::object{{"labels", json_labels(label_names_, *labels)},
                                              {"count", cumulative},
                                              {"sum", ns_to_seconds(h->sum_ns())},
                                              {"buckets", std::move(buckets)}});
    }
}

}  // namespace toolhost
