#include "base64.hpp"

#include <toolhost_plugins/args.hpp>

#include <algorithm>
#include <array>

namespace toolhost::plugins::attachment {

namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr int invalid = -1;
constexpr int padding = -2;
constexpr int space = -3;

constexpr std::array<int, 256> make_table() {
    std::array<int, 256> t{};
    for (auto& v : t) v = invalid;
    for (size_t i = 0; i < alphabet.size(); ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
    t['-'] = 62;  // URL-safe alphabet
    t['_'] = 63;
    t['='] = padding;
    for (unsigned char c : {' ', '\t', '\n', '\r', '\f', '\v'}) t[c] = space;
    return t;
}
constexpr std::array<int, 256> table = make_table();

}  // namespace

std::string decode_base64(std::string_view in, std::string_view field, uint64_t max_bytes) {
    std::string out;
    out.reserve(std::min<uint64_t>(in.size() / 4 * 3, max_bytes));
    uint32_t bits = 0;
    int nbits = 0;
    size_t symbols = 0;  // alphabet characters seen, to check the length at the end
    size_t pads = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        const int v = table[static_cast<unsigned char>(in[i])];
        if (v == space) continue;
        if (v == padding) {
            ++pads;
            continue;
        }
        if (v == invalid || pads > 0)
            plugins::invalid_argument(field,
                                      "is not valid base64: unexpected character at offset " + std::to_string(i));
        ++symbols;
        bits = (bits << 6) | static_cast<uint32_t>(v);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            if (out.size() >= max_bytes)
                plugins::invalid_argument(field, "decodes to more than " + std::to_string(max_bytes) +
                                                     " bytes, over the size limit (max_bytes)");
            out += static_cast<char>((bits >> nbits) & 0xFF);
        }
    }
    if (symbols % 4 == 1) plugins::invalid_argument(field, "is not valid base64: truncated (one character too many)");
    // Padding is optional, but when present it must complete the last group of four.
    if (pads > 0 && (pads > 2 || (symbols + pads) % 4 != 0))
        plugins::invalid_argument(field, "is not valid base64: wrong padding");
    return out;
}

std::string encode_base64(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const uint32_t n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += alphabet[n & 63];
    }
    if (const size_t rest = in.size() - i; rest > 0) {
        uint32_t n = static_cast<unsigned char>(in[i]) << 16;
        if (rest == 2) n |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

}  // namespace toolhost::plugins::attachment
