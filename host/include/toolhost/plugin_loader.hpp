#pragma once
/// Finds plugin files in directories, checks them, and reads what they offer. One bad file never
/// stops a scan: it is reported with its path and a reason a person can act on.
///
/// A scan runs no plugin code in this process: every file is opened in a scanner child process
/// (toolhost-worker), which sends back its descriptors; a library whose constructors or init()
/// crash, exit, hang or print to stdout is refused with the reason. The tools of a scanned file
/// load in this process only when they are created (host::start), and the results are cached by
/// file identity (options::scan_cache), so an unchanged file is not opened again.

#include <toolhost/export.hpp>
#include <toolhost/plugin_library.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <functional>
#include <string>
#include <vector>

namespace toolhost {

/// A file (or directory) that was not loaded, and why.
struct rejected_plugin {
    std::string path;
    std::string reason;
};

/// A plugin file a scan accepted.
struct scanned_plugin {
    std::string path;
    std::string plugin_name;
    std::string plugin_version;
    toolhost_abi_version_t abi{};  ///< the ABI version the plugin was built for
    bool from_cache = false;       ///< the scan cache answered; the file was not opened
};

/// What a scan found.
struct load_report {
    std::vector<scanned_plugin> plugins;  ///< files that loaded in the scanner, in scan order
    std::vector<library_tool> tools;      ///< valid tools of those files, in scan order
    std::vector<rejected_plugin> rejected;
};

/// A plugin file looked at without running any of its code in this process (toolhost inspect).
struct plugin_inspection {
    std::string path;
    std::string sha256;  ///< of the file's bytes; empty when it cannot be read
    /// With a trust list (options::trusted_sha256): whether sha256 is in it. A file that is not
    /// is refused, and not opened even in the scanner.
    std::optional<bool> trusted;
    std::string refused;      ///< why the host would not load it; empty when it would
    std::string plugin_name;  ///< from the scanner, when the library loaded there
    std::string plugin_version;
    toolhost_abi_version_t abi{};           ///< the ABI it was built for (0.0 when unknown)
    std::vector<tool_descriptor> tools;     ///< its valid tools
    std::vector<rejected_plugin> problems;  ///< its refused tools ("tool #1: ..."), path = the file
    // From the ELF file itself, read without loading it:
    std::string soname;
    std::vector<std::string> needed;    ///< DT_NEEDED libraries, in order
    std::vector<std::string> exported;  ///< defined dynamic symbols, sorted
    std::string elf_error;              ///< why the ELF file could not be read; empty when it could
};

class TOOLHOST_API plugin_loader {
public:
    struct options {
        /// The ABI version the host claims; tests raise it to prove older minors load.
        toolhost_abi_version_t abi = host_abi_version;
        /// toolhost-worker, the scanner child's program; empty: $TOOLHOST_WORKER, next to the
        /// running executable, or where toolhost is installed.
        std::filesystem::path worker;
        /// How long one file may take to load in the scanner before it is refused as hung.
        std::chrono::milliseconds scan_timeout{10000};
        /// The scan cache file (JSON); empty: no cache. The host uses <data_dir>/plugin-scan-cache.json.
        std::filesystem::path scan_cache;
        /// When set, only files whose SHA-256 (64 lower-case hex digits) is in it are opened at all
        /// (the configuration's "trust.sha256"); the others are rejected with their digest.
        std::optional<std::set<std::string, std::less<>>> trusted_sha256;
    };

    plugin_loader() = default;
    explicit plugin_loader(options o) : options_(o) {}

    /// Replaces options::trusted_sha256 (a configuration reload); not while a scan runs.
    void set_trusted_sha256(std::optional<std::set<std::string, std::less<>>> digests) {
        options_.trusted_sha256 = std::move(digests);
    }

    /// The ABI version this loader accepts plugins for.
    toolhost_abi_version_t abi() const noexcept { return options_.abi; }
    /// The toolhost-worker configured (options::worker); empty: the usual places.
    const std::filesystem::path& worker() const noexcept { return options_.worker; }

    /// Scans every "*.so" in each directory (not recursive), in directory order and then file
    /// name order. A directory that does not exist is reported unless `missing_ok`. The same
    /// file reached twice (a directory listed twice, a symlink) is loaded once.
    /// `skip`, when given, is asked about each candidate (its canonical path) before it is
    /// opened; true leaves it alone (a rescan skips the files it has seen).
    load_report scan(const std::vector<std::filesystem::path>& dirs, bool missing_ok = false,
                     const std::function<bool(const std::filesystem::path&)>& skip = {}) const;

    /// Everything known about one file without running its code here: the checks of
    /// check_file(), the scanner child's verdict and descriptors (not the scan cache: inspect
    /// always looks afresh), the file's SHA-256, and what its ELF headers say it links and exports.
    plugin_inspection inspect(const std::filesystem::path& file) const;

    /// Loads one file in this process after check_file(), running its constructors and init()
    /// here: for trusted files (tests, tools); scan() is what the host uses.
    boost::system::result<std::shared_ptr<plugin_library>, std::string> load(const std::filesystem::path& file) const;

    /// Checks a candidate without loading it: a readable regular file (symlinks followed),
    /// not writable by group or others, owned by root or the current user, in a directory
    /// that others cannot write, and an ELF shared object for this machine.
    static boost::system::result<void, std::string> check_file(const std::filesystem::path& file);

    /// Checks a plugin directory's ownership and mode (as for files).
    static boost::system::result<void, std::string> check_directory(const std::filesystem::path& dir);

private:
    void reject(load_report& report, const std::filesystem::path& file, std::string reason) const;
    /// `hashed`, with trusted_sha256: each file's identity when its digest was checked (the scan
    /// must have seen the same file).
    void add_scanned(load_report& report, const std::vector<std::filesystem::path>& files,
                     const std::vector<std::string>& hashed = {}) const;
    /// With trusted_sha256: whether `file`'s digest is listed (the error names the digest); on
    /// success, the file's identity then (as text) in `identity`.
    boost::system::result<void, std::string> check_trust(const std::filesystem::path& file,
                                                         std::string& identity) const;

    options options_;
};

}  // namespace toolhost
