#pragma once
// A throwaway PostgreSQL server for one test, started with Debian's own binaries (initdb and
// pg_ctl): a new cluster in a temporary folder, listening on 127.0.0.1 on a free port and on a
// Unix socket in that folder, with trust authentication for local connections and fsync off (a
// test's data never needs to survive a power cut; a killed server still loses nothing
// committed). PostgreSQL refuses to run as root, so as root (CI) the server runs as the
// unprivileged `postgres` user that Debian's package creates (runuser), else as the current user.
//
//     if (auto why = toolhost::test::postgres_cluster::unavailable()) ... skip, saying *why
//     toolhost::test::postgres_cluster pg;
//     auto url = pg.create_database("memory");       // postgresql://postgres@127.0.0.1:PORT/memory
//     pg.stop();                                     // the database goes away (immediate shutdown)
//     pg.restart();                                  // and comes back, same port, same data
//
// Not thread-safe; one object per test (or per test executable, with a database per test).

#include "test_support.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace toolhost::test {

class postgres_cluster {
public:
    /// Why no cluster can be started on this machine (no server binaries, or running as root
    /// without a `postgres` user), with what to install; nullopt when one can. Looks in
    /// $TOOLHOST_POSTGRESQL_BINDIR, then Debian's /usr/lib/postgresql/<newest>/bin.
    static std::optional<std::string> unavailable();

    /// Creates and starts the cluster. Throws std::runtime_error with the tool's output when
    /// initdb or pg_ctl fails (or with unavailable()'s reason).
    postgres_cluster();
    /// Stops the server at once (pg_ctl stop -m immediate) and removes its folder.
    ~postgres_cluster();
    postgres_cluster(const postgres_cluster&) = delete;
    postgres_cluster& operator=(const postgres_cluster&) = delete;

    /// Takes the server away as a crash would (immediate shutdown: connections are cut,
    /// nothing committed is lost). Nothing happens when it is already stopped.
    void stop();
    /// Starts the stopped server again, on the same port with the same data; waits until it
    /// accepts connections.
    void restart();
    bool running() const noexcept { return running_; }

    int port() const noexcept { return port_; }
    /// postgresql://postgres[:password]@127.0.0.1:PORT/database (trust authentication: a
    /// password is accepted and ignored, which lets a test check that messages never show it).
    std::string url(const std::string& database = "postgres", const std::string& password = {}) const;

    /// Creates an empty database; returns its URL.
    std::string create_database(const std::string& name);
    /// Runs SQL with psql in `database` and returns what it prints, unaligned, one row a line
    /// (psql -At). Throws std::runtime_error with psql's message when the SQL fails.
    std::string psql(const std::string& sql, const std::string& database = "postgres") const;

    /// The server's log, for failure messages.
    std::string log() const;

private:
    /// argv, run as the server's user.
    std::vector<std::string> as_server_user(std::vector<std::string> argv) const;
    void start();

    std::filesystem::path bindir_;
    temp_dir dir_;
    std::filesystem::path data_;
    int port_ = 0;
    bool running_ = false;
};

}  // namespace toolhost::test
