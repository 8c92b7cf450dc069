#pragma once
/// SIGINT and SIGTERM as the graceful stop of a service, SIGHUP as its configuration reload, for a
/// process that serves until signalled.

#include <toolhost/serve/export.hpp>

namespace toolhost::serve {

class service;

/// Construct it before any other thread starts: it blocks SIGINT, SIGTERM, SIGHUP and SIGUSR2 in the
/// calling thread, which every thread started later inherits, so that one thread takes them
/// with sigwait; and it ignores SIGPIPE, so that a broken pipe is an error, not a signal.
class TOOLHOST_SERVE_API stop_signals {
public:
    stop_signals();
    stop_signals(const stop_signals&) = delete;
    stop_signals& operator=(const stop_signals&) = delete;

    /// svc.run(), with a thread of its own that turns SIGINT or SIGTERM into svc.stop(signal
    /// name) (a second one while the service drains cuts the drain short), and each SIGHUP into
    /// svc.reload("SIGHUP") (never a stop). Returns once both are done.
    void run(service& svc);
};

}  // namespace toolhost::serve
