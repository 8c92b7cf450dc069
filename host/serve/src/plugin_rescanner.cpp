#include "plugin_rescanner.hpp"

#include <toolhost/logging.hpp>

namespace toolhost::serve {

plugin_rescanner::plugin_rescanner(toolhost::host& h, std::chrono::milliseconds interval)
    : host_(h), interval_(interval), thread_([this] { run(); }) {}

plugin_rescanner::~plugin_rescanner() { stop(); }

void plugin_rescanner::stop() {
    {
        std::lock_guard lock(m_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void plugin_rescanner::run() {
    std::unique_lock lock(m_);
    while (!cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
        lock.unlock();
        for (const auto& name : host_.load_new_plugins())
            logging::write(logging::level::info, "serve", "new tool served", {{"tool", name}});
        lock.lock();
    }
}

}  // namespace toolhost::serve
