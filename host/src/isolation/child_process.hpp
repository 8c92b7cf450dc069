#pragma once
// A child process the host starts and supervises: a plugin scanner, or a tool's worker.
//
// spawn() starts `executable` with posix_spawn: the child gets stdin on /dev/null, stdout on
// /dev/null or on the stderr pipe (stdout_to), stderr on a pipe the host reads, descriptor 3, one
// end of a SOCK_SEQPACKET socket pair (channel.hpp), and, when asked, descriptor 4, one end of a
// second pair for what the child tells the host unasked (a tool's resource notices); every other
// descriptor is closed. The host watches the child through a pidfd, so waiting and killing
// can never hit a recycled pid. The child dies with the host: it asks the kernel for SIGKILL when
// its parent dies (PR_SET_PDEATHSIG, set by the worker itself, worker/main.cpp) and it exits when
// its end of the channel reports the host gone.

#include <boost/system/result.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace toolhost::detail {

/// How a child ended, as waitpid() says.
struct child_exit {
    bool signaled = false;
    int code = 0;  ///< the exit status, or the signal number when signaled

    /// "exited with code 3", "was killed by signal SIGSEGV (Segmentation fault)".
    std::string describe() const;
};

class child_process {
public:
    /// The descriptor number the channel has in the child.
    static constexpr int channel_fd = 3;
    /// The descriptor number of the events socket in the child, when spawn() made one.
    static constexpr int events_fd = 4;

    child_process() = default;
    child_process(child_process&&) noexcept;
    child_process& operator=(child_process&&) noexcept;
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    /// Kills (SIGKILL) and reaps a child that still runs.
    ~child_process();

    /// Where the child's stdout goes: nowhere (the scanner, which catches a library's writes
    /// itself), or into the same pipe as its stderr (a tool's worker, whose output the host logs).
    enum class stdout_to { null, stderr_pipe };

    /// Starts `executable` with `args` (argv[1...]). On success, `channel` holds the host's end of
    /// the socket pair, and `events`, when given, the host's end of the events pair (non-blocking).
    /// The error names the executable and the reason.
    static boost::system::result<child_process, std::string> spawn(const std::filesystem::path& executable,
                                                                   const std::vector<std::string>& args, int& channel,
                                                                   stdout_to out = stdout_to::null,
                                                                   int* events = nullptr);

    pid_t pid() const noexcept { return pid_; }
    /// The read end of the child's stderr (non-blocking), or -1.
    int stderr_fd() const noexcept { return stderr_; }
    /// The pidfd: readable once the child has ended (for poll()), or -1.
    int pidfd() const noexcept { return pidfd_; }
    /// Reads what the child wrote to stderr since the last call (at most `max` bytes kept: the end).
    std::string drain_stderr(std::size_t max = 4096);

    /// Sends SIGKILL (idempotent; nothing happens once the child is reaped).
    void kill() noexcept;
    /// Waits up to `timeout` for the child to end and reaps it; nullopt if it still runs.
    std::optional<child_exit> wait_for(std::chrono::milliseconds timeout);
    /// Kills the child and reaps it: how it ended (a child that ended by itself keeps its reason).
    child_exit kill_and_wait();
    /// How it ended, once reaped.
    const std::optional<child_exit>& exit() const noexcept { return exit_; }

private:
    void close_all() noexcept;

    pid_t pid_ = -1;
    int pidfd_ = -1;
    int stderr_ = -1;
    std::optional<child_exit> exit_;
};

}  // namespace toolhost::detail
