#include <toolhost/logging.hpp>
#include <toolhost/version.hpp>
#include <toolhost/plugin_library.hpp>
#include <toolhost/client.h>
#include <toolhost/plugin_file.h>
#include <toolhost/resource_events.h>
#include <toolhost/scan_inputs.h>
#include <toolhost/tool_caller.h>

#include "isolation/crash_report.hpp"
#include "loading/descriptor_wire.hpp"
#include "loading/plugin_scanner.hpp"
#include "loading/plugin_source.hpp"

#include <boost/dll/shared_library.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <string_view>

namespace toolhost {

// Host services handed to a plugin: the ABI struct plus what its functions need to know.
struct plugin_library::host_services {
    toolhost_host_t abi{};
    std::string channel;  // "plugin.<tool>" or "plugin.<library file>"
    std::string tool;     // empty for the library-level host
    std::string file;     // the plugin file; empty for a plugin linked into the program
    toolhost_plugin_file_t file_extension{};
    // An instance's "toolhost.resource_events/1": offered when the host listens (events).
    std::shared_ptr<instance_events> events;
    toolhost_resource_events_t resource_events{};
    // The library-level host's "toolhost.scan_inputs/1": what the tool list depends on, named
    // during init() (toolhost/scan_inputs.h); the scanner child sends it with the descriptors.
    toolhost_scan_inputs_t scan_inputs{};
    std::vector<descriptor_input> inputs;
    bool inputs_overflow = false;

    explicit host_services(std::string channel_, std::string tool_, std::string file_,
                           std::shared_ptr<instance_events> events_ = nullptr)
        : channel(std::move(channel_)), tool(std::move(tool_)), file(std::move(file_)), events(std::move(events_)) {
        file_extension.struct_size = sizeof(file_extension);
        file_extension.path = {file.data(), file.size()};
        resource_events.struct_size = sizeof(resource_events);
        resource_events.host_data = this;
        resource_events.updated = &resource_updated;
        resource_events.list_changed = &resource_list_changed;
        scan_inputs.struct_size = sizeof(scan_inputs);
        scan_inputs.host_data = this;
        scan_inputs.depends_on_path = &depends_on_path;
        scan_inputs.depends_on_env = &depends_on_env;
        abi.struct_size = sizeof(abi);
        abi.abi_version = host_abi_version;
        abi.host_data = this;
        abi.host_version = "toolhost " TOOLHOST_VERSION_STRING;
        abi.log = &log;
        abi.log_enabled = &log_enabled;
        abi.get_extension = &get_extension;
    }

    static logging::level to_level(int32_t l) noexcept {
        return static_cast<logging::level>(std::clamp<int32_t>(l, TOOLHOST_LOG_TRACE, TOOLHOST_LOG_ERROR));
    }
    static std::string_view view(toolhost_str_t s) noexcept {
        return s.size == 0 || s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.size);
    }
    static void TOOLHOST_ABI log(const toolhost_host_t* h, int32_t level, toolhost_str_t message) {
        const auto* self = static_cast<const host_services*>(h->host_data);
        auto l = to_level(level);
        if (!logging::enabled(l)) return;
        try {
            logging::write(l, self->channel, view(message),
                           {{"tool", self->tool.empty() ? boost::json::value() : boost::json::value(self->tool)}});
        } catch (...) {
            // Logging must never take the plugin or the host down.
        }
    }
    static bool TOOLHOST_ABI log_enabled(const toolhost_host_t*, int32_t level) {
        return logging::enabled(to_level(level));
    }
    static const void* TOOLHOST_ABI get_extension(const toolhost_host_t*, const char* id);
    static void TOOLHOST_ABI resource_updated(const toolhost_resource_events_t* e, toolhost_str_t uri) {
        if (e == nullptr) return;
        if (const auto& sink = static_cast<const host_services*>(e->host_data)->events)
            sink->resource_updated(view(uri));
    }
    static void add_input(const toolhost_scan_inputs_t* e, std::string_view kind, toolhost_str_t name) noexcept {
        if (e == nullptr) return;
        auto* self = static_cast<host_services*>(e->host_data);
        try {
            if (self->inputs.size() >= TOOLHOST_SCAN_INPUTS_MAX) {
                self->inputs_overflow = true;
                return;
            }
            const std::string n(view(name));
            self->inputs.push_back({std::string(kind), n, detail::descriptor_input_state(kind, n)});
        } catch (...) {
            self->inputs_overflow = true;  // not remembered: then never cached either
        }
    }
    static void TOOLHOST_ABI depends_on_path(const toolhost_scan_inputs_t* e, toolhost_str_t path) {
        add_input(e, "path", path);
    }
    static void TOOLHOST_ABI depends_on_env(const toolhost_scan_inputs_t* e, toolhost_str_t name) {
        add_input(e, "env", name);
    }
    static void TOOLHOST_ABI resource_list_changed(const toolhost_resource_events_t* e) {
        if (e == nullptr) return;
        if (const auto& sink = static_cast<const host_services*>(e->host_data)->events) sink->resource_list_changed();
    }
};

namespace {

std::string_view view(toolhost_str_t s) noexcept {
    return s.size == 0 || s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.size);
}

std::string version_string(toolhost_abi_version_t v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

// The message of a failed step whose plugin returned `raw`: a status that is no
// toolhost_status_t is named as such (it is reported as UNKNOWN); one without a message says so.
std::string failure_message(std::string given, toolhost_status_t raw, std::string_view step) {
    const status_code code = status_from_abi(raw);
    if (code == status_code::unknown && raw != TOOLHOST_STATUS_UNKNOWN)
        return std::string(step) + " returned status " + std::to_string(raw) +
               ", which is not a toolhost_status_t (0 to " + std::to_string(TOOLHOST_STATUS_UNAUTHENTICATED) +
               ", status.h); reported as UNKNOWN" + (given.empty() ? std::string() : ": " + given);
    if (given.empty()) return std::string(step) + " failed with " + std::string(status_name(code)) + " and no message";
    return given;
}

// The state of one invoke(): the ABI call struct the plugin sees plus where its answers go.
// Lives on the worker's stack for the duration of the call.
struct call_frame {
    toolhost_call_t abi;
    const invocation* inv = nullptr;
    std::string* result;  // the value of the call_result invoke() returns, written in place
    bool has_result = false;
    std::string error;
    std::optional<uint64_t> retry_after_ms;

    static call_frame& self(const toolhost_call_t* c) noexcept { return *static_cast<call_frame*>(c->host_data); }
    static bool TOOLHOST_ABI is_cancelled(const toolhost_call_t* c) { return self(c).inv->control->cancelled(); }
    static int64_t TOOLHOST_ABI remaining_ns(const toolhost_call_t* c) {
        auto r = self(c).inv->control->remaining();
        return r == std::chrono::nanoseconds::max() ? INT64_MAX : static_cast<int64_t>(r.count());
    }
    static void TOOLHOST_ABI log(const toolhost_call_t* c, int32_t level, toolhost_str_t message) {
        auto l = plugin_library::host_services::to_level(level);
        const auto& inv = *self(c).inv;
        // The caller's own copy (an MCP client's notifications/message), at its level.
        if (call_peer* peer = inv.control->peer(); peer != nullptr && peer->wants_log(level)) {
            try {
                std::string logger(inv.tool);
                logger += '.';
                logger += inv.operation;
                peer->log(level, logger, view(message));
            } catch (...) {
            }
        }
        if (!logging::enabled(l)) return;
        auto opt = [](std::string_view s) { return s.empty() ? boost::json::value() : boost::json::value(s); };
        try {
            std::string channel = "plugin.";
            channel += inv.tool;
            logging::write(l, channel, view(message),
                           {{"tool", boost::json::value(inv.tool)},
                            {"operation", boost::json::value(inv.operation)},
                            {"request_id", opt(inv.request_id)},
                            {"session_id", opt(inv.session_id)},
                            {"attempt", boost::json::value(inv.attempt)}});
        } catch (...) {
        }
    }
    static void TOOLHOST_ABI report_progress(const toolhost_call_t* c, double done, double total,
                                             toolhost_str_t message) {
        try {
            self(c).inv->control->report_progress(done, total, view(message));
        } catch (...) {
        }
    }
    static void TOOLHOST_ABI set_result(const toolhost_call_t* c, toolhost_str_t json) {
        auto& f = self(c);
        f.result->assign(view(json));
        f.has_result = true;
    }
    static void TOOLHOST_ABI set_error(const toolhost_call_t* c, toolhost_str_t message) {
        self(c).error.assign(view(message));
    }
    static void TOOLHOST_ABI set_retry_after_ms(const toolhost_call_t* c, uint64_t ms) { self(c).retry_after_ms = ms; }

    static toolhost_str_t str(std::string_view v) noexcept { return {v.data(), v.size()}; }

    // Every member of the ABI struct given: an empty initializer would zero it first (a
    // `rep stos`, measurable on the inline call path).
    call_frame(const invocation& i, std::string& out)
        : abi{sizeof(toolhost_call_t),
              this,
              str(i.operation),
              str(i.arguments),
              str(i.request_id),
              str(i.session_id),
              str(i.traceparent),
              i.attempt,
              &is_cancelled,
              &remaining_ns,
              &log,
              &report_progress,
              &set_result,
              &set_error,
              &set_retry_after_ms},
          inv(&i), result(&out) {}
};

// ----------------------------------------------------------- extensions that act on a call

// Reports an extension's outcome through its callback (when given) and returns the status.
class extension_answer {
public:
    extension_answer(toolhost_call_result_fn on_result, void* user) : on_result_(on_result), user_(user) {}
    toolhost_status_t operator()(toolhost_status_t code, std::string_view text) const {
        if (on_result_ != nullptr) on_result_(user_, code, toolhost_str_t{text.data(), text.size()});
        return code;
    }
    toolhost_status_t operator()(const call_result& r) const {
        if (r) return (*this)(TOOLHOST_STATUS_OK, *r);
        return (*this)(static_cast<toolhost_status_t>(r.error().code), r.error().message);
    }

private:
    toolhost_call_result_fn on_result_;
    void* user_;
};

// The invocation behind `parent`, when it is a toolhost_call_t this host made (its function
// table identifies it); null otherwise.
const invocation* running_invocation(const toolhost_call_t* parent) noexcept {
    if (parent == nullptr || parent->struct_size < sizeof(toolhost_call_t) ||
        parent->is_cancelled != &call_frame::is_cancelled)
        return nullptr;
    return call_frame::self(parent).inv;
}

// toolhost.tool_caller/1
toolhost_status_t TOOLHOST_ABI call_other_tool(const toolhost_tool_caller_t*, const toolhost_call_t* parent,
                                               toolhost_str_t tool, toolhost_str_t operation, toolhost_str_t arguments,
                                               toolhost_call_result_fn on_result, void* user) {
    const extension_answer answer(on_result, user);
    const invocation* inv = running_invocation(parent);
    if (inv == nullptr)
        return answer(TOOLHOST_STATUS_INVALID_ARGUMENT,
                      "tool_caller.call: `parent` must be the toolhost_call_t of the running invoke()");
    if (inv->nested == nullptr)
        return answer(TOOLHOST_STATUS_UNIMPLEMENTED, "this call cannot call other tools (no host behind it)");
    return answer(inv->nested->call_nested(*inv, view(tool), view(operation), view(arguments)));
}

const toolhost_tool_caller_t tool_caller_extension{sizeof(toolhost_tool_caller_t), nullptr, &call_other_tool};

// toolhost.client/1
toolhost_status_t TOOLHOST_ABI ask_client(const toolhost_client_t*, const toolhost_call_t* parent,
                                          toolhost_str_t method, toolhost_str_t params,
                                          toolhost_call_result_fn on_result, void* user) {
    const extension_answer answer(on_result, user);
    const invocation* inv = running_invocation(parent);
    if (inv == nullptr)
        return answer(TOOLHOST_STATUS_INVALID_ARGUMENT,
                      "client.request: `parent` must be the toolhost_call_t of the running invoke()");
    if (view(method).empty()) return answer(TOOLHOST_STATUS_INVALID_ARGUMENT, "client.request: `method` is empty");
    call_peer* peer = inv->control->peer();
    if (peer == nullptr)
        return answer(TOOLHOST_STATUS_FAILED_PRECONDITION,
                      "this call has no client to ask (it came from the command line, the REST API or an embedding "
                      "program, not from an MCP client)");
    return answer(peer->request(view(method), view(params), *inv->control));
}

const toolhost_client_t client_extension{sizeof(toolhost_client_t), nullptr, &ask_client};

struct init_frame {
    toolhost_init_context_t abi{};
    std::string error;

    static void TOOLHOST_ABI set_error(const toolhost_init_context_t* c, toolhost_str_t message) {
        static_cast<init_frame*>(c->host_data)->error.assign(view(message));
    }
};

class abi_tool_instance final : public tool_instance {
public:
    abi_tool_instance(std::shared_ptr<plugin_library> lib, std::unique_ptr<plugin_library::host_services> services,
                      toolhost_tool_t* tool, std::string name)
        : lib_(std::move(lib)), services_(std::move(services)), tool_(tool), name_(std::move(name)) {}

    ~abi_tool_instance() override {
        if (tool_ != nullptr && tool_->destroy != nullptr) tool_->destroy(tool_);
    }

    void_result initialize(std::string_view config_json, const std::filesystem::path& data_dir) override {
        if (tool_->initialize == nullptr) return {};
        init_frame f;
        const std::string dir = data_dir.string();
        f.abi.struct_size = sizeof(f.abi);
        f.abi.host_data = &f;
        f.abi.config = {config_json.data(), config_json.size()};
        f.abi.data_dir = {dir.data(), dir.size()};
        f.abi.set_error = &init_frame::set_error;
        const detail::crash_report::scope running(lib_->path(), name_, "initialize", {});
        const toolhost_status_t raw = tool_->initialize(tool_, &f.abi);
        const status_code code = status_from_abi(raw);
        if (code == status_code::ok) return {};
        return tool_error{code, failure_message(std::move(f.error), raw, "initialize"), std::nullopt};
    }

    call_result invoke(const invocation& inv) noexcept override {
        // One result object, returned from every path, so that it is constructed in the
        // caller's storage (no copy of the plugin's JSON text on the way out).
        call_result out;
        try {
            call_frame f(inv, *out);
            const detail::crash_report::scope running(lib_->path(), name_, inv.operation, inv.request_id);
            const toolhost_status_t raw = tool_->invoke(tool_, &f.abi);
            const status_code code = status_from_abi(raw);
            if (code == status_code::ok) {
                if (!f.has_result || out->empty()) *out = "null";
                return out;
            }
            tool_error e{code, failure_message(std::move(f.error), raw, name_ + "." + std::string(inv.operation)),
                         std::nullopt};
            if (f.retry_after_ms) e.retry_after = std::chrono::milliseconds(*f.retry_after_ms);
            out = std::move(e);
        } catch (const std::bad_alloc&) {
            out = make_tool_error(status_code::resource_exhausted, "out of memory");
        } catch (const std::exception& ex) {
            out = make_tool_error(status_code::internal, ex.what());
        }
        return out;
    }

    void cleanup() noexcept override {
        const detail::crash_report::scope running(lib_->path(), name_, "cleanup", {});
        if (tool_->cleanup != nullptr) tool_->cleanup(tool_);
    }

private:
    std::shared_ptr<plugin_library> lib_;  // first member: destroyed last, after destroy()
    std::unique_ptr<plugin_library::host_services> services_;
    toolhost_tool_t* tool_;
    std::string name_;
};

class abi_tool_factory final : public tool_factory, public detail::plugin_file_factory {
public:
    abi_tool_factory(std::shared_ptr<plugin_library> lib, uint32_t index, tool_descriptor d)
        : lib_(std::move(lib)), index_(index), descriptor_(std::move(d)) {}

    const tool_descriptor& descriptor() const noexcept override { return descriptor_; }
    std::optional<detail::plugin_source> source() const override {
        if (!lib_->from_file()) return std::nullopt;
        return detail::plugin_source{lib_->path(), index_, std::nullopt};
    }

    boost::system::result<std::unique_ptr<tool_instance>, tool_error> create(const instance_context& context) override {
        auto services = std::make_unique<plugin_library::host_services>(
            "plugin." + descriptor_.name, descriptor_.name, lib_->from_file() ? lib_->path() : std::string(),
            context.events);
        toolhost_tool_t* tool = nullptr;
        auto code = status_from_abi(lib_->entry().create_tool(index_, &services->abi, &tool));
        if (code != status_code::ok)
            return make_tool_error(
                code, "create_tool for '" + descriptor_.name + "' failed with " + std::string(status_name(code)));
        if (tool == nullptr)
            return make_tool_error(status_code::internal,
                                   "create_tool for '" + descriptor_.name + "' returned OK but no instance");
        constexpr std::size_t min_size = offsetof(toolhost_tool_t, destroy) + sizeof(void*);
        if (tool->struct_size < min_size || tool->invoke == nullptr || tool->destroy == nullptr) {
            // Without a usable destroy() we cannot free it; leaking beats calling a bad pointer.
            return make_tool_error(status_code::internal,
                                   "create_tool for '" + descriptor_.name +
                                       "' returned an instance without invoke/destroy or too small (" +
                                       std::to_string(tool->struct_size) + " bytes)");
        }
        return std::unique_ptr<tool_instance>(new abi_tool_instance(lib_, std::move(services), tool, descriptor_.name));
    }

private:
    std::shared_ptr<plugin_library> lib_;
    uint32_t index_;
    tool_descriptor descriptor_;
};

class function_tool_factory final : public tool_factory {
public:
    using maker = std::function<std::unique_ptr<tool_instance>(const instance_context&)>;
    function_tool_factory(tool_descriptor d, maker make) : descriptor_(std::move(d)), make_(std::move(make)) {}
    const tool_descriptor& descriptor() const noexcept override { return descriptor_; }
    boost::system::result<std::unique_ptr<tool_instance>, tool_error> create(const instance_context& context) override {
        try {
            auto p = make_(context);
            if (!p)
                return make_tool_error(status_code::internal,
                                       "factory of '" + descriptor_.name + "' returned no instance");
            return p;
        } catch (const std::exception& e) {
            return make_tool_error(status_code::internal, "factory of '" + descriptor_.name + "' threw: " + e.what());
        }
    }

private:
    tool_descriptor descriptor_;
    maker make_;
};

constexpr std::size_t min_entry_size = offsetof(toolhost_plugin_entry_t, create_tool) + sizeof(void*);

}  // namespace

std::shared_ptr<tool_factory> make_tool_factory(
    tool_descriptor descriptor, std::function<std::unique_ptr<tool_instance>(const instance_context&)> make) {
    if (descriptor.plugin.empty()) descriptor.plugin = "builtin";
    return std::make_shared<function_tool_factory>(std::move(descriptor), std::move(make));
}

std::shared_ptr<tool_factory> make_tool_factory(tool_descriptor descriptor,
                                                std::function<std::unique_ptr<tool_instance>()> make) {
    return make_tool_factory(std::move(descriptor),
                             [make = std::move(make)](const instance_context&) { return make(); });
}

boost::system::result<void, std::string> plugin_library::check_entry(const toolhost_plugin_entry_t& e,
                                                                     toolhost_abi_version_t host_abi) {
    // Read the version before trusting the size: a plugin of another major may lay out the
    // struct differently, but struct_size and abi_version lead every major by contract.
    if (e.struct_size < offsetof(toolhost_plugin_entry_t, plugin_name))
        return "entry struct too small (" + std::to_string(e.struct_size) + " bytes) to hold a version";
    const auto v = e.abi_version;
    if (v.major != host_abi.major)
        return "built for toolhost ABI " + version_string(v) + ", but this host implements ABI " +
               version_string(host_abi) +
               " (the major versions must match; rebuild the plugin "
               "against this host's SDK)";
    if (v.minor > host_abi.minor)
        return "built for toolhost ABI " + version_string(v) + ", newer than this host's ABI " +
               version_string(host_abi) + " (upgrade toolhost, or rebuild the plugin against SDK " +
               version_string(host_abi) + ")";
    if (e.struct_size < min_entry_size)
        return "entry struct too small (" + std::to_string(e.struct_size) + " bytes, ABI " + version_string(v) +
               " needs at least " + std::to_string(min_entry_size) + ")";
    if (e.tool_count == nullptr || e.tool_descriptor == nullptr || e.create_tool == nullptr)
        return std::string("entry struct lacks tool_count, tool_descriptor or create_tool (NULL)");
    return {};
}

struct plugin_library::shared_object {
    boost::dll::shared_library library;
};

boost::system::result<std::shared_ptr<plugin_library>, std::string> plugin_library::open(
    const std::filesystem::path& file, toolhost_abi_version_t host_abi) {
    return load(file.string(), file.string(), host_abi, -1);
}

boost::system::result<std::shared_ptr<plugin_library>, std::string> plugin_library::open_copy(
    const std::filesystem::path& file, toolhost_abi_version_t host_abi, const file_check& check) {
    auto error = [](std::string what) { return what + ": " + std::strerror(errno); };
    const int src = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (src < 0) return error("cannot open");
    struct closer {
        int fd;
        ~closer() {
            if (fd >= 0) ::close(fd);
        }
    } src_closer{src};
    if (check)
        if (auto why = check(src); !why.empty()) return why;
    struct stat st {};
    if (::fstat(src, &st) != 0) return error("cannot stat");
    const std::string label = "toolhost:" + file.filename().string();
    const int copy = ::memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (copy < 0) return error("cannot make a private copy (memfd_create)");
    closer copy_closer{copy};
    for (off_t offset = 0; offset < st.st_size;) {
        const ssize_t n = ::sendfile(copy, src, &offset, static_cast<std::size_t>(st.st_size - offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return error("cannot make a private copy");
        if (n == 0) return std::string("cannot make a private copy: the file shrank while it was copied");
    }
    // The same file after the copy as before: not written to meanwhile.
    if (check)
        if (auto why = check(src); !why.empty()) return why;
    if (::fcntl(copy, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        return error("cannot seal the private copy");
    copy_closer.fd = -1;  // load() owns it now
    return load("/proc/self/fd/" + std::to_string(copy), file.string(), host_abi, copy);
}

boost::system::result<std::shared_ptr<plugin_library>, std::string> plugin_library::load(
    const std::string& load_path, const std::string& file, toolhost_abi_version_t host_abi, int copy_fd) {
    // Boost.DLL discards dlerror()'s text, which is the only actionable part of a failed load
    // ("undefined symbol: foo", "file too short"), so a raw dlopen goes first. No RTLD_NODELETE:
    // a replaced plugin is unloaded once its last instance is gone (docs/writing-a-plugin.md says
    // what a plugin must do to be unloadable, and the SDK builds with -fno-gnu-unique).
    constexpr int mode = RTLD_LOCAL | RTLD_NOW;
    // The library's code runs from here on (constructors, init()): a crash names it.
    detail::crash_report::install();
    const detail::crash_report::scope loading(file, {}, "while loading", {});
    ::dlerror();
    void* probe = ::dlopen(load_path.c_str(), mode);
    if (probe == nullptr) {
        const char* err = ::dlerror();
        std::string why = std::string("cannot load: ") + (err ? err : "dlopen failed");
        // dlerror() names what it was given: say the file the operator knows.
        for (auto at = why.find(load_path); copy_fd >= 0 && at != std::string::npos; at = why.find(load_path, at))
            why.replace(at, load_path.size(), file);
        if (copy_fd >= 0) ::close(copy_fd);
        return why;
    }
    std::shared_ptr<plugin_library> lib(new plugin_library());
    lib->path_ = file;
    lib->load_path_ = load_path;
    lib->copy_fd_ = copy_fd;
    boost::system::error_code ec;
    lib->library_ = std::make_unique<shared_object>();
    lib->library_->library.load(std::filesystem::path(load_path), ec, static_cast<boost::dll::load_mode::type>(mode));
    ::dlclose(probe);  // Boost.DLL now holds its own reference to the same handle
    if (ec) return "cannot load: " + ec.message();

    if (!lib->library_->library.has(TOOLHOST_ENTRY_SYMBOL)) {
        // Say which ABI the file was built for, if it exports another major's entry.
        for (int major = 0; major <= 9; ++major) {
            if (major == TOOLHOST_ABI_VERSION_MAJOR) continue;
            std::string sym = "toolhost_plugin_entry_v" + std::to_string(major);
            if (lib->library_->library.has(sym))
                return "built for toolhost ABI " + std::to_string(major) + " (exports '" + sym +
                       "'), but this host implements ABI " + version_string(host_abi) +
                       " and looks for '" TOOLHOST_ENTRY_SYMBOL "'";
        }
        return std::string("no entry symbol '" TOOLHOST_ENTRY_SYMBOL
                           "': not a toolhost plugin (define it with TOOLHOST_PLUGIN or export it "
                           "as in docs/plugin-abi.md)");
    }
    lib->entry_ = &lib->library_->library.get<const toolhost_plugin_entry_t>(TOOLHOST_ENTRY_SYMBOL);
    if (auto ok = check_entry(*lib->entry_, host_abi); !ok) return ok.error();
    if (auto ok = lib->init(); !ok) return ok.error();
    return lib;
}

boost::system::result<std::shared_ptr<plugin_library>, std::string> plugin_library::from_entry(
    const toolhost_plugin_entry_t* entry, std::string name, toolhost_abi_version_t host_abi) {
    if (entry == nullptr) return std::string("no entry struct (NULL)");
    std::shared_ptr<plugin_library> lib(new plugin_library());
    lib->path_ = std::move(name);
    lib->entry_ = entry;
    if (auto ok = check_entry(*entry, host_abi); !ok) return ok.error();
    if (auto ok = lib->init(); !ok) return ok.error();
    return lib;
}

boost::system::result<void, std::string> plugin_library::init() {
    services_ = std::make_unique<host_services>("plugin." + std::filesystem::path(path_).filename().string(),
                                                std::string(), from_file() ? path_ : std::string());
    if (entry_->init != nullptr) {
        auto code = status_from_abi(entry_->init(&services_->abi));
        if (code != status_code::ok)
            return "the plugin's init() failed with " + std::string(status_name(code)) +
                   " (see its log messages on channel " + services_->channel + ")";
    }
    initialized_ = true;
    return {};
}

plugin_library::~plugin_library() {
    if (initialized_ && entry_->deinit != nullptr) entry_->deinit();
    library_.reset();  // dlclose()
    if (copy_fd_ < 0) return;
    // dlopen() finds a loaded library by the name it was given: while one named /proc/self/fd/N
    // stays mapped (a library that cannot be unloaded, see docs/writing-a-plugin.md), N must not
    // come to name another copy, so its descriptor stays open.
    if (void* still = ::dlopen(load_path_.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
        ::dlclose(still);
        logging::write(logging::level::debug, "loader", "a plugin library stays loaded after its last use",
                       {{"path", path_}});
        return;
    }
    ::close(copy_fd_);
}

std::vector<library_tool> plugin_library::tools() {
    std::vector<library_tool> out;
    const uint32_t n = entry_->tool_count();
    if (n == 0) {
        out.push_back({nullptr, {}, detail::no_tools_error});
        return out;
    }
    for (uint32_t i = 0; i < n; ++i) out.push_back(tool(i));
    return out;
}

library_tool plugin_library::tool(uint32_t index) {
    if (index >= entry_->tool_count()) return {nullptr, {}, "no tool #" + std::to_string(index)};
    auto t = detail::read_abi_tool(*entry_, index, path_);
    if (!t.descriptor) return {nullptr, std::move(t.name), std::move(t.error)};
    return {
        std::make_shared<abi_tool_factory>(shared_from_this(), index, std::move(*t.descriptor)), std::move(t.name), {}};
}

const void* TOOLHOST_ABI plugin_library::host_services::get_extension(const toolhost_host_t* h, const char* id) {
    if (id != nullptr && std::string_view(id) == TOOLHOST_EXT_TOOL_CALLER_V1) return &tool_caller_extension;
    if (id != nullptr && std::string_view(id) == TOOLHOST_EXT_CLIENT_V1) return &client_extension;
    if (id != nullptr && std::string_view(id) == TOOLHOST_EXT_RESOURCE_EVENTS_V1 && h != nullptr) {
        const auto* self = static_cast<const host_services*>(h->host_data);
        return self->events ? &self->resource_events : nullptr;
    }
    if (id != nullptr && std::string_view(id) == TOOLHOST_EXT_PLUGIN_FILE_V1 && h != nullptr) {
        const auto* self = static_cast<const host_services*>(h->host_data);
        return self->file.empty() ? nullptr : &self->file_extension;
    }
    if (id != nullptr && std::string_view(id) == TOOLHOST_EXT_SCAN_INPUTS_V1 && h != nullptr) {
        const auto* self = static_cast<const host_services*>(h->host_data);
        return self->tool.empty() ? &self->scan_inputs : nullptr;  // the library-level host only
    }
    return nullptr;
}

const std::vector<descriptor_input>& plugin_library::descriptor_inputs() const noexcept {
    static const std::vector<descriptor_input> none;
    return services_ ? services_->inputs : none;
}

bool plugin_library::descriptor_inputs_overflow() const noexcept { return services_ && services_->inputs_overflow; }

}  // namespace toolhost
