// The memory of a request's header fields. Beast allocates one element per field (and the
// request line's method and target); a connection gives them a buffer of its own that starts
// over with each request, so that reading a header costs no heap allocation and dropping it no
// free. A header larger than the buffer spills to the heap, element by element.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>

namespace toolhost::serve::detail {

class field_arena {
public:
    // Bytes kept per connection: the fields a client library usually sends (host, content
    // type and length, accept, the MCP headers, a user agent) fit.
    static constexpr std::size_t capacity = 1536;

    field_arena() = default;
    field_arena(const field_arena&) = delete;
    field_arena& operator=(const field_arena&) = delete;

    void* allocate(std::size_t bytes, std::size_t align) {
        const std::size_t at = (used_ + align - 1) & ~(align - 1);
        if (bytes != 0 && align <= alignof(std::max_align_t) && at <= capacity && bytes <= capacity - at) {
            used_ = at + bytes;
            return buf_.data() + at;
        }
        return ::operator new(bytes, std::align_val_t(align));
    }
    void deallocate(void* p, std::size_t align) noexcept {
        if (!owns(p)) ::operator delete(p, std::align_val_t(align));
    }
    // Only when nothing allocated from the buffer is alive (the request's parser is gone).
    void reset() noexcept { used_ = 0; }

private:
    bool owns(const void* p) const noexcept {
        const auto a = reinterpret_cast<std::uintptr_t>(p);
        const auto b = reinterpret_cast<std::uintptr_t>(buf_.data());
        return a >= b && a < b + capacity;
    }
    alignas(std::max_align_t) std::array<std::byte, capacity> buf_;
    std::size_t used_ = 0;
};

// The allocator Beast's fields take: a view of the connection's arena.
template <class T>
class field_allocator {
public:
    using value_type = T;

    explicit field_allocator(field_arena& a) noexcept : arena_(&a) {}
    template <class U>
    field_allocator(const field_allocator<U>& other) noexcept : arena_(other.arena()) {}  // NOLINT: rebinding

    T* allocate(std::size_t n) {
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
        return static_cast<T*>(arena_->allocate(n * sizeof(T), alignof(T)));
    }
    void deallocate(T* p, std::size_t) noexcept { arena_->deallocate(p, alignof(T)); }

    field_arena* arena() const noexcept { return arena_; }
    template <class U>
    bool operator==(const field_allocator<U>& other) const noexcept {
        return arena_ == other.arena();
    }

private:
    field_arena* arena_;
};

}  // namespace toolhost::serve::detail
