// toolhost C++ plugin helper — header-only, C++20, no dependencies beyond the standard library.
//
// A C++ plugin is a class with a few members plus one export macro:
//
//     class echo_tool {
//     public:
//         static const toolhost::sdk::tool_table<echo_tool>& table();  // required: see below
//         explicit echo_tool(toolhost::sdk::host host);                 // or default-constructible
//         void initialize(toolhost::sdk::init_context& init);           // optional
//         void cleanup();                                              // optional
//         toolhost::sdk::result echo(toolhost::sdk::call_context& call);   // one member per operation
//     };
//     TOOLHOST_PLUGIN("echo", "1.0.0", echo_tool)   // several tool classes may follow
//
// The table names the tool and lists each operation with its schemas, flags and the member that
// runs it; the helper builds the descriptor and the dispatch from it, so an operation the table
// does not list is answered in one place. A class may instead define `static tool_info
// describe()` and `result invoke(call_context&)` and dispatch by itself.
//
// Every exception is caught at the ABI boundary: toolhost::sdk::error becomes its status code and
// message, any other exception becomes TOOLHOST_STATUS_INTERNAL with its what(). Nothing of C++
// crosses the boundary. The helper itself follows the C ABI contract in toolhost/toolhost.h.
#ifndef TOOLHOST_PLUGIN_HPP
#define TOOLHOST_PLUGIN_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "toolhost/toolhost.h"

namespace toolhost::sdk {

/// Status codes of the C ABI as a scoped enum.
enum class status : toolhost_status_t {
    ok = TOOLHOST_STATUS_OK,
    cancelled = TOOLHOST_STATUS_CANCELLED,
    unknown = TOOLHOST_STATUS_UNKNOWN,
    invalid_argument = TOOLHOST_STATUS_INVALID_ARGUMENT,
    deadline_exceeded = TOOLHOST_STATUS_DEADLINE_EXCEEDED,
    not_found = TOOLHOST_STATUS_NOT_FOUND,
    already_exists = TOOLHOST_STATUS_ALREADY_EXISTS,
    permission_denied = TOOLHOST_STATUS_PERMISSION_DENIED,
    resource_exhausted = TOOLHOST_STATUS_RESOURCE_EXHAUSTED,
    failed_precondition = TOOLHOST_STATUS_FAILED_PRECONDITION,
    aborted = TOOLHOST_STATUS_ABORTED,
    out_of_range = TOOLHOST_STATUS_OUT_OF_RANGE,
    unimplemented = TOOLHOST_STATUS_UNIMPLEMENTED,
    internal = TOOLHOST_STATUS_INTERNAL,
    unavailable = TOOLHOST_STATUS_UNAVAILABLE,
    data_loss = TOOLHOST_STATUS_DATA_LOSS,
    unauthenticated = TOOLHOST_STATUS_UNAUTHENTICATED,
};

/// Log levels of the host's logging service.
enum class log_level : int32_t {
    trace = TOOLHOST_LOG_TRACE,
    debug = TOOLHOST_LOG_DEBUG,
    info = TOOLHOST_LOG_INFO,
    warning = TOOLHOST_LOG_WARNING,
    error = TOOLHOST_LOG_ERROR,
};

/// Throw from initialize() or invoke() to fail with a specific status; the helper turns it into
/// that status and message at the boundary.
class error : public std::runtime_error {
public:
    error(status code, const std::string& message) : std::runtime_error(message), code_(code) {}
    status code() const noexcept { return code_; }

private:
    status code_;
};

/// One operation of a tool. Schemas are JSON Schema draft-07 as JSON text.
struct operation_info {
    std::string name;
    std::string description;
    std::string input_schema = R"({"type":"object"})";
    std::string output_schema;  ///< empty: not declared
    uint64_t flags = 0;         ///< TOOLHOST_OPERATION_* bits
    std::string role{};         ///< JSON of what it serves instead of a tool (toolhost/tool.h); empty: a tool
};

/// What a tool is and offers; returned by the tool class's static describe().
struct tool_info {
    std::string name;
    std::string version;
    std::string description;
    std::string config_schema;  ///< empty: the tool takes no configuration
    bool thread_safe = false;
    std::vector<operation_info> operations;
};

namespace detail {
inline toolhost_str_t to_abi(std::string_view s) noexcept { return {s.data(), s.size()}; }
inline std::string_view from_abi(toolhost_str_t s) noexcept {
    return s.size == 0 ? std::string_view{} : std::string_view{s.data, s.size};
}
}  // namespace detail

/// The host services of one tool instance (or of the library). Cheap to copy; valid as long as
/// the instance lives.
class call_context;
class result;

class host {
public:
    explicit host(const toolhost_host_t* h) noexcept : h_(h) {}

    /// True when the host offers the "toolhost.tool_caller/1" extension (call_tool works).
    bool can_call_tools() const noexcept { return tool_caller() != nullptr; }

    /// Calls another tool through the host's whole pipeline and waits for it (see
    /// toolhost/tool_caller.h). `parent` is the running call (required), whose deadline,
    /// cancellation, ids and trace context the nested call inherits. Returns the nested
    /// call's result (JSON text) or its failure; UNIMPLEMENTED when the host cannot do it.
    inline result call_tool(const call_context* parent, std::string_view tool, std::string_view operation,
                            std::string_view arguments_json) const;

    /// True when the host offers the "toolhost.client/1" extension (ask_client can work; each
    /// call still needs a client that can answer).
    bool can_ask_client() const noexcept { return client() != nullptr; }

    /// Sends a request to the client of the running call `parent` and waits for its answer
    /// (see toolhost/client.h): "sampling/createMessage", "elicitation/create", "roots/list".
    /// Returns the client's result object (JSON text) or the failure; FAILED_PRECONDITION when
    /// the call has no client that can answer, UNIMPLEMENTED when the host cannot do it at all.
    inline result ask_client(const call_context& parent, std::string_view method, std::string_view params_json) const;

    /// True when the host offers the "toolhost.resource_events/1" extension: resource_updated()
    /// and resource_list_changed() reach the clients that watch (the instance host only).
    bool can_announce_resources() const noexcept { return resource_events() != nullptr; }

    /// Tells the host that the resource `uri` (one this tool's resource_read operation serves)
    /// changed or is gone; clients subscribed to it read it again (toolhost/resource_events.h).
    /// Any thread, never blocks; does nothing on a host without the extension.
    void resource_updated(std::string_view uri) const noexcept {
        if (const auto* e = resource_events()) e->updated(e, detail::to_abi(uri));
    }
    /// Tells the host that the list of this tool's resources changed.
    void resource_list_changed() const noexcept {
        if (const auto* e = resource_events()) e->list_changed(e);
    }

    bool log_enabled(log_level level) const noexcept { return h_->log_enabled(h_, static_cast<int32_t>(level)); }
    void log(log_level level, std::string_view message) const noexcept {
        h_->log(h_, static_cast<int32_t>(level), detail::to_abi(message));
    }
    const toolhost_host_t* abi() const noexcept { return h_; }

private:
    const void* extension(const char* name) const noexcept {
        if (h_->struct_size < offsetof(toolhost_host_t, get_extension) + sizeof(h_->get_extension) ||
            h_->get_extension == nullptr)
            return nullptr;
        return h_->get_extension(h_, name);
    }
    const toolhost_tool_caller_t* tool_caller() const noexcept {
        return static_cast<const toolhost_tool_caller_t*>(extension(TOOLHOST_EXT_TOOL_CALLER_V1));
    }
    const toolhost_client_t* client() const noexcept {
        return static_cast<const toolhost_client_t*>(extension(TOOLHOST_EXT_CLIENT_V1));
    }
    const toolhost_resource_events_t* resource_events() const noexcept {
        return static_cast<const toolhost_resource_events_t*>(extension(TOOLHOST_EXT_RESOURCE_EVENTS_V1));
    }
    const toolhost_host_t* h_;
};

/// The context of initialize(): validated configuration and the tool's data directory.
class init_context {
public:
    explicit init_context(const toolhost_init_context_t* c) noexcept : c_(c) {}

    /// The configuration object as JSON text ("{}" when none was given).
    std::string_view config() const noexcept { return detail::from_abi(c_->config); }
    /// A directory the tool may keep files in; the host has created it.
    std::string_view data_dir() const noexcept { return detail::from_abi(c_->data_dir); }
    const toolhost_init_context_t* abi() const noexcept { return c_; }

private:
    const toolhost_init_context_t* c_;
};

/// The context of one invoke(): arguments, ids, cancellation, deadline, progress and logging.
/// Valid only during invoke().
class call_context {
public:
    explicit call_context(const toolhost_call_t* c) noexcept : c_(c) {}

    std::string_view operation() const noexcept { return detail::from_abi(c_->operation); }
    /// The arguments object as JSON text, already validated against the input schema.
    std::string_view arguments() const noexcept { return detail::from_abi(c_->arguments); }
    std::string_view request_id() const noexcept { return detail::from_abi(c_->request_id); }
    std::string_view session_id() const noexcept { return detail::from_abi(c_->session_id); }
    std::string_view traceparent() const noexcept { return detail::from_abi(c_->traceparent); }
    uint32_t attempt() const noexcept { return c_->attempt; }

    /// True once the caller gave up, the host is stopping or the deadline passed.
    bool cancelled() const noexcept { return c_->is_cancelled(c_); }
    /// Time left until the deadline; nanoseconds::max() when there is none.
    std::chrono::nanoseconds remaining() const noexcept { return std::chrono::nanoseconds(c_->remaining_ns(c_)); }
    void log(log_level level, std::string_view message) const noexcept {
        c_->log(c_, static_cast<int32_t>(level), detail::to_abi(message));
    }
    void progress(double done, double total = 0, std::string_view message = {}) const noexcept {
        c_->report_progress(c_, done, total, detail::to_abi(message));
    }
    /// A hint for the host's retry policy: when a retry may succeed.
    void retry_after(std::chrono::milliseconds delay) const noexcept {
        c_->set_retry_after_ms(c_, static_cast<uint64_t>(delay.count() < 0 ? 0 : delay.count()));
    }
    const toolhost_call_t* abi() const noexcept { return c_; }

private:
    const toolhost_call_t* c_;
};

/// The outcome of invoke(): a JSON result, or a status and a message.
class result {
public:
    /// A successful call returning `json` (JSON text, usually an object).
    static result ok(std::string json) { return result(status::ok, std::move(json)); }
    /// A failed call. `code` must not be status::ok.
    static result fail(status code, std::string message) {
        return result(code == status::ok ? status::internal : code, std::move(message));
    }

    status code() const noexcept { return code_; }
    /// The JSON result on success, the error message otherwise.
    const std::string& text() const noexcept { return text_; }

private:
    result(status code, std::string text) : code_(code), text_(std::move(text)) {}
    status code_;
    std::string text_;
};

/// One row of a tool's operation table: what the descriptor says about the operation, and
/// `run`, the handler std::invoke calls as (Tool&, call_context&) returning a result; by default
/// a member function `result Tool::op(call_context&)`.
template <class Tool, class Handler = result (Tool::*)(call_context&)>
struct operation {
    std::string name;
    std::string description;
    std::string input_schema = R"({"type":"object"})";
    std::string output_schema;  ///< empty: not declared
    uint64_t flags = 0;         ///< TOOLHOST_OPERATION_* bits
    Handler run{};
    std::string role{};  ///< JSON of what it serves instead of a tool (toolhost/tool.h); empty: a tool
};

/// A tool described by one table, returned by the tool class's static table(): the helper
/// derives the descriptor (info()) and the dispatch (dispatch()) from the same rows.
template <class Tool, class Handler = result (Tool::*)(call_context&)>
struct tool_table {
    std::string name;
    std::string version;
    std::string description;
    std::string config_schema;  ///< empty: the tool takes no configuration
    bool thread_safe = false;
    std::vector<operation<Tool, Handler>> operations;

    /// The tool as the descriptor shows it.
    tool_info info() const {
        tool_info out{name, version, description, config_schema, thread_safe, {}};
        out.operations.reserve(operations.size());
        for (const auto& op : operations)
            out.operations.push_back({op.name, op.description, op.input_schema, op.output_schema, op.flags, op.role});
        return out;
    }

    /// Runs the operation the call names. The host only sends operations the descriptor lists,
    /// so the UNIMPLEMENTED answer is for a host that does not check.
    result dispatch(Tool& tool, call_context& call) const {
        const std::string_view wanted = call.operation();
        for (const auto& op : operations)
            if (op.name == wanted) return std::invoke(op.run, tool, call);
        return result::fail(status::unimplemented, name + " has no operation '" + std::string(wanted) + "'");
    }
};

namespace detail {
// Collects what a toolhost_call_result_fn reports.
struct call_outcome {
    status code = status::internal;
    std::string text = "the host did not report the outcome";

    static void TOOLHOST_ABI receive(void* user, toolhost_status_t code, toolhost_str_t text) noexcept {
        auto* o = static_cast<call_outcome*>(user);
        o->code = static_cast<status>(code);
        try {
            o->text.assign(from_abi(text));
        } catch (...) {
            o->code = status::resource_exhausted;
        }
    }
    result take() && {
        if (code == status::ok) return result::ok(std::move(text));
        return result::fail(code, std::move(text));
    }
};
}  // namespace detail

inline result host::call_tool(const call_context* parent, std::string_view tool, std::string_view operation,
                              std::string_view arguments_json) const {
    const toolhost_tool_caller_t* caller = tool_caller();
    if (caller == nullptr)
        return result::fail(status::unimplemented, "this host cannot call other tools (no toolhost.tool_caller/1)");
    detail::call_outcome out;
    caller->call(caller, parent ? parent->abi() : nullptr, detail::to_abi(tool), detail::to_abi(operation),
                 detail::to_abi(arguments_json), &detail::call_outcome::receive, &out);
    return std::move(out).take();
}

inline result host::ask_client(const call_context& parent, std::string_view method,
                               std::string_view params_json) const {
    const toolhost_client_t* c = client();
    if (c == nullptr) return result::fail(status::unimplemented, "this host cannot ask clients (no toolhost.client/1)");
    detail::call_outcome out;
    c->request(c, parent.abi(), detail::to_abi(method), detail::to_abi(params_json), &detail::call_outcome::receive,
               &out);
    return std::move(out).take();
}

namespace detail {

template <class T>
concept has_initialize = requires(T& t, init_context& c) {
    t.initialize(c);
};
template <class T>
concept has_cleanup = requires(T& t) {
    t.cleanup();
};
template <class T>
concept has_table = requires {
    T::table();
};

template <class T>
tool_info describe() {
    if constexpr (has_table<T>)
        return T::table().info();
    else
        return T::describe();
}

template <class T>
result invoke(T& tool, call_context& call) {
    if constexpr (has_table<T>)
        return T::table().dispatch(tool, call);
    else
        return tool.invoke(call);
}

// Descriptor storage built once from the tool's table() (or describe()); the ABI structs point into it.
struct descriptor_storage {
    tool_info info;
    std::vector<toolhost_operation_descriptor_t> ops;
    std::vector<const toolhost_operation_descriptor_t*> op_ptrs;
    toolhost_tool_descriptor_t desc{};

    explicit descriptor_storage(tool_info i) : info(std::move(i)) {
        ops.reserve(info.operations.size());
        for (const auto& op : info.operations) {
            toolhost_operation_descriptor_t d{};
            d.struct_size = sizeof(d);
            d.name = op.name.c_str();
            d.description = op.description.c_str();
            d.input_schema = op.input_schema.c_str();
            d.output_schema = op.output_schema.empty() ? nullptr : op.output_schema.c_str();
            d.flags = op.flags;
            d.role = op.role.empty() ? nullptr : op.role.c_str();
            ops.push_back(d);
        }
        for (const auto& d : ops) op_ptrs.push_back(&d);
        desc.struct_size = sizeof(desc);
        desc.name = info.name.c_str();
        desc.version = info.version.c_str();
        desc.description = info.description.c_str();
        desc.config_schema = info.config_schema.empty() ? nullptr : info.config_schema.c_str();
        desc.flags = info.thread_safe ? TOOLHOST_TOOL_THREAD_SAFE : 0;
        desc.operation_count = static_cast<uint32_t>(op_ptrs.size());
        desc.operations = op_ptrs.data();
    }
};

template <class T>
const toolhost_tool_descriptor_t* descriptor_of() noexcept {
    try {
        static const descriptor_storage storage(detail::describe<T>());
        return &storage.desc;
    } catch (...) {
        return nullptr;  // the host reports "no descriptor for tool #i"
    }
}

inline void set_init_error(const toolhost_init_context_t* c, std::string_view msg) noexcept {
    c->set_error(c, to_abi(msg));
}

// One instance: the ABI struct first, so the host's pointer and ours are the same object.
template <class T>
struct instance {
    toolhost_tool_t abi{};
    sdk::host services;
    std::unique_ptr<T> tool;

    explicit instance(const toolhost_host_t* h) : services(h) {
        abi.struct_size = sizeof(abi);
        abi.tool_data = this;
        abi.initialize = &instance::do_initialize;
        abi.invoke = &instance::do_invoke;
        abi.cleanup = &instance::do_cleanup;
        abi.destroy = &instance::do_destroy;
        if constexpr (std::is_constructible_v<T, sdk::host>)
            tool = std::make_unique<T>(services);
        else
            tool = std::make_unique<T>();
    }

    static instance& self(toolhost_tool_t* t) noexcept { return *static_cast<instance*>(t->tool_data); }

    static toolhost_status_t TOOLHOST_ABI do_initialize(toolhost_tool_t* t, const toolhost_init_context_t* c) noexcept {
        try {
            if constexpr (has_initialize<T>) {
                init_context ctx(c);
                self(t).tool->initialize(ctx);
            }
            return TOOLHOST_STATUS_OK;
        } catch (const error& e) {
            set_init_error(c, e.what());
            return e.code() == status::ok ? TOOLHOST_STATUS_INTERNAL : static_cast<toolhost_status_t>(e.code());
        } catch (const std::exception& e) {
            set_init_error(c, std::string("initialize threw: ") + e.what());
        } catch (...) {
            set_init_error(c, "initialize threw an exception that is not a std::exception");
        }
        return TOOLHOST_STATUS_INTERNAL;
    }

    static toolhost_status_t TOOLHOST_ABI do_invoke(toolhost_tool_t* t, const toolhost_call_t* c) noexcept {
        try {
            call_context ctx(c);
            result r = detail::invoke(*self(t).tool, ctx);
            if (r.code() == status::ok) {
                c->set_result(c, to_abi(r.text()));
            } else {
                c->set_error(c, to_abi(r.text()));
            }
            return static_cast<toolhost_status_t>(r.code());
        } catch (const error& e) {
            c->set_error(c, to_abi(e.what()));
            return e.code() == status::ok ? TOOLHOST_STATUS_INTERNAL : static_cast<toolhost_status_t>(e.code());
        } catch (const std::bad_alloc&) {
            c->set_error(c, to_abi("out of memory"));
            return TOOLHOST_STATUS_RESOURCE_EXHAUSTED;
        } catch (const std::exception& e) {
            try {
                std::string msg = "unhandled exception: ";
                msg += e.what();
                c->set_error(c, to_abi(msg));
            } catch (...) {
                c->set_error(c, to_abi("unhandled exception"));
            }
        } catch (...) {
            c->set_error(c, to_abi("unhandled exception that is not a std::exception"));
        }
        return TOOLHOST_STATUS_INTERNAL;
    }

    static void TOOLHOST_ABI do_cleanup(toolhost_tool_t* t) noexcept {
        if constexpr (has_cleanup<T>) {
            auto& self_ = self(t);
            try {
                self_.tool->cleanup();
            } catch (const std::exception& e) {
                self_.services.log(log_level::error, std::string("cleanup threw: ") + e.what());
            } catch (...) {
                self_.services.log(log_level::error, "cleanup threw an unknown exception");
            }
        }
    }

    static void TOOLHOST_ABI do_destroy(toolhost_tool_t* t) noexcept {
        delete &self(t);  // a throwing destructor terminates, as anywhere else in C++
    }
};

template <class T>
toolhost_status_t create_one(const toolhost_host_t* h, toolhost_tool_t** out) noexcept {
    try {
        auto* inst = new instance<T>(h);
        *out = &inst->abi;
        return TOOLHOST_STATUS_OK;
    } catch (const error& e) {
        sdk::host(h).log(log_level::error, std::string("constructor failed: ") + e.what());
        return e.code() == status::ok ? TOOLHOST_STATUS_INTERNAL : static_cast<toolhost_status_t>(e.code());
    } catch (const std::exception& e) {
        sdk::host(h).log(log_level::error, std::string("constructor threw: ") + e.what());
    } catch (...) {
        sdk::host(h).log(log_level::error, "constructor threw an unknown exception");
    }
    return TOOLHOST_STATUS_INTERNAL;
}

// The library-level host the host gave init(), for plugin_file(). A function-local static of a
// library built with hidden visibility (toolhost_add_plugin) is the library's own.
inline const toolhost_host_t*& library_host() noexcept {
    static const toolhost_host_t* h = nullptr;
    return h;
}

template <class... Tools>
struct plugin {
    static_assert(sizeof...(Tools) > 0, "TOOLHOST_PLUGIN needs at least one tool class");
    using descriptor_fn = const toolhost_tool_descriptor_t* (*)() noexcept;
    using create_fn = toolhost_status_t (*)(const toolhost_host_t*, toolhost_tool_t**) noexcept;
    static constexpr descriptor_fn descriptors[] = {&descriptor_of<Tools>...};
    static constexpr create_fn creators[] = {&create_one<Tools>...};

    static uint32_t TOOLHOST_ABI tool_count() noexcept { return sizeof...(Tools); }
    static const toolhost_tool_descriptor_t* TOOLHOST_ABI tool_descriptor(uint32_t i) noexcept {
        return i < sizeof...(Tools) ? descriptors[i]() : nullptr;
    }
    static toolhost_status_t TOOLHOST_ABI create_tool(uint32_t i, const toolhost_host_t* h,
                                                      toolhost_tool_t** out) noexcept {
        return i < sizeof...(Tools) ? creators[i](h, out) : TOOLHOST_STATUS_NOT_FOUND;
    }

    static toolhost_status_t TOOLHOST_ABI init(const toolhost_host_t* h) noexcept {
        library_host() = h;
        return TOOLHOST_STATUS_OK;
    }
    static void TOOLHOST_ABI deinit() noexcept { library_host() = nullptr; }

    static constexpr toolhost_plugin_entry_t entry(const char* name, const char* version) noexcept {
        return toolhost_plugin_entry_t{sizeof(toolhost_plugin_entry_t),
                                       {TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR},
                                       name,
                                       version,
                                       &init,
                                       &deinit,
                                       &tool_count,
                                       &tool_descriptor,
                                       &create_tool};
    }
};

}  // namespace detail

/// The path of this plugin's file in its plugin folder, as the host found it (the
/// "toolhost.plugin_file/1" extension, toolhost/plugin_file.h); empty when the host does not say
/// (an older host, a plugin linked into the program). Use it, not dladdr(), to find files
/// installed next to the plugin: the host may run a private copy of the file.
inline std::string plugin_file() {
    const toolhost_host_t* h = detail::library_host();
    if (h == nullptr || h->struct_size < offsetof(toolhost_host_t, get_extension) + sizeof(h->get_extension) ||
        h->get_extension == nullptr)
        return {};
    const auto* f = static_cast<const toolhost_plugin_file_t*>(h->get_extension(h, TOOLHOST_EXT_PLUGIN_FILE_V1));
    if (f == nullptr || f->struct_size < offsetof(toolhost_plugin_file_t, path) + sizeof(f->path) ||
        f->path.data == nullptr)
        return {};
    return std::string(f->path.data, f->path.size);
}

}  // namespace toolhost::sdk

/// Defines the plugin's entry symbol for the given tool classes. Use once per library, at
/// namespace scope, in one source file.
#define TOOLHOST_PLUGIN(plugin_name, plugin_version, ...)                                      \
    TOOLHOST_EXTERN_C TOOLHOST_EXPORT const toolhost_plugin_entry_t toolhost_plugin_entry_v1 = \
        ::toolhost::sdk::detail::plugin<__VA_ARGS__>::entry(plugin_name, plugin_version);

#endif  // TOOLHOST_PLUGIN_HPP
