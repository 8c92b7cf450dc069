// The `index` operation's work: one file, or a folder walked recursively and kept in step with
// the repository (new and changed files indexed, unchanged ones skipped, vanished ones removed).
#pragma once

#include "repository.hpp"

#include <toolhost_plugins/paths.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::rag {

/// A file of a folder run that could not be indexed; the run goes on without it.
struct file_error {
    std::string path;
    sdk::status code = sdk::status::internal;
    std::string message;
};

struct index_report {
    std::string path;
    int64_t files = 0;  ///< supported files seen
    int64_t added = 0;
    int64_t updated = 0;
    int64_t unchanged = 0;
    int64_t removed = 0;  ///< documents of files that disappeared from the folder
    int64_t chunks = 0;   ///< chunks written by this run
    std::vector<file_error> errors;
};

/// How a run reports progress and learns that it should stop (from a call, or no-ops at start-up).
struct run_hooks {
    std::function<bool()> cancelled = [] { return false; };
    std::function<void(double done, double total, std::string_view message)> progress = [](double, double,
                                                                                           std::string_view) {};
    /// A document was added, changed or removed (its source).
    std::function<void(const std::string& source)> changed = [](const std::string&) {};
    /// The deadline of the next storage operation: the call's, or one per operation at start-up.
    std::function<deadline()> until = [] { return deadline::max(); };
};

/// Thread-safe: it only reads its configuration and uses the (thread-safe) repository.
class indexer {
public:
    indexer(repository& r, const plugins::paths::allowed_dirs& allowed, uint64_t max_file_bytes)
        : store_(r), allowed_(allowed), max_file_bytes_(max_file_bytes) {}

    /// Indexes what `path` names (a file or a folder; resolved and checked against the allowed
    /// folders; errors name `field`). `tags`: nullopt keeps each document's tags.
    ///
    /// A folder is walked recursively (hidden entries skipped, symlinked folders not followed)
    /// for the supported extensions; each file is its own transaction, so a long run keeps what
    /// it has done when it is cancelled or fails, and the index is never half-written. Files
    /// that cannot be indexed are listed in `errors`; storage failures end the run with their
    /// status. Documents below the folder whose files are gone are removed at the end of a run
    /// that saw every file. Cancellation is checked between files (CANCELLED).
    index_report index_path(std::string_view field, std::string_view path,
                            const std::optional<std::vector<std::string>>& tags, bool force, const run_hooks& hooks);

private:
    void index_file(std::string_view field, const std::filesystem::path& file,
                    const std::optional<std::vector<std::string>>& tags, bool force, const run_hooks& hooks,
                    index_report& report);
    void index_folder(const std::filesystem::path& folder, const std::optional<std::vector<std::string>>& tags,
                      bool force, const run_hooks& hooks, index_report& report);

    repository& store_;
    const plugins::paths::allowed_dirs& allowed_;
    uint64_t max_file_bytes_;
};

}  // namespace toolhost::plugins::rag
