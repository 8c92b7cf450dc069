// python.so: Python tool classes served as toolhost tools (docs/writing-a-plugin.md, "6. A
// Python plugin"). This file is the C ABI and the interpreter: where the tool files are, the one
// interpreter per process and its GIL, a call's scope (what `toolhost.log()` and friends reach),
// and a host thread waiting for a coroutine without holding the GIL. Everything said in Python
// (finding and describing the classes, running them, results and exceptions) is runtime.py,
// compiled in (runtime_source.hpp is generated from it).
//
// Interpreter lifetime: one interpreter per process, started by the first init() and never
// finalized. Py_Finalize() cannot be undone reliably (extension modules such as _asyncio and
// _ssl do not support a second initialization in one process), a replaced build of python.so is
// loaded next to the old one in the same process and must find the interpreter running, and
// threads a tool started may still run. deinit() stops this library's event loop and drops its
// objects instead; because the interpreter keeps pointers into this library (the _toolhost
// functions, capsule destructors), the library pins itself (RTLD_NODELETE) once Python runs.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <toolhost/toolhost.h>

#include "runtime_source.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------------------ Python helpers

// Holds the GIL for its scope, from any thread (a host worker Python has never seen included).
class gil {
public:
    gil() noexcept : state_(PyGILState_Ensure()) {}
    ~gil() { PyGILState_Release(state_); }
    gil(const gil&) = delete;
    gil& operator=(const gil&) = delete;

private:
    PyGILState_STATE state_;
};

// Lets other threads run Python for its scope; the GIL must be held when it is made.
class without_gil {
public:
    without_gil() noexcept : state_(PyEval_SaveThread()) {}
    ~without_gil() { PyEval_RestoreThread(state_); }
    without_gil(const without_gil&) = delete;
    without_gil& operator=(const without_gil&) = delete;

private:
    PyThreadState* state_;
};

// An owned reference; destroyed only with the GIL held.
struct decref {
    void operator()(PyObject* o) const noexcept { Py_XDECREF(o); }
};
using ref = std::unique_ptr<PyObject, decref>;

std::string utf8(PyObject* o) {
    if (o == nullptr) return {};
    ref bytes(PyUnicode_Check(o) ? PyUnicode_AsEncodedString(o, "utf-8", "backslashreplace") : nullptr);
    if (!bytes) {
        PyErr_Clear();
        ref s(PyObject_Str(o));
        if (!s) {
            PyErr_Clear();
            return "<unprintable>";
        }
        bytes.reset(PyUnicode_AsEncodedString(s.get(), "utf-8", "backslashreplace"));
        if (!bytes) {
            PyErr_Clear();
            return "<unprintable>";
        }
    }
    return std::string(PyBytes_AS_STRING(bytes.get()), static_cast<std::size_t>(PyBytes_GET_SIZE(bytes.get())));
}

ref from_utf8(std::string_view s) {
    return ref(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
}

// The pending Python exception as "Type: message", and its traceback in `details`; clears it.
std::string take_python_error(std::string* details = nullptr) {
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    if (type == nullptr) return "unknown Python error";
    PyErr_NormalizeException(&type, &value, &tb);
    ref t(type), v(value), b(tb);
    std::string out = utf8(ref(PyObject_GetAttrString(type, "__name__")).get());
    PyErr_Clear();
    if (v) out += ": " + utf8(v.get());
    if (details != nullptr) {
        ref mod(PyImport_ImportModule("traceback"));
        ref lines(mod ? PyObject_CallMethod(mod.get(), "format_exception", "OOO", type, v ? v.get() : Py_None,
                                            b ? b.get() : Py_None)
                      : nullptr);
        ref empty(PyUnicode_FromString(""));
        ref joined(lines && empty ? PyUnicode_Join(empty.get(), lines.get()) : nullptr);
        if (joined) *details = utf8(joined.get());
        PyErr_Clear();
    }
    return out;
}

std::string str_item(PyObject* dict, const char* key) {
    PyObject* v = PyDict_GetItemString(dict, key);  // borrowed
    return v == nullptr || v == Py_None ? std::string() : utf8(v);
}

// ------------------------------------------------------------------------- library-wide state

// The descriptors, built once in init() from what runtime.discover() found; the ABI structs
// point into the strings, so both live in one heap object per tool that never moves.
struct operation_storage {
    std::string name, description, input_schema, output_schema, role;
    bool has_output = false, has_role = false;
    toolhost_operation_descriptor_t abi{};
};
struct tool_storage {
    std::string name, version, description, config_schema;
    bool has_config = false;
    std::vector<std::unique_ptr<operation_storage>> operations;
    std::vector<const toolhost_operation_descriptor_t*> operation_ptrs;
    toolhost_tool_descriptor_t abi{};
};

// Written in init() and deinit() only ([lifecycle]); read by the rest, which run in between.
const toolhost_host_t* g_host = nullptr;                // the library-level host
const toolhost_scan_inputs_t* g_scan_inputs = nullptr;  // during init() only
PyObject* g_runtime = nullptr;                          // runtime.py, as module _toolhost_runtime
PyObject* g_native = nullptr;                           // the _toolhost module below
PyObject* g_scope_var = nullptr;                        // contextvars.ContextVar of the current scope
std::vector<std::unique_ptr<tool_storage>>* g_tools = nullptr;

// An instance's host, cleared (under the GIL) when the instance is destroyed: a task or thread
// the tool left behind then logs through the library's host, never through a freed one.
struct anchor {
    const toolhost_host_t* host = nullptr;
};

// What `toolhost.log()` and the other functions reach: the running call, else the instance's
// host, else the library's. One per call (or initialize/cleanup), in a capsule that the call's
// contextvars.Context holds; `call` is cleared when invoke() returns, under the GIL, so a task
// that outlives its call (one it spawned) can never touch the host's freed call struct.
struct scope {
    std::shared_ptr<anchor> owner;
    const toolhost_call_t* call = nullptr;
};
constexpr const char* scope_capsule_name = "toolhost.scope";

void destroy_scope(PyObject* capsule) { delete static_cast<scope*>(PyCapsule_GetPointer(capsule, scope_capsule_name)); }

// A host thread waiting for a job that runs on the event loop; signalled by _toolhost.signal.
struct waiter {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
};
constexpr const char* waiter_capsule_name = "toolhost.waiter";

void destroy_waiter(PyObject* capsule) {
    delete static_cast<std::shared_ptr<waiter>*>(PyCapsule_GetPointer(capsule, waiter_capsule_name));
}

// The scope of the calling context, or null (GIL held; the context keeps the capsule alive).
scope* current_scope() {
    if (g_scope_var == nullptr) return nullptr;
    PyObject* value = nullptr;
    if (PyContextVar_Get(g_scope_var, nullptr, &value) != 0 || value == nullptr) {
        PyErr_Clear();
        return nullptr;
    }
    ref held(value);
    if (!PyCapsule_IsValid(value, scope_capsule_name)) return nullptr;
    return static_cast<scope*>(PyCapsule_GetPointer(value, scope_capsule_name));
}

void log_to_host(const scope* s, int32_t level, std::string_view text) {
    const toolhost_str_t msg{text.data(), text.size()};
    if (s != nullptr && s->call != nullptr) {
        s->call->log(s->call, level, msg);
    } else if (s != nullptr && s->owner && s->owner->host != nullptr) {
        s->owner->host->log(s->owner->host, level, msg);
    } else if (g_host != nullptr) {
        g_host->log(g_host, level, msg);
    } else {
        std::fprintf(stderr, "python plugin: %.*s\n", static_cast<int>(text.size()), text.data());
    }
}

void library_log(int32_t level, std::string_view text) { log_to_host(nullptr, level, text); }

// --------------------------------------------------------------------- the _toolhost module

PyObject* native_log(PyObject*, PyObject* args) {
    int level = TOOLHOST_LOG_INFO;
    PyObject* text = nullptr;
    if (!PyArg_ParseTuple(args, "iU", &level, &text)) return nullptr;
    log_to_host(current_scope(), std::clamp(level, 0, 4), utf8(text));
    Py_RETURN_NONE;
}

PyObject* native_log_enabled(PyObject*, PyObject* args) {
    int level = TOOLHOST_LOG_INFO;
    if (!PyArg_ParseTuple(args, "i", &level)) return nullptr;
    const scope* s = current_scope();
    const toolhost_host_t* h = s != nullptr && s->owner && s->owner->host != nullptr ? s->owner->host : g_host;
    return PyBool_FromLong(h == nullptr || h->log_enabled(h, std::clamp(level, 0, 4)) ? 1 : 0);
}

PyObject* native_progress(PyObject*, PyObject* args) {
    double done = 0, total = 0;
    PyObject* text = nullptr;
    if (!PyArg_ParseTuple(args, "ddU", &done, &total, &text)) return nullptr;
    if (const scope* s = current_scope(); s != nullptr && s->call != nullptr) {
        const std::string m = utf8(text);
        s->call->report_progress(s->call, done, total, {m.data(), m.size()});
    }
    Py_RETURN_NONE;
}

PyObject* native_cancelled(PyObject*, PyObject*) {
    const scope* s = current_scope();
    return PyBool_FromLong(s != nullptr && s->call != nullptr && s->call->is_cancelled(s->call) ? 1 : 0);
}

PyObject* native_remaining_ns(PyObject*, PyObject*) {
    const scope* s = current_scope();
    if (s == nullptr || s->call == nullptr) Py_RETURN_NONE;
    const int64_t ns = s->call->remaining_ns(s->call);
    if (ns == INT64_MAX) Py_RETURN_NONE;
    return PyLong_FromLongLong(ns);
}

PyObject* native_signal(PyObject*, PyObject* capsule) {
    auto* w = static_cast<std::shared_ptr<waiter>*>(PyCapsule_GetPointer(capsule, waiter_capsule_name));
    if (w == nullptr) return nullptr;
    {
        std::lock_guard lock((*w)->mutex);
        (*w)->done = true;
    }
    (*w)->cv.notify_all();
    Py_RETURN_NONE;
}

PyObject* native_depends_on_path(PyObject*, PyObject* args) {
    PyObject* path = nullptr;
    if (!PyArg_ParseTuple(args, "U", &path)) return nullptr;
    if (g_scan_inputs != nullptr) {
        const std::string p = utf8(path);
        g_scan_inputs->depends_on_path(g_scan_inputs, {p.data(), p.size()});
    }
    Py_RETURN_NONE;
}

PyMethodDef native_methods[] = {
    {"log", native_log, METH_VARARGS, "log(level, text): on the current scope's channel"},
    {"log_enabled", native_log_enabled, METH_VARARGS, "log_enabled(level)"},
    {"progress", native_progress, METH_VARARGS, "progress(done, total, text) of the running call"},
    {"cancelled", native_cancelled, METH_NOARGS, "whether the running call was cancelled"},
    {"remaining_ns", native_remaining_ns, METH_NOARGS, "ns until the running call's deadline, or None"},
    {"signal", native_signal, METH_O, "wakes the host thread waiting on a job"},
    {"depends_on_path", native_depends_on_path, METH_VARARGS, "toolhost.scan_inputs/1, during init()"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef native_module_def = {
    PyModuleDef_HEAD_INIT,
    "_toolhost",
    "python.so's services for runtime.py",
    -1,
    native_methods,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

// ------------------------------------------------------------------------------- start-up

// Extension modules in lib-dynload (_asyncio, _json, _ssl, ...) are not linked against libpython:
// they expect its symbols in the global scope, as in the python executable. The host opens
// plugins RTLD_LOCAL, and libpython came in as this library's dependency, so it is promoted to
// RTLD_GLOBAL here. The handle is never closed, which also keeps libpython loaded: the
// interpreter is never finalized.
bool promote_libpython(std::string& why) {
    Dl_info info{};
    if (::dladdr(reinterpret_cast<const void*>(&Py_IsInitialized), &info) == 0 || info.dli_fname == nullptr) {
        why = "cannot find which file libpython was loaded from (dladdr failed)";
        return false;
    }
    if (::dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) == nullptr) {
        const char* e = ::dlerror();
        why = std::string("cannot make libpython's symbols global for Python's extension modules: ") +
              (e != nullptr ? e : info.dli_fname);
        return false;
    }
    return true;
}

// The interpreter holds pointers into this library from now on: it must never be unloaded.
void pin_self() {
    Dl_info info{};
    if (::dladdr(reinterpret_cast<const void*>(&toolhost_plugin_entry_v1), &info) != 0 && info.dli_fname != nullptr)
        if (void* self = ::dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE)) ::dlclose(self);
}

bool start_interpreter(std::string& why) {
    // UTF-8 mode, and the process's locale left as the host set it (Python would otherwise call
    // setlocale(LC_CTYPE, "") for everyone in the process).
    PyPreConfig pre;
    PyPreConfig_InitPythonConfig(&pre);
    pre.utf8_mode = 1;
    pre.configure_locale = 0;
    pre.use_environment = 0;
    PyStatus st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st)) {
        why = std::string("cannot pre-initialize Python: ") + (st.err_msg ? st.err_msg : "unknown error");
        return false;
    }
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;  // SIGINT and SIGTERM are the host's
    config.parse_argv = 0;
    config.use_environment = 0;  // PYTHONHOME/PYTHONPATH of the host's environment do not steer it
    config.write_bytecode = 0;   // no __pycache__ written into the operator's tool folders
    config.safe_path = 1;        // the current folder is not on sys.path
    // The interpreter python3-dev belongs to, so that sys.prefix and the standard library are
    // Debian's whatever `python3` the PATH finds first.
    st = PyConfig_SetBytesString(&config, &config.program_name, TOOLHOST_PYTHON_EXECUTABLE);
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        why = std::string("cannot start the Python interpreter (") + TOOLHOST_PYTHON_EXECUTABLE +
              "): " + (st.err_msg ? st.err_msg : "unknown error");
        return false;
    }
    PyEval_SaveThread();  // the loading thread lets go of the GIL; every thread takes it in turn
    return true;
}

// The folders the tool classes come from: $TOOLHOST_PYTHON_PATH (colon-separated), else
// `tools/` next to python.so. Read in init(), before any tool configuration exists, because
// the descriptors are read then (in the host's scanner process, docs/architecture.md).
std::vector<std::string> tool_folders() {
    std::vector<std::string> out;
    if (g_scan_inputs != nullptr) {
        static constexpr std::string_view var = "TOOLHOST_PYTHON_PATH";
        g_scan_inputs->depends_on_env(g_scan_inputs, {var.data(), var.size()});
    }
    const char* env = std::getenv("TOOLHOST_PYTHON_PATH");
    if (env != nullptr && *env != '\0') {
        std::string_view rest(env);
        while (!rest.empty()) {
            const auto colon = rest.find(':');
            const std::string_view item = rest.substr(0, colon);
            rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
            if (item.empty()) continue;
            std::error_code ec;
            fs::path p = fs::absolute(fs::path(item), ec);
            p = (ec ? fs::path(item) : p).lexically_normal();
            if (!p.has_filename()) p = p.parent_path();
            if (std::find(out.begin(), out.end(), p.string()) == out.end()) out.push_back(p.string());
        }
        return out;
    }
    // The file the host found (it runs a private copy, which dladdr() would name).
    std::string file;
    if (g_host != nullptr &&
        g_host->struct_size >= offsetof(toolhost_host_t, get_extension) + sizeof(g_host->get_extension)) {
        const auto* f =
            static_cast<const toolhost_plugin_file_t*>(g_host->get_extension(g_host, TOOLHOST_EXT_PLUGIN_FILE_V1));
        if (f != nullptr && f->path.data != nullptr) file.assign(f->path.data, f->path.size);
    }
    if (file.empty()) {
        Dl_info info{};
        if (::dladdr(reinterpret_cast<const void*>(&toolhost_plugin_entry_v1), &info) != 0 && info.dli_fname)
            file = info.dli_fname;
    }
    if (file.empty()) return out;
    std::error_code ec;
    const fs::path lib = fs::canonical(file, ec);
    out.push_back(((ec ? fs::absolute(file, ec) : lib).parent_path() / "tools").string());
    return out;
}

// Runs runtime.py as module _toolhost_runtime, with the _toolhost module; both kept globally.
bool load_runtime(std::string& why, std::string& details) {
    ref native(PyModule_Create(&native_module_def));
    if (!native) return why = "cannot create the _toolhost module: " + take_python_error(&details), false;
    ref var(PyContextVar_New("toolhost_scope", nullptr));
    if (!var || PyModule_AddObjectRef(native.get(), "scope", var.get()) != 0)
        return why = "cannot create the scope variable: " + take_python_error(&details), false;
    ref runtime(PyModule_New("_toolhost_runtime"));
    PyObject* dict = runtime ? PyModule_GetDict(runtime.get()) : nullptr;  // borrowed
    if (dict == nullptr || PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) != 0)
        return why = "cannot create the runtime module: " + take_python_error(&details), false;
    ref code(Py_CompileString(toolhost_python::runtime_source, "<python.so runtime.py>", Py_file_input));
    ref ran(code ? PyEval_EvalCode(code.get(), dict, dict) : nullptr);
    if (!ran) return why = "the plugin's runtime.py failed: " + take_python_error(&details), false;
    g_native = native.release();
    g_scope_var = var.release();
    g_runtime = runtime.release();
    ref installed(PyObject_CallMethod(g_runtime, "install", "O", g_native));
    if (!installed) return why = "cannot install the toolhost module: " + take_python_error(&details), false;
    return true;
}

// Builds the ABI descriptors from runtime.discover()'s dicts.
std::unique_ptr<tool_storage> make_tool(PyObject* d) {
    auto t = std::make_unique<tool_storage>();
    t->name = str_item(d, "name");
    t->version = str_item(d, "version");
    t->description = str_item(d, "description");
    PyObject* config = PyDict_GetItemString(d, "config_schema");
    t->has_config = config != nullptr && config != Py_None;
    if (t->has_config) t->config_schema = utf8(config);
    PyObject* ops = PyDict_GetItemString(d, "operations");
    for (Py_ssize_t i = 0; ops != nullptr && i < PyList_Size(ops); ++i) {
        PyObject* o = PyList_GetItem(ops, i);
        auto op = std::make_unique<operation_storage>();
        op->name = str_item(o, "name");
        op->description = str_item(o, "description");
        op->input_schema = str_item(o, "input_schema");
        PyObject* out = PyDict_GetItemString(o, "output_schema");
        op->has_output = out != nullptr && out != Py_None;
        if (op->has_output) op->output_schema = utf8(out);
        PyObject* role = PyDict_GetItemString(o, "role");
        op->has_role = role != nullptr && role != Py_None;
        if (op->has_role) op->role = utf8(role);
        PyObject* flags = PyDict_GetItemString(o, "flags");
        op->abi.struct_size = sizeof(op->abi);
        op->abi.name = op->name.c_str();
        op->abi.description = op->description.c_str();
        op->abi.input_schema = op->input_schema.c_str();
        op->abi.output_schema = op->has_output ? op->output_schema.c_str() : nullptr;
        op->abi.flags = flags != nullptr ? PyLong_AsUnsignedLongLongMask(flags) : 0;
        op->abi.role = op->has_role ? op->role.c_str() : nullptr;
        t->operations.push_back(std::move(op));
    }
    for (const auto& op : t->operations) t->operation_ptrs.push_back(&op->abi);
    PyObject* safe = PyDict_GetItemString(d, "thread_safe");
    t->abi.struct_size = sizeof(t->abi);
    t->abi.name = t->name.c_str();
    t->abi.version = t->version.c_str();
    t->abi.description = t->description.c_str();
    t->abi.config_schema = t->has_config ? t->config_schema.c_str() : nullptr;
    t->abi.flags = safe != nullptr && PyObject_IsTrue(safe) == 1 ? TOOLHOST_TOOL_THREAD_SAFE : 0;
    t->abi.operation_count = static_cast<uint32_t>(t->operation_ptrs.size());
    t->abi.operations = t->operation_ptrs.data();
    return t;
}

// ----------------------------------------------------------------------------------- jobs

// A job of runtime.py (initialize, a call, cleanup) and the host thread waiting for it.
struct job_outcome {
    toolhost_status_t code = TOOLHOST_STATUS_INTERNAL;
    std::string text;
    std::string details;  // a traceback for the tool's log, or empty
};

ref make_scope_capsule(const std::shared_ptr<anchor>& owner, const toolhost_call_t* call, scope*& out) {
    auto* s = new scope{owner, call};
    ref capsule(PyCapsule_New(s, scope_capsule_name, &destroy_scope));
    if (!capsule) delete s;
    out = capsule ? s : nullptr;
    return capsule;
}

// Starts `method` of `target` with `args` plus the job's scope and notifier, waits for the job
// (polling `call`'s cancellation and deadline, and cancelling the task when they say so), and
// returns its outcome. The GIL is held on entry and on return, never while waiting.
job_outcome run_job(PyObject* target, const char* method, const std::shared_ptr<anchor>& owner,
                    const toolhost_call_t* call, std::initializer_list<PyObject*> args) {
    job_outcome out;
    scope* s = nullptr;
    ref scope_capsule = make_scope_capsule(owner, call, s);
    auto w = std::make_shared<waiter>();
    auto* held = new std::shared_ptr<waiter>(w);
    ref waiter_capsule(PyCapsule_New(held, waiter_capsule_name, &destroy_waiter));
    if (!waiter_capsule) delete held;
    ref native_signal(waiter_capsule ? PyObject_GetAttrString(g_native, "signal") : nullptr);
    ref notify(native_signal
                   ? PyObject_CallMethod(g_runtime, "signal_after", "OO", native_signal.get(), waiter_capsule.get())
                   : nullptr);
    ref bound(PyObject_GetAttrString(target, method));
    ref call_args(PyTuple_New(static_cast<Py_ssize_t>(args.size() + 2)));
    ref job;
    if (scope_capsule && notify && bound && call_args) {
        Py_ssize_t i = 0;
        for (PyObject* a : args) PyTuple_SET_ITEM(call_args.get(), i++, Py_NewRef(a));
        PyTuple_SET_ITEM(call_args.get(), i++, Py_NewRef(scope_capsule.get()));
        PyTuple_SET_ITEM(call_args.get(), i++, Py_NewRef(notify.get()));
        job.reset(PyObject_CallObject(bound.get(), call_args.get()));
    }
    if (!job) {
        out.text = "the python plugin failed to start the job: " + take_python_error(&out.details);
        if (s != nullptr) s->call = nullptr;
        return out;
    }
    auto is_done = [&] {
        ref done(PyObject_GetAttrString(job.get(), "done"));
        PyErr_Clear();
        return done && PyObject_IsTrue(done.get()) == 1;
    };
    bool cancel_sent = false;
    while (!is_done()) {
        bool finished = false, cancel = false;
        {
            without_gil unlocked;
            std::unique_lock lock(w->mutex);
            if (call == nullptr) {
                w->cv.wait(lock, [&] { return w->done; });
                finished = true;
            } else {
                // is_cancelled() has no notification: it is polled, and the deadline is waited
                // for exactly, so that the task is cancelled at once when either says so.
                auto step = std::chrono::nanoseconds(std::chrono::milliseconds(10));
                if (!cancel_sent)
                    step = std::clamp(std::chrono::nanoseconds(call->remaining_ns(call)), std::chrono::nanoseconds(0),
                                      step);
                finished = w->cv.wait_for(lock, step, [&] { return w->done; });
                cancel = !finished && !cancel_sent && (call->is_cancelled(call) || call->remaining_ns(call) <= 0);
            }
        }
        if (finished) break;
        if (cancel) {
            ref r(PyObject_CallMethod(job.get(), "cancel", nullptr));
            if (!r) PyErr_Clear();
            cancel_sent = true;
        }
    }
    ref code(PyObject_GetAttrString(job.get(), "code"));
    ref text(PyObject_GetAttrString(job.get(), "text"));
    ref details(PyObject_GetAttrString(job.get(), "details"));
    if (!code || !text || !details) {
        out.text = "the python plugin cannot read a job's outcome: " + take_python_error(&out.details);
    } else {
        out.code = static_cast<toolhost_status_t>(PyLong_AsLong(code.get()));
        out.text = utf8(text.get());
        if (details.get() != Py_None) out.details = utf8(details.get());
    }
    PyErr_Clear();
    // The call struct is the host's and dies when invoke() returns: whatever the job left
    // behind (a task it spawned, a thread) logs through the instance from now on.
    if (s != nullptr) s->call = nullptr;
    return out;
}

// ----------------------------------------------------------------------------- the instances

struct instance {
    toolhost_tool_t abi{};
    uint32_t index = 0;
    std::string name;
    std::shared_ptr<anchor> owner = std::make_shared<anchor>();
    PyObject* py = nullptr;  // runtime.Instance
};

instance& self_of(toolhost_tool_t* t) { return *static_cast<instance*>(t->tool_data); }

toolhost_status_t TOOLHOST_ABI py_initialize(toolhost_tool_t* t, const toolhost_init_context_t* init) {
    instance& self = self_of(t);
    job_outcome out;
    {
        gil lock;
        ref config = from_utf8({init->config.data, init->config.size});
        ref data_dir = from_utf8({init->data_dir.data, init->data_dir.size});
        if (!config || !data_dir) {
            out.text = "cannot pass the configuration to Python: " + take_python_error();
        } else {
            out = run_job(self.py, "start_initialize", self.owner, nullptr, {config.get(), data_dir.get()});
        }
    }
    if (out.code == TOOLHOST_STATUS_OK) return TOOLHOST_STATUS_OK;
    if (!out.details.empty())
        self.owner->host->log(self.owner->host, TOOLHOST_LOG_ERROR, {out.details.data(), out.details.size()});
    init->set_error(init, {out.text.data(), out.text.size()});
    return out.code;
}

toolhost_status_t TOOLHOST_ABI py_invoke(toolhost_tool_t* t, const toolhost_call_t* call) {
    instance& self = self_of(t);
    job_outcome out;
    {
        gil lock;
        ref operation = from_utf8({call->operation.data, call->operation.size});
        ref arguments = from_utf8({call->arguments.data, call->arguments.size});
        if (!operation || !arguments) {
            out.text = "cannot pass the arguments to Python: " + take_python_error();
        } else {
            out = run_job(self.py, "start_call", self.owner, call, {operation.get(), arguments.get()});
        }
    }
    if (!out.details.empty()) call->log(call, TOOLHOST_LOG_ERROR, {out.details.data(), out.details.size()});
    if (out.code == TOOLHOST_STATUS_CANCELLED && call->remaining_ns(call) <= 0) {
        out.code = TOOLHOST_STATUS_DEADLINE_EXCEEDED;
        out.text = self.name + "." + std::string(call->operation.data, call->operation.size) +
                   " was cancelled at its deadline";
    }
    if (out.code == TOOLHOST_STATUS_OK)
        call->set_result(call, {out.text.data(), out.text.size()});
    else
        call->set_error(call, {out.text.data(), out.text.size()});
    return out.code;
}

void TOOLHOST_ABI py_cleanup(toolhost_tool_t* t) {
    instance& self = self_of(t);
    job_outcome out;
    {
        gil lock;
        out = run_job(self.py, "start_cleanup", self.owner, nullptr, {});
    }
    if (out.code == TOOLHOST_STATUS_OK) return;
    const std::string msg = out.text + (out.details.empty() ? "" : "\n" + out.details);
    self.owner->host->log(self.owner->host, TOOLHOST_LOG_ERROR, {msg.data(), msg.size()});
}

void TOOLHOST_ABI py_destroy(toolhost_tool_t* t) {
    instance* self = &self_of(t);
    {
        gil lock;
        self->owner->host = nullptr;
        Py_CLEAR(self->py);
    }
    delete self;
}

// ------------------------------------------------------------------------------- the entry

uint32_t TOOLHOST_ABI py_tool_count() { return g_tools != nullptr ? static_cast<uint32_t>(g_tools->size()) : 0; }

const toolhost_tool_descriptor_t* TOOLHOST_ABI py_tool_descriptor(uint32_t index) {
    return g_tools != nullptr && index < g_tools->size() ? &(*g_tools)[index]->abi : nullptr;
}

toolhost_status_t TOOLHOST_ABI py_create_tool(uint32_t index, const toolhost_host_t* host, toolhost_tool_t** out) {
    if (g_tools == nullptr || index >= g_tools->size()) return TOOLHOST_STATUS_NOT_FOUND;
    try {
        auto inst = std::make_unique<instance>();
        inst->index = index;
        inst->name = (*g_tools)[index]->name;
        inst->owner->host = host;
        {
            gil lock;
            inst->py = PyObject_CallMethod(g_runtime, "new_instance", "I", index);
            if (inst->py == nullptr) {
                const std::string why = "cannot create an instance: " + take_python_error();
                host->log(host, TOOLHOST_LOG_ERROR, {why.data(), why.size()});
                return TOOLHOST_STATUS_INTERNAL;
            }
        }
        inst->abi.struct_size = sizeof(inst->abi);
        inst->abi.tool_data = inst.get();
        inst->abi.initialize = &py_initialize;
        inst->abi.invoke = &py_invoke;
        inst->abi.cleanup = &py_cleanup;
        inst->abi.destroy = &py_destroy;
        *out = &inst.release()->abi;
        return TOOLHOST_STATUS_OK;
    } catch (const std::bad_alloc&) {
        return TOOLHOST_STATUS_RESOURCE_EXHAUSTED;
    }
}

toolhost_status_t TOOLHOST_ABI py_init(const toolhost_host_t* host) {
    g_host = host;
    g_scan_inputs = nullptr;
    if (host->struct_size >= offsetof(toolhost_host_t, get_extension) + sizeof(host->get_extension))
        g_scan_inputs =
            static_cast<const toolhost_scan_inputs_t*>(host->get_extension(host, TOOLHOST_EXT_SCAN_INPUTS_V1));
    std::string why, details;
    auto fail = [&](toolhost_status_t code) {
        library_log(TOOLHOST_LOG_ERROR, why + (details.empty() ? "" : "\n" + details));
        g_scan_inputs = nullptr;
        return code;
    };
    if (!promote_libpython(why)) return fail(TOOLHOST_STATUS_FAILED_PRECONDITION);
    pin_self();
    if (!Py_IsInitialized() && !start_interpreter(why)) return fail(TOOLHOST_STATUS_FAILED_PRECONDITION);
    try {
        const std::vector<std::string> folders = tool_folders();
        gil lock;
        if (!load_runtime(why, details)) return fail(TOOLHOST_STATUS_INTERNAL);
        ref list(PyList_New(0));
        for (const auto& f : folders) {
            ref item = from_utf8(f);
            if (!item || PyList_Append(list.get(), item.get()) != 0) break;
        }
        ref found(list ? PyObject_CallMethod(g_runtime, "discover", "O", list.get()) : nullptr);
        if (!found || !PyTuple_Check(found.get()) || PyTuple_Size(found.get()) != 2) {
            why = "cannot read the Python tool folders: " + take_python_error(&details);
            return fail(TOOLHOST_STATUS_INTERNAL);
        }
        // A file or class that cannot be served is logged, naming it, and the others still are.
        PyObject* problems = PyTuple_GetItem(found.get(), 1);
        for (Py_ssize_t i = 0; i < PyList_Size(problems); ++i) {
            PyObject* p = PyList_GetItem(problems, i);
            std::string msg = utf8(PyTuple_GetItem(p, 0));
            if (PyObject* d = PyTuple_GetItem(p, 1); d != nullptr && d != Py_None) msg += "\n" + utf8(d);
            library_log(TOOLHOST_LOG_ERROR, msg);
        }
        auto tools = std::make_unique<std::vector<std::unique_ptr<tool_storage>>>();
        PyObject* descriptors = PyTuple_GetItem(found.get(), 0);
        for (Py_ssize_t i = 0; i < PyList_Size(descriptors); ++i)
            tools->push_back(make_tool(PyList_GetItem(descriptors, i)));
        if (tools->empty()) {
            std::string where;
            for (const auto& f : folders) where += (where.empty() ? "" : ", ") + f;
            library_log(TOOLHOST_LOG_WARNING, "no Python tool classes found in " +
                                                  (where.empty() ? "no folder" : where) +
                                                  " (set TOOLHOST_PYTHON_PATH to the folders of your *.py tool files)");
        }
        g_tools = tools.release();
    } catch (const std::exception& e) {
        why = std::string("the python plugin failed to start: ") + e.what();
        return fail(TOOLHOST_STATUS_INTERNAL);
    }
    g_scan_inputs = nullptr;  // only during init()
    return TOOLHOST_STATUS_OK;
}

void TOOLHOST_ABI py_deinit() {
    if (Py_IsInitialized()) {
        gil lock;
        if (g_runtime != nullptr) {
            ref r(PyObject_CallMethod(g_runtime, "shutdown", nullptr));
            if (!r) library_log(TOOLHOST_LOG_WARNING, "stopping the event loop failed: " + take_python_error());
        }
        Py_CLEAR(g_runtime);
        Py_CLEAR(g_native);
        // g_scope_var stays: capsules of this library may still name it from contexts Python keeps.
    }
    delete g_tools;
    g_tools = nullptr;
    g_host = nullptr;
}

}  // namespace

TOOLHOST_EXTERN_C TOOLHOST_EXPORT const toolhost_plugin_entry_t toolhost_plugin_entry_v1 = {
    sizeof(toolhost_plugin_entry_t),
    {TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR},
    "python",
    "1.0.0",
    &py_init,
    &py_deinit,
    &py_tool_count,
    &py_tool_descriptor,
    &py_create_tool};
