#include "isolation/channel.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace toolhost::detail {

namespace {

constexpr std::uint32_t flag_more = 1;

struct header {
    std::uint32_t kind;
    std::uint32_t flags;
    std::uint64_t id;
};
static_assert(sizeof(header) == channel::header_size);

// Waits for `events` on `fd` until `deadline`: 1 ready, 0 timed out, -1 error (errno set).
int wait_until(int fd, short events, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        // Round up, so that a deadline 0.4 ms away is waited for rather than missed.
        const int ms = left.count() < 0 ? 0 : static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30));
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r;
        return 1;  // readable, writable, or hung up / error: the next call says which
    }
}

}  // namespace

channel::channel(int fd) noexcept : fd_(fd) {
    if (fd_ >= 0) ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

channel::channel(channel&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buffer_(std::move(o.buffer_)) {}

channel& channel::operator=(channel&& o) noexcept {
    if (this != &o) {
        close();
        fd_ = std::exchange(o.fd_, -1);
        buffer_ = std::move(o.buffer_);
    }
    return *this;
}

channel::~channel() { close(); }

void channel::close() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

channel::status channel::send(std::uint32_t kind, std::uint64_t id, std::string_view payload,
                              std::chrono::steady_clock::time_point deadline, std::string* error) {
    auto fail = [&](status s, std::string why) {
        if (error) *error = std::move(why);
        return s;
    };
    if (fd_ < 0) return fail(status::closed, "the channel is closed");
    std::size_t offset = 0;
    do {
        const std::size_t piece = std::min(payload.size() - offset, max_datagram - header_size);
        header h{kind, offset + piece < payload.size() ? flag_more : 0u, id};
        // Header and piece gathered by the kernel: no copy of the payload here.
        iovec parts[2] = {{&h, sizeof h}, {const_cast<char*>(payload.data() + offset), piece}};
        msghdr mh{};
        mh.msg_iov = parts;
        mh.msg_iovlen = piece == 0 ? 1 : 2;
        for (;;) {
            const ssize_t n = ::sendmsg(fd_, &mh, MSG_NOSIGNAL);
            if (n == static_cast<ssize_t>(sizeof h + piece)) break;
            if (n >= 0) return fail(status::error, "short write on a SOCK_SEQPACKET socket");
            if (errno == EINTR) continue;
            if (errno == EPIPE || errno == ECONNRESET) return fail(status::closed, "the peer closed the channel");
            if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(status::error, std::strerror(errno));
            const int w = wait_until(fd_, POLLOUT, deadline);
            if (w == 0) return fail(status::timeout, "the peer did not read in time");
            if (w < 0) return fail(status::error, std::strerror(errno));
        }
        offset += piece;
    } while (offset < payload.size());
    return status::ok;
}

channel::received channel::receive(std::chrono::steady_clock::time_point deadline, std::size_t max_payload) {
    return receive(true, deadline, max_payload);
}

channel::received channel::try_receive(std::size_t max_payload, std::chrono::milliseconds rest) {
    return receive(false, std::chrono::steady_clock::now() + rest, max_payload);
}

channel::received channel::receive(bool wait_first, std::chrono::steady_clock::time_point deadline,
                                   std::size_t max_payload) {
    received r;
    if (fd_ < 0) {
        r.state = status::closed;
        return r;
    }
    if (!buffer_) buffer_.reset(new char[max_datagram + 1]);
    char* const buf = buffer_.get();
    bool first = true;
    for (;;) {
        const ssize_t n = ::recv(fd_, buf, max_datagram + 1, MSG_TRUNC);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (first && !wait_first) {
                r.state = status::timeout;
                return r;
            }
            const int w = wait_until(fd_, POLLIN, deadline);
            if (w == 0) {
                r.state = status::timeout;
                return r;
            }
            if (w > 0) continue;
        }
        // A peer that exits with requests it never read makes the kernel report ECONNRESET once,
        // ahead of the answers it did send: read on, those come next, then the end.
        if (n < 0 && errno == ECONNRESET) continue;
        if (n < 0) {
            r.state = status::error;
            r.error = std::strerror(errno);
            return r;
        }
        if (n == 0) {
            r.state = status::closed;
            if (!first) r.error = "the peer closed the channel in the middle of a message";
            return r;
        }
        const auto size = static_cast<std::size_t>(n);
        if (size > max_datagram || size < header_size) {
            r.state = status::error;
            r.error = "malformed datagram of " + std::to_string(size) + " bytes";
            return r;
        }
        header h;
        std::memcpy(&h, buf, sizeof h);
        if (!first && (h.kind != r.msg.kind || h.id != r.msg.id)) {
            r.state = status::error;
            r.error = "a message's pieces were interleaved with another message";
            return r;
        }
        r.msg.kind = h.kind;
        r.msg.id = h.id;
        if (r.msg.payload.size() + (size - header_size) > max_payload) {
            r.state = status::error;
            r.error = "message larger than " + std::to_string(max_payload) + " bytes";
            return r;
        }
        r.msg.payload.append(buf + header_size, size - header_size);
        first = false;
        if ((h.flags & flag_more) == 0) {
            r.state = status::ok;
            return r;
        }
    }
}

}  // namespace toolhost::detail
