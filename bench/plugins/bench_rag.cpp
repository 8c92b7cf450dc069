// rag search latency over a 10,000-chunk knowledge base, through the whole host call path (the
// latency a caller sees). The corpus is synthetic but shaped like text: words drawn with a
// Zipf-like distribution from English function words followed by made-up content words, so
// common words match thousands of chunks and rare ones a few, and BM25 has real work to do.
// Queries are questions as people type them ("how do I <word> my <word>").
//
// Reports p50/p90/p99 per variant as counters (milliseconds). Goal: p50 under 5 ms.
// BM_rag_search_direct calls the plugin through its C ABI on the benchmark thread and also
// reports the thread's CPU time per search, which stays meaningful on a machine shared with other
// work (wall-clock percentiles there include waiting for a CPU).
#include <toolhost/host.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/plugin_library.hpp>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace toolhost;

namespace {

constexpr int64_t target_chunks = 10000;

// English function words, most frequent first: they open the Zipf distribution, as in real text,
// where they fill every chunk (and rag drops them from queries).
const std::vector<std::string> function_words = {
    "the",  "of", "and",  "to",   "a",     "in",   "is",  "it",   "you",  "that", "he",    "was",
    "for",  "on", "are",  "with", "as",    "i",    "his", "they", "be",   "at",   "have",  "this",
    "from", "or", "had",  "by",   "but",   "what", "we",  "can",  "when", "your", "which", "their",
    "if",   "do", "will", "how",  "there", "so",   "my",  "than", "been"};

// The vocabulary: the function words, then pronounceable made-up content words (deterministic).
std::vector<std::string> make_vocabulary(std::mt19937& rng, size_t n) {
    static const char* syllables[] = {"ka",   "lo",  "mi",  "ne",  "ru",  "ta",  "vo",  "shi",
                                      "den",  "mar", "pol", "tri", "sun", "gal", "bre", "fo",
                                      "quin", "zer", "lu",  "ost", "ran", "pe",  "dor", "wil"};
    std::uniform_int_distribution<size_t> pick(0, std::size(syllables) - 1);
    std::uniform_int_distribution<int> length(2, 4);
    std::vector<std::string> words = function_words;
    while (words.size() < n) {
        std::string w;
        for (int i = length(rng); i > 0; --i) w += syllables[pick(rng)];
        if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(std::move(w));
    }
    return words;
}

// Index i drawn with probability ~ 1/(i+1): a few very common words, a long tail of rare ones.
class zipf {
public:
    zipf(size_t n) {
        double sum = 0;
        for (size_t i = 0; i < n; ++i) cumulative_.push_back(sum += 1.0 / static_cast<double>(i + 1));
    }
    size_t operator()(std::mt19937& rng) const {
        std::uniform_real_distribution<double> u(0, cumulative_.back());
        return static_cast<size_t>(std::lower_bound(cumulative_.begin(), cumulative_.end(), u(rng)) -
                                   cumulative_.begin());
    }

private:
    std::vector<double> cumulative_;
};

// One host with rag and a populated database, shared by every benchmark of this process.
class corpus {
public:
    static corpus& get() {
        static corpus c;
        return c;
    }
    host& h() { return *host_; }
    const std::vector<std::string>& queries() const { return queries_; }
    const std::string& most_common_topic() const { return most_common_topic_; }
    int64_t chunks() const { return chunks_; }
    const fs::path& data_dir() const { return dir_; }

private:
    corpus() : dir_(fs::temp_directory_path() / ("toolhost-bench-rag-" + std::to_string(::getpid()))) {
        logging::init(logging::level::warning, logging::format::text);
        fs::remove_all(dir_);
        auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
        c.plugin_dirs = {TOOLHOST_BENCH_PLUGIN_DIR};
        c.data_dir = dir_;
        c.threads = 2;
        c.log_level = "warning";
        c.tools_enabled_by_default = false;
        c.tools["rag"].enabled = true;
        c.tools["rag"].config = json::object{{"index_on_start", json::array{}}};
        host_ = std::make_unique<host>(std::move(c));
        host_->load_plugins();
        if (!host_->start({.concurrent = false, .fail_on_error = true, .only = std::vector<std::string>{"rag"}}).ok())
            throw std::runtime_error("rag did not start");
        populate();
    }
    ~corpus() {
        host_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    void populate() {
        std::mt19937 rng(20240301);
        const auto vocab = make_vocabulary(rng, 5000);
        const zipf word(vocab.size());
        std::uniform_int_distribution<int> sentence_length(6, 18);
        std::uniform_int_distribution<int> tag(0, 9);
        for (int doc = 0; chunks_ < target_chunks; ++doc) {
            std::string text;
            while (text.size() < 4200) {  // about five chunks of 1000 characters with 150 overlap
                for (int i = sentence_length(rng); i > 0; --i) {
                    text += vocab[word(rng)];
                    text += i > 1 ? " " : ". ";
                }
                if (text.size() % 5 == 0) text += "\n\n";
            }
            auto r = host_->call("rag", "index_text",
                                 json::object{{"source", "bench/doc" + std::to_string(doc)},
                                              {"text", text},
                                              {"tags", json::array{"t" + std::to_string(tag(rng))}}});
            if (!r) throw std::runtime_error("index_text failed: " + r.error().to_string());
            chunks_ += json::parse(*r).at("chunks").as_int64();
        }
        // Questions as people type them: function words around one to three content words, the
        // content words drawn with the corpus's own (Zipf) frequencies, so popular topics are
        // asked about most.
        const zipf content(vocab.size() - function_words.size());
        auto topic = [&] { return vocab[function_words.size() + content(rng)]; };
        for (int i = 0; i < 64; ++i) {
            switch (i % 4) {
            case 0: queries_.push_back("how do I " + topic() + " my " + topic()); break;
            case 1: queries_.push_back("what is the " + topic() + " for " + topic() + "?"); break;
            case 2: queries_.push_back(topic() + " " + topic() + " " + topic()); break;
            default: queries_.push_back(topic()); break;
            }
        }
        most_common_topic_ = vocab[function_words.size()];
    }

    fs::path dir_;
    std::unique_ptr<host> host_;
    std::vector<std::string> queries_;
    std::string most_common_topic_;
    int64_t chunks_ = 0;
};

// The same rag database, opened by a second rag instance created straight from the plugin's C
// ABI, so that a search runs on the calling thread with no host in between.
class direct_rag {
public:
    explicit direct_rag(const fs::path& data_dir) : data_dir_(data_dir.string()) {
        auto lib = plugin_library::open(fs::path(TOOLHOST_BENCH_PLUGIN_DIR) / "rag.so");
        if (!lib) throw std::runtime_error(lib.error());
        lib_ = *lib;
        host_.struct_size = sizeof host_;
        host_.log = [](const toolhost_host_t*, int32_t, toolhost_str_t) {};
        host_.log_enabled = [](const toolhost_host_t*, int32_t) { return false; };
        host_.get_extension = [](const toolhost_host_t*, const char*) -> const void* { return nullptr; };
        if (lib_->entry().create_tool(0, &host_, &tool_) != TOOLHOST_STATUS_OK) throw std::runtime_error("create_tool");
        static constexpr std::string_view config = R"({"index_on_start":[]})";
        toolhost_init_context_t init{};
        init.struct_size = sizeof init;
        init.config = {config.data(), config.size()};
        init.data_dir = {data_dir_.data(), data_dir_.size()};
        init.set_error = [](const toolhost_init_context_t*, toolhost_str_t) {};
        if (tool_->initialize(tool_, &init) != TOOLHOST_STATUS_OK) throw std::runtime_error("initialize");
    }
    ~direct_rag() {
        tool_->cleanup(tool_);
        tool_->destroy(tool_);
    }
    direct_rag(const direct_rag&) = delete;
    direct_rag& operator=(const direct_rag&) = delete;

    /// Returns the size of the result, or -1 on failure.
    int64_t search(const std::string& arguments) {
        static constexpr std::string_view op = "search";
        result_size_ = -1;
        toolhost_call_t c{};
        c.struct_size = sizeof c;
        c.host_data = this;
        c.operation = {op.data(), op.size()};
        c.arguments = {arguments.data(), arguments.size()};
        c.is_cancelled = [](const toolhost_call_t*) { return false; };
        c.remaining_ns = [](const toolhost_call_t*) -> int64_t { return INT64_MAX; };
        c.log = [](const toolhost_call_t*, int32_t, toolhost_str_t) {};
        c.report_progress = [](const toolhost_call_t*, double, double, toolhost_str_t) {};
        c.set_result = [](const toolhost_call_t* call, toolhost_str_t r) {
            static_cast<direct_rag*>(call->host_data)->result_size_ = static_cast<int64_t>(r.size);
        };
        c.set_error = [](const toolhost_call_t*, toolhost_str_t) {};
        c.set_retry_after_ms = [](const toolhost_call_t*, uint64_t) {};
        return tool_->invoke(tool_, &c) == TOOLHOST_STATUS_OK ? result_size_ : -1;
    }

private:
    std::string data_dir_;
    std::shared_ptr<plugin_library> lib_;
    toolhost_host_t host_{};
    toolhost_tool_t* tool_ = nullptr;
    int64_t result_size_ = -1;
};

double thread_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void report_percentiles(benchmark::State& state, std::vector<double>& ms) {
    if (ms.empty()) return;
    std::sort(ms.begin(), ms.end());
    state.counters["p50_ms"] = ms[ms.size() / 2];
    state.counters["p90_ms"] = ms[ms.size() * 9 / 10];
    state.counters["p99_ms"] = ms[ms.size() * 99 / 100];
    state.counters["chunks"] = static_cast<double>(corpus::get().chunks());
}

// search(query, top_k) with arg0 = top_k, arg1 = 1 to add a tag filter.
void BM_rag_search(benchmark::State& state) {
    auto& c = corpus::get();
    const auto top_k = state.range(0);
    const bool filtered = state.range(1) != 0;
    std::vector<double> ms;
    size_t i = 0;
    for (auto _ : state) {
        json::object args{{"query", c.queries()[i++ % c.queries().size()]}, {"top_k", top_k}};
        if (filtered) args["tags"] = json::array{"t3"};
        const auto t0 = std::chrono::steady_clock::now();
        auto r = c.h().call("rag", "search", std::move(args));
        const auto t1 = std::chrono::steady_clock::now();
        if (!r) {
            state.SkipWithError(r.error().to_string().c_str());
            return;
        }
        benchmark::DoNotOptimize(r->size());
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    report_percentiles(state, ms);
}
BENCHMARK(BM_rag_search)->ArgsProduct({{5, 20}, {0, 1}})->UseRealTime()->Unit(benchmark::kMillisecond);

// search(query, top_k = 5) on the benchmark thread, without the host: wall and CPU percentiles.
void BM_rag_search_direct(benchmark::State& state) {
    auto& c = corpus::get();
    direct_rag rag(c.data_dir() / "rag");
    std::vector<double> ms;
    std::vector<double> cpu;
    size_t i = 0;
    for (auto _ : state) {
        const std::string args =
            json::serialize(json::object{{"query", c.queries()[i++ % c.queries().size()]}, {"top_k", 5}});
        const double cpu0 = thread_cpu_ms();
        const auto t0 = std::chrono::steady_clock::now();
        const int64_t size = rag.search(args);
        const auto t1 = std::chrono::steady_clock::now();
        cpu.push_back(thread_cpu_ms() - cpu0);
        if (size < 0) {
            state.SkipWithError("search failed");
            return;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    report_percentiles(state, ms);
    std::sort(cpu.begin(), cpu.end());
    state.counters["cpu_p50_ms"] = cpu[cpu.size() / 2];
    state.counters["cpu_p99_ms"] = cpu[cpu.size() * 99 / 100];
}
BENCHMARK(BM_rag_search_direct)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The worst case: the corpus's most frequent content word alone, found in a large share of the
// chunks, so FTS5 computes BM25 for all of them.
void BM_rag_search_most_common_word(benchmark::State& state) {
    auto& c = corpus::get();
    const std::string word = c.most_common_topic();
    std::vector<double> ms;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = c.h().call("rag", "search", json::object{{"query", word}, {"top_k", 5}});
        const auto t1 = std::chrono::steady_clock::now();
        if (!r) {
            state.SkipWithError(r.error().to_string().c_str());
            return;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    report_percentiles(state, ms);
}
BENCHMARK(BM_rag_search_most_common_word)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
