/* toolhost plugin ABI v1 — umbrella header. Include this in a plugin written in C.
 * C++ plugins usually include toolhost/plugin.hpp instead, which includes this.
 * The whole contract is described in docs/plugin-abi.md. */
#ifndef TOOLHOST_TOOLHOST_H
#define TOOLHOST_TOOLHOST_H

#include "toolhost/client.h"
#include "toolhost/entry.h"
#include "toolhost/host.h"
#include "toolhost/plugin_file.h"
#include "toolhost/resource_events.h"
#include "toolhost/scan_inputs.h"
#include "toolhost/status.h"
#include "toolhost/tool.h"
#include "toolhost/tool_caller.h"
#include "toolhost/types.h"
#include "toolhost/version.h"

#endif /* TOOLHOST_TOOLHOST_H */
