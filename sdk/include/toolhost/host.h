/* toolhost plugin ABI — services the host hands to a plugin.
 *
 * Trust model: a plugin runs in the host's process with the host's privileges. The host protects
 * itself from plugins that fail (errors, exceptions caught by the C++ helper, slow or hung calls)
 * but not from plugins that are malicious or corrupt memory: only load libraries you trust. The
 * host refuses plugin files and folders that users other than their owner may write.
 *
 * Plugins never link a host library. Everything a plugin needs from the host arrives through the
 * structs below, which the host owns. Every function pointer in them is non-NULL.
 */
#ifndef TOOLHOST_HOST_H
#define TOOLHOST_HOST_H

#include <stdbool.h>

#include "toolhost/types.h"

TOOLHOST_EXTERN_C_BEGIN

/* ===================================================================================== types */

/* Host services for one plugin library (given to toolhost_plugin_entry_t.init) or for one tool
 * instance (given to toolhost_plugin_entry_t.create_tool).
 *
 * OWNERSHIP: the host owns it. A library-level host lives until deinit() returns; an
 * instance-level host lives until the instance's destroy() returns. Keep the pointer, not a copy.
 */
typedef struct toolhost_host {
    uint32_t struct_size; /* sizeof(toolhost_host_t) as the host compiled it */

    /* The ABI version the host implements. */
    toolhost_abi_version_t abi_version;

    /* Opaque to the plugin. */
    void *host_data;

    /* Human-readable host name and version, e.g. "toolhost 0.1.0". NUL-terminated, lives as long
     * as this struct. */
    const char *host_version;

    /* Writes a log message. For an instance-level host the message lands on the host's log
     * channel "plugin.<tool name>"; for a library-level host on "plugin.<library file name>".
     * The host copies the message before returning. Levels outside 0..4 are clamped.
     * [thread-safe] */
    void(TOOLHOST_ABI *log)(const struct toolhost_host *host, int32_t level, toolhost_str_t message);

    /* Returns true when a message at `level` would be recorded, so a plugin can skip building
     * expensive messages. [thread-safe] */
    bool(TOOLHOST_ABI *log_enabled)(const struct toolhost_host *host, int32_t level);

    /* Looks up a host extension by its versioned id, e.g. "toolhost.example/1". Returns NULL when
     * the host does not implement it. The returned struct is owned by the host and lives as long
     * as this host struct. Defined: TOOLHOST_EXT_TOOL_CALLER_V1 (toolhost/tool_caller.h).
     * [thread-safe] */
    const void *(TOOLHOST_ABI *get_extension)(const struct toolhost_host *host, const char *id);
} toolhost_host_t;

/* The context of one initialize() call. OWNERSHIP: host-owned; valid only until initialize()
 * returns. Copy what you need to keep. */
typedef struct toolhost_init_context {
    uint32_t struct_size;
    void *host_data;

    /* The tool's configuration: a JSON object, already validated against the tool's config
     * schema. "{}" when the operator configured nothing. */
    toolhost_str_t config;

    /* A directory this tool may keep its files in (e.g. "<data dir>/<tool name>"). The host
     * creates it before initialize() when it does not exist. Not NUL-terminated. */
    toolhost_str_t data_dir;

    /* Records the reason initialize() failed; call before returning a non-OK status. The host
     * copies the message. A later call replaces an earlier one. [initialize-thread] */
    void(TOOLHOST_ABI *set_error)(const struct toolhost_init_context *init, toolhost_str_t message);
} toolhost_init_context_t;

/* The context of one invoke() call.
 *
 * OWNERSHIP: host-owned; the struct and every string in it are valid only until invoke()
 * returns. A plugin that hands work to another thread must finish with it (or copy) before
 * returning.
 */
typedef struct toolhost_call {
    uint32_t struct_size;
    void *host_data;

    /* Which operation of the tool is called. */
    toolhost_str_t operation;

    /* The arguments: a JSON object, already validated against the operation's input schema. */
    toolhost_str_t arguments;

    /* Correlation ids given by the caller; empty when the caller gave none. */
    toolhost_str_t request_id;
    toolhost_str_t session_id;

    /* W3C trace context of the call ("00-<trace-id>-<span-id>-<flags>"), empty when not traced.
     * Hand it to downstream HTTP calls as the `traceparent` header. */
    toolhost_str_t traceparent;

    /* 1 for the first attempt, 2 for the first retry, ... */
    uint32_t attempt;

    /* Returns true once the call has been cancelled: the caller gave up, the host is stopping or
     * the deadline passed. A long-running operation should poll it and then return
     * TOOLHOST_STATUS_CANCELLED (or DEADLINE_EXCEEDED) promptly. [thread-safe] */
    bool(TOOLHOST_ABI *is_cancelled)(const struct toolhost_call *call);

    /* Nanoseconds left until the call's deadline: INT64_MAX when the call has no deadline, zero
     * or negative once it has passed. Measured on the host's clock. [thread-safe] */
    int64_t(TOOLHOST_ABI *remaining_ns)(const struct toolhost_call *call);

    /* Writes a log message on channel "plugin.<tool name>", tagged with this call's operation,
     * request id and session id. The host copies the message. [thread-safe] */
    void(TOOLHOST_ABI *log)(const struct toolhost_call *call, int32_t level, toolhost_str_t message);

    /* Reports progress: `progress` so far out of `total` (total <= 0 when unknown), with an
     * optional message. Delivered to the caller if it asked for progress, dropped otherwise.
     * The host copies the message. [thread-safe] */
    void(TOOLHOST_ABI *report_progress)(const struct toolhost_call *call, double progress, double total,
                                        toolhost_str_t message);

    /* Sets the result of a successful call: a JSON value (an object, by convention). The host
     * copies it. Call at most once, then return TOOLHOST_STATUS_OK; a call that returns OK
     * without a result yields "null". [invoke-thread] */
    void(TOOLHOST_ABI *set_result)(const struct toolhost_call *call, toolhost_str_t json);

    /* Sets the message for a failed call; call it before returning a non-OK status. Name the
     * field or the record that was wrong. The host copies it. [invoke-thread] */
    void(TOOLHOST_ABI *set_error)(const struct toolhost_call *call, toolhost_str_t message);

    /* Tells the host when a retry may succeed (e.g. a backend's Retry-After), in milliseconds.
     * Only meaningful with a retryable status. [invoke-thread] */
    void(TOOLHOST_ABI *set_retry_after_ms)(const struct toolhost_call *call, uint64_t ms);
} toolhost_call_t;

TOOLHOST_EXTERN_C_END

#endif /* TOOLHOST_HOST_H */
