// worker_pool: the Asio executor contract (post / dispatch / defer, strands, tracked work,
// any_io_executor, coroutines), exactly-once execution under concurrent posting, join and stop
// semantics, and waking up after the workers have parked.
#define BOOST_TEST_MODULE worker_pool
#include <boost/test/unit_test.hpp>

#include <toolhost/worker_pool.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace execution = boost::asio::execution;
using namespace std::chrono_literals;
using toolhost::worker_pool;

namespace {

using executor = worker_pool::executor_type;
using tracked_executor = decltype(asio::require(std::declval<executor>(), execution::outstanding_work.tracked));

// The properties Asio relies on, checked at compile time.
static_assert(execution::is_executor<executor>::value);
static_assert(execution::is_executor<tracked_executor>::value);
static_assert(asio::can_query<executor, execution::context_t>::value);
static_assert(std::is_same_v<decltype(asio::query(std::declval<executor>(), execution::context)), worker_pool&>);
static_assert(asio::can_require<executor, execution::blocking_t::never_t>::value);
static_assert(asio::can_require<executor, execution::blocking_t::possibly_t>::value);
static_assert(asio::can_require<executor, execution::relationship_t::continuation_t>::value);
static_assert(asio::can_require<executor, execution::relationship_t::fork_t>::value);
static_assert(asio::can_require<executor, execution::outstanding_work_t::untracked_t>::value);
static_assert(asio::can_prefer<executor, execution::allocator_t<void>>::value);
static_assert(executor::query(execution::outstanding_work) == execution::outstanding_work.untracked);
static_assert(tracked_executor::query(execution::outstanding_work) == execution::outstanding_work.tracked);
static_assert(std::is_constructible_v<asio::any_io_executor, executor>);

// A token whose destruction is counted: queued functions hold one to prove they were destroyed.
struct destroy_counter {
    std::atomic<int>* count;
    explicit destroy_counter(std::atomic<int>& c) : count(&c) {}
    destroy_counter(destroy_counter&& o) noexcept : count(std::exchange(o.count, nullptr)) {}
    destroy_counter(const destroy_counter&) = delete;
    ~destroy_counter() {
        if (count) count->fetch_add(1);
    }
};

// Waits (bounded, so a bug fails the test instead of hanging it) until `pred` holds.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(100us);
    }
    return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(post_runs_on_a_pool_thread) {
    worker_pool pool(2);
    BOOST_TEST(pool.thread_count() == 2u);
    BOOST_TEST(!pool.get_executor().running_in_this_thread());
    std::promise<std::pair<std::thread::id, bool>> where;
    asio::post(pool, [&] {
        where.set_value({std::this_thread::get_id(), pool.get_executor().running_in_this_thread()});
    });
    auto [id, inside] = where.get_future().get();
    BOOST_TEST((id != std::this_thread::get_id()));
    BOOST_TEST(inside);
}

BOOST_AUTO_TEST_CASE(executor_properties) {
    worker_pool pool(1);
    worker_pool other(1);
    executor ex = pool.get_executor();
    BOOST_TEST((&asio::query(ex, execution::context) == &pool));
    BOOST_TEST((ex == pool.get_executor()));
    BOOST_TEST((ex != other.get_executor()));
    BOOST_TEST((asio::query(ex, execution::blocking) == execution::blocking.possibly));
    auto never = asio::require(ex, execution::blocking.never);
    BOOST_TEST((asio::query(never, execution::blocking) == execution::blocking.never));
    BOOST_TEST((never != ex));
    BOOST_TEST((asio::require(never, execution::blocking.possibly) == ex));
    auto cont = asio::require(ex, execution::relationship.continuation);
    BOOST_TEST((asio::query(cont, execution::relationship) == execution::relationship.continuation));
    BOOST_TEST((asio::require(cont, execution::relationship.fork) == ex));
    BOOST_TEST(asio::query(ex, execution::occupancy) == 1u);
    auto tracked = asio::prefer(ex, execution::outstanding_work.tracked);
    static_assert(std::is_same_v<decltype(tracked), tracked_executor>);
    BOOST_TEST((asio::require(tracked, execution::outstanding_work.untracked) == ex));

    // Through the type-erased executor too.
    asio::any_io_executor any = ex;
    std::promise<bool> ran;
    asio::post(any, [&] { ran.set_value(ex.running_in_this_thread()); });
    BOOST_TEST(ran.get_future().get());
}

BOOST_AUTO_TEST_CASE(concurrent_posts_run_exactly_once) {
    for (auto spin : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(worker_pool::default_spin)}) {
        constexpr int posters = 4;
        constexpr int per_poster = 20000;
        std::vector<std::atomic<int>> runs(posters * per_poster);
        {
            worker_pool pool(3, spin);
            std::vector<std::thread> threads;
            for (int p = 0; p < posters; ++p) {
                threads.emplace_back([&, p] {
                    for (int i = 0; i < per_poster; ++i) {
                        asio::post(pool, [&runs, n = p * per_poster + i] { runs[n].fetch_add(1); });
                    }
                });
            }
            for (auto& t : threads) t.join();
            pool.join();
        }
        int wrong = 0;
        for (auto& r : runs) wrong += r.load() != 1;
        BOOST_TEST(wrong == 0, "spin " << spin.count() << " ns: " << wrong << " functions did not run exactly once");
    }
}

BOOST_AUTO_TEST_CASE(handlers_posting_handlers) {
    // Work fanning out from inside the pool: join() must wait for all generations.
    worker_pool pool(2);
    std::atomic<int> count{0};
    std::function<void(int)> spawn = [&](int depth) {
        count.fetch_add(1);
        if (depth == 0) return;
        for (int i = 0; i < 2; ++i) asio::post(pool, [&spawn, depth] { spawn(depth - 1); });
    };
    asio::post(pool, [&] { spawn(12); });
    pool.join();
    BOOST_TEST(count.load() == (1 << 13) - 1);
}

BOOST_AUTO_TEST_CASE(strand_serializes_and_keeps_fifo) {
    worker_pool pool(3);
    auto strand = asio::make_strand(pool.get_executor());
    constexpr int posters = 3;
    constexpr int per_poster = 5000;
    std::atomic<int> in_flight{0};
    std::atomic<int> overlaps{0};
    std::atomic<int> done{0};
    // Only touched inside the strand: the strand orders these accesses (TSan checks that too).
    std::vector<int> last_seen(posters, -1);
    int out_of_order = 0;
    std::vector<std::thread> threads;
    for (int p = 0; p < posters; ++p) {
        threads.emplace_back([&, p] {
            for (int i = 0; i < per_poster; ++i) {
                asio::post(strand, [&, p, i] {
                    if (in_flight.fetch_add(1) != 0) overlaps.fetch_add(1);
                    if (last_seen[p] != i - 1) ++out_of_order;
                    last_seen[p] = i;
                    in_flight.fetch_sub(1);
                    done.fetch_add(1);
                });
            }
        });
    }
    for (auto& t : threads) t.join();
    pool.join();
    BOOST_TEST(done.load() == posters * per_poster);
    BOOST_TEST(overlaps.load() == 0);
    BOOST_TEST(out_of_order == 0);
}

// Set while a handler below is still inside its call to post / dispatch / defer, on that
// thread only: a function that sees it set ran inline. (Checking a flag after the call would
// race with another worker that picks the function up at once.)
thread_local bool inside_submit = false;

BOOST_AUTO_TEST_CASE(dispatch_runs_inline_only_on_a_pool_thread) {
    worker_pool pool(2);
    std::atomic<int> dispatch_inline{-1}, post_inline{-1}, defer_inline{-1}, never_inline{-1};
    std::atomic<int> ran{0};
    auto record = [&ran](std::atomic<int>& where) {
        return [&ran, &where] {
            where = inside_submit ? 1 : 0;
            ran.fetch_add(1);
        };
    };
    asio::post(pool, [&] {
        inside_submit = true;
        asio::dispatch(pool, record(dispatch_inline));
        asio::post(pool, record(post_inline));
        asio::defer(pool, record(defer_inline));
        asio::require(pool.get_executor(), execution::blocking.never).execute(record(never_inline));
        inside_submit = false;
    });
    BOOST_TEST(wait_until([&] { return ran.load() == 4; }));
    BOOST_TEST(dispatch_inline.load() == 1);
    BOOST_TEST(post_inline.load() == 0);
    BOOST_TEST(defer_inline.load() == 0);
    BOOST_TEST(never_inline.load() == 0);

    // From outside, dispatch queues: the function runs on a pool thread, not on ours.
    std::promise<std::thread::id> where;
    asio::dispatch(pool, [&] { where.set_value(std::this_thread::get_id()); });
    BOOST_TEST((where.get_future().get() != std::this_thread::get_id()));
    // A worker of another pool is "outside" too: dispatch to `other` from `pool` queues.
    worker_pool other(1);
    std::promise<std::thread::id> dispatcher;
    std::promise<std::thread::id> runner;
    asio::post(pool, [&] {
        dispatcher.set_value(std::this_thread::get_id());
        asio::dispatch(other, [&] { runner.set_value(std::this_thread::get_id()); });
    });
    BOOST_TEST((dispatcher.get_future().get() != runner.get_future().get()));
    other.join();
}

BOOST_AUTO_TEST_CASE(tracked_executor_keeps_join_waiting) {
    worker_pool pool(2);
    auto work =
        std::make_unique<tracked_executor>(asio::prefer(pool.get_executor(), execution::outstanding_work.tracked));
    // Copies hold the pool too; a move transfers the hold; assignment swaps holds correctly.
    auto held = std::make_unique<tracked_executor>(*work);
    {
        tracked_executor temp(*held);
        tracked_executor taken(std::move(temp));
        temp = taken;
        taken = std::move(temp);
    }

    std::atomic<bool> joined{false};
    std::thread joiner([&] {
        pool.join();
        joined = true;
    });
    std::this_thread::sleep_for(50ms);
    BOOST_TEST(!joined.load());
    // A tracked executor can still post while join() waits.
    std::promise<void> ran;
    asio::post(*work, [&] { ran.set_value(); });
    BOOST_TEST((ran.get_future().wait_for(10s) == std::future_status::ready));
    work.reset();
    std::this_thread::sleep_for(20ms);
    BOOST_TEST(!joined.load());  // `held` still holds the pool
    held.reset();
    joiner.join();
    BOOST_TEST(joined.load());
}

BOOST_AUTO_TEST_CASE(join_waits_for_queued_work) {
    std::atomic<int> count{0};
    worker_pool pool(2);
    for (int i = 0; i < 200; ++i) {
        asio::post(pool, [&] {
            std::this_thread::sleep_for(100us);
            count.fetch_add(1);
        });
    }
    pool.join();
    BOOST_TEST(count.load() == 200);
    pool.join();  // a second join is harmless
}

BOOST_AUTO_TEST_CASE(stop_discards_queued_work) {
    std::atomic<int> destroyed{0};
    std::atomic<int> ran{0};
    constexpr int queued = 50;
    auto pool = std::make_unique<worker_pool>(1);
    std::promise<void> started;
    std::promise<void> release;
    asio::post(*pool, [&, gate = release.get_future()]() mutable {
        started.set_value();
        gate.wait();
    });
    started.get_future().wait();  // the only worker is now busy, so everything below queues
    for (int i = 0; i < queued; ++i) {
        asio::post(*pool, [&ran, token = destroy_counter(destroyed)] { ran.fetch_add(1); });
    }
    pool->stop();
    release.set_value();
    // Posted after stop(): never runs either.
    asio::post(*pool, [&ran, token = destroy_counter(destroyed)] { ran.fetch_add(1); });
    pool->join();
    BOOST_TEST(ran.load() == 0);
    BOOST_TEST(destroyed.load() == queued + 1);
    // Posted after join(): destroyed by the destructor at the latest.
    asio::post(*pool, [&ran, token = destroy_counter(destroyed)] { ran.fetch_add(1); });
    pool.reset();
    BOOST_TEST(ran.load() == 0);
    BOOST_TEST(destroyed.load() == queued + 2);
}

BOOST_AUTO_TEST_CASE(destructor_without_join_destroys_queued_work) {
    std::atomic<int> destroyed{0};
    std::atomic<int> ran{0};
    std::promise<void> release;
    std::thread releaser;
    {
        worker_pool pool(1);
        std::promise<void> started;
        asio::post(pool, [&, gate = release.get_future()]() mutable {
            started.set_value();
            gate.wait();
        });
        started.get_future().wait();
        for (int i = 0; i < 10; ++i) asio::post(pool, [&ran, t = destroy_counter(destroyed)] { ran.fetch_add(1); });
        // The destructor stops the pool, then waits for the busy worker, which the gate frees.
        releaser = std::thread([&] {
            std::this_thread::sleep_for(20ms);
            release.set_value();
        });
    }
    releaser.join();
    BOOST_TEST(ran.load() == 0);
    BOOST_TEST(destroyed.load() == 10);
}

BOOST_AUTO_TEST_CASE(parked_pool_wakes_up) {
    const auto spin = std::chrono::microseconds(20);
    worker_pool pool(2, spin);
    for (int round = 0; round < 5; ++round) {
        // Far longer than the spin budget, so every worker has parked.
        std::this_thread::sleep_for(20ms);
        std::promise<void> ran;
        asio::post(pool, [&] { ran.set_value(); });
        BOOST_TEST((ran.get_future().wait_for(10s) == std::future_status::ready), "round " << round);
    }
    // Several at once after parking: every one runs.
    std::this_thread::sleep_for(20ms);
    std::atomic<int> count{0};
    for (int i = 0; i < 100; ++i) asio::post(pool, [&] { count.fetch_add(1); });
    BOOST_TEST(wait_until([&] { return count.load() == 100; }));
}

BOOST_AUTO_TEST_CASE(defer_from_a_worker_runs_with_others_parked) {
    // defer() marks a continuation, which does not wake a parked worker: it must still run.
    worker_pool pool(2, std::chrono::nanoseconds(0));
    std::this_thread::sleep_for(10ms);
    std::promise<bool> done;
    asio::post(pool, [&] { asio::defer(pool, [&] { done.set_value(pool.get_executor().running_in_this_thread()); }); });
    auto f = done.get_future();
    BOOST_TEST((f.wait_for(10s) == std::future_status::ready));
    BOOST_TEST(f.get());
}

BOOST_AUTO_TEST_CASE(work_posted_by_a_blocked_worker_runs_on_another) {
    // A worker's posts go to its own queue; if it then blocks (a plugin call), another worker
    // must take them, whether it was spinning, parked, or the pool never spins.
    for (auto spin : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(worker_pool::default_spin)}) {
        for (auto pause : {0ms, 20ms}) {  // 20 ms: far past the spin budget, the other worker parked
            worker_pool pool(2, spin);
            std::this_thread::sleep_for(pause);
            std::promise<std::thread::id> ran_on;
            std::shared_future<std::thread::id> ran = ran_on.get_future().share();
            std::promise<std::thread::id> blocked_on;
            asio::post(pool, [&, ran] {
                asio::post(pool, [&] { ran_on.set_value(std::this_thread::get_id()); });
                blocked_on.set_value(std::this_thread::get_id());
                ran.wait_for(10s);  // blocks this worker until the posted function ran elsewhere
            });
            const auto blocker = blocked_on.get_future().get();
            BOOST_TEST_REQUIRE((ran.wait_for(10s) == std::future_status::ready),
                               "spin " << spin.count() << " ns, pause " << pause.count() << " ms");
            BOOST_TEST((ran.get() != blocker));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_backlog_on_one_worker_is_shared) {
    // One handler posts many functions that each block for a while: the other workers take
    // from the backlog at once instead of waiting for the owner to work through it alone.
    // (A fixed pool: the workers share, no extra thread helps.)
    worker_pool pool(3, worker_pool::default_spin, {.max_extra = 0});
    std::mutex m;
    std::set<std::thread::id> threads;
    std::atomic<int> done{0};
    asio::post(pool, [&] {
        for (int i = 0; i < 40; ++i) {
            asio::post(pool, [&] {
                {
                    std::lock_guard lock(m);
                    threads.insert(std::this_thread::get_id());
                }
                std::this_thread::sleep_for(3ms);
                done.fetch_add(1);
            });
        }
    });
    BOOST_TEST(wait_until([&] { return done.load() == 40; }));
    std::lock_guard lock(m);
    BOOST_TEST(threads.size() == 3u);
}

asio::awaitable<int> add_on_pool(worker_pool& pool, int a, int b) {
    auto ex = co_await asio::this_coro::executor;
    int sum = a;
    for (int i = 0; i < b; ++i) {
        co_await asio::post(ex, asio::use_awaitable);
        if (!pool.get_executor().running_in_this_thread()) co_return -1;
        ++sum;
    }
    co_return sum;
}

BOOST_AUTO_TEST_CASE(co_spawn_onto_the_pool) {
    worker_pool pool(2);
    auto result = asio::co_spawn(pool, add_on_pool(pool, 40, 2), asio::use_future);
    BOOST_TEST(result.get() == 42);

    // A coroutine on a strand of the pool, many of them concurrently.
    std::vector<std::future<int>> results;
    for (int i = 0; i < 20; ++i) {
        results.push_back(
            asio::co_spawn(asio::make_strand(pool.get_executor()), add_on_pool(pool, i, 10), asio::use_future));
    }
    for (int i = 0; i < 20; ++i) BOOST_TEST(results[i].get() == i + 10);
}

BOOST_AUTO_TEST_CASE(work_runs_while_every_worker_is_blocked) {
    // Both workers blocked (as by plugin calls that never return): an extra thread takes what
    // waits, and ends once there is nothing left.
    worker_pool pool(2, worker_pool::default_spin, {.max_extra = 4, .stall = 1ms, .keep_alive = 50ms});
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> blocked{0};
    for (int i = 0; i < 2; ++i)
        asio::post(pool, [&, released] {
            blocked.fetch_add(1);
            released.wait();
        });
    BOOST_TEST_REQUIRE(wait_until([&] { return blocked.load() == 2; }));
    std::promise<bool> ran;
    asio::post(pool, [&] { ran.set_value(pool.running_in_this_thread()); });
    auto f = ran.get_future();
    BOOST_TEST_REQUIRE((f.wait_for(10s) == std::future_status::ready));
    BOOST_TEST(f.get());  // an extra thread counts as the pool's
    BOOST_TEST(pool.extra_threads_started() >= 1u);
    release.set_value();
    BOOST_TEST(wait_until([&] { return pool.extra_thread_count() == 0; }));  // after keep_alive
    pool.join();
}

BOOST_AUTO_TEST_CASE(a_fixed_pool_starts_no_extra_thread) {
    worker_pool pool(1, worker_pool::default_spin, {.max_extra = 0});
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> started{false};
    asio::post(pool, [&, released] {
        started = true;
        released.wait();
    });
    BOOST_TEST_REQUIRE(wait_until([&] { return started.load(); }));
    std::atomic<bool> second{false};
    asio::post(pool, [&] { second = true; });
    std::this_thread::sleep_for(50ms);
    BOOST_TEST(!second.load());  // it waits for the one worker, as before
    BOOST_TEST(pool.extra_threads_started() == 0u);
    release.set_value();
    pool.join();
    BOOST_TEST(second.load());
}
