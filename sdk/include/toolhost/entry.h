/* toolhost plugin ABI — the plugin entry point and tool factory.
 *
 * A plugin library exports exactly one symbol, `toolhost_plugin_entry_v1` (the name carries the
 * ABI major), a const toolhost_plugin_entry_t. The host finds it with one dlsym and looks nothing
 * else up by name. One library may provide several tools.
 *
 * Order of calls on one loaded library:
 *
 *   init() -> { tool_count(), tool_descriptor(i), create_tool(i) ... } -> deinit()
 *
 * The host keeps the library loaded while any instance it created, or any call into it, is
 * alive, and calls deinit() after the last instance has been destroyed. It may never unload the
 * library at all: many real libraries are not safe to unload.
 */
#ifndef TOOLHOST_ENTRY_H
#define TOOLHOST_ENTRY_H

#include "toolhost/tool.h"

TOOLHOST_EXTERN_C_BEGIN

/* ===================================================================================== types */

/* The name of the exported entry symbol for this ABI major. */
#define TOOLHOST_ENTRY_SYMBOL "toolhost_plugin_entry_v1"

/* OWNERSHIP: plugin-owned, immutable (a const global), lives until the library is unloaded. */
typedef struct toolhost_plugin_entry {
    /* sizeof(toolhost_plugin_entry_t) as the plugin compiled it. The host reads a field only if
     * struct_size covers it.
     * Rationale: this is how a host of ABI 1.N reads a plugin built for 1.M, M <= N: fields are
     * only ever appended, never reordered or removed, within one major. */
    uint32_t struct_size;

    /* The ABI version the plugin was built against: set it to
     * { TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR }. */
    toolhost_abi_version_t abi_version;

    /* Name and version of the library (not of its tools), for messages. NUL-terminated. */
    const char *plugin_name;
    const char *plugin_version;

    /* ======================================================================= host -> plugin */

    /* Called once after the library is loaded, before any other function. Returns OK, or
     * another status to refuse loading (say why through host->log first). May be NULL.
     * `host` lives until deinit() returns.
     * [lifecycle: once, on the loading thread] */
    toolhost_status_t(TOOLHOST_ABI *init)(const toolhost_host_t *host);

    /* Called once before the host lets go of the library, after every instance was destroyed.
     * Only if init() returned OK or was NULL. May be NULL. [lifecycle] */
    void(TOOLHOST_ABI *deinit)(void);

    /* Returns the number of tools the library provides (at least 1).
     * [thread-safe; after init()] */
    uint32_t(TOOLHOST_ABI *tool_count)(void);

    /* Returns the descriptor of the tool at `index`, or NULL if index >= tool_count().
     * OWNERSHIP: plugin-owned; lives until the library is unloaded. The host reads it once at
     * load and validates it (names, schemas as JSON, operations).
     * [thread-safe; after init()] */
    const toolhost_tool_descriptor_t *(TOOLHOST_ABI *tool_descriptor)(uint32_t index);

    /* Creates an instance of the tool at `index` and stores it in *out_tool. Returns OK, or
     * another status (out_tool untouched). `host` is the instance's host services: it lives
     * until the instance's destroy() returns.
     * OWNERSHIP: the plugin allocates the instance; the host frees it with its destroy().
     * [thread-safe; after init()] */
    toolhost_status_t(TOOLHOST_ABI *create_tool)(uint32_t index, const toolhost_host_t *host,
                                                 toolhost_tool_t **out_tool);
} toolhost_plugin_entry_t;

/* Declares the entry symbol. A plugin defines it exactly once:
 *
 *   TOOLHOST_EXTERN_C TOOLHOST_EXPORT const toolhost_plugin_entry_t toolhost_plugin_entry_v1 = {
 *       sizeof(toolhost_plugin_entry_t), {TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR},
 *       "my-plugin", "1.0.0", NULL, NULL, my_tool_count, my_tool_descriptor, my_create_tool};
 */
TOOLHOST_EXPORT extern const toolhost_plugin_entry_t toolhost_plugin_entry_v1;

TOOLHOST_EXTERN_C_END

#endif /* TOOLHOST_ENTRY_H */
