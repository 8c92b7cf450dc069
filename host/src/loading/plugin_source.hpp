#pragma once
// What a tool factory knows of where its tool comes from: the plugin file and the tool's index in
// it, which is all a worker process needs to load the tool itself (isolation "process"). The
// factories of plugin files implement it; those of an embedding program's code do not.

#include "loading/plugin_scanner.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>

namespace toolhost::detail {

struct plugin_source {
    std::filesystem::path file;
    std::uint32_t index = 0;
    /// The file as it was scanned: a worker is started only for that very file.
    std::optional<file_identity> identity;
};

class plugin_file_factory {
public:
    /// Null when the tool was not loaded from a file (a plugin linked into the program).
    virtual std::optional<plugin_source> source() const = 0;

protected:
    ~plugin_file_factory() = default;
};

}  // namespace toolhost::detail
