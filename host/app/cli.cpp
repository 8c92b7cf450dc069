#include "cli.hpp"
#include "remote.hpp"

#include <toolhost/config.hpp>
#include <toolhost/host.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/serve/failure_json.hpp>
#include <toolhost/serve/http_server.hpp>
#include <toolhost/serve/stdio_server.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <charconv>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <iterator>
#include <optional>
#include <sstream>

#ifndef TOOLHOST_VERSION_STRING
#define TOOLHOST_VERSION_STRING "0.0.0"
#endif
#ifndef TOOLHOST_SOURCE_CONF
#define TOOLHOST_SOURCE_CONF ""
#endif

namespace toolhost::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::string_view usage_text = R"(usage: toolhost [global options] <command> [command options]

commands:
  list [--json]                       tools of every loadable plugin, and rejected files
  info TOOL [--json]                  one tool: operations, schemas, configuration
  call TOOL OPERATION [ARGS_JSON]     call an operation (ARGS_JSON defaults to {}; - reads stdin)
       [--request-id ID] [--session-id ID] [--timeout-ms N] [--json]
  status [--json]                     start the enabled tools and report their state
  metrics [TOOL] [--json]             start the enabled tools and print the host's metrics
                                      (only TOOL's series when given)
                                      (Prometheus text exposition, or JSON); with --server URL,
                                      the metrics of that running `toolhost serve` instead
  breaker list [--json]               the circuit breakers of a running `toolhost serve`
  breaker reset TOOL [OPERATION]      close a tool's breakers (or one operation's)
  breaker reset --all                 close every breaker
  breaker open|disable TOOL [OP]      force a breaker open (refuse calls), or let every call through
                                      breaker and metrics --server take --server URL (default
                                      $TOOLHOST_SERVER, else http://127.0.0.1:8080) and send
                                      $TOOLHOST_AUTH_TOKEN as bearer token when set
  serve [--stdio] [--http ADDR:PORT]  serve the tools over MCP (stdio, Streamable HTTP at /mcp)
        [--stateless] [--port-file FILE] and, over HTTP, REST (/v1/tools), /healthz, /readyz and
                                      /metrics; without --stdio or --http: HTTP at serve.http.listen
                                      (127.0.0.1:8080). Stops on SIGTERM/SIGINT (or end of stdin
                                      with --stdio) after the calls in flight finish
  validate [--json]                   check configuration and plugins without serving
  version [--json]                    print the version
  help                                print this text

global options:
  --config FILE          configuration file (default: $TOOLHOST_CONFIG, else the source tree's
                         conf/toolhost.json when present, else built-in defaults)
  --plugin-dir DIR       also load plugins from DIR (repeatable)
  --no-default-plugins   do not load the bundled plugins next to the executable
  --log-level LEVEL      trace|debug|info|warning|error|off
  --log-format FORMAT    text|json
  --threads N            worker threads (0 = one per core)

exit codes: 0 ok, 64 usage, 65 bad input data, 69 tool or plugin unavailable,
            70 internal error, 77 permission denied, 78 configuration error
)";

struct options {
    std::optional<fs::path> config_file;
    std::vector<fs::path> plugin_dirs;
    bool default_plugins = true;
    std::optional<std::string> log_level;
    std::optional<std::string> log_format;
    std::optional<unsigned> threads;
    bool json = false;
    std::optional<std::string> request_id;
    std::optional<std::string> session_id;
    std::optional<long long> timeout_ms;
    bool stdio = false;
    std::optional<std::string> http;
    bool stateless = false;
    std::optional<fs::path> port_file;
    std::optional<std::string> server;
    bool all = false;
    std::string command;
    std::vector<std::string> positional;
};

struct usage_error {
    std::string message;
};

template <class T>
std::optional<T> parse_number(std::string_view s) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Sets an option that takes a value; nullopt when the value is fine.
std::optional<usage_error> set_value_option(options& o, const std::string& name, const std::string& v) {
    if (name == "--config") o.config_file = v;
    else if (name == "--plugin-dir") o.plugin_dirs.emplace_back(v);
    else if (name == "--log-level") o.log_level = v;
    else if (name == "--log-format") o.log_format = v;
    else if (name == "--request-id") o.request_id = v;
    else if (name == "--session-id") o.session_id = v;
    else if (name == "--port-file") o.port_file = v;
    else if (name == "--server") o.server = v;
    else if (name == "--http") {
        if (auto problem = check_listen_address(v); !problem.empty())
            return usage_error{"--http expects ADDRESS:PORT (e.g. 127.0.0.1:8080): " + problem + ", got '" + v + "'"};
        o.http = v;
    }
    else if (name == "--threads") {
        auto n = parse_number<unsigned>(v);
        if (!n || *n > 1024) return usage_error{"--threads expects a number from 0 to 1024, got '" + v + "'"};
        o.threads = *n;
    } else if (name == "--timeout-ms") {
        auto n = parse_number<long long>(v);
        if (!n || *n <= 0) return usage_error{"--timeout-ms expects a positive number of milliseconds, got '" + v + "'"};
        o.timeout_ms = *n;
    }
    return std::nullopt;
}

// Global options may stand before or after the command; command options after it.
boost::system::result<options, usage_error> parse_args(const std::vector<std::string>& args) {
    static constexpr std::string_view value_options[] = {"--config",     "--plugin-dir", "--log-level",
                                                         "--log-format", "--threads",    "--request-id",
                                                         "--session-id", "--timeout-ms", "--http",
                                                         "--port-file", "--server"};
    options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (std::find(std::begin(value_options), std::end(value_options), a) != std::end(value_options)) {
            if (i + 1 >= args.size()) return usage_error{a + " needs a value"};
            if (auto e = set_value_option(o, a, args[++i])) return *e;
        } else if (a == "--no-default-plugins") {
            o.default_plugins = false;
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--stdio") {
            o.stdio = true;
        } else if (a == "--stateless") {
            o.stateless = true;
        } else if (a == "--all") {
            o.all = true;
        } else if (a == "--help" || a == "-h") {
            o.command = "help";
        } else if (a == "--version") {
            o.command = "version";
        } else if (a.size() > 1 && a.front() == '-') {
            return usage_error{"unknown option '" + a + "'"};
        } else if (o.command.empty()) {
            o.command = a;
        } else {
            o.positional.push_back(a);
        }
    }
    return o;
}

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


class command_line {
public:
    command_line(options o, fs::path exe, std::ostream& out, std::ostream& err)
        : o_(std::move(o)), exe_(std::move(exe)), out_(out), err_(err) {}

    int run() {
        const std::string& c = o_.command;
        if (c.empty()) {
            err_ << "toolhost: no command given\n\n" << usage_text;
            return exit_code::usage;
        }
        if (c == "help") {
            out_ << usage_text;
            return exit_code::ok;
        }
        if (c == "version") return cmd_version();
        if (c == "breaker") return cmd_breaker();
        if (c == "metrics" && o_.server) return cmd_remote_metrics();
        if (c != "list" && c != "info" && c != "call" && c != "validate" && c != "status" && c != "metrics" &&
            c != "serve") {
            err_ << "toolhost: unknown command '" << c << "'\n\n" << usage_text;
            return exit_code::usage;
        }
        if (int rc = check_arity(); rc != exit_code::ok) return rc;
        if (c == "serve") prepare_serving();
        if (int rc = load_config(); rc != exit_code::ok) return rc;
        host_.emplace(std::move(config_));
        host_->load_plugins();
        if (c == "list") return cmd_list();
        if (c == "info") return cmd_info();
        if (c == "call") return cmd_call();
        if (c == "status") return cmd_status();
        if (c == "metrics") return cmd_metrics();
        if (c == "serve") return cmd_serve();
        return cmd_validate();
    }

private:
    int check_arity() {
        const auto n = o_.positional.size();
        const std::string& c = o_.command;
        std::string problem;
        if ((c == "list" || c == "validate" || c == "status" || c == "serve") && n != 0)
            problem = "'" + c + "' takes no arguments";
        else if (c == "metrics" && n > 1)
            problem = "'metrics' takes at most one TOOL";
        else if (c == "info" && n != 1)
            problem = "'info' needs exactly one TOOL";
        else if (c == "call" && (n < 2 || n > 3))
            problem = "'call' needs TOOL OPERATION [ARGS_JSON]";
        if (problem.empty()) return exit_code::ok;
        err_ << "toolhost: " << problem << "\n\n" << usage_text;
        return exit_code::usage;
    }

    int config_errors(const std::vector<json_diagnostic>& errors) {
        for (const auto& d : errors) err_ << d.to_string() << '\n';
        if (o_.json) {
            json::array a;
            for (const auto& d : errors) a.push_back(json::value(d.to_string()));
            out_ << json::serialize(json::object{{"ok", false}, {"problems", std::move(a)}}) << '\n';
        }
        return exit_code::config;
    }

    int load_config() {
        std::optional<fs::path> file = o_.config_file;
        if (!file) {
            if (auto env = process_env("TOOLHOST_CONFIG"); env && !env->empty())
                file = *env;
            else if (std::string_view(TOOLHOST_SOURCE_CONF).size() > 0 && fs::exists(TOOLHOST_SOURCE_CONF))
                file = fs::path(TOOLHOST_SOURCE_CONF);
        }
        auto loaded = file ? toolhost::load_config(*file, process_env) : default_config(process_env);
        if (!loaded) return config_errors(loaded.error());
        config_ = std::move(*loaded);

        // Command line beats environment beats file.
        std::vector<json_diagnostic> errors;
        if (o_.log_level) {
            if (!logging::parse_level(*o_.log_level))
                errors.push_back({"command line", 1, 1, "--log-level", "expected trace, debug, info, warning, error or off, got '" + *o_.log_level + "'"});
            else
                config_.log_level = *o_.log_level;
        }
        if (o_.log_format) {
            if (!logging::parse_format(*o_.log_format))
                errors.push_back({"command line", 1, 1, "--log-format", "expected text or json, got '" + *o_.log_format + "'"});
            else
                config_.log_format = *o_.log_format;
        }
        if (!errors.empty()) return config_errors(errors);
        if (o_.threads) config_.threads = *o_.threads;
        std::vector<fs::path> dirs;
        if (o_.default_plugins) {
            auto bundled = exe_.parent_path().parent_path() / "lib" / "toolhost" / "plugins";
            std::error_code ec;
            if (fs::is_directory(bundled, ec)) dirs.push_back(bundled);
        }
        dirs.insert(dirs.end(), config_.plugin_dirs.begin(), config_.plugin_dirs.end());
        dirs.insert(dirs.end(), o_.plugin_dirs.begin(), o_.plugin_dirs.end());
        config_.plugin_dirs = std::move(dirs);
        logging::init(*logging::parse_level(config_.log_level), *logging::parse_format(config_.log_format));
        return exit_code::ok;
    }

    int cmd_version() {
        if (o_.json) {
            out_ << json::serialize(json::object{
                        {"version", TOOLHOST_VERSION_STRING},
                        {"abi", {{"major", TOOLHOST_ABI_VERSION_MAJOR}, {"minor", TOOLHOST_ABI_VERSION_MINOR}}}})
                 << '\n';
        } else {
            out_ << "toolhost " TOOLHOST_VERSION_STRING " (plugin ABI " << TOOLHOST_ABI_VERSION_MAJOR << '.'
                 << TOOLHOST_ABI_VERSION_MINOR << ")\n";
        }
        return exit_code::ok;
    }

    json::array rejected_json() const {
        json::array a;
        for (const auto& r : host_->last_load().rejected) a.push_back(json::object{{"path", r.path}, {"reason", r.reason}});
        return a;
    }

    int cmd_list() {
        const auto names = host_->list();
        if (o_.json) {
            json::array tools;
            for (const auto& n : names) tools.push_back(to_json(host_->find(n)->descriptor()));
            out_ << json::serialize(json::object{{"tools", std::move(tools)}, {"rejected", rejected_json()}}) << '\n';
            return exit_code::ok;
        }
        for (const auto& n : names) {
            const auto& d = host_->find(n)->descriptor();
            out_ << d.name << ' ' << d.version << "  " << d.description << '\n';
            for (const auto& op : d.operations) out_ << "  " << op.name << "  " << op.description << '\n';
        }
        if (names.empty()) out_ << "no tools found\n";
        for (const auto& r : host_->last_load().rejected) err_ << "rejected: " << r.path << ": " << r.reason << '\n';
        return exit_code::ok;
    }

    int cmd_info() {
        const std::string& name = o_.positional[0];
        auto f = host_->find(name);
        if (!f) return tool_missing(name);
        const auto& d = f->descriptor();
        auto it = host_->config().tools.find(name);
        json::object configured = it != host_->config().tools.end() ? it->second.config : json::object{};
        if (o_.json) {
            auto o = to_json(d);
            o["enabled"] = host_->config().tool_enabled(name);
            o["config"] = std::move(configured);
            out_ << json::serialize(o) << '\n';
            return exit_code::ok;
        }
        out_ << "name:        " << d.name << "\nversion:     " << d.version << "\ndescription: " << d.description
             << "\nplugin:      " << d.plugin << "\nthread-safe: " << (d.thread_safe ? "yes" : "no")
             << "\nenabled:     " << (host_->config().tool_enabled(name) ? "yes" : "no")
             << "\nconfig:      " << json::serialize(configured) << '\n';
        if (d.config_schema) out_ << "config schema: " << json::serialize(d.config_schema->source()) << '\n';
        out_ << "operations:\n";
        for (const auto& op : d.operations) {
            out_ << "  " << op.name << "  " << op.description << '\n';
            std::string flags;
            if (op.idempotent()) flags += " idempotent";
            if (op.read_only()) flags += " read-only";
            if (op.destructive()) flags += " destructive";
            if (op.cancellable()) flags += " cancellable";
            if (!flags.empty()) out_ << "    flags:" << flags << '\n';
            out_ << "    input:  " << json::serialize(op.input_schema.source()) << '\n';
            if (op.output_schema) out_ << "    output: " << json::serialize(op.output_schema->source()) << '\n';
        }
        return exit_code::ok;
    }

    int tool_missing(const std::string& name) {
        std::string msg = "no tool named '" + name + "'";
        for (const auto& r : host_->last_load().rejected)
            if (r.reason.find("'" + name + "'") != std::string::npos) msg += " (" + r.path + " was rejected: " + r.reason + ")";
        return fail(status_code::not_found, msg, exit_code::unavailable);
    }

    int fail(status_code code, const std::string& message, int rc) {
        if (o_.json)
            out_ << serve::failure_json(status_name(code), message) << '\n';
        else
            err_ << "toolhost: " << status_name(code) << ": " << message << '\n';
        rc_ = rc;
        return rc;
    }

    int cmd_call() {
        const std::string& tool = o_.positional[0];
        const std::string& op = o_.positional[1];
        std::string text = o_.positional.size() > 2 ? o_.positional[2] : "{}";
        if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        boost::system::error_code ec;
        json::value args = json::parse(text, ec);
        if (ec)
            return fail(status_code::invalid_argument, "ARGS_JSON is not valid JSON: " + ec.message(), exit_code::data);
        if (!host_->find(tool)) return tool_missing(tool);

        start_options so;
        so.concurrent = false;
        so.only = std::vector<std::string>{tool};
        auto started = host_->start(so);
        if (!started.ok()) {
            const auto& e = started.failed.front().second;
            // A configuration the tool's schema rejects is the operator's to fix: EX_CONFIG.
            bool config_problem = e.code == status_code::invalid_argument;
            return fail(status_code::unavailable, "tool '" + tool + "' could not start: " + e.message,
                        config_problem ? exit_code::config : exit_code::unavailable);
        }
        call_options co;
        if (o_.request_id) co.request_id = *o_.request_id;
        if (o_.session_id) co.session_id = *o_.session_id;
        if (o_.timeout_ms) co.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*o_.timeout_ms);
        auto r = host_->call(tool, op, std::move(args), std::move(co));
        host_->shutdown();
        if (!r) return fail(r.error().code, r.error().message, exit_code_for(r.error().code));
        boost::system::error_code pec;
        json::value result = json::parse(*r, pec);
        if (pec)
            return fail(status_code::internal, tool + "." + op + " returned a result that is not valid JSON: " + pec.message(),
                        exit_code::internal);
        if (o_.json)
            out_ << json::serialize(json::object{{"ok", true}, {"result", std::move(result)}}) << '\n';
        else
            out_ << json::serialize(result) << '\n';
        return exit_code::ok;
    }

    int cmd_status() {
        start_options so;
        so.concurrent = host_->config().concurrent_init;
        so.fail_on_error = false;
        auto report = host_->start(so);
        auto statuses = host_->status();
        host_->shutdown();
        if (o_.json) {
            json::array a;
            for (const auto& s : statuses) {
                json::object o{{"name", s.name},       {"version", s.version}, {"plugin", s.plugin},
                               {"enabled", s.enabled}, {"state", tool_state_name(s.state)}};
                if (!s.error.empty()) o["error"] = s.error;
                a.push_back(std::move(o));
            }
            json::array failed;
            for (const auto& [n, e] : report.failed)
                failed.push_back(json::object{{"tool", n}, {"code", status_name(e.code)}, {"message", e.message}});
            out_ << json::serialize(json::object{{"ok", report.ok()}, {"tools", std::move(a)}, {"failed", std::move(failed)}, {"rejected", rejected_json()}})
                 << '\n';
        } else {
            for (const auto& s : statuses)
                out_ << s.name << ' ' << (s.enabled ? tool_state_name(s.state) : std::string_view("disabled"))
                     << (s.error.empty() ? "" : "  " + s.error) << '\n';
            for (const auto& [n, e] : report.failed)
                if (!host_->status(n)) err_ << "failed: " << n << ": " << e.message << '\n';
        }
        return report.ok() ? exit_code::ok : exit_code::unavailable;
    }

    // The seed's get_tool_metrics(tool): only the series labelled with that tool.
    int cmd_metrics() {
        const std::optional<std::string> tool =
            o_.positional.empty() ? std::nullopt : std::optional<std::string>(o_.positional[0]);
        if (tool && !host_->find(*tool)) return tool_missing(*tool);
        start_options so;
        so.concurrent = host_->config().concurrent_init;
        host_->start(so);
        if (o_.json) {
            json::value all = host_->metrics().to_json();
            if (tool) {
                json::object kept;
                for (auto& [name, family] : all.as_object()) {
                    json::array samples;
                    for (auto& sample : family.at("samples").as_array())
                        if (const auto* t = sample.at("labels").as_object().if_contains("tool"); t && t->is_string() && t->get_string() == *tool)
                            samples.push_back(sample);
                    if (samples.empty()) continue;
                    family.as_object()["samples"] = std::move(samples);
                    kept[name] = std::move(family);
                }
                all = std::move(kept);
            }
            out_ << json::serialize(all) << '\n';
        } else {
            const std::string text = host_->metrics().render_prometheus();
            out_ << (tool ? prometheus_for_tool(text, *tool) : text);
        }
        host_->shutdown();
        return exit_code::ok;
    }

    // Keeps the samples whose labels include tool="<tool>", with their families' HELP and TYPE.
    static std::string prometheus_for_tool(const std::string& text, const std::string& tool) {
        const std::string label = "tool=\"" + tool + "\"";
        std::string out, header;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("# HELP ", 0) == 0) header = line + '\n';
            else if (line.rfind("# TYPE ", 0) == 0) header += line + '\n';
            else if (line.find(label) != std::string::npos &&
                     (line.find("{" + label) != std::string::npos || line.find("," + label) != std::string::npos)) {
                out += header;
                header.clear();
                out += line + '\n';
            }
        }
        return out;
    }

    std::string server_url() const {
        if (o_.server) return *o_.server;
        if (auto env = process_env("TOOLHOST_SERVER"); env && !env->empty()) return *env;
        return "http://127.0.0.1:8080";
    }

    // Sends one request to the running server; prints why when there is no usable answer.
    std::optional<remote_response> remote(std::string_view method, const std::string& path, std::string_view body = {}) {
        const std::string token = process_env("TOOLHOST_AUTH_TOKEN").value_or("");
        auto r = remote_request(method, server_url(), path, body, token);
        if (r.status == 0) {
            fail(status_code::unavailable, "no answer from toolhost serve: " + r.error + " (is it running? --server URL)",
                 exit_code::unavailable);
            return std::nullopt;
        }
        if (r.status == 401) {
            fail(status_code::unauthenticated,
                 "the server wants a bearer token: set TOOLHOST_AUTH_TOKEN to its serve.http.auth_token", exit_code::no_perm);
            return std::nullopt;
        }
        return r;
    }

    // An error answer of the REST API ({"ok":false,"error":{...}}), printed like a local failure.
    int remote_failure(const remote_response& r) {
        boost::system::error_code ec;
        auto v = json::parse(r.body, ec);
        const json::object* e = nullptr;
        if (!ec && v.is_object())
            if (const auto* err = v.as_object().if_contains("error"); err && err->is_object()) e = &err->as_object();
        if (e == nullptr)
            return fail(status_code::internal, "HTTP " + std::to_string(r.status) + ": " + r.body, exit_code::internal);
        const auto* c = e->if_contains("code");
        const status_code code = c && c->is_string() ? parse_status_name(c->get_string()).value_or(status_code::unknown)
                                                     : status_code::unknown;
        const std::string message = e->contains("message") && e->at("message").is_string() ? std::string(e->at("message").as_string()) : r.body;
        return fail(code, message, exit_code_for(code));
    }

    // `toolhost breaker list|reset|open|disable`: the seed's reset_circuit_breaker and
    // reset_all_circuit_breakers, on a running host.
    int cmd_breaker() {
        const auto& p = o_.positional;
        const std::string action = p.empty() ? "" : p[0];
        const bool needs_tool = action == "open" || action == "disable" || (action == "reset" && !o_.all);
        std::string problem;
        if (action != "list" && action != "reset" && action != "open" && action != "disable")
            problem = "'breaker' needs list, reset, open or disable";
        else if (action == "list" && p.size() != 1)
            problem = "'breaker list' takes no arguments";
        else if (action == "reset" && o_.all && p.size() != 1)
            problem = "'breaker reset --all' takes no TOOL";
        else if (needs_tool && (p.size() < 2 || p.size() > 3))
            problem = "'breaker " + action + "' needs TOOL [OPERATION]";
        if (!problem.empty()) {
            err_ << "toolhost: " << problem << "\n\n" << usage_text;
            return exit_code::usage;
        }
        if (action == "list") {
            auto r = remote("GET", "/v1/circuit-breakers");
            if (!r) return rc_;
            if (r->status != 200) return remote_failure(*r);
            if (o_.json) {
                out_ << r->body << (r->body.ends_with('\n') ? "" : "\n");
                return exit_code::ok;
            }
            auto v = json::parse(r->body);
            for (const auto& b : v.at("circuit_breakers").as_array()) {
                const auto& o = b.as_object();
                std::string scope(o.at("tool").as_string());
                if (o.at("operation").is_string()) scope += "." + std::string(o.at("operation").as_string());
                out_ << scope << ' ' << std::string_view(o.at("state").as_string())
                     << "  consecutive_failures=" << o.at("consecutive_failures").to_number<uint64_t>()
                     << " failure_rate=" << o.at("failure_rate").to_number<double>() << '\n';
            }
            return exit_code::ok;
        }
        std::string path;
        std::string body;
        if (action == "reset" && o_.all) {
            path = "/v1/circuit-breakers/reset";
        } else {
            path = "/v1/tools/" + p[1] + "/circuit-breaker/" + action;
            if (p.size() == 3) body = json::serialize(json::object{{"operation", p[2]}});
        }
        auto r = remote("POST", path, body);
        if (!r) return rc_;
        if (r->status != 200) return remote_failure(*r);
        if (o_.json) out_ << r->body << (r->body.ends_with('\n') ? "" : "\n");
        else out_ << "ok\n";
        return exit_code::ok;
    }

    int cmd_remote_metrics() {
        if (o_.json) return fail(status_code::invalid_argument, "metrics --server prints the Prometheus text only; drop --json",
                                 exit_code::usage);
        auto r = remote("GET", "/metrics");
        if (!r) return rc_;
        if (r->status != 200) return remote_failure(*r);
        out_ << (o_.positional.empty() ? r->body : prometheus_for_tool(r->body, o_.positional[0]));
        return exit_code::ok;
    }

    // Before the host starts threads: the signals `serve` waits for are blocked in every thread
    // (one thread takes them with sigwait), broken pipes are errors instead of signals, and with
    // --stdio the protocol stream is moved out of the plugins' reach.
    void prepare_serving() {
        std::signal(SIGPIPE, SIG_IGN);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR2);  // our own wake-up when stdin ends
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        if (o_.stdio) {
            out_.flush();
            protocol_fd_ = serve::protect_stdout();
            if (protocol_fd_ < 0) err_ << "toolhost: cannot protect stdout: " << std::strerror(errno) << '\n';
        }
    }

    int cmd_serve() {
        if (o_.stdio && protocol_fd_ < 0) return exit_code::internal;
        const bool want_http = o_.http.has_value() || !o_.stdio;
        serve_settings settings = host_->config().serve;
        if (o_.http) settings.listen = *o_.http;
        if (o_.stateless) settings.stateless = true;

        start_options so;
        so.concurrent = host_->config().concurrent_init;
        so.fail_on_error = host_->config().fail_on_error;
        auto report = host_->start(so);
        for (const auto& [name, e] : report.failed)
            err_ << "toolhost: tool '" << name << "' did not start: " << status_name(e.code) << ": " << e.message << '\n';
        if (!report.ok() && host_->config().fail_on_error) {
            host_->shutdown();
            return exit_code::unavailable;
        }

        mcp::server_options mo;
        mo.tool_name = settings.tool_name;
        mo.page_size = settings.page_size;
        mo.instructions = settings.instructions;
        mo.call_timeout = std::chrono::milliseconds(settings.call_timeout_ms);
        mcp::server mcp(*host_, mo);
        for (const auto& p : mcp.naming_problems()) err_ << "toolhost: " << p << '\n';

        const auto grace = std::chrono::milliseconds(settings.shutdown_grace_ms);
        std::optional<serve::http_server> http;
        if (want_http) {
            http.emplace(*host_, mcp, settings);
            unsigned io_threads =
                settings.io_threads > 0 ? settings.io_threads : std::max(1u, std::thread::hardware_concurrency() / 2);
            if (auto started = http->start(io_threads); !started) {
                err_ << "toolhost: cannot serve HTTP on " << settings.listen << ": " << started.error() << '\n';
                http.reset();
                host_->shutdown();
                return exit_code::unavailable;
            }
            http->set_ready(true);
            auto [address, port] = split_listen_address(settings.listen);
            if (address.find(':') != std::string::npos) address = "[" + address + "]";
            err_ << "toolhost: serving MCP at http://" << address << ':' << http->port() << "/mcp, REST at /v1/tools ("
                 << mcp.tools().size() << " MCP tools" << (settings.stateless ? ", stateless" : "") << ")\n";
            if (o_.port_file) {
                fs::path tmp = *o_.port_file;
                tmp += ".tmp";
                std::ofstream(tmp) << http->port() << '\n';
                std::error_code ec;
                fs::rename(tmp, *o_.port_file, ec);
                if (ec) err_ << "toolhost: cannot write " << o_.port_file->string() << ": " << ec.message() << '\n';
            }
        }
        std::unique_ptr<serve::stdio_server> stdio;
        if (o_.stdio) {
            stdio = std::make_unique<serve::stdio_server>(mcp, STDIN_FILENO, protocol_fd_);
            err_ << "toolhost: serving MCP on stdio (" << mcp.tools().size() << " MCP tools)\n";
        }
        err_.flush();

        // New plugin files dropped into a plugin folder are served without a restart (the MCP
        // server tells its clients the tool list changed).
        std::mutex rescan_mutex;
        std::condition_variable rescan_cv;
        bool rescan_stop = false;
        std::thread rescanner;
        if (settings.plugin_rescan_ms > 0) {
            rescanner = std::thread([&] {
                std::unique_lock lock(rescan_mutex);
                while (!rescan_cv.wait_for(lock, std::chrono::milliseconds(settings.plugin_rescan_ms), [&] { return rescan_stop; })) {
                    lock.unlock();
                    for (const auto& name : host_->load_new_plugins())
                        logging::write(logging::level::info, "serve", "new tool served", {{"tool", name}});
                    lock.lock();
                }
            });
        }

        // One thread takes the stop signals; stdio's end of input wakes it with SIGUSR2.
        std::atomic<int> stop_signal{0};
        std::thread waiter([&] {
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGINT);
            sigaddset(&set, SIGTERM);
            sigaddset(&set, SIGUSR2);
            int sig = 0;
            sigwait(&set, &sig);
            stop_signal.store(sig);
            if (stdio) stdio->stop();
        });
        if (stdio) {
            stdio->run(grace);
            if (stop_signal.load() == 0) pthread_kill(waiter.native_handle(), SIGUSR2);
        }
        waiter.join();
        if (int sig = stop_signal.load(); sig == SIGINT || sig == SIGTERM)
            logging::write(logging::level::info, "serve", "stopping: finishing calls in flight",
                           {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}, {"grace_ms", settings.shutdown_grace_ms}});
        if (rescanner.joinable()) {
            {
                std::lock_guard lock(rescan_mutex);
                rescan_stop = true;
            }
            rescan_cv.notify_all();
            rescanner.join();
        }
        if (http) http->stop(grace);
        stdio.reset();
        host_->shutdown();
        logging::write(logging::level::info, "serve", "stopped");
        return exit_code::ok;
    }

    int cmd_validate() {
        auto problems = host_->validate();
        if (o_.json) {
            json::array a;
            for (const auto& p : problems) a.push_back(json::value(p));
            out_ << json::serialize(json::object{{"ok", problems.empty()},
                                                 {"tools", host_->list().size()},
                                                 {"problems", std::move(a)}})
                 << '\n';
        } else {
            for (const auto& p : problems) err_ << p << '\n';
            if (problems.empty())
                out_ << "configuration ok: " << host_->list().size() << " tools"
                     << (host_->config().file.empty() ? std::string() : " (" + host_->config().file.string() + ")") << '\n';
            else
                err_ << problems.size() << (problems.size() == 1 ? " problem" : " problems") << " found\n";
        }
        return problems.empty() ? exit_code::ok : exit_code::config;
    }

    options o_;
    fs::path exe_;
    std::ostream& out_;
    std::ostream& err_;
    host_config config_;
    std::optional<toolhost::host> host_;
    int protocol_fd_ = -1;  // serve --stdio: the real stdout
    int rc_ = exit_code::ok;  // the exit code of the last fail()
};

}  // namespace

int run(const std::vector<std::string>& args, const fs::path& exe, std::ostream& out, std::ostream& err) {
    auto parsed = parse_args(args);
    if (!parsed) {
        err << "toolhost: " << parsed.error().message << "\n\n" << usage_text;
        return exit_code::usage;
    }
    return command_line(std::move(*parsed), exe, out, err).run();
}

}  // namespace toolhost::cli
