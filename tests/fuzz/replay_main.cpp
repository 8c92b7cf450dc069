// Runs a fuzz harness over files, without libFuzzer: every file under the folders given (the
// committed corpus and the crashes found so far) goes through LLVMFuzzerTestOneInput once. This
// is how the normal build keeps every input a fuzzer ever found interesting, or crashing,
// passing (ctest fuzz_corpus_<name>); under the asan preset it runs with the sanitizers.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        if (fs::is_regular_file(argv[i], ec)) files.emplace_back(argv[i]);
        if (!fs::is_directory(argv[i], ec)) continue;
        for (const auto& e : fs::recursive_directory_iterator(argv[i]))
            if (e.is_regular_file() && e.path().filename().string().front() != '.') files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("%zu inputs replayed\n", files.size());
    return files.empty() ? 1 : 0;  // an empty corpus is a mistake in the build, not a pass
}
