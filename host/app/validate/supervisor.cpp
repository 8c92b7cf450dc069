#include "validate/supervisor.hpp"

#include "cli.hpp"
#include "validate/checks.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost/plugin_loader.hpp>

#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>

extern char** environ;

namespace toolhost::cli::validate {

namespace json = boost::json;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

bool report::ok() const noexcept {
    return std::none_of(checks.begin(), checks.end(), [](const check_result& c) { return c.result == "fail"; });
}

namespace {

// How long a child may take to start and open the plugin before its first step.
constexpr std::chrono::seconds startup_timeout{60};
// Children lost to crashes and hangs before the rest is given up.
constexpr int max_restarts = 20;

// The environment of a child: this one's. Under a sanitizer, the plugin's SIGSEGV must end the
// child as it does in a release build (the sanitizer's handler would turn it into its own report
// and exit code), so that the crash is named by its signal; toolhost-worker does the same.
std::vector<std::string> child_environment() {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#if defined(__SANITIZE_ADDRESS__)
    const std::string key = "ASAN_OPTIONS=";
#else
    const std::string key = "TSAN_OPTIONS=";
#endif
    auto it = std::find_if(env.begin(), env.end(), [&](const std::string& v) { return v.starts_with(key); });
    if (it == env.end())
        env.push_back(key + "handle_segv=0");
    else
        *it += ":handle_segv=0";
#endif
    return env;
}

// A private folder, removed with what is in it.
class scratch_dir {
public:
    scratch_dir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/toolhost-validate-XXXXXX";
        if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
    }
    ~scratch_dir() {
        std::error_code ec;
        if (!path_.empty()) fs::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    const fs::path& path() const noexcept { return path_; }

private:
    fs::path path_;
};

struct fd_closer {
    int fd = -1;
    ~fd_closer() {
        if (fd >= 0) ::close(fd);
    }
};

// A descriptor moved above the ones the child gets (0-3), close-on-exec.
int above_three(int fd) {
    if (fd < 0 || fd > 3) return fd;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 4);
    ::close(fd);
    return moved;
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (!WIFSIGNALED(status)) return "ended";
    const int sig = WTERMSIG(status);
    const char* abbrev = ::sigabbrev_np(sig);
    const char* text = ::strsignal(sig);
    return "was killed by signal " + (abbrev ? "SIG" + std::string(abbrev) : std::to_string(sig)) +
           (text ? " (" + std::string(text) + ")" : "");
}

// What the reports of the children say, check by check.
struct observations {
    std::map<std::string, int, std::less<>> passes;
    std::map<std::string, std::vector<std::string>, std::less<>> pass_notes, failures, skips;

    void add(std::string_view check, std::string_view outcome, std::string message) {
        auto unique_add = [&](auto& map) {
            auto& list = map[std::string(check)];
            if (!message.empty() && std::find(list.begin(), list.end(), message) == list.end())
                list.push_back(std::move(message));
        };
        if (outcome == "pass") {
            ++passes[std::string(check)];
            unique_add(pass_notes);
        } else if (outcome == "fail") {
            unique_add(failures);
        } else {
            unique_add(skips);
        }
    }
};

// The step a child announced and has not finished.
struct current_step {
    std::size_t step = 0;
    std::string check, tool, what;
};

// One child process: runs the job from `resume` on and feeds what it reports into `seen`.
class child_run {
public:
    struct ended {
        bool finished = false;  // it reported "done"
        std::optional<current_step> lost_in;
        std::string how;  // how the process ended, when it did not finish
    };

    child_run(const supervisor_options& o, observations& seen) : options_(o), seen_(seen) {}

    ended run(const fs::path& job_file) {
        stderr_tail_.clear();  // what this child says, not the last one
        int report_pipe[2], err_pipe[2];
        if (::pipe2(report_pipe, O_CLOEXEC) != 0) return {false, {}, std::string("pipe: ") + std::strerror(errno)};
        fd_closer report_read{above_three(report_pipe[0])}, report_write{above_three(report_pipe[1])};
        if (::pipe2(err_pipe, O_CLOEXEC) != 0) return {false, {}, std::string("pipe: ") + std::strerror(errno)};
        fd_closer err_read{above_three(err_pipe[0])}, err_write{above_three(err_pipe[1])};

        posix_spawn_file_actions_t fa;
        ::posix_spawn_file_actions_init(&fa);
        ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        ::posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        ::posix_spawn_file_actions_adddup2(&fa, err_write.fd, 2);
        ::posix_spawn_file_actions_adddup2(&fa, report_write.fd, 3);
        ::posix_spawn_file_actions_addclosefrom_np(&fa, 4);
        posix_spawnattr_t attr;
        ::posix_spawnattr_init(&attr);
        sigset_t all, none;
        sigfillset(&all);
        sigemptyset(&none);
        ::posix_spawnattr_setsigdefault(&attr, &all);
        ::posix_spawnattr_setsigmask(&attr, &none);
        ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        std::vector<std::string> args{options_.executable.filename().string()};
        args.insert(args.end(), options_.child_options.begin(), options_.child_options.end());
        args.push_back("validate-plugin-child");
        args.push_back(job_file.string());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<std::string> env = child_environment();
        std::vector<char*> envp;
        for (auto& e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        pid_t pid = -1;
        const int rc = ::posix_spawn(&pid, options_.executable.c_str(), &fa, &attr, argv.data(), envp.data());
        ::posix_spawn_file_actions_destroy(&fa);
        ::posix_spawnattr_destroy(&attr);
        if (rc != 0) return {false, {}, "cannot start " + options_.executable.string() + ": " + std::strerror(rc)};
        ::close(std::exchange(report_write.fd, -1));
        ::close(std::exchange(err_write.fd, -1));

        ended out = read_reports(report_read.fd, err_read.fd, pid);
        // Its report pipe is closed; a process that lingers after that (a plugin closed the
        // descriptor?) is ended here.
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == 0) {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
        drain_stderr(err_read.fd);
        if (!out.finished && out.how.empty()) out.how = "the process running it " + describe_exit(status);
        return out;
    }

    /// The end of what the children wrote to stderr (the crash line of the host names the plugin code).
    std::string stderr_tail() const {
        std::string t = stderr_tail_;
        while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
        if (t.size() > 600) t = "..." + t.substr(t.size() - 600);
        return t;
    }

private:
    ended read_reports(int report_fd, int err_fd, pid_t pid) {
        ended out;
        std::optional<current_step> current;
        std::string buffer;
        const auto step_timeout =
            std::max<steady::duration>(std::chrono::seconds(10), 2 * options_.timeout + std::chrono::seconds(5));
        auto deadline = steady::now() + startup_timeout;
        bool report_open = true;
        while (report_open) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (left.count() <= 0) {
                ::kill(pid, SIGKILL);
                out.lost_in = current;
                out.how = "did not finish within " +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(step_timeout).count()) +
                          " s (the process was killed): the plugin hangs there";
                return out;
            }
            pollfd fds[2] = {{report_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
            const int n = ::poll(fds, err_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;
            if (fds[1].revents != 0) drain_stderr(err_fd);
            if (fds[0].revents == 0) continue;
            char buf[65536];
            const ssize_t got = ::read(report_fd, buf, sizeof buf);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                report_open = false;
                break;
            }
            buffer.append(buf, static_cast<std::size_t>(got));
            for (std::size_t eol; (eol = buffer.find('\n')) != std::string::npos;) {
                const std::string line = buffer.substr(0, eol);
                buffer.erase(0, eol + 1);
                boost::system::error_code ec;
                const json::value v = json::parse(line, ec);
                if (ec || !v.is_object()) continue;
                const json::object& e = v.get_object();
                auto text = [&](std::string_view key) {
                    const auto* m = e.if_contains(key);
                    return m != nullptr && m->is_string() ? std::string(m->get_string()) : std::string();
                };
                const std::string event = text("event");
                deadline = steady::now() + step_timeout;
                if (event == "begin") {
                    const auto* step = e.if_contains("step");
                    current = current_step{step != nullptr && step->is_number() ? step->to_number<std::size_t>() : 0,
                                           text("check"), text("tool"), text("what")};
                } else if (event == "end") {
                    current.reset();
                } else if (event == "verdict") {
                    seen_.add(text("check"), text("outcome"), text("message"));
                } else if (event == "done") {
                    out.finished = true;
                }
            }
        }
        out.lost_in = current;
        if (!out.finished) {
            // The report pipe closed without "done": the process ended (or is ending) on its own.
            siginfo_t info{};
            for (int i = 0; i < 200; ++i) {
                info.si_pid = 0;
                if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
                    info.si_pid != 0)
                    break;
                ::usleep(10000);
            }
        }
        return out;
    }

    void drain_stderr(int fd) {
        char buf[4096];
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 0) <= 0) return;
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) return;
            if (options_.child_stderr != nullptr) options_.child_stderr->write(buf, n).flush();
            stderr_tail_.append(buf, static_cast<std::size_t>(n));
            if (stderr_tail_.size() > 8192) stderr_tail_.erase(0, stderr_tail_.size() - 4096);
        }
    }

    const supervisor_options& options_;
    observations& seen_;
    std::string stderr_tail_;
};

// ---------------------------------------------------------------------- what inspect tells

check_result make(std::string_view name, std::string result, std::string message,
                  std::vector<std::string> failures = {}) {
    return {std::string(name), std::move(result), std::move(message), std::move(failures)};
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : std::string(sep)) + x;
    return s;
}

check_result loads_check(const plugin_inspection& p) {
    if (p.refused.empty()) {
        const std::string abi = std::to_string(p.abi.major) + "." + std::to_string(p.abi.minor);
        return make("loads", "pass", p.plugin_name + " " + p.plugin_version + " (ABI " + abi + ")");
    }
    return make("loads", "fail", "the host refuses the file", {p.refused});
}

check_result exports_check(const plugin_inspection& p) {
    if (!p.elf_error.empty()) return make("exports", "fail", "its ELF headers cannot be read", {p.elf_error});
    std::vector<std::string> extra;
    bool has_entry = false;
    for (const auto& s : p.exported) {
        if (s == "toolhost_plugin_entry_v1")
            has_entry = true;
        else
            extra.push_back(s);
    }
    std::vector<std::string> failures;
    if (!has_entry)
        failures.push_back(
            "the library does not export toolhost_plugin_entry_v1: define it with TOOLHOST_PLUGIN "
            "(C++) or as in docs/writing-a-plugin.md (C), with TOOLHOST_EXPORT");
    if (!extra.empty()) {
        std::vector<std::string> shown(extra.begin(), extra.begin() + std::min<std::size_t>(extra.size(), 8));
        failures.push_back("the library exports " + std::to_string(extra.size()) +
                           " symbol(s) besides toolhost_plugin_entry_v1 (" + join(shown) +
                           (extra.size() > shown.size() ? ", ..." : "") +
                           "): build it with toolhost_add_plugin(), or with -fvisibility=hidden and a version script "
                           "that exports only the entry (sdk/cmake/toolhost_plugin.map)");
    }
    if (!failures.empty()) return make("exports", "fail", std::to_string(failures.size()) + " problem(s)", failures);
    return make("exports", "pass", "toolhost_plugin_entry_v1 only");
}

check_result descriptors_check(const plugin_inspection& p) {
    std::vector<std::string> failures;
    for (const auto& r : p.problems) failures.push_back(r.reason);
    std::size_t operations = 0;
    for (const auto& t : p.tools) {
        for (const auto& op : t.operations) {
            ++operations;
            // Arguments are always an object: an input schema that refuses every object refuses every call.
            const auto& s = op.input_schema.source();
            const auto* type = s.is_object() ? s.get_object().if_contains("type") : nullptr;
            bool takes_objects = type == nullptr;
            if (type != nullptr && type->is_string()) takes_objects = type->get_string() == "object";
            if (type != nullptr && type->is_array())
                for (const auto& x : type->get_array()) takes_objects = takes_objects || x == "object";
            if (!takes_objects)
                failures.push_back(t.name + "." + op.name +
                                   ": its input_schema's root has \"type\": " + toolhost::json_text(*type) +
                                   ", but arguments are always a JSON object: make it {\"type\":\"object\", "
                                   "\"properties\": {...}}");
        }
    }
    if (p.tools.empty() && failures.empty()) failures.push_back("the plugin offers no tool (tool_count() is 0)");
    if (!failures.empty())
        return make("descriptors", "fail", std::to_string(failures.size()) + " problem(s)", std::move(failures));
    return make("descriptors", "pass",
                std::to_string(p.tools.size()) + " tool(s), " + std::to_string(operations) + " operation(s)");
}

// The summary of a check that passed, from what its passes name.
std::string pass_summary(std::string_view check, int passes, const std::vector<std::string>& notes) {
    const std::string n = std::to_string(passes);
    if (check == "lifecycle") return "started and stopped: " + join(notes);
    if (check == "leaks")
        return "no descriptor or thread left after " + std::to_string(leak_cycles) + " cycles: " + join(notes);
    if (check == "calls") return n + " calls answered";
    if (check == "invalid_arguments") return n + " invalid argument sets refused before the plugin ran";
    if (check == "results") return n + " results are valid JSON";
    if (check == "output_schema") return n + " results match their output_schema";
    if (check == "errors") return n + " failures carried a status and a message";
    if (check == "no_stdout") return "nothing written in " + n + " steps";
    if (check == "thread_safety")
        return "survived calls from " + std::to_string(concurrent_threads) + " threads at once: " + join(notes);
    if (check == "cancellation")
        return "returned within " + std::to_string(cancel_grace.count()) + " ms of cancellation: " + join(notes);
    return n + " passed";
}

}  // namespace

boost::system::result<report, setup_error> run_validation(const fs::path& file, const supervisor_options& options) {
    std::error_code ec;
    const auto st = fs::status(file, ec);
    if (ec || !fs::exists(st))
        return setup_error{exit_code::no_input, "cannot open " + file.string() + ": no such file"};
    if (!fs::is_regular_file(st))
        return setup_error{exit_code::no_input, "cannot open " + file.string() + ": not a regular file"};
    if (::access(file.c_str(), R_OK) != 0)
        return setup_error{exit_code::no_input, "cannot open " + file.string() + ": " + std::strerror(errno)};

    // The plugin runs from a private folder: a copy of the file (its mode and owner as the loader
    // wants them, whatever the build folder's umask made them), its sample data next to it as
    // the bundled plugins expect (<folder>/<name>/, linked), and a data folder of its own.
    scratch_dir scratch;
    if (scratch.path().empty())
        return setup_error{exit_code::unavailable,
                           std::string("cannot make a temporary folder: ") + std::strerror(errno)};
    const fs::path plugins = scratch.path() / "plugins", data = scratch.path() / "var";
    fs::create_directory(plugins, ec);
    fs::create_directory(data, ec);
    fs::permissions(plugins, fs::perms::owner_all, ec);
    fs::permissions(data, fs::perms::owner_all, ec);
    std::string name = file.filename().string();
    if (!name.ends_with(".so")) name += ".so";
    const fs::path copy = plugins / name;
    fs::copy_file(file, copy, ec);
    if (ec) return setup_error{exit_code::no_input, "cannot copy " + file.string() + ": " + ec.message()};
    fs::permissions(copy,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                        fs::perms::others_exec,
                    ec);
    const fs::path beside = file.parent_path() / file.stem();
    if (fs::is_directory(beside, ec)) fs::create_directory_symlink(fs::absolute(beside), plugins / file.stem(), ec);

    report out;
    out.path = file.string();
    const plugin_inspection inspection = plugin_loader().inspect(copy);
    if (inspection.refused.starts_with("cannot scan:")) return setup_error{exit_code::unavailable, inspection.refused};
    std::map<std::string, check_result, std::less<>> decided;
    decided["loads"] = loads_check(inspection);
    decided["exports"] = exports_check(inspection);
    const bool loads = inspection.refused.empty();
    if (loads) out.plugin = inspection.plugin_name + " " + inspection.plugin_version;
    if (loads) decided["descriptors"] = descriptors_check(inspection);
    if (inspection.refused.find("standard output") != std::string::npos)
        decided["no_stdout"] =
            make("no_stdout", "fail", "the library writes to stdout while it loads", {inspection.refused});

    observations seen;
    if (loads && !inspection.tools.empty()) {
        job j;
        j.plugin_dir = plugins;
        j.data_dir = data;
        j.timeout = options.timeout;
        j.configs = options.configs;
        j.config_file = options.config_file;
        const fs::path job_file = scratch.path() / "job.json";
        child_run child(options, seen);
        for (int restarts = 0;; ++restarts) {
            {
                std::ofstream f(job_file, std::ios::trunc);
                f << toolhost::json_text(j.to_json());
            }
            const auto end = child.run(job_file);
            if (end.finished) break;
            std::string what = end.lost_in ? end.lost_in->what : "opening the plugin in the checking process";
            std::string message = end.how.starts_with("did not finish") ? "the plugin " + end.how + " while " + what
                                                                        : end.how + " while " + what;
            if (const auto tail = child.stderr_tail(); !tail.empty()) message += "; its stderr ended with: " + tail;
            seen.add(end.lost_in ? end.lost_in->check : "lifecycle", "fail", std::move(message));
            if (!end.lost_in) break;  // lost outside any step: a fresh child would lose it again
            j.resume = end.lost_in->step + 1;
            j.lost_steps.push_back(end.lost_in->step);
            if (end.lost_in->check == "lifecycle" && end.lost_in->what.starts_with("creating"))
                j.skip_tools.push_back(end.lost_in->tool);
            if (restarts + 1 >= max_restarts) {
                seen.add("lifecycle", "fail",
                         "the plugin ended " + std::to_string(max_restarts) +
                             " checking processes; the steps after the last one were not run");
                break;
            }
        }
    }

    const std::string not_loaded = loads ? "the plugin offers no valid tool" : "the file does not load";
    for (const auto& c : checks) {
        if (auto it = decided.find(c.name); it != decided.end()) {
            out.checks.push_back(it->second);
            continue;
        }
        if (auto f = seen.failures.find(c.name); f != seen.failures.end() && !f->second.empty()) {
            out.checks.push_back(make(c.name, "fail", std::to_string(f->second.size()) + " problem(s)", f->second));
        } else if (auto p = seen.passes.find(c.name); p != seen.passes.end() && p->second > 0) {
            out.checks.push_back(
                make(c.name, "pass", pass_summary(c.name, p->second, seen.pass_notes[std::string(c.name)])));
        } else if (auto s = seen.skips.find(c.name); s != seen.skips.end() && !s->second.empty()) {
            out.checks.push_back(make(c.name, "skip", join(s->second, "; ")));
        } else {
            const bool ran = loads && !inspection.tools.empty();
            out.checks.push_back(make(c.name, "skip",
                                      !ran                 ? not_loaded
                                      : c.name == "errors" ? "no call failed"
                                                           : "nothing to check"));
        }
    }
    return out;
}

}  // namespace toolhost::cli::validate
