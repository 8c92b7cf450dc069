#pragma once
// A tool whose plugin runs in a worker process of its own (`"isolation": "process"`): the
// tool_instance the host calls, and the supervisor of the process behind it.
//
// initialize() starts a thread that owns the worker for the instance's life: it spawns
// toolhost-worker (child_process.hpp; the thread that spawns it must live as long as the worker,
// for PR_SET_PDEATHSIG), goes through hello / init / ready (worker_protocol.hpp), and then watches
// the worker: its stdout and stderr become log records on channel plugin.<tool>, and its resource
// notices (the events socket) reach settings.events; the calls read their answers themselves. invoke() sends the call and waits on the calling
// thread, where it also serves the call's progress, log messages, nested calls and questions to
// the client, so that those run where an in-process plugin would have run them.
//
// When a call passes its deadline the worker gets cancel; when it has not answered `cancel_grace`
// later the worker is killed and a fresh one started at once. A worker that crashes or exits
// fails the calls it had with UNAVAILABLE naming the signal or exit code, and is restarted after
// a backoff (100 ms doubling to 30 s); five crashes within 60 s leave the tool failed
// (`gave_up`) until it is restarted.

#include "isolation/channel.hpp"
#include "isolation/child_process.hpp"
#include "isolation/worker_monitor.hpp"
#include "isolation/worker_server.hpp"
#include "loading/plugin_scanner.hpp"

#include <toolhost/tool_instance.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

namespace toolhost::detail {

struct worker_settings {
    std::filesystem::path executable;       ///< toolhost-worker
    std::filesystem::path plugin;           ///< the library file
    std::optional<file_identity> identity;  ///< the file as scanned: no worker starts for another
    std::uint32_t index = 0;                ///< the tool's index in the library
    std::string tool;
    toolhost_abi_version_t abi{TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR};
    std::chrono::milliseconds cancel_grace{200};
    std::chrono::milliseconds start_timeout{60000};
    worker_limits limits;
    /// Restart policy: the backoff doubles from `first_backoff` up to `max_backoff`; `max_crashes`
    /// within `crash_window` give up.
    std::chrono::milliseconds first_backoff{100};
    std::chrono::milliseconds max_backoff{30000};
    unsigned max_crashes = 5;
    std::chrono::milliseconds crash_window{60000};
    /// Where the tool's resource notices go (from the worker's events socket); null: dropped.
    std::shared_ptr<instance_events> events;
};

class worker_tool final : public tool_instance {
public:
    /// `gave_up` is called (on the supervising thread) when the worker crashed too often: the
    /// tool is to be marked failed with the error.
    worker_tool(worker_settings settings, std::shared_ptr<worker_monitor> monitor,
                std::function<void(const tool_error&)> gave_up);
    ~worker_tool() override;
    worker_tool(const worker_tool&) = delete;
    worker_tool& operator=(const worker_tool&) = delete;

    void_result initialize(std::string_view config_json, const std::filesystem::path& data_dir) override;
    call_result invoke(const invocation& call) noexcept override;
    void cleanup() noexcept override;

    /// Kills the worker without a restart: the calls it has end with UNAVAILABLE at once (a
    /// shutdown whose grace ran out). cleanup() is still to be called.
    void abandon(std::string reason);

private:
    enum class phase { idle, starting, running, backoff, failed, stopping, stopped };
    struct pending_call;
    struct run_outcome;
    class output_log;

    void supervise();
    run_outcome run_worker(bool restart);
    bool dispatch(channel::message& m, run_outcome& out, child_process& child, bool restart);
    bool read_notices(int fd);
    bool deliver(channel::message& m);
    bool read_channel(std::uint64_t generation, std::chrono::milliseconds wait);
    void hand_over(std::uint64_t except);
    void end_pending(const std::string& reason);
    void request_kill(std::uint64_t generation, std::string reason);
    void wake() noexcept;
    std::optional<tool_error> wait_until_running(const invocation& call);
    call_result serve_call(const invocation& call, pending_call& p, std::uint64_t id, std::uint64_t generation);
    void send_answer(std::uint32_t kind, std::uint64_t id, const call_result& r);
    tool_error unavailable(std::string message, std::optional<std::chrono::milliseconds> retry_after = {}) const;

    const worker_settings settings_;
    std::shared_ptr<worker_monitor> monitor_;
    std::function<void(const tool_error&)> gave_up_;
    std::string config_;
    std::filesystem::path data_dir_;

    // The phase, and why the worker is not running when it is not.
    std::mutex state_mutex_;
    std::condition_variable state_cv_;
    phase phase_ = phase::idle;
    std::chrono::steady_clock::time_point restart_at_{};
    std::string why_not_running_;
    std::optional<tool_error> start_error_;  // the first start's failure
    std::uint64_t kill_generation_ = 0;      // the worker to kill (0: none)
    std::string kill_reason_;

    // The current worker's channel. Sending holds send_mutex_ (with whether it takes calls);
    // reading holds read_mutex_: before ready the supervisor reads, after it the calls waiting for
    // answers do, one at a time (serve_call). Replacing the channel holds both.
    std::mutex send_mutex_;
    std::mutex read_mutex_;
    channel channel_;
    bool accepting_ = false;
    std::uint64_t generation_ = 0;             // of the running worker, under both mutexes
    std::atomic<bool> channel_closed_{false};  // a reader saw its end
    std::atomic<bool> reader_active_{false};   // a call holds read_mutex_ and reads

    // The calls waiting for an answer, by id.
    std::mutex pending_mutex_;
    std::unordered_map<std::uint64_t, std::shared_ptr<pending_call>> pending_;
    std::uint64_t next_id_ = 0;

    int wake_fd_ = -1;  // an eventfd that interrupts the supervising thread's poll()
    std::thread supervisor_;
};

}  // namespace toolhost::detail
