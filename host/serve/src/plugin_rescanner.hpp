#pragma once
// Hot reload: a thread that looks for new plugin files every interval, so that a .so dropped
// into a plugin folder is served without a restart (the MCP server tells its clients the tool
// list changed).

#include <toolhost/host.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace toolhost::serve {

class plugin_rescanner {
public:
    plugin_rescanner(toolhost::host& h, std::chrono::milliseconds interval);
    ~plugin_rescanner();  ///< stop()
    plugin_rescanner(const plugin_rescanner&) = delete;
    plugin_rescanner& operator=(const plugin_rescanner&) = delete;

    /// Ends the thread after the scan in progress, if any. Idempotent.
    void stop();

private:
    void run();

    toolhost::host& host_;
    const std::chrono::milliseconds interval_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace toolhost::serve
