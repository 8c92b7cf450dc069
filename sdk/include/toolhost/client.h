/* toolhost plugin ABI — the "toolhost.client/1" host extension: a running call asks the client.
 *
 * When a tool is served to an AI agent over MCP, the agent's application (the client) can answer
 * requests of its own during a call: "sampling/createMessage" (ask the client's language model),
 * "elicitation/create" (ask the user for input), "roots/list" (the client's folders). A plugin
 * looks this extension up with host->get_extension(host, TOOLHOST_EXT_CLIENT_V1) on the instance
 * host given to create_tool, and gets NULL from a host that does not offer it.
 *
 * Whether a call has a client that can answer depends on who made the call: calls from MCP
 * clients that declared the capability can; calls from the command line, the REST API or an
 * embedding program get FAILED_PRECONDITION with a message that says why.
 */
#ifndef TOOLHOST_CLIENT_H
#define TOOLHOST_CLIENT_H

#include "toolhost/tool_caller.h"

TOOLHOST_EXTERN_C_BEGIN

#define TOOLHOST_EXT_CLIENT_V1 "toolhost.client/1"

typedef struct toolhost_client {
    uint32_t struct_size;
    void *host_data;

    /* Sends the request `method` with `params` (a JSON object, "" for none) to the client of the
     * running call `parent` and blocks until it answers, the call's deadline passes
     * (DEADLINE_EXCEEDED) or the call is cancelled (CANCELLED). Then calls `on_result` exactly
     * once, on the calling thread, and returns the same status: OK with the client's result
     * object as JSON text, or the failure and its message. An error the client answers with is
     * UNAVAILABLE, its message naming the client's error code and text.
     * FAILED_PRECONDITION: this call has no client, or the client did not declare the
     * capability the method needs ("sampling" for sampling/createMessage, "elicitation" for
     * elicitation/create, "roots" for roots/list).
     * [thread-safe; may block] */
    toolhost_status_t(TOOLHOST_ABI *request)(const struct toolhost_client *client, const toolhost_call_t *parent,
                                             toolhost_str_t method, toolhost_str_t params,
                                             toolhost_call_result_fn on_result, void *user);
} toolhost_client_t;

TOOLHOST_EXTERN_C_END

#endif /* TOOLHOST_CLIENT_H */
