#pragma once
// Lower-case hex for trace and span ids: the W3C traceparent and the OTLP/JSON body both use it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace toolhost::detail {

inline void append_hex(std::string& out, const uint8_t* bytes, std::size_t n) {
    constexpr char hex_digits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < n; ++i) {
        out += hex_digits[bytes[i] >> 4];
        out += hex_digits[bytes[i] & 0xf];
    }
}

template <std::size_t N>
std::string hex(const std::array<uint8_t, N>& bytes) {
    std::string s;
    s.reserve(2 * N);
    append_hex(s, bytes.data(), N);
    return s;
}

}  // namespace toolhost::detail
