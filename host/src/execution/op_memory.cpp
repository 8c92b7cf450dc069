// Memory for queued functions (worker_pool.hpp: allocate_op, deallocate_op).
#include <toolhost/worker_pool.hpp>

#include <mutex>

namespace toolhost {

namespace {

// --- Memory for queued functions.
//
// The usual pattern is one thread posting and another running and freeing, so a plain
// per-thread free list would only ever fill on the worker and stay empty on the poster. Blocks
// therefore travel in batches through a shared depot: a thread whose cache grows past
// cache_limit hands batch_size blocks to the depot, and a thread with an empty cache takes a
// whole batch back. That is one short lock per batch_size posts instead of a malloc/free pair
// per post.

constexpr std::size_t block_size = 128;  // the op header plus a handler of up to 112 bytes
constexpr std::size_t block_align = __STDCPP_DEFAULT_NEW_ALIGNMENT__;
constexpr std::size_t batch_size = 32;
constexpr std::size_t cache_limit = 2 * batch_size;
constexpr std::size_t depot_limit = 64;  // batches, so at most 256 KiB parked in the depot

// ASan should see every op freed, so that a use after free is caught. GCC says so with
// __SANITIZE_ADDRESS__, Clang (before 16) only through __has_feature.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool recycle_blocks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool recycle_blocks = false;
#else
constexpr bool recycle_blocks = true;
#endif
#else
constexpr bool recycle_blocks = true;
#endif

struct free_block {
    free_block* next;        // next block in this batch / cache
    free_block* next_batch;  // next batch in the depot (first block of a batch only)
};
static_assert(sizeof(free_block) <= block_size);

void free_chain(free_block* b) noexcept {
    while (b) {
        free_block* next = b->next;
        ::operator delete(b);
        b = next;
    }
}

class block_depot {
public:
    // Takes a chain of blocks (a full batch, or what a dying thread had left).
    void put(free_block* batch) noexcept {
        {
            std::lock_guard lock(mutex_);
            if (count_ < depot_limit) {
                batch->next_batch = batches_;
                batches_ = batch;
                ++count_;
                return;
            }
        }
        free_chain(batch);
    }

    // Returns a chain of blocks, or nullptr when the depot is empty.
    free_block* take() noexcept {
        std::lock_guard lock(mutex_);
        free_block* batch = batches_;
        if (batch) {
            batches_ = batch->next_batch;
            --count_;
        }
        return batch;
    }

private:
    std::mutex mutex_;
    free_block* batches_ = nullptr;
    std::size_t count_ = 0;
};

// Never destroyed: threads that outlive main() may still return blocks during their exit.
block_depot& depot() {
    static block_depot* instance = new block_depot;
    return *instance;
}

// Trivially destructible, so it stays usable while the thread's other thread_local objects
// (which may free ops) are destroyed; `dead` then sends blocks straight to the heap.
struct block_cache {
    free_block* head;
    std::size_t count;
    bool flusher_armed;
    bool dead;
};
constinit thread_local block_cache cache{};

// Returns the cache's blocks when the thread exits. Only odr-used (and so only registered for
// destruction) by threads whose cache ever holds blocks: those that free one, and those that
// take a batch from the depot (a thread that only posts would otherwise take the rest of its
// last batch with it when it exits).
struct cache_flusher {
    bool armed = false;
    ~cache_flusher() {
        block_cache& c = cache;
        c.dead = true;
        if (c.head) depot().put(c.head);
        c.head = nullptr;
        c.count = 0;
    }
};
thread_local cache_flusher flusher;

void arm_flusher(block_cache& c) noexcept {
    if (!c.flusher_armed) {
        c.flusher_armed = true;
        flusher.armed = true;
    }
}

void* allocate_block() {
    block_cache& c = cache;
    if (!c.head && !c.dead) {
        if (free_block* batch = depot().take()) {
            arm_flusher(c);
            c.head = batch;
            // A batch is batch_size blocks, except the leftovers of an exited thread; the count
            // only decides when to give blocks back, so an estimate is enough.
            c.count = batch_size;
        }
    }
    if (free_block* b = c.head) {
        c.head = b->next;
        if (c.count) --c.count;
        return b;
    }
    return ::operator new(block_size);
}

void deallocate_block(void* p) noexcept {
    block_cache& c = cache;
    if (c.dead) {
        ::operator delete(p);
        return;
    }
    arm_flusher(c);
    auto* b = static_cast<free_block*>(p);
    b->next = c.head;
    c.head = b;
    if (++c.count < cache_limit) return;
    // Keep the most recently freed blocks (warm in this core's cache); give away the rest.
    free_block* last = c.head;
    for (std::size_t i = 1; i < cache_limit - batch_size && last->next; ++i) last = last->next;
    free_block* batch = last->next;
    last->next = nullptr;
    c.count = cache_limit - batch_size;
    if (batch) depot().put(batch);
}

}  // namespace

namespace detail {

void* allocate_op(std::size_t size, std::size_t align) {
    if (recycle_blocks && size <= block_size && align <= block_align) return allocate_block();
    if (align > block_align) return ::operator new(size, std::align_val_t(align));
    return ::operator new(size);
}

void deallocate_op(void* p, std::size_t size, std::size_t align) noexcept {
    if (recycle_blocks && size <= block_size && align <= block_align) return deallocate_block(p);
    if (align > block_align) return ::operator delete(p, size, std::align_val_t(align));
    ::operator delete(p, size);
}

}  // namespace detail

}  // namespace toolhost
