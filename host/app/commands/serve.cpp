#include "commands.hpp"

#if TOOLHOST_CLI_POSTGRESQL
#include "cluster/postgres_cluster.hpp"
#endif

#include <toolhost/plugin.hpp>
#include <toolhost/serve/service.hpp>
#include <toolhost/serve/stdio_server.hpp>
#include <toolhost/serve/stop_signals.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

namespace toolhost::cli {
namespace {

// With --stdio the protocol stream is moved out of the plugins' reach before they load.
int protect_protocol_stream(command_context& c) {
    c.out().flush();
    const int fd = serve::protect_stdout();
    if (fd < 0) c.err() << "toolhost: cannot protect stdout: " << std::strerror(errno) << '\n';
    return fd;
}

// The flags over the file's "serve" section.
serve::service_settings service_settings(const options& o, serve_settings file, int protocol_fd) {
    serve::service_settings s{.serve = std::move(file),
                              .http = o.http.has_value() || !o.stdio,
                              .stdio = o.stdio,
                              .stdio_in = STDIN_FILENO,
                              .stdio_out = protocol_fd,
                              .port_file = o.port_file,
                              .read_config = {},
                              .cluster = nullptr};  // open_cluster() sets it
    if (o.http) s.serve.listen = *o.http;
    if (o.stateless) s.serve.stateless = true;
    if (o.allow_unauthenticated) s.serve.allow_unauthenticated = true;
    return s;
}

// serve.database: the database the hosts behind one load balancer share; null without one. False
// when it is configured but cannot be used (the report says why).
bool open_cluster(command_context& c, serve::service_settings& s) {
    const std::string& url = s.serve.database;
    if (url.empty()) return true;
#if TOOLHOST_CLI_POSTGRESQL
    try {
        s.cluster = open_postgres_cluster(url, s.serve.node_id);
        return true;
    } catch (const sdk::error& e) {
        c.err() << "toolhost: cannot use serve.database: " << status_name(static_cast<status_code>(e.code())) << ": "
                << e.what() << '\n';
    }
#else
    c.err() << "toolhost: serve.database is set, but this toolhost was built without PostgreSQL support (libpq; "
               "Debian: libpq-dev): build it with libpq, or leave serve.database and TOOLHOST_DATABASE_URL unset\n";
#endif
    return false;
}

}  // namespace

int cmd_serve(command_context& c) {
    if (int rc = c.check_args(0, 0, "'serve' takes no arguments"); rc != exit_code::ok) return rc;
    const options& o = c.opts();
    serve::stop_signals signals;  // before the host starts threads, which inherit the blocked signals
    const int protocol_fd = o.stdio ? protect_protocol_stream(c) : -1;
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;
    if (o.stdio && protocol_fd < 0) return exit_code::internal;
    auto settings = service_settings(o, c.serving(), protocol_fd);
    settings.read_config = [&c] { return c.read_config(); };  // a reload keeps the command line's overrides
    if (!open_cluster(c, settings)) return exit_code::unavailable;
    serve::service svc(c.host(), std::move(settings), c.err());
    if (!svc.start()) return exit_code::unavailable;
    signals.run(svc);
    if (!svc.left_running().empty()) {
        c.err() << "toolhost: stopped while calls of these tools still run in plugin code (it cannot be stopped):";
        for (const auto& t : svc.left_running()) c.err() << ' ' << t;
        c.err() << '\n';
        c.err().flush();
        std::fflush(nullptr);
        std::_Exit(exit_code::ok);  // the threads stuck in plugin code would hold the exit
    }
    return exit_code::ok;
}

}  // namespace toolhost::cli
