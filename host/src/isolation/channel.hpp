#pragma once
// Messages between the host and a child process over a SOCK_SEQPACKET socket (child_process.hpp).
//
// A message is a kind, an id and a payload of any size up to a limit the receiver sets. On the
// wire it is one or more datagrams of at most max_datagram bytes, each a 16-byte header (kind,
// flags, id, in the host's byte order: both ends are the same machine) and a piece of the
// payload; the flag `more` says another piece follows. SEQPACKET keeps datagram boundaries and
// order, and a peer that dies shows as end of stream, so neither side ever parses a stream.
// Every value read is checked: a child runs plugin code, so what it sends is untrusted.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace toolhost::detail {

class channel {
public:
    static constexpr std::size_t header_size = 16;
    static constexpr std::size_t max_datagram = 60 * 1024;

    struct message {
        std::uint32_t kind = 0;
        std::uint64_t id = 0;
        std::string payload;
    };

    enum class status {
        ok,       ///< a whole message arrived (receive) or was sent (send)
        timeout,  ///< the deadline passed first
        closed,   ///< the peer closed its end (exited or crashed)
        error     ///< a system error or a malformed datagram: `error` says which
    };

    struct received {
        status state = status::error;
        message msg;
        std::string error;
    };

    channel() = default;
    /// Takes ownership of `fd` (a SOCK_SEQPACKET socket) and makes it non-blocking.
    explicit channel(int fd) noexcept;
    channel(channel&& o) noexcept;
    channel& operator=(channel&& o) noexcept;
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    ~channel();

    int fd() const noexcept { return fd_; }
    bool is_open() const noexcept { return fd_ >= 0; }
    void close() noexcept;

    /// Sends one message before `deadline`; `error` says why not.
    status send(std::uint32_t kind, std::uint64_t id, std::string_view payload,
                std::chrono::steady_clock::time_point deadline, std::string* error = nullptr);
    /// The next whole message, waiting until `deadline`. A payload above `max_payload` bytes is
    /// an error (the rest of it is not read).
    received receive(std::chrono::steady_clock::time_point deadline, std::size_t max_payload);
    /// The next whole message if one has begun to arrive (timeout at once otherwise), waiting up
    /// to `rest` for its other pieces: for a reader that poll()s several descriptors.
    received try_receive(std::size_t max_payload, std::chrono::milliseconds rest);

private:
    std::unique_ptr<char[]> buffer_;  // one datagram; allocated at the first receive, not cleared
    received receive(bool wait_first, std::chrono::steady_clock::time_point deadline, std::size_t max_payload);

    int fd_ = -1;
};

}  // namespace toolhost::detail
