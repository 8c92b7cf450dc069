#pragma once
// The scan cache: what scanning each plugin file found, keyed by the file's canonical path and
// identity (device, inode, size, mtime and ctime in nanoseconds), the host's ABI and toolhost's
// version, in one JSON file in the data directory. A file whose key matches is not opened again,
// whether it was loaded or refused. The file is input like any other: one that does not parse, or
// an entry of the wrong shape, is ignored (and rewritten), never trusted. Writes go to a
// temporary file renamed over the old one, so a reader never sees half a cache.

#include "loading/plugin_scanner.hpp"

#include <filesystem>
#include <map>
#include <string>

namespace toolhost::detail {

class scan_cache {
public:
    scan_cache(std::filesystem::path file, toolhost_abi_version_t abi);

    /// The cached result for `canonical` if its identity is `id`; nullopt otherwise.
    std::optional<scan_result> find(const std::filesystem::path& canonical, const file_identity& id) const;
    void put(const std::filesystem::path& canonical, const file_identity& id, const scan_result& result);
    /// Writes the cache if it changed, leaving out files that no longer exist. Failures are
    /// logged, never thrown: a cache that cannot be written only costs the next scan time.
    void save();

private:
    struct entry {
        file_identity id;
        scan_result result;
    };
    void load();
    std::string key() const;

    std::filesystem::path file_;
    toolhost_abi_version_t abi_;
    std::map<std::string, entry> entries_;
    bool changed_ = false;
};

}  // namespace toolhost::detail
