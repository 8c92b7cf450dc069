#pragma once
// Reading plugin files without running their code in the host: a scanner child process
// (toolhost-worker scan, started with child_process) opens each library, checks its ABI, reads
// its descriptors and sends them back; the host rebuilds and checks them. A library whose
// constructors or init() crash, exit, hang or write to stdout costs the child, never the host:
// the file is refused with the reason, a fresh child takes the files after it. Requests are
// pipelined (several files in flight), answers come in order. Results the file's bytes decide
// are kept in a scan cache (scan_cache.hpp), so an unchanged file is not opened again.

#include "loading/descriptor_wire.hpp"

#include <toolhost/entry.h>
#include <toolhost/export.hpp>
#include <toolhost/plugin_library.hpp>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace toolhost::detail {

/// What a file is on disk, to tell whether it changed since it was scanned.
struct file_identity {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    bool operator==(const file_identity&) const = default;

    /// The identity of the file `path` names (symlinks followed), or nullopt if it cannot be read.
    static std::optional<file_identity> of(const std::filesystem::path& path);
    /// The identity of the open file `fd`.
    static std::optional<file_identity> of_fd(int fd);
    boost::json::object to_json() const;
    static std::optional<file_identity> from_json(const boost::json::value& v);
};

/// One tool of a scanned library: its descriptor as written, or why it was refused.
struct scanned_tool {
    std::uint32_t index = 0;
    std::string name;  ///< may be empty when the descriptor was unreadable
    std::optional<raw_tool_descriptor> raw;
    std::string error;
};

/// What scanning one file found.
struct scan_result {
    bool loaded = false;
    std::string reason;     ///< why the file is refused, when !loaded
    bool cacheable = true;  ///< false when the file's bytes may not be the cause (a hang, no scanner)
    bool from_cache = false;
    std::optional<file_identity> identity;  ///< the file as it was scanned (not part of the JSON)
    std::string plugin_name;
    std::string plugin_version;
    toolhost_abi_version_t abi{};
    std::vector<scanned_tool> tools;
    /// What else the tool list depends on (toolhost/scan_inputs.h), each with its state when the
    /// library named it: the cache serves the result only while every state is still the same.
    std::vector<descriptor_input> inputs;

    static scan_result refused(std::string why, bool cacheable = true);
    boost::json::object to_json() const;
    /// The reverse of to_json(), for an answer from a child or an entry of the cache file.
    static boost::system::result<scan_result, std::string> from_json(const boost::json::value& v);
};

struct scanner_options {
    std::filesystem::path worker;  ///< toolhost-worker; empty: find_worker() looks for it
    std::chrono::milliseconds per_file_timeout{10000};
    toolhost_abi_version_t abi{TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR};
    std::filesystem::path cache_file;  ///< empty: no cache
};

/// The state of a descriptor input (toolhost/scan_inputs.h) now: for "path" the identity of
/// what it names ("missing" when it cannot be read), for "env" the SHA-256 of the variable's
/// value ("unset").
/// Equal states mean an unchanged input.
std::string descriptor_input_state(std::string_view kind, const std::string& name);

/// Where toolhost-worker is: `configured` when not empty, else $TOOLHOST_WORKER, else next to
/// the running executable, in its ../libexec/toolhost, or in this build's install location. The
/// error lists where it looked.
boost::system::result<std::filesystem::path, std::string> find_worker(const std::filesystem::path& configured);

class plugin_scanner {
public:
    explicit plugin_scanner(scanner_options options);

    /// Scans `files` (already checked with plugin_loader::check_file); one result per file, in
    /// the same order. Never throws for a bad file; never runs a file's code in this process.
    std::vector<scan_result> scan(const std::vector<std::filesystem::path>& files);

private:
    void scan_in_children(const std::filesystem::path& worker, const std::vector<std::filesystem::path>& files,
                          const std::vector<std::size_t>& todo, std::vector<scan_result>& results);

    scanner_options options_;
};

/// The scanner child's side: answers scan requests on `fd` until the host closes it; returns the
/// process's exit code. Exported for toolhost-worker, which links a shared libtoolhost too.
TOOLHOST_API int run_scan_child(int fd, toolhost_abi_version_t abi);

/// The messages of the scan protocol (channel.hpp kinds).
/// scan_ready: the child is up (sent once, first): the per-file timeout starts after it, so that
/// a slow process start (a loaded machine, a sanitizer build) is not counted against a file.
enum scan_message : std::uint32_t { scan_request = 1, scan_answer = 2, scan_ready = 3 };

}  // namespace toolhost::detail
