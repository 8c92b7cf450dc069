#pragma once

#include "common.hpp"

namespace toolhost::serve::detail {

// A response that is not a stream: status, header fields and body, written as one gather write
// of a head built by hand and the body. Beast's serializer did the same through a generic
// buffer sequence and a field tree, which cost a measurable share of a request (docs/performance.md).
class response {
public:
    void reset(bhttp::status s) {
        status_ = static_cast<unsigned>(s);
        fields_.clear();
        body_.clear();
    }
    // Appends a field; the caller sets each name once. A CR or LF in a value (the values come
    // from the server or from fields the request parser accepted) becomes a space.
    void set(std::string_view name, std::string_view value) {
        fields_ += name;
        fields_ += ": ";
        const std::size_t at = fields_.size();
        fields_ += value;
        for (std::size_t i = at; i < fields_.size(); ++i)
            if (fields_[i] == '\r' || fields_[i] == '\n') fields_[i] = ' ';
        fields_ += "\r\n";
    }
    std::string& body() noexcept { return body_; }
    // Frees what a large response grew (the strings are otherwise kept, their capacity reused).
    void release_if_larger(std::size_t limit) {
        for (std::string* s : {&fields_, &body_, &head_})
            if (s->capacity() > limit) std::string().swap(*s);
    }
    unsigned status() const noexcept { return status_; }

    // The status line, the fields, Content-Length (none on 1xx, 204 and 304, as RFC 9110 says)
    // and Connection when it differs from the version's default; then the two buffers to write.
    std::array<asio::const_buffer, 2> buffers(unsigned version, bool keep_alive) {
        head_.clear();
        head_ += version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
        char num[24];
        head_.append(num, std::to_chars(num, num + sizeof num, status_).ptr);
        head_ += ' ';
        const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status_));
        head_.append(reason.data(), reason.size());
        head_ += "\r\n";
        head_ += fields_;
        if (status_ >= 200 && status_ != 204 && status_ != 304) {
            head_ += "Content-Length: ";
            head_.append(num, std::to_chars(num, num + sizeof num, body_.size()).ptr);
            head_ += "\r\n";
        }
        if (version >= 11 && !keep_alive) head_ += "Connection: close\r\n";
        if (version < 11 && keep_alive) head_ += "Connection: keep-alive\r\n";
        head_ += "\r\n";
        return {asio::buffer(head_), asio::buffer(body_)};
    }

private:
    unsigned status_ = 200;
    std::string fields_;  // "Name: value\r\n" lines
    std::string body_;
    std::string head_;  // kept, like the others, so that its capacity is reused
};

}  // namespace toolhost::serve::detail
