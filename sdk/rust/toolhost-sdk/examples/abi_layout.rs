//! Prints the layout of every `#[repr(C)]` mirror in `toolhost_sdk::abi` and the value of every
//! constant, in the format of `sdk/rust/layout/abi_layout.c`, which prints the same lines as a C
//! compiler sees the headers. The `rust_abi_layout` test (sdk/rust/CMakeLists.txt) compares the
//! two outputs line by line.

use std::mem::{align_of, size_of};

use toolhost_sdk::abi::*;
use toolhost_sdk::abi_offset_of;

/// Prints a struct's size and alignment, then each field's offset and size.
macro_rules! layout {
    ($ty:ty, $cname:literal, [$($field:ident),+ $(,)?]) => {{
        println!("struct {} size {} align {}", $cname, size_of::<$ty>(), align_of::<$ty>());
        $(
            let slot = ::std::mem::MaybeUninit::<$ty>::uninit();
            // SAFETY: `addr_of!` takes the field's address without reading it.
            let field = unsafe { ::std::ptr::addr_of!((*slot.as_ptr()).$field) };
            println!(
                "field {}.{} offset {} size {}",
                $cname,
                stringify!($field),
                abi_offset_of!($ty, $field),
                size_of_pointee(field)
            );
        )+
    }};
}

fn size_of_pointee<T>(_: *const T) -> usize {
    size_of::<T>()
}

macro_rules! constants {
    ($($name:ident),+ $(,)?) => {
        $(println!("const {} {}", stringify!($name), $name as i64);)+
    };
}

/// Prints an extension id (stored NUL-terminated) without its NUL.
fn string(name: &str, value: &[u8]) {
    let text = std::str::from_utf8(value.strip_suffix(b"\0").unwrap_or(value)).expect("ids are ASCII");
    println!("string {} {}", name, text);
}

fn main() {
    layout!(ToolhostStr, "toolhost_str_t", [data, size]);
    layout!(ToolhostAbiVersion, "toolhost_abi_version_t", [major, minor]);
    layout!(
        ToolhostHost,
        "toolhost_host_t",
        [
            struct_size,
            abi_version,
            host_data,
            host_version,
            log,
            log_enabled,
            get_extension
        ]
    );
    layout!(
        ToolhostInitContext,
        "toolhost_init_context_t",
        [struct_size, host_data, config, data_dir, set_error]
    );
    layout!(
        ToolhostCall,
        "toolhost_call_t",
        [
            struct_size,
            host_data,
            operation,
            arguments,
            request_id,
            session_id,
            traceparent,
            attempt,
            is_cancelled,
            remaining_ns,
            log,
            report_progress,
            set_result,
            set_error,
            set_retry_after_ms
        ]
    );
    layout!(
        ToolhostOperationDescriptor,
        "toolhost_operation_descriptor_t",
        [struct_size, name, description, input_schema, output_schema, flags, role]
    );
    layout!(
        ToolhostToolDescriptor,
        "toolhost_tool_descriptor_t",
        [
            struct_size,
            name,
            version,
            description,
            config_schema,
            flags,
            operation_count,
            operations
        ]
    );
    layout!(
        ToolhostTool,
        "toolhost_tool_t",
        [struct_size, tool_data, initialize, invoke, cleanup, destroy]
    );
    layout!(
        ToolhostPluginEntry,
        "toolhost_plugin_entry_t",
        [
            struct_size,
            abi_version,
            plugin_name,
            plugin_version,
            init,
            deinit,
            tool_count,
            tool_descriptor,
            create_tool
        ]
    );
    layout!(
        ToolhostToolCaller,
        "toolhost_tool_caller_t",
        [struct_size, host_data, call]
    );
    layout!(ToolhostClient, "toolhost_client_t", [struct_size, host_data, request]);
    layout!(ToolhostPluginFile, "toolhost_plugin_file_t", [struct_size, path]);
    layout!(
        ToolhostResourceEvents,
        "toolhost_resource_events_t",
        [struct_size, host_data, updated, list_changed]
    );

    println!("type toolhost_status_t size {}", size_of::<ToolhostStatus>());
    println!(
        "type toolhost_call_result_fn size {}",
        size_of::<ToolhostCallResultFn>()
    );

    constants!(
        TOOLHOST_ABI_VERSION_MAJOR,
        TOOLHOST_ABI_VERSION_MINOR,
        TOOLHOST_STATUS_OK,
        TOOLHOST_STATUS_CANCELLED,
        TOOLHOST_STATUS_UNKNOWN,
        TOOLHOST_STATUS_INVALID_ARGUMENT,
        TOOLHOST_STATUS_DEADLINE_EXCEEDED,
        TOOLHOST_STATUS_NOT_FOUND,
        TOOLHOST_STATUS_ALREADY_EXISTS,
        TOOLHOST_STATUS_PERMISSION_DENIED,
        TOOLHOST_STATUS_RESOURCE_EXHAUSTED,
        TOOLHOST_STATUS_FAILED_PRECONDITION,
        TOOLHOST_STATUS_ABORTED,
        TOOLHOST_STATUS_OUT_OF_RANGE,
        TOOLHOST_STATUS_UNIMPLEMENTED,
        TOOLHOST_STATUS_INTERNAL,
        TOOLHOST_STATUS_UNAVAILABLE,
        TOOLHOST_STATUS_DATA_LOSS,
        TOOLHOST_STATUS_UNAUTHENTICATED,
        TOOLHOST_LOG_TRACE,
        TOOLHOST_LOG_DEBUG,
        TOOLHOST_LOG_INFO,
        TOOLHOST_LOG_WARNING,
        TOOLHOST_LOG_ERROR,
        TOOLHOST_OPERATION_IDEMPOTENT,
        TOOLHOST_OPERATION_READ_ONLY,
        TOOLHOST_OPERATION_DESTRUCTIVE,
        TOOLHOST_OPERATION_CANCELLABLE,
        TOOLHOST_OPERATION_OPEN_WORLD,
        TOOLHOST_OPERATION_CONTENT_RESULT,
        TOOLHOST_OPERATION_NONBLOCKING,
        TOOLHOST_TOOL_THREAD_SAFE,
        TOOLHOST_RESOURCE_URI_MAX,
    );
    println!("string TOOLHOST_ENTRY_SYMBOL {}", TOOLHOST_ENTRY_SYMBOL);
    string("TOOLHOST_EXT_TOOL_CALLER_V1", TOOLHOST_EXT_TOOL_CALLER_V1);
    string("TOOLHOST_EXT_CLIENT_V1", TOOLHOST_EXT_CLIENT_V1);
    string("TOOLHOST_EXT_PLUGIN_FILE_V1", TOOLHOST_EXT_PLUGIN_FILE_V1);
    string("TOOLHOST_EXT_RESOURCE_EVENTS_V1", TOOLHOST_EXT_RESOURCE_EVENTS_V1);
}
