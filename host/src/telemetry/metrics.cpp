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

constexpr std::string_view overflow_value = "__overflow__";

bool is_alpha_(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
/// nothing above U+10FFFF), or 0 if it is not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
    const unsigned char c = b(0);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
        if (c == 0xED && b(1) >= 0xA0) return 0; // surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
        if (c == 0xF4 && b(1) >= 0x90) return 0; // above U+10FFFF
        return 4;
    }
    return 0;
}

/// Appends `s` escaped for the exposition format. Label values escape backslash, double quote
/// and newline; help text escapes backslash and newline. Bytes that are not UTF-8 become U+FFFD,
/// because the format (and Prometheus) require UTF-8.
void append_escaped(std::string& out, std::string_view s, bool escape_quote) {
    for (std::size_t i = 0; i < s.size();) {
        const char c = s[i];
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && escape_quote) {
            out += "\\\"";
        } else {
            const std::size_t len = utf8_sequence_length(s, i);
            if (len == 0) {
                out += "\xEF\xBF\xBD";
                ++i;
                continue;
            }
            out.append(s.substr(i, len));
            i += len;
            continue;
        }
        ++i;
    }
}

/// The same replacement of invalid UTF-8, for JSON strings (Boost.JSON escapes the rest).
std::string sanitize_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t len = utf8_sequence_length(s, i);
        if (len == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, len));
            i += len;
        }
    }
    return out;
}

/// Shortest text that reads back as the same double, %g style (0.0001, 5e-05, 30: as the Go
/// client writes them, which matters for "le", a label that older Prometheus versions compare
/// as a string); Prometheus spellings for non-finite values.
void append_double(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
        out.append(buf, r.ptr);
    }
}

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

boost::json::value json_double(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return v;
}

double ns_to_seconds(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e9; }

/// `{a="x",b="y"` with the closing brace left to the caller (histograms add le), or nothing
/// for an unlabelled sample without extra labels.
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
    if (names.empty() && extra_name.empty()) return;
    out += '{';
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ',';
        out += names[i];
        out += "=\"";
        append_escaped(out, values[i], true);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!names.empty()) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
}

void append_header(std::string& out, const metric_family& f, std::string_view type) {
    if (!f.help().empty()) {
        out += "# HELP ";
        out += f.name();
        out += ' ';
        append_escaped(out, f.help(), false);
        out += '\n';
    }
    out += "# TYPE ";
    out += f.name();
    out += ' ';
    out += type;
    out += '\n';
}

boost::json::object json_labels(const std::vector<std::string>& names,
                                const std::vector<std::string>& values) {
    boost::json::object o;
    for (std::size_t i = 0; i < names.size(); ++i) o[names[i]] = sanitize_utf8(values[i]);
    return o;
}

/// The names of the samples a family writes; two families must not share one.
std::vector<std::string> sample_names(metric_family::kind k, std::string_view name) {
    std::string n(name);
    if (k != metric_family::kind::histogram) return {n};
    return {n + "_bucket", n + "_sum", n + "_count"};
}

std::string_view kind_name(metric_family::kind k) noexcept {
    switch (k) {
    case metric_family::kind::counter:
        return "counter";
    case metric_family::kind::gauge:
        return "gauge";
    case metric_family::kind::histogram:
        return "histogram";
    }
    return "untyped";
}

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
    : bounds_(bounds_ns),
      stride_((bounds_ns.size() + 1 + 7) / 8 * 8),  // 8 counters = one 64-byte line
      buckets_(new std::atomic<std::uint64_t>[stride_ * detail::metric_shards]) {
    for (std::size_t i = 0; i < stride_ * detail::metric_shards; ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe_seconds(double seconds) noexcept {
    if (!(seconds > 0)) return observe(std::chrono::nanoseconds(0));  // also NaN
    const double ns = seconds * 1e9;
    observe(std::chrono::nanoseconds(
        ns >= 9.2e18 ? std::numeric_limits<std::int64_t>::max() : std::llround(ns)));
}

std::vector<std::uint64_t> histogram::bucket_counts() const {
    std::vector<std::uint64_t> out(bounds_.size() + 1);
    for (std::size_t shard = 0; shard < detail::metric_shards; ++shard)
        for (std::size_t i = 0; i < out.size(); ++i) out[i] += buckets_[shard * stride_ + i].load(std::memory_order_relaxed);
    return out;
}

std::uint64_t histogram::count() const noexcept {
    std::uint64_t n = 0;
    for (std::size_t shard = 0; shard < detail::metric_shards; ++shard)
        for (std::size_t i = 0; i <= bounds_.size(); ++i) n += buckets_[shard * stride_ + i].load(std::memory_order_relaxed);
    return n;
}

std::vector<double> default_latency_buckets() {
    return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
            50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0, 10.0, 30.0};
}

// --- metric_family

metric_family::metric_family(metrics_registry& owner, kind k, std::string name, std::string help,
                             std::vector<std::string> label_names, std::size_t max_children)
    : owner_(owner),
      kind_(k),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      max_children_(max_children),
      overflow_key_(label_names_.size(), std::string(overflow_value)) {}

std::size_t metric_family::size() const {
    std::lock_guard lock(mutex_);
    return child_count();
}

const metric_family::label_values& metric_family::admit(const std::string_view* values,
                                                        std::size_t n, bool& overflow,
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
        samples.push_back(boost::json::object{{"labels", json_labels(label_names_, *labels)},
                                              {"value", c->value()}});
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

bool gauge_family::set_callback(std::initializer_list<std::string_view> values,
                                std::function<double()> fn) {
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
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
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
        samples.push_back(boost::json::object{{"labels", json_labels(label_names_, labels)},
                                              {"value", json_double(v)}});
    }
}

// --- histogram_family

histogram_family::histogram_family(metrics_registry& owner, std::string name, std::string help,
                                   std::vector<std::string> label_names, std::size_t max_children,
                                   std::vector<double> bounds_seconds)
    : metric_family(owner, kind::histogram, std::move(name), std::move(help),
                    std::move(label_names), max_children),
      bounds_seconds_(std::move(bounds_seconds)),
      bounds_ns_(to_nanoseconds(bounds_seconds_)) {}

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
            boost::json::value le = i < bounds_seconds_.size() ? boost::json::value(bounds_seconds_[i])
                                                               : boost::json::value("+Inf");
            buckets.push_back(boost::json::object{{"le", std::move(le)}, {"count", cumulative}});
        }
        samples.push_back(boost::json::object{{"labels", json_labels(label_names_, *labels)},
                                              {"count", cumulative},
                                              {"sum", ns_to_seconds(h->sum_ns())},
                                              {"buckets", std::move(buckets)}});
    }
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
    return std::all_of(s.begin() + 1, s.end(),
                       [](char c) { return is_alpha_(c) || is_digit(c) || c == ':'; });
}

bool metrics_registry::valid_label_name(std::string_view s) noexcept {
    if (s.empty() || !is_alpha_(s[0]) || s.starts_with("__")) return false;
    return std::all_of(s.begin() + 1, s.end(), [](char c) { return is_alpha_(c) || is_digit(c); });
}

template <class Family, class Make>
Family& metrics_registry::get_or_create(std::string_view name, metric_family::kind k,
                                        std::initializer_list<std::string_view> label_names,
                                        Make make) {
    if (!valid_metric_name(name)) {
        throw std::invalid_argument("invalid metric name \"" + std::string(name) + "\"");
    }
    std::vector<std::string> labels;
    for (std::string_view l : label_names) {
        if (!valid_label_name(l)) {
            throw std::invalid_argument("metric " + std::string(name) + ": invalid label name \"" +
                                        std::string(l) + "\"");
        }
        if (k == metric_family::kind::histogram && l == "le") {
            throw std::invalid_argument("metric " + std::string(name) + ": \"le\" is reserved in histograms");
        }
        if (std::find(labels.begin(), labels.end(), l) != labels.end()) {
            throw std::invalid_argument("metric " + std::string(name) + ": duplicate label name \"" +
                                        std::string(l) + "\"");
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
                throw std::invalid_argument("metric " + std::string(name) + " would write samples named " +
                                            s + ", as " + other_name + " does");
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
        name, metric_family::kind::counter, label_names,
        [&](std::string n, std::vector<std::string> l) {
            return new counter_family(*this, metric_family::kind::counter, std::move(n),
                                      std::string(help), std::move(l), options_.max_children);
        });
}

gauge_family& metrics_registry::gauges(std::string_view name, std::string_view help,
                                       std::initializer_list<std::string_view> label_names) {
    return get_or_create<gauge_family>(
        name, metric_family::kind::gauge, label_names,
        [&](std::string n, std::vector<std::string> l) {
            return new gauge_family(*this, metric_family::kind::gauge, std::move(n),
                                    std::string(help), std::move(l), options_.max_children);
        });
}

histogram_family& metrics_registry::histograms(std::string_view name, std::string_view help,
                                               std::initializer_list<std::string_view> label_names,
                                               std::vector<double> bounds_seconds) {
    auto& f = get_or_create<histogram_family>(
        name, metric_family::kind::histogram, label_names,
        [&](std::string n, std::vector<std::string> l) {
            return new histogram_family(*this, std::move(n), std::string(help), std::move(l),
                                        options_.max_children, bounds_seconds);
        });
    if (f.bounds() != bounds_seconds) {
        throw std::invalid_argument("metric " + std::string(name) +
                                    " is already registered with other bucket bounds");
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
