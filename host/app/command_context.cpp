#include "command_context.hpp"

#include <toolhost/logging.hpp>
#include <toolhost/serve/failure_json.hpp>

#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <toolhost/json_text.hpp>

// Set by host/CMakeLists.txt: the source tree's conf/toolhost.json, the build tree's bin folder
// (the source conf is read only by an executable that runs from there), and the installed
// configuration folder relative to the installed executable's folder (../etc/toolhost for a
// prefix such as $HOME/toolhost).
#ifndef TOOLHOST_SOURCE_CONF
#define TOOLHOST_SOURCE_CONF ""
#endif
#ifndef TOOLHOST_BUILD_BINDIR
#define TOOLHOST_BUILD_BINDIR ""
#endif
#ifndef TOOLHOST_BIN_TO_CONFDIR
#define TOOLHOST_BIN_TO_CONFDIR "../etc/toolhost"
#endif

namespace toolhost::cli {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// An output stream buffer on a file descriptor (the saved stdout).
class fd_streambuf final : public std::streambuf {
public:
    explicit fd_streambuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
    ~fd_streambuf() override {
        sync();
        ::close(fd_);
    }

protected:
    int_type overflow(int_type c) override {
        if (sync() != 0) return traits_type::eof();
        if (!traits_type::eq_int_type(c, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }
    int sync() override {
        for (const char* p = pbase(); p < pptr();) {
            const ssize_t n = ::write(fd_, p, static_cast<std::size_t>(pptr() - p));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return -1;
            p += n;
        }
        setp(buf_, buf_ + sizeof buf_);
        return 0;
    }

private:
    int fd_;
    char buf_[8192];
};

std::string server_url(const options& o) {
    if (o.server) return *o.server;
    if (auto env = process_env("TOOLHOST_SERVER"); env && !env->empty()) return *env;
    return "http://127.0.0.1:8080";
}
}  // namespace

int exit_code_for(status_code c) {
    switch (c) {
    case status_code::ok: return exit_code::ok;
    case status_code::invalid_argument:
    case status_code::out_of_range:
    case status_code::not_found:
    case status_code::already_exists:
    case status_code::failed_precondition: return exit_code::data;
    case status_code::permission_denied:
    case status_code::unauthenticated: return exit_code::no_perm;
    case status_code::unavailable:
    case status_code::deadline_exceeded:
    case status_code::resource_exhausted:
    case status_code::cancelled:
    case status_code::aborted:
    case status_code::unimplemented: return exit_code::unavailable;
    case status_code::internal:
    case status_code::unknown:
    case status_code::data_loss: return exit_code::internal;
    }
    return exit_code::internal;
}

int command_context::usage(std::string_view problem) {
    err_ << "toolhost: " << problem << "\n\n" << usage_text;
    return exit_code::usage;
}

int command_context::check_args(std::size_t min, std::size_t max, std::string_view problem) {
    const auto n = o_.positional.size();
    return n < min || n > max ? usage(problem) : exit_code::ok;
}

void command_context::protect_stdout() {
    if (protected_out_) return;
    out_.flush();
    std::fflush(stdout);
    const int saved = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (saved < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        if (saved >= 0) ::close(saved);
        return;  // no descriptors to spare: output stays where it was
    }
    if (&out_ != &std::cout) {
        ::close(saved);  // the command writes elsewhere already; descriptor 1 is covered anyway
        return;
    }
    protected_buf_ = std::make_unique<fd_streambuf>(saved);
    protected_out_ = std::make_unique<std::ostream>(protected_buf_.get());
}

int command_context::finish(int rc, std::chrono::milliseconds grace) {
    if (!host_) return rc;
    const auto report = host_->shutdown(grace);
    if (report.complete()) return rc;
    err_ << "toolhost: ending while calls of these tools still run in plugin code (it cannot be stopped): ";
    for (std::size_t i = 0; i < report.left_running.size(); ++i) err_ << (i ? ", " : "") << report.left_running[i];
    err_ << '\n';
    out().flush();
    err_.flush();
    std::fflush(nullptr);
    std::_Exit(rc);
}

int command_context::open_host() {
    if (int rc = load_config(); rc != exit_code::ok) return rc;
    host_.emplace(std::move(config_));
    host_->load_plugins();
    return exit_code::ok;
}

int command_context::config_errors(const std::vector<json_diagnostic>& errors) {
    for (const auto& d : errors) err_ << d.to_string() << '\n';
    if (o_.json) {
        json::array a;
        for (const auto& d : errors) a.push_back(json::value(d.to_string()));
        out() << toolhost::json_text(json::object{{"ok", false}, {"problems", std::move(a)}}) << '\n';
    }
    return exit_code::config;
}

std::optional<fs::path> build_tree_of(const fs::path& exe) {
    const std::string_view build_bin = TOOLHOST_BUILD_BINDIR;
    std::error_code ec;
    if (build_bin.empty() || exe.parent_path().empty() || !fs::equivalent(exe.parent_path(), build_bin, ec))
        return std::nullopt;
    return fs::path(build_bin).parent_path();
}

config_location find_config(const std::optional<fs::path>& given, const fs::path& exe) {
    if (given) return {*given, "--config"};
    if (auto env = process_env("TOOLHOST_CONFIG"); env && !env->empty()) return {fs::path(*env), "TOOLHOST_CONFIG"};
    std::error_code ec;
    // The XDG base directory specification: $XDG_CONFIG_HOME, or ~/.config when it is unset or
    // empty (or not absolute, which the specification says to ignore).
    fs::path user_dir;
    if (auto xdg = process_env("XDG_CONFIG_HOME"); xdg && fs::path(*xdg).is_absolute())
        user_dir = fs::path(*xdg) / "toolhost";
    else if (auto home = process_env("HOME"); home && fs::path(*home).is_absolute())
        user_dir = fs::path(*home) / ".config" / "toolhost";
    if (!user_dir.empty() && fs::is_regular_file(user_dir / "toolhost.json", ec))
        return {user_dir / "toolhost.json", "$XDG_CONFIG_HOME/toolhost"};
    const fs::path bin = exe.parent_path();
    if (const fs::path installed = (bin / TOOLHOST_BIN_TO_CONFDIR / "toolhost.json").lexically_normal();
        !bin.empty() && fs::is_regular_file(installed, ec))
        return {installed, "the installation's etc/toolhost"};
    const std::string_view source_conf = TOOLHOST_SOURCE_CONF;
    if (!source_conf.empty() && build_tree_of(exe) && fs::is_regular_file(source_conf, ec))
        return {fs::path(source_conf), "the source tree (running from the build tree)"};
    return {{}, "built-in defaults"};
}

boost::system::result<host_config, std::vector<json_diagnostic>> command_context::read_config() const {
    const auto where = find_config(o_.config_file, exe_);
    auto loaded = where.file.empty() ? default_config(process_env) : toolhost::load_config(where.file, process_env);
    if (!loaded) return loaded;
    host_config config = std::move(*loaded);
    // Serving parses its section; every command checks it, as it checks the rest of the file.
    if (auto serving = serve::load_settings(config, process_env); !serving) return serving.error();

    // Command line beats environment beats file.
    std::vector<json_diagnostic> errors;
    if (o_.log_level) {
        if (!logging::parse_level(*o_.log_level))
            errors.push_back({"command line", 1, 1, "--log-level",
                              "expected trace, debug, info, warning, error or off, got '" + *o_.log_level + "'"});
        else
            config.log_level = *o_.log_level;
    }
    if (o_.log_format) {
        if (!logging::parse_format(*o_.log_format))
            errors.push_back(
                {"command line", 1, 1, "--log-format", "expected text or json, got '" + *o_.log_format + "'"});
        else
            config.log_format = *o_.log_format;
    }
    if (!errors.empty()) return errors;
    if (o_.threads) config.threads = *o_.threads;
    std::vector<fs::path> dirs;
    if (o_.default_plugins) {
        auto bundled = exe_.parent_path().parent_path() / "lib" / "toolhost" / "plugins";
        std::error_code ec;
        if (fs::is_directory(bundled, ec)) dirs.push_back(bundled);
    }
    dirs.insert(dirs.end(), config.plugin_dirs.begin(), config.plugin_dirs.end());
    dirs.insert(dirs.end(), o_.plugin_dirs.begin(), o_.plugin_dirs.end());
    config.plugin_dirs = std::move(dirs);
    return config;
}

int command_context::load_config() {
    auto loaded = read_config();
    if (!loaded) return config_errors(loaded.error());
    config_ = std::move(*loaded);
    serving_ = std::move(*serve::load_settings(config_, process_env));  // read_config() checked it
    logging::init(*logging::parse_level(config_.log_level), *logging::parse_format(config_.log_format));
    return exit_code::ok;
}

json::array command_context::rejected_json() const {
    json::array a;
    for (const auto& r : host_->last_load().rejected) a.push_back(json::object{{"path", r.path}, {"reason", r.reason}});
    return a;
}

int command_context::tool_missing(const std::string& name) {
    std::string msg = "no tool named '" + name + "'";
    for (const auto& r : host_->last_load().rejected)
        if (r.reason.find("'" + name + "'") != std::string::npos)
            msg += " (" + r.path + " was rejected: " + r.reason + ")";
    return fail(status_code::not_found, msg, exit_code::unavailable);
}

int command_context::fail(status_code code, const std::string& message, int rc) {
    if (o_.json)
        out() << serve::failure_json(status_name(code), message) << '\n';
    else
        err_ << "toolhost: " << status_name(code) << ": " << message << '\n';
    rc_ = rc;
    return rc;
}

std::optional<remote_response> command_context::remote(std::string_view method, const std::string& path,
                                                       std::string_view body, std::chrono::milliseconds timeout,
                                                       std::span<const remote_header> headers) {
    const std::string token = process_env("TOOLHOST_AUTH_TOKEN").value_or("");
    auto r = remote_request(method, server_url(o_), path, body, token, timeout, headers);
    if (r.status == 0) {
        fail(status_code::unavailable, "no answer from toolhost serve: " + r.error + " (is it running? --server URL)",
             exit_code::unavailable);
        return std::nullopt;
    }
    if (r.status == 401) {
        fail(status_code::unauthenticated,
             "the server wants a bearer token: set TOOLHOST_AUTH_TOKEN to its serve.http.auth_token",
             exit_code::no_perm);
        return std::nullopt;
    }
    return r;
}

int command_context::remote_failure(const remote_response& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    const json::object* e = nullptr;
    if (!ec && v.is_object())
        if (const auto* err = v.as_object().if_contains("error"); err && err->is_object()) e = &err->as_object();
    if (e == nullptr)
        return fail(status_code::internal, "HTTP " + std::to_string(r.status) + ": " + r.body, exit_code::internal);
    const auto* c = e->if_contains("code");
    const status_code code =
        c && c->is_string() ? parse_status_name(c->get_string()).value_or(status_code::unknown) : status_code::unknown;
    const std::string message =
        e->contains("message") && e->at("message").is_string() ? std::string(e->at("message").as_string()) : r.body;
    return fail(code, message, exit_code_for(code));
}

}  // namespace toolhost::cli
