/* Prints the layout of every struct of the toolhost C ABI and the value of every constant, as a
 * C compiler sees them. sdk/rust/CMakeLists.txt compares it line by line with what the Rust
 * mirrors say (sdk/rust/toolhost-sdk/examples/abi_layout.rs prints the same lines). */
#include <stddef.h>
#include <stdio.h>
#include <toolhost/toolhost.h>

#define STRUCT(type, cname) printf("struct %s size %zu align %zu\n", cname, sizeof(type), _Alignof(type))
#define FIELD(type, cname, field) \
    printf("field %s.%s offset %zu size %zu\n", cname, #field, offsetof(type, field), sizeof(((type *)0)->field))
#define CONST(name) printf("const %s %lld\n", #name, (long long)(name))
#define STRING(name) printf("string %s %s\n", #name, name)

int main(void) {
    STRUCT(toolhost_str_t, "toolhost_str_t");
    FIELD(toolhost_str_t, "toolhost_str_t", data);
    FIELD(toolhost_str_t, "toolhost_str_t", size);

    STRUCT(toolhost_abi_version_t, "toolhost_abi_version_t");
    FIELD(toolhost_abi_version_t, "toolhost_abi_version_t", major);
    FIELD(toolhost_abi_version_t, "toolhost_abi_version_t", minor);

    STRUCT(toolhost_host_t, "toolhost_host_t");
    FIELD(toolhost_host_t, "toolhost_host_t", struct_size);
    FIELD(toolhost_host_t, "toolhost_host_t", abi_version);
    FIELD(toolhost_host_t, "toolhost_host_t", host_data);
    FIELD(toolhost_host_t, "toolhost_host_t", host_version);
    FIELD(toolhost_host_t, "toolhost_host_t", log);
    FIELD(toolhost_host_t, "toolhost_host_t", log_enabled);
    FIELD(toolhost_host_t, "toolhost_host_t", get_extension);

    STRUCT(toolhost_init_context_t, "toolhost_init_context_t");
    FIELD(toolhost_init_context_t, "toolhost_init_context_t", struct_size);
    FIELD(toolhost_init_context_t, "toolhost_init_context_t", host_data);
    FIELD(toolhost_init_context_t, "toolhost_init_context_t", config);
    FIELD(toolhost_init_context_t, "toolhost_init_context_t", data_dir);
    FIELD(toolhost_init_context_t, "toolhost_init_context_t", set_error);

    STRUCT(toolhost_call_t, "toolhost_call_t");
    FIELD(toolhost_call_t, "toolhost_call_t", struct_size);
    FIELD(toolhost_call_t, "toolhost_call_t", host_data);
    FIELD(toolhost_call_t, "toolhost_call_t", operation);
    FIELD(toolhost_call_t, "toolhost_call_t", arguments);
    FIELD(toolhost_call_t, "toolhost_call_t", request_id);
    FIELD(toolhost_call_t, "toolhost_call_t", session_id);
    FIELD(toolhost_call_t, "toolhost_call_t", traceparent);
    FIELD(toolhost_call_t, "toolhost_call_t", attempt);
    FIELD(toolhost_call_t, "toolhost_call_t", is_cancelled);
    FIELD(toolhost_call_t, "toolhost_call_t", remaining_ns);
    FIELD(toolhost_call_t, "toolhost_call_t", log);
    FIELD(toolhost_call_t, "toolhost_call_t", report_progress);
    FIELD(toolhost_call_t, "toolhost_call_t", set_result);
    FIELD(toolhost_call_t, "toolhost_call_t", set_error);
    FIELD(toolhost_call_t, "toolhost_call_t", set_retry_after_ms);

    STRUCT(toolhost_operation_descriptor_t, "toolhost_operation_descriptor_t");
    FIELD(toolhost_operation_descriptor_t, "toolhost_operation_descriptor_t", struct_size);
    FIELD(toolhost_operation_descriptor_t, "toolhost_operation_descriptor_t", name);
    FIELD(toolhost_operation_descriptor_t, "toolhost_operation_descriptor_t", description);
    FIELD(toolhost_operation_descriptor_t, "toolhost_operation_descriptor_t", input_schema);
    FIELD(toolhost_operation_descriptor_t, "toolhost_operation_descriptor_t", output_schema);
    FIELD(toolhost_operation_descriptor_t, "toolhost_operation_descriptor_t", flags);
    FIELD(toolhost_operation_descriptor_t, "toolhost_operation_descriptor_t", role);

    STRUCT(toolhost_tool_descriptor_t, "toolhost_tool_descriptor_t");
    FIELD(toolhost_tool_descriptor_t, "toolhost_tool_descriptor_t", struct_size);
    FIELD(toolhost_tool_descriptor_t, "toolhost_tool_descriptor_t", name);
    FIELD(toolhost_tool_descriptor_t, "toolhost_tool_descriptor_t", version);
    FIELD(toolhost_tool_descriptor_t, "toolhost_tool_descriptor_t", description);
    FIELD(toolhost_tool_descriptor_t, "toolhost_tool_descriptor_t", config_schema);
    FIELD(toolhost_tool_descriptor_t, "toolhost_tool_descriptor_t", flags);
    FIELD(toolhost_tool_descriptor_t, "toolhost_tool_descriptor_t", operation_count);
    FIELD(toolhost_tool_descriptor_t, "toolhost_tool_descriptor_t", operations);

    STRUCT(toolhost_tool_t, "toolhost_tool_t");
    FIELD(toolhost_tool_t, "toolhost_tool_t", struct_size);
    FIELD(toolhost_tool_t, "toolhost_tool_t", tool_data);
    FIELD(toolhost_tool_t, "toolhost_tool_t", initialize);
    FIELD(toolhost_tool_t, "toolhost_tool_t", invoke);
    FIELD(toolhost_tool_t, "toolhost_tool_t", cleanup);
    FIELD(toolhost_tool_t, "toolhost_tool_t", destroy);

    STRUCT(toolhost_plugin_entry_t, "toolhost_plugin_entry_t");
    FIELD(toolhost_plugin_entry_t, "toolhost_plugin_entry_t", struct_size);
    FIELD(toolhost_plugin_entry_t, "toolhost_plugin_entry_t", abi_version);
    FIELD(toolhost_plugin_entry_t, "toolhost_plugin_entry_t", plugin_name);
    FIELD(toolhost_plugin_entry_t, "toolhost_plugin_entry_t", plugin_version);
    FIELD(toolhost_plugin_entry_t, "toolhost_plugin_entry_t", init);
    FIELD(toolhost_plugin_entry_t, "toolhost_plugin_entry_t", deinit);
    FIELD(toolhost_plugin_entry_t, "toolhost_plugin_entry_t", tool_count);
    FIELD(toolhost_plugin_entry_t, "toolhost_plugin_entry_t", tool_descriptor);
    FIELD(toolhost_plugin_entry_t, "toolhost_plugin_entry_t", create_tool);

    STRUCT(toolhost_tool_caller_t, "toolhost_tool_caller_t");
    FIELD(toolhost_tool_caller_t, "toolhost_tool_caller_t", struct_size);
    FIELD(toolhost_tool_caller_t, "toolhost_tool_caller_t", host_data);
    FIELD(toolhost_tool_caller_t, "toolhost_tool_caller_t", call);

    STRUCT(toolhost_client_t, "toolhost_client_t");
    FIELD(toolhost_client_t, "toolhost_client_t", struct_size);
    FIELD(toolhost_client_t, "toolhost_client_t", host_data);
    FIELD(toolhost_client_t, "toolhost_client_t", request);

    STRUCT(toolhost_plugin_file_t, "toolhost_plugin_file_t");
    FIELD(toolhost_plugin_file_t, "toolhost_plugin_file_t", struct_size);
    FIELD(toolhost_plugin_file_t, "toolhost_plugin_file_t", path);

    STRUCT(toolhost_resource_events_t, "toolhost_resource_events_t");
    FIELD(toolhost_resource_events_t, "toolhost_resource_events_t", struct_size);
    FIELD(toolhost_resource_events_t, "toolhost_resource_events_t", host_data);
    FIELD(toolhost_resource_events_t, "toolhost_resource_events_t", updated);
    FIELD(toolhost_resource_events_t, "toolhost_resource_events_t", list_changed);

    printf("type toolhost_status_t size %zu\n", sizeof(toolhost_status_t));
    printf("type toolhost_call_result_fn size %zu\n", sizeof(toolhost_call_result_fn));

    CONST(TOOLHOST_ABI_VERSION_MAJOR);
    CONST(TOOLHOST_ABI_VERSION_MINOR);
    CONST(TOOLHOST_STATUS_OK);
    CONST(TOOLHOST_STATUS_CANCELLED);
    CONST(TOOLHOST_STATUS_UNKNOWN);
    CONST(TOOLHOST_STATUS_INVALID_ARGUMENT);
    CONST(TOOLHOST_STATUS_DEADLINE_EXCEEDED);
    CONST(TOOLHOST_STATUS_NOT_FOUND);
    CONST(TOOLHOST_STATUS_ALREADY_EXISTS);
    CONST(TOOLHOST_STATUS_PERMISSION_DENIED);
    CONST(TOOLHOST_STATUS_RESOURCE_EXHAUSTED);
    CONST(TOOLHOST_STATUS_FAILED_PRECONDITION);
    CONST(TOOLHOST_STATUS_ABORTED);
    CONST(TOOLHOST_STATUS_OUT_OF_RANGE);
    CONST(TOOLHOST_STATUS_UNIMPLEMENTED);
    CONST(TOOLHOST_STATUS_INTERNAL);
    CONST(TOOLHOST_STATUS_UNAVAILABLE);
    CONST(TOOLHOST_STATUS_DATA_LOSS);
    CONST(TOOLHOST_STATUS_UNAUTHENTICATED);
    CONST(TOOLHOST_LOG_TRACE);
    CONST(TOOLHOST_LOG_DEBUG);
    CONST(TOOLHOST_LOG_INFO);
    CONST(TOOLHOST_LOG_WARNING);
    CONST(TOOLHOST_LOG_ERROR);
    CONST(TOOLHOST_OPERATION_IDEMPOTENT);
    CONST(TOOLHOST_OPERATION_READ_ONLY);
    CONST(TOOLHOST_OPERATION_DESTRUCTIVE);
    CONST(TOOLHOST_OPERATION_CANCELLABLE);
    CONST(TOOLHOST_OPERATION_OPEN_WORLD);
    CONST(TOOLHOST_OPERATION_CONTENT_RESULT);
    CONST(TOOLHOST_OPERATION_NONBLOCKING);
    CONST(TOOLHOST_TOOL_THREAD_SAFE);
    CONST(TOOLHOST_RESOURCE_URI_MAX);
    STRING(TOOLHOST_ENTRY_SYMBOL);
    STRING(TOOLHOST_EXT_TOOL_CALLER_V1);
    STRING(TOOLHOST_EXT_CLIENT_V1);
    STRING(TOOLHOST_EXT_PLUGIN_FILE_V1);
    STRING(TOOLHOST_EXT_RESOURCE_EVENTS_V1);
    return ferror(stdout) ? 1 : 0;
}
