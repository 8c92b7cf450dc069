// File access for plugins that read user-named files (rag, attachment): a set of allowed
// folders, path resolution with symlinks followed before the check, and a bounded read that
// re-checks what was actually opened.
//
// Threading: allowed_dirs is immutable after construction; every member is safe to call from
// several threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::paths {

/// `<folder of the plugin library this code is linked into>/<relative>`, absolute; empty when
/// the library's path cannot be found. Used to find data shipped next to a plugin (installed
/// beside `<name>.so`), which works the same in the build tree and after installation.
std::filesystem::path next_to_plugin(const std::filesystem::path& relative);

/// The whole content of a small file the plugin ships or is configured with (its sample data).
/// Throws toolhost::sdk::error(INVALID_ARGUMENT, "<field>: cannot read <file>") when it cannot.
std::string read_small_file(const std::filesystem::path& file, std::string_view field);

/// `p` made absolute against the current directory, normalized, with every symlink in the part
/// of it that exists resolved (std::filesystem::weakly_canonical). Never throws for missing
/// files; throws toolhost::sdk::error(UNAVAILABLE) only when the file system itself fails.
std::filesystem::path resolve(const std::filesystem::path& p);

/// The folders a tool may read from. A path is allowed when, after resolving symlinks, it is one
/// of them or lies below one; `..` and links cannot step outside.
class allowed_dirs {
public:
    allowed_dirs() = default;
    /// Resolves each folder once (folders that do not exist yet are kept as normalized paths).
    explicit allowed_dirs(const std::vector<std::filesystem::path>& dirs);

    /// Whether an already resolved path is inside an allowed folder.
    bool contains(const std::filesystem::path& resolved) const noexcept;

    /// Resolves `path` and checks it. Throws toolhost::sdk::error:
    /// PERMISSION_DENIED "<field>: <path> is outside the allowed folders (...)" first (so nothing
    /// is revealed about files outside), then NOT_FOUND "<field>: <path> does not exist".
    std::filesystem::path resolve_allowed(std::string_view field, std::string_view path) const;

    /// Reads a whole regular file of at most `max_bytes`, checking what was opened rather than
    /// the name (a symlink swapped in after resolve_allowed() is caught): the opened file's real
    /// path must be allowed (PERMISSION_DENIED), it must be a regular file (INVALID_ARGUMENT),
    /// and its size is checked with fstat before anything is read (INVALID_ARGUMENT naming the
    /// size and the limit; also when it grows past the limit while being read). A missing file
    /// is NOT_FOUND, an unreadable one PERMISSION_DENIED, an I/O error UNAVAILABLE.
    std::string read_file(std::string_view field, const std::filesystem::path& path, uint64_t max_bytes) const;

    const std::vector<std::filesystem::path>& dirs() const noexcept { return dirs_; }
    /// The folders as "a, b" for messages.
    std::string describe() const;

private:
    std::vector<std::filesystem::path> dirs_;
};

}  // namespace toolhost::plugins::paths
