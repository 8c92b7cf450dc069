//! The plugin runtime behind [`crate::export_plugin!`]: descriptors built from tool tables,
//! instances, and the `extern "C"` functions the host calls. Not for direct use.
//!
//! Every function here that the host calls runs the plugin's code inside `catch_unwind`: a panic
//! never unwinds into the host. In `invoke()` it becomes INTERNAL with the panic's message; in
//! `initialize()` too (through the init context); in `create_tool()`, `cleanup()` and the drop in
//! `destroy()` it is logged through the host. This needs `panic = "unwind"` (Rust's default);
//! with `panic = "abort"` a panic ends the process, as it would in any Rust program.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use crate::abi::{self, ToolhostCall, ToolhostHost, ToolhostInitContext, ToolhostStatus, ToolhostTool};
use crate::context::{CallContext, InitContext};
use crate::ffi::{panic_message, to_abi};
use crate::host::{self, Host, LogLevel};
use crate::status::{Error, Status};
use crate::tool::{Tool, ToolTable};

/// One tool type of a plugin, as `export_plugin!` lists it.
#[doc(hidden)]
pub struct ToolEntry {
    /// Builds the tool's descriptor from its table.
    pub describe: fn() -> Result<Descriptor, String>,
    /// Creates an instance.
    pub create: unsafe fn(*const ToolhostHost, *mut *mut ToolhostTool) -> ToolhostStatus,
}

/// A tool descriptor and the storage its pointers point into. Built once, boxed, never moved.
#[doc(hidden)]
pub struct Descriptor {
    _strings: Vec<CString>,
    _ops: Vec<abi::ToolhostOperationDescriptor>,
    _op_ptrs: Vec<*const abi::ToolhostOperationDescriptor>,
    desc: abi::ToolhostToolDescriptor,
}

// SAFETY: a Descriptor's raw pointers point only into heap buffers it owns (the CStrings and
// the two Vecs), which are never changed after construction; moving it between threads moves
// the owner of those buffers along with the pointers.
unsafe impl Send for Descriptor {}

fn c_string(strings: &mut Vec<CString>, what: &str, s: &str) -> Result<*const c_char, String> {
    let c = CString::new(s).map_err(|_| format!("{} contains a NUL character", what))?;
    let p = c.as_ptr();
    strings.push(c); // the CString's heap buffer does not move with it
    Ok(p)
}

impl Descriptor {
    /// The descriptor of `table`, or why it cannot be one.
    pub fn of<T>(table: &ToolTable<T>) -> Result<Descriptor, String> {
        let mut strings = Vec::new();
        let mut ops = Vec::with_capacity(table.operations.len());
        let tool = format!("tool '{}'", table.name);
        let name = c_string(&mut strings, &format!("the name of {}", tool), &table.name)?;
        let version = c_string(&mut strings, &format!("the version of {}", tool), &table.version)?;
        let description = c_string(
            &mut strings,
            &format!("the description of {}", tool),
            &table.description,
        )?;
        let config_schema = match &table.config_schema {
            Some(s) => c_string(&mut strings, &format!("the config schema of {}", tool), s)?,
            None => ptr::null(),
        };
        for op in &table.operations {
            let what = |field: &str| format!("the {} of operation '{}' of {}", field, op.name, tool);
            let name = c_string(&mut strings, &what("name"), &op.name)?;
            let description = c_string(&mut strings, &what("description"), &op.description)?;
            let input_schema = c_string(&mut strings, &what("input schema"), &op.input_schema)?;
            let output_schema = match &op.output_schema {
                Some(s) => c_string(&mut strings, &what("output schema"), s)?,
                None => ptr::null(),
            };
            let role = match &op.role {
                Some(s) => c_string(&mut strings, &what("role"), s)?,
                None => ptr::null(),
            };
            ops.push(abi::ToolhostOperationDescriptor {
                struct_size: std::mem::size_of::<abi::ToolhostOperationDescriptor>() as u32,
                name,
                description,
                input_schema,
                output_schema,
                flags: op.flags,
                role,
            });
        }
        let op_ptrs: Vec<_> = ops
            .iter()
            .map(|d| d as *const abi::ToolhostOperationDescriptor)
            .collect();
        let operation_count = u32::try_from(op_ptrs.len()).map_err(|_| format!("{} has too many operations", tool))?;
        let desc = abi::ToolhostToolDescriptor {
            struct_size: std::mem::size_of::<abi::ToolhostToolDescriptor>() as u32,
            name,
            version,
            description,
            config_schema,
            flags: if table.thread_safe {
                abi::TOOLHOST_TOOL_THREAD_SAFE
            } else {
                0
            },
            operation_count,
            operations: op_ptrs.as_ptr(),
        };
        Ok(Descriptor {
            _strings: strings,
            _ops: ops,
            _op_ptrs: op_ptrs,
            desc,
        })
    }

    /// The ABI descriptor.
    pub fn raw(&self) -> &abi::ToolhostToolDescriptor {
        &self.desc
    }
}

/// `ToolEntry::describe` for a tool type.
#[doc(hidden)]
pub fn describe<T: Tool>() -> Result<Descriptor, String> {
    Descriptor::of(&T::table())
}

/// The descriptors built so far, by tool index; freed by `deinit()`.
static DESCRIPTORS: Mutex<Vec<Option<Box<Descriptor>>>> = Mutex::new(Vec::new());

fn descriptors() -> MutexGuard<'static, Vec<Option<Box<Descriptor>>>> {
    // A panic while the lock was held cannot leave the Vec half-changed: keep using it.
    DESCRIPTORS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn log_library(level: LogLevel, message: &str) {
    if let Some(h) = host::library_host() {
        h.log(level, message);
    }
}

/// `entry.init`: remembers the library host (for `plugin_file()`).
#[doc(hidden)]
pub unsafe extern "C" fn plugin_init(host: *const ToolhostHost) -> ToolhostStatus {
    host::set_library_host(host);
    abi::TOOLHOST_STATUS_OK
}

/// `entry.deinit`: forgets the library host and frees the descriptors (the host reads them at
/// load, and calls deinit() only after the last instance is gone).
#[doc(hidden)]
pub unsafe extern "C" fn plugin_deinit() {
    let _ = catch_unwind(|| {
        // take(), not clear(): the Vec's own buffer must go too, since a static is never dropped
        // and the library may be unloaded after this (LeakSanitizer saw the 32 bytes).
        drop(std::mem::take(&mut *descriptors()));
        host::set_library_host(ptr::null());
    });
}

/// `entry.tool_count`.
#[doc(hidden)]
pub fn tool_count(tools: &[ToolEntry]) -> u32 {
    tools.len() as u32
}

/// `entry.tool_descriptor`: builds the descriptor on first use, NULL when it cannot be built
/// (the reason is logged through the library host).
#[doc(hidden)]
pub fn tool_descriptor(tools: &[ToolEntry], index: u32) -> *const abi::ToolhostToolDescriptor {
    let entry = match tools.get(index as usize) {
        Some(e) => e,
        None => return ptr::null(),
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut all = descriptors();
        if all.len() < tools.len() {
            all.resize_with(tools.len(), || None);
        }
        let slot = &mut all[index as usize];
        if slot.is_none() {
            *slot = Some(Box::new((entry.describe)()?));
        }
        // The Box's contents never move and are freed only by deinit().
        Ok::<_, String>(
            slot.as_ref()
                .map_or(ptr::null(), |d| d.raw() as *const abi::ToolhostToolDescriptor),
        )
    }));
    match outcome {
        Ok(Ok(p)) => p,
        Ok(Err(why)) => {
            log_library(LogLevel::Error, &format!("tool #{}: no descriptor: {}", index, why));
            ptr::null()
        }
        Err(panic) => {
            log_library(
                LogLevel::Error,
                &format!("tool #{}: table() panicked: {}", index, panic_message(&*panic)),
            );
            ptr::null()
        }
    }
}

/// `entry.create_tool`.
///
/// # Safety
/// The host's arguments as entry.h defines them.
#[doc(hidden)]
pub unsafe fn create_tool(
    tools: &[ToolEntry],
    index: u32,
    host: *const ToolhostHost,
    out: *mut *mut ToolhostTool,
) -> ToolhostStatus {
    match tools.get(index as usize) {
        // SAFETY: forwarded from the caller.
        Some(entry) if !host.is_null() && !out.is_null() => unsafe { (entry.create)(host, out) },
        Some(_) => abi::TOOLHOST_STATUS_INVALID_ARGUMENT,
        None => abi::TOOLHOST_STATUS_NOT_FOUND,
    }
}

/// One instance: the ABI struct first, so the host's pointer and ours are the same object.
#[repr(C)]
struct Instance<T: Tool> {
    abi: ToolhostTool,
    host: Host,
    table: ToolTable<T>,
    tool: T,
}

/// `ToolEntry::create` for a tool type.
///
/// # Safety
/// `host` is a valid instance host that outlives the instance; `out` is writable.
#[doc(hidden)]
pub unsafe fn create<T: Tool>(host: *const ToolhostHost, out: *mut *mut ToolhostTool) -> ToolhostStatus {
    // SAFETY: the host lives until the instance's destroy() returns (entry.h).
    let services = unsafe { Host::from_raw(host) };
    let made = catch_unwind(AssertUnwindSafe(|| -> Result<Box<Instance<T>>, Error> {
        let table = T::table();
        let tool = T::create(services)?;
        Ok(Box::new(Instance {
            abi: ToolhostTool {
                struct_size: std::mem::size_of::<ToolhostTool>() as u32,
                tool_data: ptr::null_mut(),
                initialize: Some(initialize::<T>),
                invoke: Some(invoke::<T>),
                cleanup: Some(cleanup::<T>),
                destroy: Some(destroy::<T>),
            },
            host: services,
            table,
            tool,
        }))
    }));
    match made {
        Ok(Ok(instance)) => {
            let p = Box::into_raw(instance);
            // SAFETY: `p` comes from Box::into_raw: valid, and ours alone until handed out.
            unsafe {
                (*p).abi.tool_data = p as *mut c_void;
                *out = ptr::addr_of_mut!((*p).abi);
            }
            abi::TOOLHOST_STATUS_OK
        }
        Ok(Err(e)) => {
            services.log(LogLevel::Error, &format!("creating the tool failed: {}", e.message()));
            e.status().code()
        }
        Err(panic) => {
            services.log(
                LogLevel::Error,
                &format!("creating the tool panicked: {}", panic_message(&*panic)),
            );
            abi::TOOLHOST_STATUS_INTERNAL
        }
    }
}

/// The instance behind the host's tool pointer.
///
/// # Safety
/// `tool` is a pointer `create::<T>` handed out, not yet destroyed.
unsafe fn instance<T: Tool>(tool: *mut ToolhostTool) -> *mut Instance<T> {
    // SAFETY: tool_data is the instance itself (set in create::<T>).
    unsafe { (*tool).tool_data as *mut Instance<T> }
}

unsafe extern "C" fn initialize<T: Tool>(tool: *mut ToolhostTool, init: *const ToolhostInitContext) -> ToolhostStatus {
    if tool.is_null() || init.is_null() {
        return abi::TOOLHOST_STATUS_INTERNAL;
    }
    // SAFETY: `init` is the host's context, valid until this function returns.
    let init = unsafe { &*init };
    let set_error = |message: &str| {
        if let Some(f) = init.set_error {
            // SAFETY: a host function called with its own context; it copies the message.
            unsafe { f(init, to_abi(message)) }
        }
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: initialize() is a [lifecycle] function, never concurrent with any other
        // function of this instance, so this is the only reference to it; `tool` is live.
        let inst = unsafe { &mut *instance::<T>(tool) };
        // SAFETY: the host's context, used only during this call.
        let ctx = unsafe { InitContext::from_raw(init) };
        inst.tool.initialize(&ctx)
    }));
    match outcome {
        Ok(Ok(())) => abi::TOOLHOST_STATUS_OK,
        Ok(Err(e)) => {
            set_error(e.message());
            e.status().code()
        }
        Err(panic) => {
            set_error(&format!("initialize panicked: {}", panic_message(&*panic)));
            abi::TOOLHOST_STATUS_INTERNAL
        }
    }
}

unsafe extern "C" fn invoke<T: Tool>(tool: *mut ToolhostTool, call: *const ToolhostCall) -> ToolhostStatus {
    if tool.is_null() || call.is_null() {
        return abi::TOOLHOST_STATUS_INTERNAL;
    }
    // SAFETY: `call` is the host's call, valid until this function returns.
    let call = unsafe { &*call };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: invoke() may run concurrently on several threads, so only a shared reference
        // is made; the lifecycle functions that take `&mut` never overlap with it.
        let inst = unsafe { &*instance::<T>(tool) };
        // SAFETY: the host's call, used only during this call, with the instance's host.
        let ctx = unsafe { CallContext::from_raw(call, inst.host) };
        inst.table.dispatch(&inst.tool, &ctx).map(|v| v.to_json())
    }));
    let (status, text) = match outcome {
        Ok(Ok(json)) => (Status::Ok, json),
        Ok(Err(e)) => (e.status(), e.message().to_owned()),
        Err(panic) => (
            Status::Internal,
            format!("the operation panicked: {}", panic_message(&*panic)),
        ),
    };
    let report = if status == Status::Ok {
        call.set_result
    } else {
        call.set_error
    };
    if let Some(f) = report {
        // SAFETY: a host function called with its own call struct, once; it copies the text.
        unsafe { f(call, to_abi(&text)) }
    }
    status.code()
}

unsafe extern "C" fn cleanup<T: Tool>(tool: *mut ToolhostTool) {
    if tool.is_null() {
        return;
    }
    // SAFETY: cleanup() is [lifecycle]: no other function of this instance runs.
    let inst = unsafe { &mut *instance::<T>(tool) };
    let host = inst.host;
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| inst.tool.cleanup())) {
        host.log(
            LogLevel::Error,
            &format!("cleanup panicked: {}", panic_message(&*panic)),
        );
    }
}

unsafe extern "C" fn destroy<T: Tool>(tool: *mut ToolhostTool) {
    if tool.is_null() {
        return;
    }
    // SAFETY: destroy() is called exactly once, last; the Box was made by create::<T>.
    let boxed = unsafe { Box::from_raw(instance::<T>(tool)) };
    let host = boxed.host;
    if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(boxed))) {
        host.log(
            LogLevel::Error,
            &format!("dropping the tool panicked: {}", panic_message(&*panic)),
        );
    }
}

/// Exports `toolhost_plugin_entry_v1`, the one symbol of a plugin library, for the listed tool
/// types. Use it once per library (a `cdylib`):
///
/// ```ignore
/// toolhost_sdk::export_plugin!("my-plugin", "1.0.0", [MyTool, MyOtherTool]);
/// ```
///
/// The name and version are string literals or `env!(...)` (the library's, not its tools'); each type
/// implements [`crate::Tool`].
#[macro_export]
macro_rules! export_plugin {
    ($name:expr, $version:expr, [$($tool:ty),+ $(,)?]) => {
        const _: () = {
            const TOOLS: &[$crate::export::ToolEntry] = &[$(
                $crate::export::ToolEntry {
                    describe: $crate::export::describe::<$tool>,
                    create: $crate::export::create::<$tool>,
                }
            ),+];

            unsafe extern "C" fn tool_count() -> u32 {
                $crate::export::tool_count(TOOLS)
            }

            unsafe extern "C" fn tool_descriptor(index: u32) -> *const $crate::abi::ToolhostToolDescriptor {
                $crate::export::tool_descriptor(TOOLS, index)
            }

            unsafe extern "C" fn create_tool(
                index: u32,
                host: *const $crate::abi::ToolhostHost,
                out: *mut *mut $crate::abi::ToolhostTool,
            ) -> $crate::abi::ToolhostStatus {
                // SAFETY: the host's arguments, as entry.h defines them, passed on unchanged.
                unsafe { $crate::export::create_tool(TOOLS, index, host, out) }
            }

            #[no_mangle]
            #[allow(non_upper_case_globals)]
            pub static toolhost_plugin_entry_v1: $crate::abi::ToolhostPluginEntry = $crate::abi::ToolhostPluginEntry {
                struct_size: ::std::mem::size_of::<$crate::abi::ToolhostPluginEntry>() as u32,
                abi_version: $crate::abi::ToolhostAbiVersion {
                    major: $crate::abi::TOOLHOST_ABI_VERSION_MAJOR,
                    minor: $crate::abi::TOOLHOST_ABI_VERSION_MINOR,
                },
                plugin_name: concat!($name, "\0").as_ptr() as *const ::std::os::raw::c_char,
                plugin_version: concat!($version, "\0").as_ptr() as *const ::std::os::raw::c_char,
                init: Some($crate::export::plugin_init),
                deinit: Some($crate::export::plugin_deinit),
                tool_count: Some(tool_count),
                tool_descriptor: Some(tool_descriptor),
                create_tool: Some(create_tool),
            };
        };
    };
}
