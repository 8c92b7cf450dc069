/* toolhost plugin ABI — the "toolhost.resource_events/1" host extension: a tool says that its
 * resources changed.
 *
 * A tool that serves resources (an operation with the role "resource_read", toolhost/tool.h)
 * tells the host when one of them changes, so that the clients watching it hear of it: MCP
 * clients that subscribed to the URI (resources/subscribe in 2025, the resourceSubscriptions of
 * subscriptions/listen in 2026-07-28) get notifications/resources/updated and read it again. A
 * tool that lists resources ("resource_list") says when the list changed (one added or removed):
 * clients that asked get notifications/resources/list_changed. Embedding programs see both as
 * host events (resource_updated, resource_list_changed).
 *
 * A plugin looks the extension up with host->get_extension(host, TOOLHOST_EXT_RESOURCE_EVENTS_V1)
 * on the instance host given to create_tool (the library-level host has none), and gets NULL
 * from a host that does not offer it. It works the same for a tool isolated in a worker process.
 */
#ifndef TOOLHOST_RESOURCE_EVENTS_H
#define TOOLHOST_RESOURCE_EVENTS_H

#include "toolhost/host.h"

TOOLHOST_EXTERN_C_BEGIN

#define TOOLHOST_EXT_RESOURCE_EVENTS_V1 "toolhost.resource_events/1"

/* The longest URI updated() takes, in bytes. */
#define TOOLHOST_RESOURCE_URI_MAX 8192

typedef struct toolhost_resource_events {
    uint32_t struct_size;
    void *host_data;

    /* The resource `uri` changed: its content, or it is gone. `uri` is a URI this tool's
     * resource_read operation serves (it starts with one of its "uris"), UTF-8 without control
     * characters, at most TOOLHOST_RESOURCE_URI_MAX bytes; the host drops anything else and logs
     * why. The host copies it.
     * Call it from any thread, inside a call or outside one, while the instance lives (until its
     * destroy() returns). It never blocks; the host delivers the notice on its own time, so a
     * client reading the resource right after it sees the change.
     * [thread-safe] */
    void(TOOLHOST_ABI *updated)(const struct toolhost_resource_events *events, toolhost_str_t uri);

    /* The list of the tool's resources changed (resources/list answers differently now).
     * Same rules as updated(). [thread-safe] */
    void(TOOLHOST_ABI *list_changed)(const struct toolhost_resource_events *events);
} toolhost_resource_events_t;

TOOLHOST_EXTERN_C_END

#endif /* TOOLHOST_RESOURCE_EVENTS_H */
