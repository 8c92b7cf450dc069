/* toolhost plugin ABI — tool descriptors and tool instances.
 *
 * A tool is a named unit of work with one or more operations ("search", "store", ...). Its
 * descriptor says what it offers; an instance does the work. Lifecycle of an instance:
 *
 *   create_tool() -> initialize() -> invoke()* -> cleanup() -> destroy()
 *
 * destroy() is called even when initialize() failed or was never called (cleanup() is not).
 */
#ifndef TOOLHOST_TOOL_H
#define TOOLHOST_TOOL_H

#include "toolhost/host.h"

TOOLHOST_EXTERN_C_BEGIN

/* ===================================================================================== types */

/* Operation flags. They tell the host (and AI agents) what it may do with an operation. */
/* Calling it twice with the same arguments has the same effect as once: the host may retry it. */
#define TOOLHOST_OPERATION_IDEMPOTENT (UINT64_C(1) << 0)
/* It changes nothing (a query). Implies nothing about idempotence; set both when both hold. */
#define TOOLHOST_OPERATION_READ_ONLY (UINT64_C(1) << 1)
/* It may delete or overwrite data. */
#define TOOLHOST_OPERATION_DESTRUCTIVE (UINT64_C(1) << 2)
/* It polls toolhost_call_t.is_cancelled and stops early when cancelled. */
#define TOOLHOST_OPERATION_CANCELLABLE (UINT64_C(1) << 3)
/* It reaches outside the host: other systems, the network, people (MCP's openWorldHint). */
#define TOOLHOST_OPERATION_OPEN_WORLD (UINT64_C(1) << 4)
/* Its result is a content result: {"content": [content blocks], "structuredContent": {...}}
 * with blocks as MCP defines them (text, image, audio, resource, resource_link). MCP clients get
 * the blocks as they are; without this flag the host makes one text block of the result JSON
 * and passes the result as structuredContent. */
#define TOOLHOST_OPERATION_CONTENT_RESULT (UINT64_C(1) << 5)
/* It never blocks (no I/O, no sleeping, no waiting for other threads or long-held locks, no
 * toolhost.client/1 requests) and returns within microseconds. For a thread-safe tool a server may then run the call on its
 * network thread instead of handing it to the worker pool, which saves two thread hand-offs.
 * Wrongly set, it stalls every client served by that thread while the call runs. */
#define TOOLHOST_OPERATION_NONBLOCKING (UINT64_C(1) << 6)

/* Tool flags. */
/* invoke() may run concurrently on several threads for one instance. Without this flag the host
 * never runs two calls of one instance at the same time. */
#define TOOLHOST_TOOL_THREAD_SAFE (UINT64_C(1) << 0)

/* One operation of a tool.
 * OWNERSHIP: plugin-owned, immutable, lives until the library is unloaded. */
typedef struct toolhost_operation_descriptor {
    uint32_t struct_size;

    /* Unique within the tool: 1 to 64 characters of [A-Za-z0-9_-], starting with a letter. */
    const char *name;

    /* What it does, for people and for AI agents choosing a tool. May be empty, not NULL. */
    const char *description;

    /* JSON Schema (draft-07) of the arguments object, as JSON text. Required. The host rejects
     * arguments that do not validate before the plugin sees them. */
    const char *input_schema;

    /* JSON Schema (draft-07) of the result, as JSON text, or NULL when not declared. */
    const char *output_schema;

    /* TOOLHOST_OPERATION_* flags; unknown bits are ignored. */
    uint64_t flags;

    /* ---- ABI 1.1 (read only when struct_size covers it) */

    /* What the operation serves to MCP clients instead of being a tool, as JSON text, or NULL for
     * an ordinary operation. An operation with a role is not offered as a tool; the host calls it
     * for its role's MCP methods (both protocol eras) and REST routes, through the same pipeline
     * as any call (argument validation, policies, isolation, telemetry). The object's "role":
     *
     *   "resource_list"  resources/list. Arguments {"cursor": string} (cursor only when paging);
     *                    result {"resources": [Resource...], "nextCursor": string (optional)}.
     *   "resource_read"  resources/read of the URIs that start with one of "uris" (required, e.g.
     *                    ["crm://customers/"]). Arguments {"uri": string}; result
     *                    {"contents": [ResourceContents...]}. "templates" (optional): the
     *                    ResourceTemplate objects of resources/templates/list.
     *   "prompt"         a prompt (prompts/list, prompts/get), named like a tool. Its arguments are
     *                    the string properties of input_schema ("required" as listed there);
     *                    "title" (optional). Result {"messages": [PromptMessage...],
     *                    "description": string (optional)}.
     *   "completion"     completion/complete for the tool's prompts and resource templates.
     *                    Arguments {"ref": {...}, "argument": {"name", "value"}, "context": {...}};
     *                    result {"completion": {"values": [string...], "total", "hasMore"}}.
     *
     * Shapes are MCP's (2025-11-25); the host checks a result's shape before a client sees it. A
     * tool has at most one operation of each role but "prompt".
     * Rationale: a role reuses invoke(), so everything a call gets (and a host in another process
     * of an isolated tool) applies unchanged, and an older plugin simply has no roles. */
    const char *role;
} toolhost_operation_descriptor_t;

/* What a tool is and what it offers.
 * OWNERSHIP: plugin-owned, immutable, lives until the library is unloaded. */
typedef struct toolhost_tool_descriptor {
    uint32_t struct_size;

    /* Unique among all loaded tools: 1 to 64 characters of [A-Za-z0-9_-], starting with a
     * letter. */
    const char *name;

    /* The tool's own version, e.g. "1.2.0". Not the ABI version. */
    const char *version;

    /* What the tool is for. May be empty, not NULL. */
    const char *description;

    /* JSON Schema (draft-07) of the tool's configuration object, as JSON text, or NULL when the
     * tool takes no configuration (then only an empty object is accepted). */
    const char *config_schema;

    /* TOOLHOST_TOOL_* flags; unknown bits are ignored. */
    uint64_t flags;

    /* The operations: `operations[0 .. operation_count-1]`, at least one.
     * Rationale: an array of pointers, not of structs, because the structs grow with minor
     * versions; a host compiled against a smaller struct would step through an array of them
     * with the wrong stride. */
    uint32_t operation_count;
    const toolhost_operation_descriptor_t *const *operations;
} toolhost_tool_descriptor_t;

/* ============================================================================= plugin -> host */

/* One instance of a tool, created by toolhost_plugin_entry_t.create_tool.
 * OWNERSHIP: plugin-owned; valid until destroy() returns. */
typedef struct toolhost_tool {
    uint32_t struct_size;

    /* Opaque to the host. */
    void *tool_data;

    /* Prepares the instance: opens files, connects to backends, reads the configuration.
     * Returns OK, or another status after init->set_error(). Called at most once, before any
     * invoke(). May block; the host calls it on a worker thread.
     * [lifecycle: never concurrent with any other function of this instance] */
    toolhost_status_t(TOOLHOST_ABI *initialize)(struct toolhost_tool *tool, const toolhost_init_context_t *init);

    /* Runs one operation. Returns OK after call->set_result(), or another status after
     * call->set_error(). May block; the host calls it on a worker thread and never holds a lock
     * while it runs. Must not throw (C++ plugins: the helper in toolhost/plugin.hpp catches).
     * [thread-safe if the descriptor has TOOLHOST_TOOL_THREAD_SAFE, else instance-serialized:
     *  never two at once for one instance, possibly on different threads] */
    toolhost_status_t(TOOLHOST_ABI *invoke)(struct toolhost_tool *tool, const toolhost_call_t *call);

    /* Releases what initialize() acquired. Called once, after the last invoke() has returned,
     * only if initialize() returned OK. Cannot fail; log problems through the host.
     * [lifecycle] */
    void(TOOLHOST_ABI *cleanup)(struct toolhost_tool *tool);

    /* Frees the instance. The pointer is invalid afterwards. Always called exactly once.
     * [lifecycle] */
    void(TOOLHOST_ABI *destroy)(struct toolhost_tool *tool);
} toolhost_tool_t;

TOOLHOST_EXTERN_C_END

#endif /* TOOLHOST_TOOL_H */
