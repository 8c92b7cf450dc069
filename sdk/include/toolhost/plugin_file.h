/* toolhost plugin ABI — the "toolhost.plugin_file/1" host extension: where the plugin's file is.
 *
 * A host need not run the file it found: toolhost loads a private copy of it (so that a new
 * build renamed over the file, or written over it in place, cannot change the code running),
 * and then dladdr() names the copy, not the file. A plugin that reads files installed next to
 * itself (sample data, models) asks the host for the file's path instead. Offered by the
 * library-level host (given to init()) and every instance-level host; NULL from a host that does
 * not offer it, or for a plugin linked into the program (no file).
 */
#ifndef TOOLHOST_PLUGIN_FILE_H
#define TOOLHOST_PLUGIN_FILE_H

#include "toolhost/host.h"

TOOLHOST_EXTERN_C_BEGIN

#define TOOLHOST_EXT_PLUGIN_FILE_V1 "toolhost.plugin_file/1"

typedef struct toolhost_plugin_file {
    uint32_t struct_size;
    /* The path of the plugin file in its plugin folder, as the host found it (not resolved
     * through symlinks). Lives as long as the host struct it came from. */
    toolhost_str_t path;
} toolhost_plugin_file_t;

TOOLHOST_EXTERN_C_END

#endif /* TOOLHOST_PLUGIN_FILE_H */
