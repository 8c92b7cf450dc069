#include "options.hpp"

#include <toolhost/config.hpp>
#include <toolhost/serve/settings.hpp>

#include <algorithm>
#include <charconv>
#include <iterator>

namespace toolhost::cli {

const std::string_view usage_text = R"(usage: toolhost [global options] <command> [command options]

commands:
  list [--json]                       tools of every loadable plugin, and rejected files
  info TOOL [--json]                  one tool: operations, schemas, configuration
  inspect FILE [--json]               one plugin file without running its code here: verdict,
                                      sha256, tools, linked libraries and exported symbols
  call TOOL OPERATION [ARGS_JSON]     call an operation (ARGS_JSON defaults to {}; - reads stdin)
       [--request-id ID] [--session-id ID] [--timeout-ms N] [--json]
  status [--json]                     start the enabled tools and report their state
                                      list, info, call and status take --server URL: they then
                                      ask that running `toolhost serve` (its REST API) instead of
                                      loading the plugins here, so a tool keeps its state
  metrics [TOOL] [--json]             start the enabled tools and print the host's metrics
                                      (only TOOL's series when given)
                                      (Prometheus text exposition, or JSON); with --server URL,
                                      the metrics of that running `toolhost serve` instead
  breaker list [--json]               the circuit breakers of a running `toolhost serve`
  breaker reset TOOL [OPERATION]      close a tool's breakers (or one operation's)
  breaker reset --all                 close every breaker
  breaker open|disable TOOL [OP]      force a breaker open (refuse calls), or let every call through
  restart TOOL [--json]               stop a tool of a running `toolhost serve` and start it again
                                      (a tool failed by its worker's crashes comes back)
                                      breaker, restart and metrics --server take --server URL (default
                                      $TOOLHOST_SERVER, else http://127.0.0.1:8080); every command
                                      that talks to a server sends $TOOLHOST_AUTH_TOKEN as bearer
                                      token when set
  serve [--stdio] [--http ADDR:PORT]  serve the tools over MCP (stdio, Streamable HTTP at /mcp)
        [--stateless] [--port-file FILE] and, over HTTP, REST (/v1/tools), /healthz, /readyz and
        [--allow-unauthenticated]     /metrics; without --stdio or --http: HTTP at serve.http.listen
                                      (127.0.0.1:8080). Stops on SIGTERM/SIGINT (or end of stdin
                                      with --stdio) after the calls in flight finish. A listen
                                      address that is not loopback needs a bearer token, or
                                      --allow-unauthenticated
  new [NAME --lang c|cpp|rust|python [--dir DIR]]
                                      a new plugin project in DIR (default ./NAME): source, build
                                      files, a test and a README, ready to build against this
                                      toolhost; without NAME, the languages it can make
  validate [--json]                   check configuration and plugins without serving
  validate-plugin FILE [--json]       check a plugin file against the contract, its code run only in
       [--timeout-ms N]               child processes: ABI, exports, descriptors, lifecycle, leaks,
                                      calls with generated arguments (valid, edge and invalid),
                                      results, errors, stdout, threads, cancellation (each call's
                                      deadline: --timeout-ms, default 5000); exit 0 when every
                                      check passes, 1 with the failures listed, 66 no such file
  version [--json]                    print the version
  help                                print this text

global options:
  --config FILE          configuration file; without it the first of $TOOLHOST_CONFIG,
                         $XDG_CONFIG_HOME/toolhost/toolhost.json (~/.config/toolhost/...),
                         <prefix>/etc/toolhost/toolhost.json, the source tree's conf/toolhost.json
                         (only from the build tree), else built-in defaults; `validate` says which
  --plugin-dir DIR       also load plugins from DIR (repeatable)
  --no-default-plugins   do not load the bundled plugins next to the executable
  --log-level LEVEL      trace|debug|info|warning|error|off
  --log-format FORMAT    text|json
  --threads N            worker threads (0 = one per core)

exit codes: 0 ok, 1 validate-plugin found a failure, 64 usage, 65 bad input data, 66 no such
            input file, 69 tool or plugin unavailable, 70 internal error, 73 cannot create
            (new), 77 permission denied, 78 configuration error
)";

namespace {

template <class T>
std::optional<T> parse_number(std::string_view s) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Sets an option that takes a value; nullopt when the value is fine.
std::optional<usage_error> set_value_option(options& o, const std::string& name, const std::string& v) {
    if (name == "--config")
        o.config_file = v;
    else if (name == "--plugin-dir")
        o.plugin_dirs.emplace_back(v);
    else if (name == "--log-level")
        o.log_level = v;
    else if (name == "--log-format")
        o.log_format = v;
    else if (name == "--request-id")
        o.request_id = v;
    else if (name == "--session-id")
        o.session_id = v;
    else if (name == "--port-file")
        o.port_file = v;
    else if (name == "--server")
        o.server = v;
    else if (name == "--lang")
        o.lang = v;
    else if (name == "--dir")
        o.dir = v;
    else if (name == "--http") {
        if (auto problem = serve::check_listen_address(v); !problem.empty())
            return usage_error{"--http expects ADDRESS:PORT (e.g. 127.0.0.1:8080): " + problem + ", got '" + v + "'"};
        o.http = v;
    } else if (name == "--threads") {
        auto n = parse_number<unsigned>(v);
        if (!n || *n > 1024) return usage_error{"--threads expects a number from 0 to 1024, got '" + v + "'"};
        o.threads = *n;
    } else if (name == "--timeout-ms") {
        auto n = parse_number<long long>(v);
        if (!n || *n <= 0)
            return usage_error{"--timeout-ms expects a positive number of milliseconds, got '" + v + "'"};
        o.timeout_ms = *n;
    }
    return std::nullopt;
}

}  // namespace

boost::system::result<options, usage_error> parse_args(const std::vector<std::string>& args) {
    static constexpr std::string_view value_options[] = {
        "--config",     "--plugin-dir", "--log-level", "--log-format", "--threads", "--request-id", "--session-id",
        "--timeout-ms", "--http",       "--port-file", "--server",     "--lang",    "--dir"};
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
        } else if (a == "--allow-unauthenticated") {
            o.allow_unauthenticated = true;
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

}  // namespace toolhost::cli
