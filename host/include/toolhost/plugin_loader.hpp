#pragma once
/// Finds plugin files in directories, checks them, and loads them. One bad file never stops a
/// scan: it is reported with its path and a reason a person can act on.

#include <toolhost/export.hpp>
#include <toolhost/plugin_library.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace toolhost {

/// A file (or directory) that was not loaded, and why.
struct rejected_plugin {
    std::string path;
    std::string reason;
};

/// What a scan found.
struct load_report {
    std::vector<std::shared_ptr<plugin_library>> libraries;
    std::vector<library_tool> tools;  ///< valid tools of loaded libraries, in scan order
    std::vector<rejected_plugin> rejected;
};

class TOOLHOST_API plugin_loader {
public:
    struct options {
        /// The ABI version the host claims; tests raise it to prove older minors load.
        toolhost_abi_version_t abi = host_abi_version;
    };

    plugin_loader() = default;
    explicit plugin_loader(options o) : options_(o) {}

    /// The ABI version this loader accepts plugins for.
    toolhost_abi_version_t abi() const noexcept { return options_.abi; }

    /// Loads every "*.so" in each directory (not recursive), in directory order and then file
    /// name order. A directory that does not exist is reported unless `missing_ok`. The same
    /// file reached twice (a directory listed twice, a symlink) is loaded once.
    /// `skip`, when given, is asked about each candidate (its canonical path) before it is
    /// opened; true leaves it alone (a rescan skips the files it has seen).
    load_report scan(const std::vector<std::filesystem::path>& dirs, bool missing_ok = false,
                     const std::function<bool(const std::filesystem::path&)>& skip = {}) const;

    /// Loads one file after check_file().
    boost::system::result<std::shared_ptr<plugin_library>, std::string> load(const std::filesystem::path& file) const;

    /// Checks a candidate without loading it: a readable regular file (symlinks followed),
    /// not writable by group or others, owned by root or the current user, in a directory
    /// that others cannot write, and an ELF shared object for this machine.
    static boost::system::result<void, std::string> check_file(const std::filesystem::path& file);

    /// Checks a plugin directory's ownership and mode (as for files).
    static boost::system::result<void, std::string> check_directory(const std::filesystem::path& dir);

private:
    options options_;
};

}  // namespace toolhost
