#include "postgres_cluster.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace toolhost::test {

namespace fs = std::filesystem;

namespace {

constexpr const char* install_hint =
    "install Debian's PostgreSQL server (apt-get install postgresql, or ./scripts/setup-deps.sh) or point "
    "TOOLHOST_POSTGRESQL_BINDIR at a folder with initdb, pg_ctl and psql";

bool executable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0; }

bool has_server_binaries(const fs::path& dir) {
    return executable(dir / "initdb") && executable(dir / "pg_ctl") && executable(dir / "psql");
}

// $TOOLHOST_POSTGRESQL_BINDIR, else the newest /usr/lib/postgresql/<version>/bin; empty if none.
fs::path find_bindir() {
    if (const char* dir = std::getenv("TOOLHOST_POSTGRESQL_BINDIR"); dir && *dir) return dir;
    fs::path best;
    int best_version = -1;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const std::string name = entry.path().filename().string();
        const int version = std::atoi(name.c_str());
        if (version > best_version && has_server_binaries(entry.path() / "bin")) {
            best_version = version;
            best = entry.path() / "bin";
        }
    }
    return best;
}

fs::path find_runuser() {
    for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"})
        if (executable(p)) return p;
    return {};
}

// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice for port 0).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("postgres_cluster: socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("postgres_cluster: cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string output_of(const process_result& r) { return r.out + r.err; }

}  // namespace

std::optional<std::string> postgres_cluster::unavailable() {
    const fs::path bindir = find_bindir();
    if (bindir.empty() || !has_server_binaries(bindir))
        return std::string("no PostgreSQL server binaries (initdb, pg_ctl, psql) found: ") + install_hint;
    if (::geteuid() == 0) {
        if (::getpwnam("postgres") == nullptr)
            return std::string(
                       "running as root, and PostgreSQL refuses to run as root: it needs the unprivileged "
                       "'postgres' user that Debian's postgresql package creates (") +
                   install_hint + ")";
        if (find_runuser().empty()) return std::string("running as root and runuser (util-linux) is missing");
    }
    return std::nullopt;
}

postgres_cluster::postgres_cluster() : bindir_(find_bindir()), data_(dir_ / "data") {
    if (auto why = unavailable()) throw std::runtime_error("postgres_cluster: " + *why);
    if (::geteuid() == 0) {
        // The server's user must own its folder (the data directory and the socket live there).
        const passwd* pw = ::getpwnam("postgres");
        if (::chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0)
            throw std::runtime_error("postgres_cluster: cannot give " + dir_.path().string() + " to user postgres");
    }
    // --no-sync: a throwaway cluster does not need initdb's fsyncs (most of its time).
    const auto init = run_process(as_server_user({(bindir_ / "initdb").string(), "-D", data_.string(), "-U", "postgres",
                                                  "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"}));
    if (init.exit_code != 0) throw std::runtime_error("postgres_cluster: initdb failed: " + output_of(init));
    // Loopback and the socket folder only; no fsync; small, so that several clusters fit.
    // full_page_writes only protects against torn pages in a power cut.
    std::ofstream conf(data_ / "postgresql.conf", std::ios::app);
    conf << "\n# postgres_cluster (tests/support)\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << dir_.path().string() << "'\n"
         << "fsync = off\n"
         << "full_page_writes = off\n"
         << "shared_buffers = 16MB\n"
         << "max_connections = 100\n";
    conf.close();
    if (!conf) throw std::runtime_error("postgres_cluster: cannot write " + (data_ / "postgresql.conf").string());
    // The port is chosen at start-up; if another process takes it between the probe and the
    // server's bind, try another.
    for (int attempt = 0;; ++attempt) {
        port_ = free_port();
        try {
            start();
            return;
        } catch (const std::runtime_error&) {
            if (attempt == 2) throw;
        }
    }
}

postgres_cluster::~postgres_cluster() {
    try {
        stop();
    } catch (...) {
        // Nothing to do in a destructor; a server left behind notices its lock file is gone.
    }
}

std::vector<std::string> postgres_cluster::as_server_user(std::vector<std::string> argv) const {
    if (::geteuid() != 0) return argv;
    std::vector<std::string> wrapped{find_runuser().string(), "-u", "postgres", "--"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
}

void postgres_cluster::start() {
    const auto r = run_process(
        as_server_user({(bindir_ / "pg_ctl").string(), "-D", data_.string(), "-l", (dir_ / "server.log").string(), "-o",
                        "-p " + std::to_string(port_), "-w", "-t", "60", "start"}));
    if (r.exit_code != 0)
        throw std::runtime_error("postgres_cluster: pg_ctl start failed: " + output_of(r) + "\n" + log());
    running_ = true;
}

void postgres_cluster::stop() {
    if (!running_) return;
    const auto r = run_process(
        as_server_user({(bindir_ / "pg_ctl").string(), "-D", data_.string(), "-m", "immediate", "-w", "stop"}));
    if (r.exit_code != 0) throw std::runtime_error("postgres_cluster: pg_ctl stop failed: " + output_of(r));
    running_ = false;
}

void postgres_cluster::restart() {
    if (!running_) start();
}

std::string postgres_cluster::url(const std::string& database, const std::string& password) const {
    return "postgresql://postgres" + (password.empty() ? "" : ":" + password) + "@127.0.0.1:" + std::to_string(port_) +
           "/" + database;
}

std::string postgres_cluster::create_database(const std::string& name) {
    psql("CREATE DATABASE \"" + name + "\"");
    return url(name);
}

std::string postgres_cluster::psql(const std::string& sql, const std::string& database) const {
    const auto r = run_process(
        {(bindir_ / "psql").string(), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url(database), "-c", sql});
    if (r.exit_code != 0) throw std::runtime_error("psql failed on \"" + sql + "\": " + output_of(r));
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::string postgres_cluster::log() const {
    std::error_code ec;
    if (!fs::exists(dir_ / "server.log", ec)) return {};
    return read_file(dir_ / "server.log");
}

}  // namespace toolhost::test
