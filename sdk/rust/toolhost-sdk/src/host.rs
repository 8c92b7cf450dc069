//! The host services of a library or a tool instance: logging and the host's extensions
//! (nested tool calls, requests to the client, resource events, the plugin's file).

use std::os::raw::c_void;
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::abi::{self, ToolhostHost, ToolhostStr};
use crate::abi_field_end;
use crate::context::CallContext;
use crate::ffi::{bytes_of, to_abi};
use crate::status::{Error, Status};

/// Log levels of the host's logging service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum LogLevel {
    /// Fine-grained tracing.
    Trace = abi::TOOLHOST_LOG_TRACE,
    /// Debugging detail.
    Debug = abi::TOOLHOST_LOG_DEBUG,
    /// Normal events.
    Info = abi::TOOLHOST_LOG_INFO,
    /// Something unusual that the tool handled.
    Warning = abi::TOOLHOST_LOG_WARNING,
    /// A failure.
    Error = abi::TOOLHOST_LOG_ERROR,
}

/// The host services of one tool instance (given to [`crate::Tool::create`]), or of the
/// library. Cheap to copy.
///
/// Valid as long as the instance lives: keep it in your tool, and stop any thread that uses it
/// in [`crate::Tool::cleanup`] (the ABI's lifetime rule; the type system cannot see it).
#[derive(Clone, Copy, Debug)]
pub struct Host {
    raw: *const ToolhostHost,
}

// SAFETY: every function of toolhost_host_t and of its extensions is [thread-safe] by the ABI,
// and the struct is immutable and lives as long as the instance, so the pointer may be used from
// any thread during that time.
unsafe impl Send for Host {}
// SAFETY: as for Send; nothing in Host is mutated through a shared reference.
unsafe impl Sync for Host {}

/// Collects what a `toolhost_call_result_fn` reports.
struct Outcome {
    status: Status,
    text: String,
    reported: bool,
}

/// The `on_result` callback of nested calls and client requests: copies status and text.
unsafe extern "C" fn receive(user: *mut c_void, status: abi::ToolhostStatus, text: ToolhostStr) {
    // A panic must not unwind into the host: catch it (the outcome then stays "not reported").
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `user` is the `&mut Outcome` that `Host::finish_request` passed with this
        // function, alive and not otherwise borrowed while the host's call runs; `text` is valid
        // during this callback (the ABI's promise).
        let (outcome, bytes) = unsafe { (&mut *(user as *mut Outcome), bytes_of(text)) };
        outcome.status = Status::from_code(status);
        outcome.text = String::from_utf8_lossy(bytes).into_owned();
        outcome.reported = true;
    }));
}

impl Host {
    /// Wraps a host struct.
    ///
    /// # Safety
    /// `raw` must point at a `toolhost_host_t` that stays valid (and unchanged) for as long as
    /// this `Host` or any copy of it is used.
    pub unsafe fn from_raw(raw: *const ToolhostHost) -> Host {
        Host { raw }
    }

    /// The raw host struct.
    pub fn as_raw(&self) -> *const ToolhostHost {
        self.raw
    }

    fn get(&self) -> &ToolhostHost {
        // SAFETY: `from_raw`'s contract: the struct is valid while this Host is used.
        unsafe { &*self.raw }
    }

    fn covers(&self, end: usize) -> bool {
        self.get().struct_size as usize >= end
    }

    /// The host's name and version, e.g. "toolhost 0.1.0" (empty if it gives none).
    pub fn host_version(&self) -> String {
        let h = self.get();
        if !self.covers(abi_field_end!(ToolhostHost, host_version)) || h.host_version.is_null() {
            return String::new();
        }
        // SAFETY: the ABI makes host_version a NUL-terminated string that lives as long as
        // the host struct.
        unsafe { std::ffi::CStr::from_ptr(h.host_version) }
            .to_string_lossy()
            .into_owned()
    }

    /// The ABI version the host implements, as (major, minor).
    pub fn abi_version(&self) -> (u32, u32) {
        let v = self.get().abi_version;
        (v.major, v.minor)
    }

    /// Writes `message` to the host's log channel "plugin.<tool>" (or "plugin.<file>" for the
    /// library host).
    pub fn log(&self, level: LogLevel, message: &str) {
        let h = self.get();
        if let Some(log) = h.log {
            // SAFETY: a host function called with its own struct and a string that outlives
            // the call (the host copies it).
            unsafe { log(self.raw, level as i32, to_abi(message)) }
        }
    }

    /// True when a message at `level` would be recorded: skip building expensive ones.
    pub fn log_enabled(&self, level: LogLevel) -> bool {
        match self.get().log_enabled {
            // SAFETY: a host function called with its own struct.
            Some(f) => unsafe { f(self.raw, level as i32) },
            None => false,
        }
    }

    /// Looks up the extension `id` (NUL-terminated) and checks that its struct covers `end`.
    fn extension<T>(&self, id: &[u8], end: impl Fn() -> usize) -> Option<&T> {
        debug_assert_eq!(id.last(), Some(&0));
        let h = self.get();
        if !self.covers(abi_field_end!(ToolhostHost, get_extension)) {
            return None;
        }
        let get = h.get_extension?;
        // SAFETY: a host function called with its own struct and a NUL-terminated id.
        let p = unsafe { get(self.raw, id.as_ptr() as *const std::os::raw::c_char) } as *const T;
        if p.is_null() {
            return None;
        }
        // SAFETY: the host returns the extension struct named by `id` (whose layout T
        // mirrors), which lives as long as the host struct. Every extension struct starts with
        // `uint32_t struct_size`, read before anything else.
        let size = unsafe { *(p as *const u32) } as usize;
        if size < end() {
            return None;
        }
        // SAFETY: as above; struct_size says every field up to `end` is present.
        Some(unsafe { &*p })
    }

    fn tool_caller(&self) -> Option<&abi::ToolhostToolCaller> {
        self.extension(abi::TOOLHOST_EXT_TOOL_CALLER_V1, || {
            abi_field_end!(abi::ToolhostToolCaller, call)
        })
        .filter(|c: &&abi::ToolhostToolCaller| c.call.is_some())
    }

    fn client(&self) -> Option<&abi::ToolhostClient> {
        self.extension(abi::TOOLHOST_EXT_CLIENT_V1, || {
            abi_field_end!(abi::ToolhostClient, request)
        })
        .filter(|c: &&abi::ToolhostClient| c.request.is_some())
    }

    fn resource_events(&self) -> Option<&abi::ToolhostResourceEvents> {
        self.extension(abi::TOOLHOST_EXT_RESOURCE_EVENTS_V1, || {
            abi_field_end!(abi::ToolhostResourceEvents, list_changed)
        })
    }

    /// True when the host offers "toolhost.tool_caller/1", so [`Host::call_tool`] can work.
    pub fn can_call_tools(&self) -> bool {
        self.tool_caller().is_some()
    }

    /// Calls `operation` of `tool` with `arguments` (a JSON object as text) through the host's
    /// whole pipeline and waits for it. `parent` is the running call: the nested call inherits
    /// its ids, trace context, deadline and cancellation. Returns the result JSON text, or the
    /// nested call's failure as an [`Error`] (UNIMPLEMENTED when the host cannot call tools).
    pub fn call_tool(
        &self,
        parent: &CallContext<'_>,
        tool: &str,
        operation: &str,
        arguments: &str,
    ) -> Result<String, Error> {
        let caller = self.tool_caller().ok_or_else(|| {
            Error::new(
                Status::Unimplemented,
                "this host cannot call other tools (no toolhost.tool_caller/1)",
            )
        })?;
        let call = caller.call.expect("checked by tool_caller()");
        let mut outcome = Outcome::new();
        // SAFETY: a host function called with its own struct, the running call, strings that
        // outlive the (blocking) call, and `receive` with an Outcome that outlives it too.
        unsafe {
            call(
                caller,
                parent.as_raw(),
                to_abi(tool),
                to_abi(operation),
                to_abi(arguments),
                Some(receive),
                &mut outcome as *mut Outcome as *mut c_void,
            );
        }
        outcome.into_result()
    }

    /// True when the host offers "toolhost.client/1" (each call still needs a client that can
    /// answer).
    pub fn can_ask_client(&self) -> bool {
        self.client().is_some()
    }

    /// Sends the request `method` ("sampling/createMessage", "elicitation/create",
    /// "roots/list") with `params` (a JSON object as text, "" for none) to the client of the
    /// running call `parent`, and waits for the answer: the client's result object as JSON
    /// text, or the failure (FAILED_PRECONDITION when the call has no client that can answer,
    /// UNIMPLEMENTED when the host cannot ask clients at all).
    pub fn ask_client(&self, parent: &CallContext<'_>, method: &str, params: &str) -> Result<String, Error> {
        let client = self.client().ok_or_else(|| {
            Error::new(
                Status::Unimplemented,
                "this host cannot ask clients (no toolhost.client/1)",
            )
        })?;
        let request = client.request.expect("checked by client()");
        let mut outcome = Outcome::new();
        // SAFETY: as in call_tool.
        unsafe {
            request(
                client,
                parent.as_raw(),
                to_abi(method),
                to_abi(params),
                Some(receive),
                &mut outcome as *mut Outcome as *mut c_void,
            );
        }
        outcome.into_result()
    }

    /// True when the host offers "toolhost.resource_events/1" (instance hosts only).
    pub fn can_announce_resources(&self) -> bool {
        self.resource_events().is_some()
    }

    /// Tells the host that the resource `uri` (one this tool's resource_read operation serves)
    /// changed or is gone. Any thread, never blocks; does nothing on a host without the
    /// extension.
    pub fn resource_updated(&self, uri: &str) {
        if let Some(e) = self.resource_events() {
            if let Some(updated) = e.updated {
                // SAFETY: a host function called with its own struct and a string it copies.
                unsafe { updated(e, to_abi(uri)) }
            }
        }
    }

    /// Tells the host that the list of this tool's resources changed.
    pub fn resource_list_changed(&self) {
        if let Some(e) = self.resource_events() {
            if let Some(list_changed) = e.list_changed {
                // SAFETY: a host function called with its own struct.
                unsafe { list_changed(e) }
            }
        }
    }

    /// The path of the plugin file as the host found it ("toolhost.plugin_file/1"), or `None`.
    fn plugin_file_path(&self) -> Option<PathBuf> {
        let f: &abi::ToolhostPluginFile = self.extension(abi::TOOLHOST_EXT_PLUGIN_FILE_V1, || {
            abi_field_end!(abi::ToolhostPluginFile, path)
        })?;
        if f.path.data.is_null() {
            return None;
        }
        // SAFETY: the path lives as long as the host struct it came from.
        let bytes = unsafe { bytes_of(f.path) };
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
}

impl Outcome {
    fn new() -> Outcome {
        Outcome {
            status: Status::Internal,
            text: String::new(),
            reported: false,
        }
    }

    fn into_result(self) -> Result<String, Error> {
        if !self.reported {
            return Err(Error::internal("the host did not report the outcome"));
        }
        match self.status {
            Status::Ok => Ok(self.text),
            status => Err(Error::new(status, self.text)),
        }
    }
}

/// The library-level host given to `init()`, for [`plugin_file`].
static LIBRARY_HOST: AtomicPtr<ToolhostHost> = AtomicPtr::new(ptr::null_mut());

pub(crate) fn set_library_host(host: *const ToolhostHost) {
    LIBRARY_HOST.store(host as *mut ToolhostHost, Ordering::Release);
}

/// The library-level host, between `init()` and `deinit()`.
pub fn library_host() -> Option<Host> {
    let p = LIBRARY_HOST.load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: the pointer was given to init() and lives until deinit() returns, which clears
    // it first.
    Some(unsafe { Host::from_raw(p) })
}

/// The path of this plugin's file in its plugin folder, as the host found it (the
/// "toolhost.plugin_file/1" extension); `None` when the host does not say. Use it, not
/// `dladdr()`, to find files installed next to the plugin: the host runs a private copy.
pub fn plugin_file() -> Option<PathBuf> {
    library_host()?.plugin_file_path()
}
