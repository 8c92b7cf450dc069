#include <toolhost/json_input.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/serve/stdio_server.hpp>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace toolhost::serve {

namespace {

constexpr std::size_t max_message_bytes = 64u << 20;

// Writes whole lines to one descriptor; several threads may write at once.
class line_writer {
public:
    explicit line_writer(int fd) : fd_(fd) {}
    bool write_line(std::string_view line) {
        std::lock_guard lock(m_);
        if (broken_) return false;
        if (!write_all(line) || !write_all("\n")) {
            broken_ = true;
            return false;
        }
        return true;
    }

private:
    bool write_all(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::write(fd_, data.data(), data.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    pollfd p{fd_, POLLOUT, 0};
                    ::poll(&p, 1, 100);
                    continue;
                }
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    std::mutex m_;
    int fd_;
    bool broken_ = false;
};

}  // namespace

struct stdio_server::impl {
    mcp::server& mcp;
    int in_fd;
    line_writer out;
    std::shared_ptr<mcp::session> session;
    int wake[2] = {-1, -1};
    std::atomic<bool> stopping{false};
    std::mutex m;
    std::condition_variable idle;
    std::size_t open_exchanges = 0;

    impl(mcp::server& s, int in, int o) : mcp(s), in_fd(in), out(o) {
        if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) wake[0] = wake[1] = -1;
    }
    ~impl() {
        for (int fd : wake)
            if (fd >= 0) ::close(fd);
    }

    // What belongs to one incoming message goes straight to stdout, in order of sending.
    struct exchange final : mcp::exchange {
        impl& self;
        std::atomic<bool> finished{false};
        explicit exchange(impl& s) : self(s) {
            std::lock_guard lock(self.m);
            ++self.open_exchanges;
        }
        bool send(std::string message) override { return self.out.write_line(message); }
        void finish(std::string message) override {
            if (finished.exchange(true)) return;  // once: the engine's, or the answer to its failure
            if (!message.empty()) self.out.write_line(message);
            uncount();
        }
        // A subscription: not work in progress that stopping waits for (closing the session
        // ends it, with its graceful response).
        void long_lived() override { uncount(); }

    private:
        std::atomic<bool> counted{true};
        void uncount() {
            if (!counted.exchange(false)) return;
            std::lock_guard lock(self.m);
            if (--self.open_exchanges == 0) self.idle.notify_all();
        }
    };
    struct standalone final : mcp::standalone_stream {
        impl& self;
        explicit standalone(impl& s) : self(s) {}
        bool send(std::string message) override { return self.out.write_line(message); }
    };

    void dispatch(std::string_view line) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) return;
        auto ex = std::make_shared<exchange>(*this);
        try {
            session->handle(line, ex);
        } catch (const std::exception& e) {
            failed(line, *ex, e.what());
        } catch (...) {
            failed(line, *ex, "an exception that is not a std::exception");
        }
    }

    // The engine threw while handling `line`: the detail goes to the log, the client gets an
    // internal error without it (if `line` was a request), and the next line is read as usual.
    void failed(std::string_view line, exchange& ex, const char* what) noexcept {
        try {
            logging::write(logging::level::error, "stdio", "handling a message failed", {{"error", what}});
            auto message = parse_json_input(line, mcp.options().json_max_depth);  // its id, if a request
            ex.finish(message ? mcp::internal_error_answer(*message) : std::string());
        } catch (...) {
            ex.finish({});  // (out of memory: the exchange still ends)
        }
    }
};

stdio_server::stdio_server(mcp::server& mcp, int in_fd, int out_fd)
    : impl_(std::make_unique<impl>(mcp, in_fd, out_fd)) {
    impl_->session = mcp.open_session(std::string());
    impl_->session->set_standalone(std::make_shared<impl::standalone>(*impl_));
}

stdio_server::~stdio_server() {
    impl_->session->close();
    // Calls still running hold exchanges that point here: wait for them to answer.
    std::unique_lock lock(impl_->m);
    impl_->idle.wait(lock, [&] { return impl_->open_exchanges == 0; });
}

void stdio_server::stop() noexcept {
    impl_->stopping.store(true);
    if (impl_->wake[1] >= 0) {
        char c = 1;
        [[maybe_unused]] auto n = ::write(impl_->wake[1], &c, 1);
    }
}

void stdio_server::run(std::chrono::milliseconds grace) {
    auto& s = *impl_;
    std::string buffer;
    char chunk[65536];
    bool eof = false;
    while (!eof && !s.stopping.load()) {
        pollfd fds[2] = {{s.in_fd, POLLIN, 0}, {s.wake[0], POLLIN, 0}};
        int n = ::poll(fds, s.wake[0] >= 0 ? 2 : 1, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            logging::write(logging::level::error, "stdio", "poll failed", {{"error", std::strerror(errno)}});
            break;
        }
        if (fds[1].revents != 0) break;
        if (fds[0].revents == 0) continue;
        ssize_t got = ::read(s.in_fd, chunk, sizeof chunk);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            logging::write(logging::level::error, "stdio", "reading stdin failed", {{"error", std::strerror(errno)}});
            break;
        }
        if (got == 0) {
            eof = true;
        } else {
            buffer.append(chunk, static_cast<std::size_t>(got));
        }
        std::size_t start = 0;
        for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1)
            s.dispatch(std::string_view(buffer).substr(start, nl - start));
        buffer.erase(0, start);
        if (eof && !buffer.empty()) {
            s.dispatch(buffer);  // a last message without its newline
            buffer.clear();
        }
        if (buffer.size() > max_message_bytes) {
            s.out.write_line(mcp::error_response(
                nullptr, mcp::parse_error,
                "message too long: over " + std::to_string(max_message_bytes >> 20) + " MiB without a newline"));
            buffer.clear();
        }
    }
    logging::write(logging::level::info, "stdio", eof ? "stdin closed; finishing calls in flight" : "stopping");
    {
        std::unique_lock lock(s.m);
        s.idle.wait_for(lock, grace, [&] { return s.open_exchanges == 0; });
    }
    s.session->close();
}

int protect_stdout() noexcept {
    std::fflush(stdout);
    int saved = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (saved < 0) return -1;
    if (::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        int e = errno;
        ::close(saved);
        errno = e;
        return -1;
    }
    return saved;
}

}  // namespace toolhost::serve
