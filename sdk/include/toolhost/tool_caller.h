/* toolhost plugin ABI — the "toolhost.tool_caller/1" host extension: one tool calls another.
 *
 * A plugin looks it up with host->get_extension(host, TOOLHOST_EXT_TOOL_CALLER_V1) (the instance
 * host given to create_tool) and gets NULL from a host that does not offer it. A call made
 * through it goes through the host's whole pipeline for the target tool: argument validation,
 * deadline, retry, circuit breaker, bulkhead, logs, traces and metrics, exactly as if an
 * application had made it. Example: the attachment tool hands extracted text to rag's index.
 */
#ifndef TOOLHOST_TOOL_CALLER_H
#define TOOLHOST_TOOL_CALLER_H

#include "toolhost/host.h"

TOOLHOST_EXTERN_C_BEGIN

#define TOOLHOST_EXT_TOOL_CALLER_V1 "toolhost.tool_caller/1"

/* Receives the outcome of a nested call: `text` is the result JSON when `status` is OK, the
 * error message otherwise. Borrowed: valid only during the callback. */
typedef void(TOOLHOST_ABI *toolhost_call_result_fn)(void *user, toolhost_status_t status, toolhost_str_t text);

typedef struct toolhost_tool_caller {
    uint32_t struct_size;
    void *host_data;

    /* Calls `operation` of `tool` with `arguments` (a JSON object) and blocks until the call
     * has finished; then calls `on_result` exactly once, on the calling thread, and returns the
     * same status.
     * `parent` is the call this one is made from: the toolhost_call_t of the running invoke()
     * (required; tools call other tools only while they serve a call). The nested call
     * inherits its request id, session id and trace context, never outlives its deadline, and
     * is cancelled with it.
     * A tool may not call itself (FAILED_PRECONDITION), and unknown tools or operations are
     * NOT_FOUND. The nested call runs on the calling thread when the target tool is
     * thread-safe, so a busy worker pool cannot deadlock it.
     * [thread-safe; may block] */
    toolhost_status_t(TOOLHOST_ABI *call)(const struct toolhost_tool_caller *caller, const toolhost_call_t *parent,
                                          toolhost_str_t tool, toolhost_str_t operation, toolhost_str_t arguments,
                                          toolhost_call_result_fn on_result, void *user);
} toolhost_tool_caller_t;

TOOLHOST_EXTERN_C_END

#endif /* TOOLHOST_TOOL_CALLER_H */
