#include "isolation/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

extern char** environ;

namespace toolhost::detail {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Through syscall(): glibc 2.36's <sys/pidfd.h> declares its wrappers without extern "C".
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_kill(int pidfd) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0)); }

// A descriptor moved above the child's fixed ones (close-on-exec), so that the child's dup2()
// onto 0-4 never lands on a descriptor it still has to copy (a host that runs with 0, 1 or 2
// closed), and never copies one onto itself (which would keep close-on-exec).
int above_fixed(int fd) {
    constexpr int first_free = child_process::events_fd + 1;
    if (fd < 0 || fd >= first_free) return fd;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, first_free);
    ::close(fd);
    return moved;
}

struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
    int release() noexcept { return std::exchange(fd, -1); }
};

}  // namespace

std::string child_exit::describe() const {
    if (!signaled && code < 0) return "ended (its exit status is unknown: the host ignores SIGCHLD)";
    if (!signaled) return "exited with code " + std::to_string(code);
    const char* abbrev = ::sigabbrev_np(code);
    const char* text = ::strsignal(code);
    return "was killed by signal " + (abbrev ? "SIG" + std::string(abbrev) : std::to_string(code)) +
           (text ? " (" + std::string(text) + ")" : "");
}

child_process::child_process(child_process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), pidfd_(std::exchange(o.pidfd_, -1)), stderr_(std::exchange(o.stderr_, -1)),
      exit_(std::move(o.exit_)) {}

child_process& child_process::operator=(child_process&& o) noexcept {
    if (this != &o) {
        if (pid_ > 0 && !exit_) kill_and_wait();
        close_all();
        pid_ = std::exchange(o.pid_, -1);
        pidfd_ = std::exchange(o.pidfd_, -1);
        stderr_ = std::exchange(o.stderr_, -1);
        exit_ = std::move(o.exit_);
    }
    return *this;
}

child_process::~child_process() {
    if (pid_ > 0 && !exit_) kill_and_wait();
    close_all();
}

void child_process::close_all() noexcept {
    if (pidfd_ >= 0) ::close(std::exchange(pidfd_, -1));
    if (stderr_ >= 0) ::close(std::exchange(stderr_, -1));
}

boost::system::result<child_process, std::string> child_process::spawn(const std::filesystem::path& executable,
                                                                       const std::vector<std::string>& args,
                                                                       int& channel, stdout_to out, int* events) {
    const std::string what = "cannot start " + executable.string() + ": ";
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return what + errno_text(errno);
    fd_guard host_end{above_fixed(sv[0])}, child_end{above_fixed(sv[1])};
    fd_guard events_host, events_child;
    if (events != nullptr) {
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return what + errno_text(errno);
        events_host.fd = above_fixed(sv[0]);
        events_child.fd = above_fixed(sv[1]);
        if (events_host.fd < 0 || events_child.fd < 0) return what + errno_text(errno);
        ::fcntl(events_host.fd, F_SETFL, O_NONBLOCK);
    }
    int ep[2];
    if (::pipe2(ep, O_CLOEXEC) != 0) return what + errno_text(errno);
    fd_guard err_read{above_fixed(ep[0])}, err_write{above_fixed(ep[1])};
    if (host_end.fd < 0 || child_end.fd < 0 || err_read.fd < 0 || err_write.fd < 0) return what + errno_text(errno);
    ::fcntl(err_read.fd, F_SETFL, O_NONBLOCK);

    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out == stdout_to::stderr_pipe)
        ::posix_spawn_file_actions_adddup2(&fa, err_write.fd, 1);
    else
        ::posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    ::posix_spawn_file_actions_adddup2(&fa, err_write.fd, 2);
    ::posix_spawn_file_actions_adddup2(&fa, child_end.fd, channel_fd);
    if (events != nullptr) ::posix_spawn_file_actions_adddup2(&fa, events_child.fd, events_fd);
    ::posix_spawn_file_actions_addclosefrom_np(&fa, events != nullptr ? events_fd + 1 : channel_fd + 1);

    // Default dispositions and an empty mask whatever the host set (it may ignore SIGPIPE or
    // block signals for its own threads), and a process group of its own, so that a terminal's
    // Ctrl-C reaches the host, which decides what happens to its children.
    posix_spawnattr_t attr;
    ::posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    ::posix_spawnattr_setsigdefault(&attr, &all);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setpgroup(&attr, 0);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

    std::vector<std::string> storage;
    storage.reserve(args.size() + 1);
    storage.push_back(executable.filename().string());
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : storage) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, executable.c_str(), &fa, &attr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    if (rc != 0) return what + errno_text(rc);

    child_process child;
    child.pid_ = pid;
    child.pidfd_ = pidfd_open(pid);
    if (child.pidfd_ < 0) {
        const int err = errno;
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        child.pid_ = -1;
        return what + "pidfd_open: " + errno_text(err);
    }
    child.stderr_ = err_read.release();
    channel = host_end.release();
    if (events != nullptr) *events = events_host.release();
    return child;
}

std::string child_process::drain_stderr(std::size_t max) {
    std::string out;
    if (stderr_ < 0) return out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(stderr_, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > 2 * max) out.erase(0, out.size() - max);
    }
    if (out.size() > max) out.erase(0, out.size() - max);
    return out;
}

void child_process::kill() noexcept {
    if (pidfd_ >= 0 && !exit_) pidfd_kill(pidfd_);
}

std::optional<child_exit> child_process::wait_for(std::chrono::milliseconds timeout) {
    if (exit_) return exit_;
    if (pidfd_ < 0) return std::nullopt;
    pollfd p{pidfd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, timeout.count())));
    if (ready <= 0) return std::nullopt;
    siginfo_t info{};
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED) != 0) {
        // Reaped already: the process ignores SIGCHLD, so the kernel collected the status.
        if (errno == ECHILD) exit_ = child_exit{false, -1};
        return exit_;
    }
    child_exit e;
    e.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
    e.code = info.si_status;
    exit_ = e;
    return exit_;
}

child_exit child_process::kill_and_wait() {
    if (exit_) return *exit_;
    if (auto e = wait_for(std::chrono::milliseconds(0))) return *e;
    kill();
    for (;;) {
        if (auto e = wait_for(std::chrono::milliseconds(1000))) return *e;
        if (pidfd_ < 0) return {};
        kill();
    }
}

}  // namespace toolhost::detail
