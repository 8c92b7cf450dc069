//! `#[repr(C)]` mirrors of the C ABI in `sdk/include/toolhost/*.h`, field for field.
//!
//! These are the raw types: everything here is what the C headers say, including ownership and
//! threading rules (read the comments there). Plugin code normally uses the safe wrappers of
//! this crate instead. Function pointers are `Option<unsafe extern "C" fn ...>`, which Rust
//! guarantees to have the layout of a nullable C function pointer. The layout test
//! (`sdk/rust/CMakeLists.txt`, `examples/abi_layout.rs`) proves every size and offset against a
//! C compiler.

// Each field is documented where it is defined: in the C header the struct mirrors.
#![allow(missing_docs)]

use std::os::raw::{c_char, c_void};

// ------------------------------------------------------------------------------ version.h

/// `TOOLHOST_ABI_VERSION_MAJOR`: the ABI major this crate implements.
pub const TOOLHOST_ABI_VERSION_MAJOR: u32 = 1;
/// `TOOLHOST_ABI_VERSION_MINOR`: the ABI minor this crate implements.
pub const TOOLHOST_ABI_VERSION_MINOR: u32 = 1;

// ------------------------------------------------------------------------------- status.h

/// `toolhost_status_t`: a status code, always 32 bits wide.
pub type ToolhostStatus = i32;

/// `TOOLHOST_STATUS_OK`.
pub const TOOLHOST_STATUS_OK: ToolhostStatus = 0;
/// `TOOLHOST_STATUS_CANCELLED`.
pub const TOOLHOST_STATUS_CANCELLED: ToolhostStatus = 1;
/// `TOOLHOST_STATUS_UNKNOWN`.
pub const TOOLHOST_STATUS_UNKNOWN: ToolhostStatus = 2;
/// `TOOLHOST_STATUS_INVALID_ARGUMENT`.
pub const TOOLHOST_STATUS_INVALID_ARGUMENT: ToolhostStatus = 3;
/// `TOOLHOST_STATUS_DEADLINE_EXCEEDED`.
pub const TOOLHOST_STATUS_DEADLINE_EXCEEDED: ToolhostStatus = 4;
/// `TOOLHOST_STATUS_NOT_FOUND`.
pub const TOOLHOST_STATUS_NOT_FOUND: ToolhostStatus = 5;
/// `TOOLHOST_STATUS_ALREADY_EXISTS`.
pub const TOOLHOST_STATUS_ALREADY_EXISTS: ToolhostStatus = 6;
/// `TOOLHOST_STATUS_PERMISSION_DENIED`.
pub const TOOLHOST_STATUS_PERMISSION_DENIED: ToolhostStatus = 7;
/// `TOOLHOST_STATUS_RESOURCE_EXHAUSTED`.
pub const TOOLHOST_STATUS_RESOURCE_EXHAUSTED: ToolhostStatus = 8;
/// `TOOLHOST_STATUS_FAILED_PRECONDITION`.
pub const TOOLHOST_STATUS_FAILED_PRECONDITION: ToolhostStatus = 9;
/// `TOOLHOST_STATUS_ABORTED`.
pub const TOOLHOST_STATUS_ABORTED: ToolhostStatus = 10;
/// `TOOLHOST_STATUS_OUT_OF_RANGE`.
pub const TOOLHOST_STATUS_OUT_OF_RANGE: ToolhostStatus = 11;
/// `TOOLHOST_STATUS_UNIMPLEMENTED`.
pub const TOOLHOST_STATUS_UNIMPLEMENTED: ToolhostStatus = 12;
/// `TOOLHOST_STATUS_INTERNAL`.
pub const TOOLHOST_STATUS_INTERNAL: ToolhostStatus = 13;
/// `TOOLHOST_STATUS_UNAVAILABLE`.
pub const TOOLHOST_STATUS_UNAVAILABLE: ToolhostStatus = 14;
/// `TOOLHOST_STATUS_DATA_LOSS`.
pub const TOOLHOST_STATUS_DATA_LOSS: ToolhostStatus = 15;
/// `TOOLHOST_STATUS_UNAUTHENTICATED`.
pub const TOOLHOST_STATUS_UNAUTHENTICATED: ToolhostStatus = 16;

// -------------------------------------------------------------------------------- types.h

/// `toolhost_str_t`: a borrowed UTF-8 byte range, not NUL-terminated. `data` may be NULL when
/// `size` is 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ToolhostStr {
    pub data: *const c_char,
    pub size: usize,
}

/// `toolhost_abi_version_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolhostAbiVersion {
    pub major: u32,
    pub minor: u32,
}

/// `TOOLHOST_LOG_TRACE` (enum toolhost_log_level).
pub const TOOLHOST_LOG_TRACE: i32 = 0;
/// `TOOLHOST_LOG_DEBUG`.
pub const TOOLHOST_LOG_DEBUG: i32 = 1;
/// `TOOLHOST_LOG_INFO`.
pub const TOOLHOST_LOG_INFO: i32 = 2;
/// `TOOLHOST_LOG_WARNING`.
pub const TOOLHOST_LOG_WARNING: i32 = 3;
/// `TOOLHOST_LOG_ERROR`.
pub const TOOLHOST_LOG_ERROR: i32 = 4;

// --------------------------------------------------------------------------------- host.h

/// `toolhost_host_t`: host services for the library (given to `init`) or for one instance
/// (given to `create_tool`). Host-owned.
#[repr(C)]
pub struct ToolhostHost {
    pub struct_size: u32,
    pub abi_version: ToolhostAbiVersion,
    pub host_data: *mut c_void,
    pub host_version: *const c_char,
    pub log: Option<unsafe extern "C" fn(host: *const ToolhostHost, level: i32, message: ToolhostStr)>,
    pub log_enabled: Option<unsafe extern "C" fn(host: *const ToolhostHost, level: i32) -> bool>,
    pub get_extension: Option<unsafe extern "C" fn(host: *const ToolhostHost, id: *const c_char) -> *const c_void>,
}

/// `toolhost_init_context_t`: the context of one `initialize()`. Host-owned, valid until it
/// returns.
#[repr(C)]
pub struct ToolhostInitContext {
    pub struct_size: u32,
    pub host_data: *mut c_void,
    pub config: ToolhostStr,
    pub data_dir: ToolhostStr,
    pub set_error: Option<unsafe extern "C" fn(init: *const ToolhostInitContext, message: ToolhostStr)>,
}

/// `toolhost_call_t`: the context of one `invoke()`. Host-owned, valid until it returns.
#[repr(C)]
pub struct ToolhostCall {
    pub struct_size: u32,
    pub host_data: *mut c_void,
    pub operation: ToolhostStr,
    pub arguments: ToolhostStr,
    pub request_id: ToolhostStr,
    pub session_id: ToolhostStr,
    pub traceparent: ToolhostStr,
    pub attempt: u32,
    pub is_cancelled: Option<unsafe extern "C" fn(call: *const ToolhostCall) -> bool>,
    pub remaining_ns: Option<unsafe extern "C" fn(call: *const ToolhostCall) -> i64>,
    pub log: Option<unsafe extern "C" fn(call: *const ToolhostCall, level: i32, message: ToolhostStr)>,
    pub report_progress:
        Option<unsafe extern "C" fn(call: *const ToolhostCall, progress: f64, total: f64, message: ToolhostStr)>,
    pub set_result: Option<unsafe extern "C" fn(call: *const ToolhostCall, json: ToolhostStr)>,
    pub set_error: Option<unsafe extern "C" fn(call: *const ToolhostCall, message: ToolhostStr)>,
    pub set_retry_after_ms: Option<unsafe extern "C" fn(call: *const ToolhostCall, ms: u64)>,
}

// --------------------------------------------------------------------------------- tool.h

/// `TOOLHOST_OPERATION_IDEMPOTENT`.
pub const TOOLHOST_OPERATION_IDEMPOTENT: u64 = 1 << 0;
/// `TOOLHOST_OPERATION_READ_ONLY`.
pub const TOOLHOST_OPERATION_READ_ONLY: u64 = 1 << 1;
/// `TOOLHOST_OPERATION_DESTRUCTIVE`.
pub const TOOLHOST_OPERATION_DESTRUCTIVE: u64 = 1 << 2;
/// `TOOLHOST_OPERATION_CANCELLABLE`.
pub const TOOLHOST_OPERATION_CANCELLABLE: u64 = 1 << 3;
/// `TOOLHOST_OPERATION_OPEN_WORLD`.
pub const TOOLHOST_OPERATION_OPEN_WORLD: u64 = 1 << 4;
/// `TOOLHOST_OPERATION_CONTENT_RESULT`.
pub const TOOLHOST_OPERATION_CONTENT_RESULT: u64 = 1 << 5;
/// `TOOLHOST_OPERATION_NONBLOCKING`.
pub const TOOLHOST_OPERATION_NONBLOCKING: u64 = 1 << 6;
/// `TOOLHOST_TOOL_THREAD_SAFE`.
pub const TOOLHOST_TOOL_THREAD_SAFE: u64 = 1 << 0;

/// `toolhost_operation_descriptor_t` (ABI 1.1, with `role`). Plugin-owned, immutable.
#[repr(C)]
pub struct ToolhostOperationDescriptor {
    pub struct_size: u32,
    pub name: *const c_char,
    pub description: *const c_char,
    pub input_schema: *const c_char,
    pub output_schema: *const c_char,
    pub flags: u64,
    pub role: *const c_char,
}

/// `toolhost_tool_descriptor_t`. Plugin-owned, immutable.
#[repr(C)]
pub struct ToolhostToolDescriptor {
    pub struct_size: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    pub description: *const c_char,
    pub config_schema: *const c_char,
    pub flags: u64,
    pub operation_count: u32,
    pub operations: *const *const ToolhostOperationDescriptor,
}

/// `toolhost_tool_t`: one tool instance. Plugin-owned, valid until `destroy` returns.
#[repr(C)]
pub struct ToolhostTool {
    pub struct_size: u32,
    pub tool_data: *mut c_void,
    pub initialize:
        Option<unsafe extern "C" fn(tool: *mut ToolhostTool, init: *const ToolhostInitContext) -> ToolhostStatus>,
    pub invoke: Option<unsafe extern "C" fn(tool: *mut ToolhostTool, call: *const ToolhostCall) -> ToolhostStatus>,
    pub cleanup: Option<unsafe extern "C" fn(tool: *mut ToolhostTool)>,
    pub destroy: Option<unsafe extern "C" fn(tool: *mut ToolhostTool)>,
}

// -------------------------------------------------------------------------------- entry.h

/// `TOOLHOST_ENTRY_SYMBOL`: the one symbol a plugin exports.
pub const TOOLHOST_ENTRY_SYMBOL: &str = "toolhost_plugin_entry_v1";

/// `toolhost_plugin_entry_t`: the exported entry struct. Plugin-owned, a const global.
#[repr(C)]
pub struct ToolhostPluginEntry {
    pub struct_size: u32,
    pub abi_version: ToolhostAbiVersion,
    pub plugin_name: *const c_char,
    pub plugin_version: *const c_char,
    pub init: Option<unsafe extern "C" fn(host: *const ToolhostHost) -> ToolhostStatus>,
    pub deinit: Option<unsafe extern "C" fn()>,
    pub tool_count: Option<unsafe extern "C" fn() -> u32>,
    pub tool_descriptor: Option<unsafe extern "C" fn(index: u32) -> *const ToolhostToolDescriptor>,
    pub create_tool: Option<
        unsafe extern "C" fn(index: u32, host: *const ToolhostHost, out_tool: *mut *mut ToolhostTool) -> ToolhostStatus,
    >,
}

// SAFETY: the entry is an immutable global whose pointers point at string literals (static,
// immutable, NUL-terminated) and whose functions are thread-safe by the ABI contract; sharing it
// between threads cannot cause a data race.
unsafe impl Sync for ToolhostPluginEntry {}

// -------------------------------------------------------------------------- tool_caller.h

/// `TOOLHOST_EXT_TOOL_CALLER_V1`, NUL-terminated for `get_extension`.
pub const TOOLHOST_EXT_TOOL_CALLER_V1: &[u8] = b"toolhost.tool_caller/1\0";

/// `toolhost_call_result_fn`: receives the outcome of a nested call (or a client request).
pub type ToolhostCallResultFn =
    Option<unsafe extern "C" fn(user: *mut c_void, status: ToolhostStatus, text: ToolhostStr)>;

/// `toolhost_tool_caller_t`: the "toolhost.tool_caller/1" extension. Host-owned.
#[repr(C)]
pub struct ToolhostToolCaller {
    pub struct_size: u32,
    pub host_data: *mut c_void,
    pub call: Option<
        unsafe extern "C" fn(
            caller: *const ToolhostToolCaller,
            parent: *const ToolhostCall,
            tool: ToolhostStr,
            operation: ToolhostStr,
            arguments: ToolhostStr,
            on_result: ToolhostCallResultFn,
            user: *mut c_void,
        ) -> ToolhostStatus,
    >,
}

// ------------------------------------------------------------------------------- client.h

/// `TOOLHOST_EXT_CLIENT_V1`, NUL-terminated for `get_extension`.
pub const TOOLHOST_EXT_CLIENT_V1: &[u8] = b"toolhost.client/1\0";

/// `toolhost_client_t`: the "toolhost.client/1" extension. Host-owned.
#[repr(C)]
pub struct ToolhostClient {
    pub struct_size: u32,
    pub host_data: *mut c_void,
    pub request: Option<
        unsafe extern "C" fn(
            client: *const ToolhostClient,
            parent: *const ToolhostCall,
            method: ToolhostStr,
            params: ToolhostStr,
            on_result: ToolhostCallResultFn,
            user: *mut c_void,
        ) -> ToolhostStatus,
    >,
}

// -------------------------------------------------------------------------- plugin_file.h

/// `TOOLHOST_EXT_PLUGIN_FILE_V1`, NUL-terminated for `get_extension`.
pub const TOOLHOST_EXT_PLUGIN_FILE_V1: &[u8] = b"toolhost.plugin_file/1\0";

/// `toolhost_plugin_file_t`: the "toolhost.plugin_file/1" extension. Host-owned.
#[repr(C)]
pub struct ToolhostPluginFile {
    pub struct_size: u32,
    pub path: ToolhostStr,
}

// ---------------------------------------------------------------------- resource_events.h

/// `TOOLHOST_EXT_RESOURCE_EVENTS_V1`, NUL-terminated for `get_extension`.
pub const TOOLHOST_EXT_RESOURCE_EVENTS_V1: &[u8] = b"toolhost.resource_events/1\0";
/// `TOOLHOST_RESOURCE_URI_MAX`: the longest URI `updated()` takes, in bytes.
pub const TOOLHOST_RESOURCE_URI_MAX: usize = 8192;

/// `toolhost_resource_events_t`: the "toolhost.resource_events/1" extension. Host-owned.
#[repr(C)]
pub struct ToolhostResourceEvents {
    pub struct_size: u32,
    pub host_data: *mut c_void,
    pub updated: Option<unsafe extern "C" fn(events: *const ToolhostResourceEvents, uri: ToolhostStr)>,
    pub list_changed: Option<unsafe extern "C" fn(events: *const ToolhostResourceEvents)>,
}
