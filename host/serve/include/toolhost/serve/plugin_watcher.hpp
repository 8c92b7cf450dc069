#pragma once
/// The live plugin folder: watches the host's plugin directories and calls host::sync_plugins()
/// when they change, so that a `.so` dropped in is served, a new build renamed over an old one
/// replaces it, and a deleted one is removed, all without a restart. Part of serve::service; an
/// embedding program can run one of its own.
///
///     toolhost::serve::plugin_watcher watcher(host, host.config().plugin_dirs, {});
///
/// With inotify (Linux) it acts on IN_CLOSE_WRITE, IN_MOVED_TO, IN_MOVED_FROM, IN_DELETE,
/// IN_CREATE and IN_ATTRIB of `*.so` names, once the folder has been quiet for `quiet` and the
/// changed files' size and modification time held still over one more quiet period (a copy
/// still being written waits). An event queue overflow (IN_Q_OVERFLOW), a watched directory that
/// went away and every `safety_scan` bring a full rescan (a symlinked plugin whose target was
/// rebuilt elsewhere shows up there). Where inotify is not available, it rescans every `poll`.
/// A rescan opens only files whose identity changed.

#include <toolhost/host.hpp>
#include <toolhost/serve/export.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

namespace toolhost::serve {

struct plugin_watch_settings {
    std::chrono::milliseconds quiet{200};          ///< act once no change came for this long
    std::chrono::milliseconds safety_scan{60000};  ///< a full rescan this often all the same; 0: never
    std::chrono::milliseconds poll{2000};          ///< without inotify: a rescan this often
    bool use_inotify = true;                       ///< false: poll (tests of the fallback)
};

class TOOLHOST_SERVE_API plugin_watcher {
public:
    /// Called on the watcher's thread after each sync that changed or refused something.
    using sync_handler = std::function<void(const plugin_sync_report&)>;

    /// Starts watching `dirs` (normally host.config().plugin_dirs) on a thread of its own.
    plugin_watcher(toolhost::host& h, std::vector<std::filesystem::path> dirs, plugin_watch_settings settings,
                   sync_handler on_sync = {});
    ~plugin_watcher();  ///< stop()
    plugin_watcher(const plugin_watcher&) = delete;
    plugin_watcher& operator=(const plugin_watcher&) = delete;

    /// Ends the thread after the sync in progress, if any. Idempotent.
    void stop();
    /// Whether changes are seen through inotify (false: polling).
    bool watching() const noexcept;
    /// Syncs now, on the watcher's thread (after what it is doing), as a safety scan would.
    void rescan();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace toolhost::serve
