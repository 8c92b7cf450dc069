#include "test_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace toolhost::test {

namespace fs = std::filesystem;

temp_dir::temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/toolhost-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
    path_ = tmpl;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    // Restore permissions a test may have taken away, so removal works.
    for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_symlink(ec)) fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
    fs::remove_all(path_, ec);
}

namespace {

// argv and the environment (this process's, with `env` over it) as posix_spawn takes them.
struct spawn_arguments {
    std::vector<std::string> strings;
    std::vector<char*> argv;
    std::vector<char*> envp;

    spawn_arguments(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
        std::map<std::string, std::string> merged;
        for (char** e = environ; *e; ++e) {
            const std::string kv = *e;
            const auto eq = kv.find('=');
            if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        for (const auto& [k, v] : env) merged[k] = v;
        strings = args;
        for (const auto& [k, v] : merged) strings.push_back(k + "=" + v);
        for (std::size_t i = 0; i < strings.size(); ++i) {
            (i < args.size() ? argv : envp).push_back(strings[i].data());
            if (i + 1 == args.size()) argv.push_back(nullptr);
        }
        envp.push_back(nullptr);
    }
};

}  // namespace

process_result run_process(const std::vector<std::string>& argv, const std::string& input,
                           const std::map<std::string, std::string>& env) {
    ::signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test with SIGPIPE
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) || ::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC))
        throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);

    spawn_arguments spawn(argv, env);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, spawn.argv[0], &fa, nullptr, spawn.argv.data(), spawn.envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (rc != 0) {
        ::close(in_pipe[1]);
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
    }

    process_result r;
    std::size_t written = 0;
    int in_fd = in_pipe[1];
    if (input.empty()) {
        ::close(in_fd);
        in_fd = -1;
    }
    int fds_open = 2;
    char buf[65536];
    while (fds_open > 0 || in_fd >= 0) {
        pollfd pfd[3];
        int n = 0;
        int out_i = -1, err_i = -1, in_i = -1;
        if (out_pipe[0] >= 0) {
            pfd[n] = {out_pipe[0], POLLIN, 0};
            out_i = n++;
        }
        if (err_pipe[0] >= 0) {
            pfd[n] = {err_pipe[0], POLLIN, 0};
            err_i = n++;
        }
        if (in_fd >= 0) {
            pfd[n] = {in_fd, POLLOUT, 0};
            in_i = n++;
        }
        if (::poll(pfd, n, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        auto drain = [&](int i, int& fd, std::string& sink) {
            if (i < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) return;
            ssize_t k = ::read(fd, buf, sizeof buf);
            if (k > 0) {
                sink.append(buf, static_cast<std::size_t>(k));
            } else if (k == 0 || errno != EINTR) {
                ::close(fd);
                fd = -1;
                --fds_open;
            }
        };
        drain(out_i, out_pipe[0], r.out);
        drain(err_i, err_pipe[0], r.err);
        if (in_i >= 0 && (pfd[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t k = ::write(in_fd, input.data() + written, input.size() - written);
            if (k > 0) written += static_cast<std::size_t>(k);
            if (k < 0 || written == input.size()) {
                ::close(in_fd);
                in_fd = -1;
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

background_process::background_process(const std::vector<std::string>& argv, const fs::path& log_dir,
                                       const std::map<std::string, std::string>& env) {
    err_file_ = log_dir / (fs::path(argv.at(0)).filename().string() + ".stderr");
    out_file_ = log_dir / (fs::path(argv.at(0)).filename().string() + ".stdout");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    spawn_arguments spawn(argv, env);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, spawn.argv[0], &fa, nullptr, spawn.argv.data(), spawn.envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
    pid_ = pid;
}

background_process::~background_process() {
    if (running()) stop(SIGKILL);
}

bool background_process::running() {
    if (status_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
}

int background_process::stop(int signal) {
    if (!status_) {
        ::kill(pid_, signal);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return *status_;
}

std::string background_process::out() const { return read_file(out_file_); }
std::string background_process::err() const { return read_file(err_file_); }

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= until) return false;
        ::usleep(20000);
    }
}

void write_file(const fs::path& file, const std::string& content) {
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    f << content;
    if (!f) throw std::runtime_error("cannot write " + file.string());
}

std::string read_file(const fs::path& file) {
    std::ifstream f(file, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

fs::path copy_into(const fs::path& file, const fs::path& dir, const std::string& name) {
    auto target = dir / (name.empty() ? file.filename().string() : name);
    fs::copy_file(file, target, fs::copy_options::overwrite_existing);
    fs::permissions(target, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
    return target;
}

host_config testkit_config(const std::filesystem::path& dir, unsigned threads) {
    const auto plugins = dir / "plugins";
    std::filesystem::create_directories(plugins);
    copy_into(TOOLHOST_FIXTURE_TESTKIT, plugins, "testkit.so");
    auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
    c.plugin_dirs = {plugins};
    c.data_dir = dir / "var";
    c.threads = threads;
    c.log_level = "error";
    return c;
}

void deploy(const std::filesystem::path& build, const std::filesystem::path& dir, const std::string& name) {
    std::filesystem::rename(copy_into(build, dir, "." + name + ".tmp"), dir / name);
}

host_config folder_config(const std::filesystem::path& dir, const std::string& text, unsigned threads) {
    const auto file = dir / "toolhost.json";
    write_file(file, text);
    auto c = load_config(file, [](std::string_view) { return std::optional<std::string>(); });
    if (!c) throw std::runtime_error("test configuration refused: " + all(c.error()));
    c->plugin_dirs = {dir / "plugins"};
    c->data_dir = dir / "var";
    c->threads = threads;
    c->log_level = "error";
    return std::move(*c);
}

std::vector<std::string> tool_names(const load_report& report) {
    std::vector<std::string> names;
    for (const auto& t : report.tools) names.push_back(t.name);
    std::sort(names.begin(), names.end());
    return names;
}

namespace {
// The state letter and parent of a process from /proc/PID/stat ("pid (comm) state ppid ..."; comm
// may hold spaces and parentheses, so the fields are read after the last ')').
std::optional<std::pair<char, int>> stat_of(const std::filesystem::path& dir) {
    std::ifstream stat(dir / "stat");
    std::string line;
    if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) return std::nullopt;
    std::istringstream rest(line.substr(line.rfind(')') + 1));
    char state = 0;
    int ppid = 0;
    rest >> state >> ppid;
    return std::pair{state, ppid};
}
}  // namespace

std::vector<int> children_of(int parent) {
    std::vector<int> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const auto name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        if (auto s = stat_of(e.path()); s && s->second == parent && s->first != 'Z') out.push_back(std::stoi(name));
    }
    return out;
}

bool still_runs(int pid) {
    auto s = stat_of("/proc/" + std::to_string(pid));
    return s && s->first != 'Z';
}

}  // namespace toolhost::test
