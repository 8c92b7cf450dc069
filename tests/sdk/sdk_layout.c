/* Compiled as strict C11: reports the ABI structs' layout as a C compiler sees it, so the C++
 * test can check that C and C++ agree on every size and offset. */
#include <stddef.h>
#include <toolhost/toolhost.h>

#define ENTRY(type, field) \
    { #type "." #field, offsetof(type, field) }

typedef struct toolhost_layout_item {
    const char *name;
    size_t value;
} toolhost_layout_item;

static const toolhost_layout_item items[] = {
    {"sizeof toolhost_str_t", sizeof(toolhost_str_t)},
    {"sizeof toolhost_host_t", sizeof(toolhost_host_t)},
    {"sizeof toolhost_init_context_t", sizeof(toolhost_init_context_t)},
    {"sizeof toolhost_call_t", sizeof(toolhost_call_t)},
    {"sizeof toolhost_operation_descriptor_t", sizeof(toolhost_operation_descriptor_t)},
    {"sizeof toolhost_tool_descriptor_t", sizeof(toolhost_tool_descriptor_t)},
    {"sizeof toolhost_tool_t", sizeof(toolhost_tool_t)},
    {"sizeof toolhost_plugin_entry_t", sizeof(toolhost_plugin_entry_t)},
    ENTRY(toolhost_host_t, get_extension),
    ENTRY(toolhost_init_context_t, set_error),
    ENTRY(toolhost_call_t, attempt),
    ENTRY(toolhost_call_t, set_retry_after_ms),
    ENTRY(toolhost_operation_descriptor_t, flags),
    ENTRY(toolhost_tool_descriptor_t, operations),
    ENTRY(toolhost_tool_t, destroy),
    ENTRY(toolhost_plugin_entry_t, abi_version),
    ENTRY(toolhost_plugin_entry_t, create_tool),
};

size_t toolhost_c_layout(const toolhost_layout_item **out);
size_t toolhost_c_layout(const toolhost_layout_item **out) {
    *out = items;
    return sizeof(items) / sizeof(items[0]);
}
