#include "commands.hpp"

#include "../validate/checks.hpp"
#include "../validate/supervisor.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost/logging.hpp>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iomanip>
#include <sstream>

// validate-plugin: checks a plugin file against the contract, in child processes
// (validate/checks.hpp); validate-plugin-child is that child, started by it and never by hand.
namespace toolhost::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// A check failed: the exit code of test runners, not a sysexits.h code (the command worked).
constexpr int checks_failed = 1;

json::object report_json(const validate::report& r) {
    json::array checks;
    for (const auto& c : r.checks) {
        json::object o{{"name", c.name}, {"result", c.result}, {"message", c.message}};
        if (!c.failures.empty()) o["failures"] = json::array(c.failures.begin(), c.failures.end());
        checks.push_back(std::move(o));
    }
    json::object o{{"path", r.path}, {"ok", r.ok()}};
    if (!r.plugin.empty()) o["plugin"] = r.plugin;
    o["checks"] = std::move(checks);
    return o;
}

void print_report(std::ostream& out, const validate::report& r) {
    out << "plugin: " << r.path;
    if (!r.plugin.empty()) out << " (" << r.plugin << ")";
    out << '\n';
    int passed = 0, failed = 0, skipped = 0;
    for (const auto& c : r.checks) {
        std::string verdict = c.result == "pass" ? "PASS" : c.result == "fail" ? "FAIL" : "SKIP";
        (c.result == "pass" ? passed : c.result == "fail" ? failed : skipped)++;
        out << verdict << "  " << std::left << std::setw(19) << c.name << c.message << '\n';
        for (const auto& f : c.failures) out << "      - " << f << '\n';
    }
    out << r.checks.size() << " checks: " << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
}

}  // namespace

int cmd_validate_plugin(command_context& c) {
    if (int rc = c.check_args(1, 1, "'validate-plugin' needs exactly one plugin FILE"); rc != exit_code::ok) return rc;
    // The tools' configurations come from the configuration file, as for `toolhost call`.
    if (int rc = c.load_config(); rc != exit_code::ok) return rc;
    validate::supervisor_options o;
    std::error_code ec;
    o.executable = fs::read_symlink("/proc/self/exe", ec);
    if (ec)
        return c.fail(status_code::internal, "cannot find this program (/proc/self/exe): " + ec.message(),
                      exit_code::internal);
    if (c.opts().timeout_ms) o.timeout = std::chrono::milliseconds(*c.opts().timeout_ms);
    // With a log level asked for, the plugin's logs (the children's stderr) are shown.
    if (c.opts().log_level) {
        o.child_options = {"--log-level", *c.opts().log_level};
        o.child_stderr = &c.err();
    }
    if (c.opts().log_format) o.child_options.insert(o.child_options.end(), {"--log-format", *c.opts().log_format});
    for (const auto& [name, settings] : c.config().tools) o.configs[name] = settings.config;
    o.config_file = c.config().file;

    auto r = validate::run_validation(c.opts().positional[0], o);
    if (!r) {
        const auto& e = r.error();
        return c.fail(e.exit_code == exit_code::no_input ? status_code::not_found : status_code::unavailable, e.message,
                      e.exit_code);
    }
    if (c.opts().json)
        c.out() << toolhost::json_text(report_json(*r)) << '\n';
    else
        print_report(c.out(), *r);
    return r->ok() ? exit_code::ok : checks_failed;
}

int cmd_validate_plugin_child(command_context& c) {
    if (int rc = c.check_args(1, 1, "'validate-plugin-child' needs the JOB file"); rc != exit_code::ok) return rc;
    auto not_by_hand = [&](const std::string& why) {
        c.err() << "toolhost: validate-plugin-child is started by `toolhost validate-plugin`, not by hand (" << why
                << ")\n";
        return exit_code::usage;
    };
    // Its reports go to descriptor 3, the pipe the command reads.
    struct stat st {};
    if (::fstat(3, &st) != 0 || !S_ISFIFO(st.st_mode)) return not_by_hand("descriptor 3 is not a pipe");
    std::ifstream f(c.opts().positional[0]);
    std::stringstream text;
    text << f.rdbuf();
    auto j = validate::job::from_json(text.str());
    if (!j) return not_by_hand(c.opts().positional[0] + ": " + j.error());
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the command that started it
    // The plugin's logs go to stderr, which the command keeps for its messages; warnings and up
    // unless a level was asked for.
    j->log_level = c.opts().log_level.value_or("warning");
    j->log_format = c.opts().log_format.value_or("text");
    const auto level = logging::parse_level(j->log_level);
    const auto format = logging::parse_format(j->log_format);
    if (!level || !format) return c.usage("--log-level or --log-format is not one of the values listed");
    logging::init(*level, *format);
    return validate::run_driver(*j, 3);
}

}  // namespace toolhost::cli
