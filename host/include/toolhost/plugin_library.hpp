#pragma once
/// One loaded plugin library: the shared object, its entry struct, and factories for the tools
/// it provides. Instances hold the library, so it stays loaded while any of them lives.

#include <toolhost/entry.h>
#include <toolhost/export.hpp>
#include <toolhost/tool_instance.hpp>

#include <boost/system/result.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace toolhost {

/// The ABI version this host implements.
inline constexpr toolhost_abi_version_t host_abi_version{TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR};

/// One tool offered by a library, or the reason it was refused.
struct library_tool {
    std::shared_ptr<tool_factory> factory;  ///< null when refused
    std::string name;                       ///< may be empty when the descriptor was unreadable
    std::string error;                      ///< why it was refused
};

/// Something a library's tool list depends on besides its file, as it named it during init()
/// through the "toolhost.scan_inputs/1" extension (toolhost/scan_inputs.h), with its state then.
struct descriptor_input {
    std::string kind;   ///< "path" or "env"
    std::string name;   ///< the path, or the environment variable's name
    std::string state;  ///< what it was when named: detail::descriptor_input_state()
};

class TOOLHOST_API plugin_library : public std::enable_shared_from_this<plugin_library> {
public:
    /// Loads a shared library (RTLD_LOCAL | RTLD_NOW), finds the entry symbol, checks the ABI
    /// version against `host_abi` and calls the entry's init(). The error says what is wrong in
    /// words a person can act on. Does not check file permissions: see plugin_loader. The library
    /// is unloaded (deinit(), dlclose) when the last of this object, its factories and their
    /// instances is gone.
    static boost::system::result<std::shared_ptr<plugin_library>, std::string> open(
        const std::filesystem::path& file, toolhost_abi_version_t host_abi = host_abi_version);

    /// What open_copy() checks of the file it copies, given its open descriptor (before and
    /// after the copy): an error message, or empty when it is the right file.
    using file_check = std::function<std::string(int fd)>;
    /// open(), from a private copy of `file`: its bytes are copied into a sealed in-memory file
    /// (memfd) and the library is loaded from there. Nothing can change the code this process runs
    /// (a build written over the file in place would crash it with SIGBUS), and a new build at the
    /// same path loads as a new library next to the old one (dlopen() returns the loaded library
    /// for a path it has seen). How the host loads in-process plugins.
    static boost::system::result<std::shared_ptr<plugin_library>, std::string> open_copy(
        const std::filesystem::path& file, toolhost_abi_version_t host_abi = host_abi_version,
        const file_check& check = {});

    /// Wraps an entry struct linked into the executable (a plugin built statically into an
    /// embedding program). `name` stands in for the file path in messages.
    static boost::system::result<std::shared_ptr<plugin_library>, std::string> from_entry(
        const toolhost_plugin_entry_t* entry, std::string name, toolhost_abi_version_t host_abi = host_abi_version);

    ~plugin_library();
    plugin_library(const plugin_library&) = delete;
    plugin_library& operator=(const plugin_library&) = delete;

    /// The file path (or the name given to from_entry).
    const std::string& path() const noexcept { return path_; }
    const toolhost_plugin_entry_t& entry() const noexcept { return *entry_; }
    /// True when opened from a file (open()), false for from_entry().
    bool from_file() const noexcept { return library_ != nullptr; }

    /// What the library said its tool list depends on (toolhost/scan_inputs.h), in the order it
    /// said it; empty for most libraries. `descriptor_inputs_overflow()`: it named more than
    /// TOOLHOST_SCAN_INPUTS_MAX, so its tool list must not be cached at all.
    const std::vector<descriptor_input>& descriptor_inputs() const noexcept;
    bool descriptor_inputs_overflow() const noexcept;

    /// Reads every tool descriptor the library offers and makes a factory for each valid one.
    std::vector<library_tool> tools();
    /// The same for tool `index` alone (an error when the library has no such tool).
    library_tool tool(uint32_t index);

    /// Checks an entry struct's size and version against the host's; public for tests.
    static boost::system::result<void, std::string> check_entry(const toolhost_plugin_entry_t& e,
                                                                toolhost_abi_version_t host_abi);

    struct host_services;  // the library-level toolhost_host_t and its data

private:
    plugin_library() = default;
    /// open()'s work: loads `load_path`, naming it `file` in messages.
    static boost::system::result<std::shared_ptr<plugin_library>, std::string> load(const std::string& load_path,
                                                                                    const std::string& file,
                                                                                    toolhost_abi_version_t host_abi,
                                                                                    int copy_fd);
    boost::system::result<void, std::string> init();

    // Boost.DLL behind a pointer, so that embedders including this header do not need it.
    struct shared_object;
    std::unique_ptr<shared_object> library_;  // null for from_entry()
    const toolhost_plugin_entry_t* entry_ = nullptr;
    std::string path_;
    std::unique_ptr<host_services> services_;
    bool initialized_ = false;
    int copy_fd_ = -1;       // the private copy (open_copy), open while the library may be mapped
    std::string load_path_;  // what dlopen() was given
};

}  // namespace toolhost
