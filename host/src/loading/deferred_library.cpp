#include "loading/deferred_library.hpp"
#include "loading/plugin_source.hpp"

namespace toolhost::detail {

namespace fs = std::filesystem;

namespace {

class scanned_tool_factory final : public tool_factory, public plugin_file_factory {
public:
    scanned_tool_factory(std::shared_ptr<deferred_library> lib, std::uint32_t index, tool_descriptor d)
        : lib_(std::move(lib)), index_(index), descriptor_(std::move(d)) {}

    const tool_descriptor& descriptor() const noexcept override { return descriptor_; }
    std::optional<plugin_source> source() const override {
        return plugin_source{lib_->file(), index_, lib_->identity()};
    }

    boost::system::result<std::unique_ptr<tool_instance>, tool_error> create(const instance_context& context) override {
        auto f = lib_->factory(index_, descriptor_.name);
        if (!f) return make_tool_error(status_code::failed_precondition, f.error());
        return (*f)->create(context);
    }

private:
    std::shared_ptr<deferred_library> lib_;
    std::uint32_t index_;
    tool_descriptor descriptor_;
};

}  // namespace

deferred_library::deferred_library(fs::path file, file_identity id, toolhost_abi_version_t abi)
    : file_(std::move(file)), id_(id), abi_(abi) {}

std::vector<library_tool> deferred_library::tools(const fs::path& file, const file_identity& id,
                                                  toolhost_abi_version_t abi, const scan_result& scanned) {
    auto lib = std::make_shared<deferred_library>(file, id, abi);
    std::vector<library_tool> out;
    for (const auto& t : scanned.tools) {
        if (!t.raw) {
            out.push_back({nullptr, t.name, t.error});
            continue;
        }
        // The same checks as for a library the host reads itself: the scan's answer is not trusted.
        auto d = descriptor_from_raw(*t.raw, file.string());
        if (!d) {
            out.push_back({nullptr, t.name, "tool #" + std::to_string(t.index) + ": " + d.error()});
            continue;
        }
        out.push_back({std::make_shared<scanned_tool_factory>(lib, t.index, std::move(*d)), t.name, {}});
    }
    return out;
}

boost::system::result<std::shared_ptr<tool_factory>, std::string> deferred_library::factory(std::uint32_t index,
                                                                                            const std::string& name) {
    std::lock_guard lock(mutex_);
    auto library = library_.lock();
    if (!library) {
        auto opened = plugin_library::open_copy(file_, abi_, [this](int fd) {
            return file_identity::of_fd(fd) == id_
                       ? std::string()
                       : "the plugin file " + file_.string() +
                             " changed after it was scanned; its new build is loaded by the next scan";
        });
        if (!opened)
            return opened.error().starts_with("the plugin file") ? opened.error()
                                                                 : file_.string() + ": " + opened.error();
        library = std::move(*opened);
        library_ = library;
    }
    // Only this tool's descriptor is read again. The factory holds the library, and so does every
    // instance it makes.
    auto tool = library->tool(index);
    if (!tool.factory || tool.name != name)
        return "the plugin file " + file_.string() + " no longer offers tool '" + name + "' as tool #" +
               std::to_string(index) + " (it changed after it was scanned)";
    return std::move(tool.factory);
}

}  // namespace toolhost::detail
