// The parts that run plugin code in other processes (host/src/isolation): the channel's messages
// over a SOCK_SEQPACKET pair, and child processes, started, ended and described.
#define BOOST_TEST_MODULE isolation
#include <boost/test/unit_test.hpp>

#include "isolation/channel.hpp"
#include "isolation/child_process.hpp"
#include "isolation/crash_report.hpp"

#include "test_support.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <thread>

using toolhost::detail::channel;
using toolhost::detail::child_process;
using toolhost::test::contains;

namespace {

std::pair<channel, channel> channel_pair() {
    int sv[2];
    BOOST_TEST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    return {channel(sv[0]), channel(sv[1])};
}

auto soon() { return std::chrono::steady_clock::now() + std::chrono::seconds(5); }

}  // namespace

BOOST_AUTO_TEST_CASE(messages_of_any_size_arrive_whole_and_in_order) {
    auto [a, b] = channel_pair();
    const std::string big(3 * channel::max_datagram + 123, 'x');
    // Sent from another thread: the big one does not fit in the socket's buffer at once.
    std::thread sender([&a = a, &big] {
        BOOST_TEST((a.send(1, 10, "", soon()) == channel::status::ok));
        BOOST_TEST((a.send(2, 11, big, soon()) == channel::status::ok));
        BOOST_TEST((a.send(3, 12, "small", soon()) == channel::status::ok));
    });
    auto m1 = b.receive(soon(), 1 << 20);
    auto m2 = b.receive(soon(), 1 << 20);
    auto m3 = b.receive(soon(), 1 << 20);
    sender.join();
    BOOST_TEST((m1.state == channel::status::ok && m1.msg.kind == 1u && m1.msg.id == 10u && m1.msg.payload.empty()));
    BOOST_TEST((m2.state == channel::status::ok && m2.msg.kind == 2u && m2.msg.payload == big));
    BOOST_TEST((m3.state == channel::status::ok && m3.msg.payload == "small"));
}

BOOST_AUTO_TEST_CASE(a_message_above_the_limit_is_an_error_and_a_silent_peer_a_timeout) {
    auto [a, b] = channel_pair();
    auto r = b.receive(std::chrono::steady_clock::now() + std::chrono::milliseconds(50), 100);
    BOOST_TEST((r.state == channel::status::timeout));
    BOOST_TEST((a.send(1, 1, std::string(200, 'y'), soon()) == channel::status::ok));
    r = b.receive(soon(), 100);
    BOOST_TEST((r.state == channel::status::error));
    BOOST_TEST(contains(r.error, "larger than 100 bytes"), r.error);
}

BOOST_AUTO_TEST_CASE(a_datagram_without_a_whole_header_is_refused) {
    int sv[2];
    BOOST_TEST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    channel b(sv[1]);
    BOOST_TEST_REQUIRE(::send(sv[0], "short", 5, 0) == 5);
    auto r = b.receive(soon(), 1 << 20);
    BOOST_TEST((r.state == channel::status::error));
    BOOST_TEST(contains(r.error, "malformed datagram of 5 bytes"), r.error);
    ::close(sv[0]);
}

BOOST_AUTO_TEST_CASE(what_a_peer_sent_before_it_died_is_read_before_the_end) {
    auto [a, b] = channel_pair();
    BOOST_TEST((a.send(2, 1, "answer one", soon()) == channel::status::ok));
    BOOST_TEST((a.send(2, 2, "answer two", soon()) == channel::status::ok));
    // Requests the peer never reads: its end closing with them queued makes the kernel report a
    // reset first.
    BOOST_TEST((b.send(1, 3, "unread", soon()) == channel::status::ok));
    a.close();
    auto r1 = b.receive(soon(), 1 << 20);
    auto r2 = b.receive(soon(), 1 << 20);
    auto r3 = b.receive(soon(), 1 << 20);
    BOOST_TEST((r1.state == channel::status::ok && r1.msg.payload == "answer one"));
    BOOST_TEST((r2.state == channel::status::ok && r2.msg.payload == "answer two"));
    BOOST_TEST((r3.state == channel::status::closed));
}

BOOST_AUTO_TEST_CASE(a_child_gets_its_channel_and_its_end_is_told_in_words) {
    int fd = -1;
    // A child that writes to stderr and exits with 3; its end of the channel closes with it.
    auto child = child_process::spawn("/bin/sh", {"-c", "printf oops >&2; exit 3"}, fd);
    BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error()));
    channel ch(fd);
    auto e = child->wait_for(std::chrono::seconds(10));
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(e->describe() == "exited with code 3");
    BOOST_TEST(child->drain_stderr() == "oops");
    BOOST_TEST((ch.receive(soon(), 1024).state == channel::status::closed));

    auto sleeper = child_process::spawn("/bin/sleep", {"30"}, fd);
    BOOST_TEST_REQUIRE(sleeper.has_value());
    ::close(fd);
    BOOST_TEST(!sleeper->wait_for(std::chrono::milliseconds(10)).has_value());
    BOOST_TEST(sleeper->kill_and_wait().describe() == "was killed by signal SIGKILL (Killed)");

    auto missing = child_process::spawn("/nonexistent/program", {}, fd);
    BOOST_TEST_REQUIRE(!missing.has_value());
    BOOST_TEST(contains(missing.error(), "cannot start /nonexistent/program"), missing.error());
}

BOOST_AUTO_TEST_CASE(a_child_asked_for_an_events_socket_gets_it_as_descriptor_4_and_nothing_more) {
    int fd = -1, events = -1;
    // Descriptor 4 is a datagram socket to the host; 5 and above are closed.
    auto child = child_process::spawn("/bin/sh", {"-c", "printf notice >&4; [ -e /proc/self/fd/5 ] && exit 9; exit 0"},
                                      fd, child_process::stdout_to::null, &events);
    BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error()));
    ::close(fd);
    auto e = child->wait_for(std::chrono::seconds(10));
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(e->describe() == "exited with code 0", child->drain_stderr());
    char buf[64];
    const ssize_t n = ::recv(events, buf, sizeof buf, MSG_DONTWAIT);
    BOOST_TEST_REQUIRE(n > 0);
    BOOST_TEST(std::string(buf, static_cast<std::size_t>(n)) == "notice");
    ::close(events);
}

BOOST_AUTO_TEST_CASE(the_crash_line_names_plugin_tool_operation_and_request) {
    const toolhost::detail::crash_report::scope s("/p/x.so", "x", "run", "rq-1");
    char buf[256];
    const auto n = toolhost::detail::crash_report::format(buf, sizeof buf, SIGSEGV, s);
    BOOST_TEST(std::string(buf, n) ==
               "toolhost: fatal signal SIGSEGV in plugin code: /p/x.so, tool x, operation run, request id rq-1; the "
               "host ends with it (in-process plugins run as trusted code)");
    char tiny[16];
    BOOST_TEST(toolhost::detail::crash_report::format(tiny, sizeof tiny, SIGSEGV, s) == 15u);  // cut, terminated
    BOOST_TEST(std::string(tiny) == "toolhost: fatal");
}
