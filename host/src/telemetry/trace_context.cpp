// The W3C trace context (traceparent) and random trace and span ids.

#include "telemetry/hex.hpp"

#include <toolhost/clock.hpp>
#include <toolhost/tracing.hpp>

#include <algorithm>
#include <cmath>

namespace toolhost {
namespace {

using detail::append_hex;
using detail::hex;

// Lower-case only: the spec's HEXDIGLC.
int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool decode_hex(std::string_view s, uint8_t* out) noexcept {
    for (std::size_t i = 0; i < s.size() / 2; ++i) {
        const int hi = hex_value(s[2 * i]);
        const int lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return true;
}

template <std::size_t N>
bool all_zero(const std::array<uint8_t, N>& bytes) noexcept {
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

// ------------------------------------------------------------------------------ trace context

std::string trace_context::trace_id_hex() const { return hex(trace_id); }
std::string trace_context::span_id_hex() const { return hex(span_id); }

std::string trace_context::to_traceparent() const {
    std::string s;
    s.reserve(55);
    s += "00-";
    append_hex(s, trace_id.data(), trace_id.size());
    s += '-';
    append_hex(s, span_id.data(), span_id.size());
    s += '-';
    const uint8_t sampled_only = flags & 1u;
    append_hex(s, &sampled_only, 1);
    return s;
}

std::optional<trace_context> trace_context::parse(std::string_view s) noexcept {
    // Optional whitespace around a header field value is not part of the value (RFC 9110 5.5).
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);

    // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
    constexpr std::size_t length_v00 = 55;
    if (s.size() < length_v00) return std::nullopt;
    uint8_t version = 0;
    if (!decode_hex(s.substr(0, 2), &version) || s[2] != '-') return std::nullopt;
    if (version == 0xff) return std::nullopt;
    if (version == 0x00 && s.size() != length_v00) return std::nullopt;
    // A later version may append fields, each after a '-'; nothing else may follow the flags.
    if (s.size() > length_v00 && s[length_v00] != '-') return std::nullopt;
    if (s[35] != '-' || s[52] != '-') return std::nullopt;

    trace_context ctx;
    uint8_t flags = 0;
    if (!decode_hex(s.substr(3, 32), ctx.trace_id.data()) || !decode_hex(s.substr(36, 16), ctx.span_id.data()) ||
        !decode_hex(s.substr(53, 2), &flags)) {
        return std::nullopt;
    }
    if (all_zero(ctx.trace_id) || all_zero(ctx.span_id)) return std::nullopt;
    ctx.flags = flags & 1u;
    return ctx;
}

void random_id(random_source& random, uint8_t* bytes, std::size_t n) noexcept {
    if (n == 0) return;
    auto draw = [&] {
        // next_unit() has 53 random bits (an integer multiple of 2^-53); take the top 48.
        double u = random.next_unit();
        if (!(u >= 0.0)) u = 0.0;
        if (u >= 1.0) u = std::nextafter(1.0, 0.0);
        return static_cast<uint64_t>(std::ldexp(u, 53)) >> 5;
    };
    for (int round = 0; round < 4; ++round) {
        bool zero = true;
        for (std::size_t i = 0; i < n; i += 6) {
            const uint64_t bits = draw();
            for (std::size_t k = 0; k < 6 && i + k < n; ++k) {
                bytes[i + k] = static_cast<uint8_t>(bits >> (40 - 8 * k));
                zero = zero && bytes[i + k] == 0;
            }
        }
        if (!zero) return;
    }
    bytes[n - 1] = 1;  // a source stuck at zero still gets a valid id
}

}  // namespace toolhost
