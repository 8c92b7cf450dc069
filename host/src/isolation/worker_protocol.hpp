#pragma once
// The messages between the host and a tool's worker process (toolhost-worker tool), carried by
// a channel (channel.hpp). The message id is the call's id for everything that belongs to a
// call, and the request's id for a worker's nested call or question to the client and their
// answers.
//
//   worker -> host   hello        {abi major, abi minor, pid}
//   host -> worker   init         {plugin file, tool index, tool name, config JSON, data folder, log level}
//   worker -> host   ready        {}                       or  init_failed {status, message}
//   host -> worker   call         {operation, arguments, request id, session id, traceparent, attempt,
//                                  nanoseconds left (-1: no deadline), nesting, client log level (-1: none),
//                                  whether the client can be asked}
//   worker -> host   progress     {done, total, message}                 (id: the call)
//   worker -> host   call_log     {level, message}: for the call's client (id: the call)
//   worker -> host   nested       {call id, tool, operation, arguments}  (id: a request of the worker's)
//   host -> worker   nested_done  {status, text}                          (id: that request)
//   worker -> host   ask          {call id, method, params}              (id: a request of the worker's)
//   host -> worker   ask_done     {status, text}                          (id: that request)
//   worker -> host   result       {status, text (the JSON result or the error message), retry after ms (-1)}
//   host -> worker   cancel       {}                                      (id: the call)
//   host -> worker   stop         {}: run cleanup() and exit 0
//
// What the worker says unasked travels on a second socket (the events socket, descriptor 4 in the
// worker), one datagram per notice, so that the calls' channel keeps its readers (the calls that
// wait) and no thread has to watch it between calls. The supervisor reads it:
//
//   worker -> host   resource_updated       {uri}: the tool's resource changed (resource_events.h)
//   worker -> host   resource_list_changed  {}
//
// A datagram is the kind (8 bytes) followed by the payload. The worker drops a notice rather than
// wait when the socket is full (a host that cannot keep up; the drop is logged).
//
// The worker's log records reach the host as JSON lines on its stderr (worker_tool.cpp reads
// them), not as messages: they are the same records the host would write, and a plugin's own
// writes to stdout and stderr arrive the same way.
//
// Payloads are fields one after another: integers and doubles as 8 bytes in the machine's order
// (both ends run on the same machine), strings as a 4-byte length and the bytes. A reader checks
// every length against what is left: the worker runs plugin code, so the host trusts nothing it
// sends.

#include <toolhost/resource_events.h>
#include <toolhost/status.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost::detail::worker_protocol {

enum kind : std::uint32_t {
    // host -> worker
    init = 1,
    call = 2,
    cancel = 3,
    nested_done = 4,
    ask_done = 5,
    stop = 6,
    // worker -> host
    hello = 101,
    ready = 102,
    init_failed = 103,
    result = 104,
    progress = 105,
    call_log = 106,
    nested = 107,
    ask = 108,
    // worker -> host, on the events socket
    resource_updated = 201,
    resource_list_changed = 202,
};

/// The largest notice datagram: the kind, the URI's length and the longest URI taken.
inline constexpr std::size_t max_notice = 8 + 4 + TOOLHOST_RESOURCE_URI_MAX;

/// Largest message either side accepts: a tool's result or arguments of up to 64 MiB.
inline constexpr std::size_t max_message = 64u << 20;

class writer {
public:
    writer& u64(std::uint64_t v) { return raw(&v, sizeof v); }
    writer& i64(std::int64_t v) { return raw(&v, sizeof v); }
    writer& f64(double v) { return raw(&v, sizeof v); }
    writer& str(std::string_view s) {
        const auto n = static_cast<std::uint32_t>(s.size());
        raw(&n, sizeof n);
        out_.append(s);
        return *this;
    }
    std::string& text() noexcept { return out_; }

private:
    writer& raw(const void* p, std::size_t n) {
        out_.append(static_cast<const char*>(p), n);
        return *this;
    }
    std::string out_;
};

/// Reads fields in order; after the first field that does not fit, every read fails and ok()
/// is false, so a caller checks once at the end.
class reader {
public:
    explicit reader(std::string_view in) noexcept : in_(in) {}
    std::uint64_t u64() noexcept { return fixed<std::uint64_t>(); }
    std::int64_t i64() noexcept { return fixed<std::int64_t>(); }
    double f64() noexcept { return fixed<double>(); }
    std::string_view str() noexcept {
        const auto n = fixed<std::uint32_t>();
        if (!ok_ || n > in_.size()) return fail<std::string_view>();
        auto s = in_.substr(0, n);
        in_.remove_prefix(n);
        return s;
    }
    /// True when every field was there and nothing is left over.
    bool ok() const noexcept { return ok_ && in_.empty(); }

private:
    template <class T>
    T fixed() noexcept {
        if (!ok_ || in_.size() < sizeof(T)) return fail<T>();
        T v;
        std::memcpy(&v, in_.data(), sizeof v);
        in_.remove_prefix(sizeof v);
        return v;
    }
    template <class T>
    T fail() noexcept {
        ok_ = false;
        return T{};
    }
    std::string_view in_;
    bool ok_ = true;
};

/// An outcome as it travels: a status and the result JSON (ok) or the error message.
struct outcome {
    status_code code = status_code::ok;
    std::string text;
    std::int64_t retry_after_ms = -1;

    static std::string encode(const call_result& r);
    /// Null when malformed; the status is checked to be one this host knows.
    static std::optional<call_result> decode(std::string_view payload);
};

}  // namespace toolhost::detail::worker_protocol
