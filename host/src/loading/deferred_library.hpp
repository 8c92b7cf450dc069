#pragma once
// The in-process tools of a scanned plugin file: their descriptors come from the scan, and the
// library is opened in this process only when the first of them is created (tool start), so that
// `toolhost list`, `info` and every look at a plugin run none of its code here. Opening checks
// that the file is still the one that was scanned, and loads a private copy of it
// (plugin_library::open_copy). The library stays loaded while an instance of one of its tools
// lives, and is unloaded after the last one (an old generation's, once it drained).

#include "loading/plugin_scanner.hpp"

#include <toolhost/plugin_library.hpp>

#include <memory>
#include <mutex>

namespace toolhost::detail {

class deferred_library : public std::enable_shared_from_this<deferred_library> {
public:
    deferred_library(std::filesystem::path file, file_identity id, toolhost_abi_version_t abi);

    /// Factories for the scanned tools that were valid, in scan order.
    static std::vector<library_tool> tools(const std::filesystem::path& file, const file_identity& id,
                                           toolhost_abi_version_t abi, const scan_result& scanned);

    const std::filesystem::path& file() const noexcept { return file_; }
    const file_identity& identity() const noexcept { return id_; }

    /// Opens the library (once) and returns the factory of tool `index`, checked to be `name`.
    boost::system::result<std::shared_ptr<tool_factory>, std::string> factory(std::uint32_t index,
                                                                              const std::string& name);

private:
    std::filesystem::path file_;
    file_identity id_;
    toolhost_abi_version_t abi_;
    std::mutex mutex_;
    std::weak_ptr<plugin_library> library_;  // the instances hold it
};

}  // namespace toolhost::detail
