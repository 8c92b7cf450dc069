#include <toolhost/serve/service.hpp>
#include <toolhost/serve/stop_signals.hpp>

#include <csignal>
#include <thread>

#include <pthread.h>
#include <signal.h>

namespace toolhost::serve {
namespace {

// SIGHUP reloads the configuration. SIGUSR2 is our own wake-up: it ends the wait when serving
// ended without a signal.
sigset_t stop_set() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR2);
    return set;
}

}  // namespace

stop_signals::stop_signals() {
    std::signal(SIGPIPE, SIG_IGN);
    const sigset_t set = stop_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void stop_signals::run(service& svc) {
    std::thread waiter([&svc] {
        const sigset_t set = stop_set();
        for (;;) {
            int sig = 0;
            if (sigwait(&set, &sig) != 0) return;
            if (sig == SIGHUP) {
                svc.reload("SIGHUP");  // logs what it did; the server goes on either way
                continue;
            }
            if (sig == SIGUSR2) return;  // serving ended
            // The first asks for the stop (after serve.http.drain_delay_ms); a second one while
            // it drains asks it to hurry.
            svc.stop(sig == SIGINT ? "SIGINT" : "SIGTERM");
        }
    });
    svc.run();
    // A thread that returned from sigwait but is not joined yet still has a valid id.
    pthread_kill(waiter.native_handle(), SIGUSR2);
    waiter.join();
}

}  // namespace toolhost::serve
