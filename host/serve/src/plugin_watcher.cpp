#include <toolhost/logging.hpp>
#include <toolhost/serve/plugin_watcher.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

namespace toolhost::serve {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t watch_mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB |
                                     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// The names the loader looks at: "*.so", not hidden (an operator's staging copy ".x.so.tmp" is not).
bool plugin_name(std::string_view name) {
    return name.size() > 3 && name.front() != '.' && name.substr(name.size() - 3) == ".so";
}

// What "the file held still" compares: a copy being written changes its size or mtime.
struct signature {
    bool exists = false;
    std::uint64_t inode = 0;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const signature&) const = default;
};

signature signature_of(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return {};
    return {true, st.st_ino, st.st_size,
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

int millis_until(steady::time_point t) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t - steady::now()).count();
    return static_cast<int>(std::clamp<std::int64_t>(left + 1, 0, 60'000));
}

}  // namespace

struct plugin_watcher::impl {
    toolhost::host& host;
    const std::vector<fs::path> dirs;
    const plugin_watch_settings settings;
    const sync_handler on_sync;

    int inotify = -1;
    int wake = -1;                    // eventfd: stop() and rescan()
    std::map<int, fs::path> watches;  // watch descriptor -> directory
    std::atomic<bool> stopping{false};
    std::atomic<bool> rescan_requested{false};
    std::atomic<bool> inotify_works{false};
    std::thread thread;

    impl(toolhost::host& h, std::vector<fs::path> d, plugin_watch_settings s, sync_handler cb)
        : host(h), dirs(std::move(d)), settings(s), on_sync(std::move(cb)) {
        wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (settings.use_inotify) {
            inotify = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
            if (inotify < 0)
                logging::write(
                    logging::level::warning, "serve", "inotify is not available; the plugin folders are polled instead",
                    {{"error", std::strerror(errno)}, {"poll_ms", static_cast<std::int64_t>(settings.poll.count())}});
        }
        add_watches();
        thread = std::thread([this] { run(); });
    }

    ~impl() {
        stop();
        if (inotify >= 0) ::close(inotify);
        if (wake >= 0) ::close(wake);
    }

    void stop() {
        if (!stopping.exchange(true)) notify();
        if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
    }

    void notify() const {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);
    }

    // Watches every directory not watched yet (one that does not exist yet may appear later).
    void add_watches() {
        if (inotify < 0) return;
        for (const auto& dir : dirs) {
            if (std::any_of(watches.begin(), watches.end(), [&](const auto& w) { return w.second == dir; })) continue;
            const int wd = ::inotify_add_watch(inotify, dir.c_str(), watch_mask);
            if (wd < 0) {
                if (errno != ENOENT && errno != ENOTDIR)
                    logging::write(logging::level::warning, "serve", "cannot watch a plugin folder; it is rescanned",
                                   {{"dir", dir.string()}, {"error", std::strerror(errno)}});
                continue;
            }
            watches[wd] = dir;
        }
        inotify_works = !watches.empty();
    }

    // Reads the queued events: whether any concerns plugins (`pending` gets the files' paths
    // with their signature now), or the queue overflowed or a directory went away (`full`).
    bool read_events(std::map<fs::path, signature>& pending, bool& full) {
        alignas(inotify_event) char buffer[16 * 1024];
        bool relevant = false;
        for (;;) {
            const ssize_t n = ::read(inotify, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            for (char* p = buffer; p < buffer + n;) {
                const auto* ev = reinterpret_cast<const inotify_event*>(p);
                p += sizeof(inotify_event) + ev->len;
                if (ev->mask & IN_Q_OVERFLOW) {
                    full = relevant = true;
                    continue;
                }
                if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                    // The directory itself went away: its tools go with it; watched again if it comes back.
                    if (ev->mask & IN_IGNORED) watches.erase(ev->wd);
                    full = relevant = true;
                    continue;
                }
                auto dir = watches.find(ev->wd);
                if (dir == watches.end() || ev->len == 0) continue;
                const std::string_view name(ev->name);
                if (!plugin_name(name)) continue;
                const auto file = dir->second / std::string(name);
                pending[file] = signature_of(file);
                relevant = true;
            }
        }
        return relevant;
    }

    void sync(std::string_view why) {
        try {
            auto report = host.sync_plugins();
            if (!report.changed() && report.failed.empty()) return;
            logging::write(logging::level::info, "serve", "plugin folder synced",
                           {{"why", std::string(why)},
                            {"added", report.added.size()},
                            {"replaced", report.replaced.size()},
                            {"removed", report.removed.size()},
                            {"refused", report.failed.size()}});
            if (on_sync) on_sync(report);
        } catch (const std::exception& e) {
            logging::write(logging::level::error, "serve", "plugin folder sync failed", {{"error", e.what()}});
        }
    }

    // The period of the scans made without an event: the safety scan's while every folder is
    // watched, else the poll's (a folder that does not exist yet is looked for that often). Zero:
    // none.
    std::chrono::milliseconds period() const {
        return inotify >= 0 && watches.size() == dirs.size() ? settings.safety_scan : settings.poll;
    }

    void run() {
        const bool watching = inotify >= 0;
        auto next_scan = steady::now() + period();
        std::optional<steady::time_point> act_at;  // the end of the quiet period
        std::map<fs::path, signature> pending;     // changed files, as they were at their last event
        bool full = false;
        while (!stopping) {
            const bool periodic = period().count() > 0;
            auto until = periodic ? next_scan : steady::now() + std::chrono::minutes(1);
            if (act_at) until = std::min(until, *act_at);
            pollfd fds[2] = {{wake, POLLIN, 0}, {inotify, POLLIN, 0}};
            const int ready = ::poll(fds, watching ? 2 : 1, millis_until(until));
            if (stopping) break;
            if (ready > 0 && (fds[0].revents & POLLIN)) {
                std::uint64_t count = 0;
                [[maybe_unused]] auto n = ::read(wake, &count, sizeof count);
                if (rescan_requested.exchange(false)) {
                    sync("requested");
                    continue;
                }
            }
            if (watching && ready > 0 && (fds[1].revents & POLLIN) && read_events(pending, full))
                act_at = steady::now() + settings.quiet;
            const auto now = steady::now();
            if (act_at && now >= *act_at) {
                // Still being written: wait for one more quiet period.
                bool moving = false;
                for (auto& [file, sig] : pending) {
                    const auto current = signature_of(file);
                    if (current != sig) {
                        sig = current;
                        moving = true;
                    }
                }
                if (moving) {
                    act_at = now + settings.quiet;
                    continue;
                }
                sync(full ? "rescan after an event queue overflow or a folder change" : "files changed");
                pending.clear();
                full = false;
                act_at.reset();
                if (watches.size() < dirs.size()) add_watches();
            }
            if (periodic && now >= next_scan) {
                if (watching) add_watches();
                sync(watching && watches.size() == dirs.size() ? "safety scan" : "poll");
                next_scan = steady::now() + period();
            } else if (!periodic) {
                next_scan = steady::now() + period();
            }
        }
    }
};

plugin_watcher::plugin_watcher(toolhost::host& h, std::vector<fs::path> dirs, plugin_watch_settings settings,
                               sync_handler on_sync)
    : impl_(std::make_unique<impl>(h, std::move(dirs), settings, std::move(on_sync))) {}

plugin_watcher::~plugin_watcher() = default;

void plugin_watcher::stop() { impl_->stop(); }

bool plugin_watcher::watching() const noexcept { return impl_->inotify_works; }

void plugin_watcher::rescan() {
    impl_->rescan_requested = true;
    impl_->notify();
}

}  // namespace toolhost::serve
