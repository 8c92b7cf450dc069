/* toolhost plugin ABI — the "toolhost.scan_inputs/1" host extension: what a library's tool list
 * depends on besides its own file.
 *
 * The host reads a library's descriptors once and keeps them in its scan cache under the
 * library file's identity (device, inode, size, mtime, ctime): an unchanged file is not opened
 * again (docs/architecture.md). A library whose tools come from somewhere else (the python
 * plugin serves the tool classes of a folder of .py files, named by an environment variable)
 * says so during init(), and the host then also keeps the state of each input it named and reads
 * the library again as soon as one of them differs.
 *
 * A plugin looks the extension up with host->get_extension(host, TOOLHOST_EXT_SCAN_INPUTS_V1)
 * on the library-level host given to init() (instance hosts have none), and gets NULL from a
 * host that does not offer it: there, nothing is cached by more than the file.
 */
#ifndef TOOLHOST_SCAN_INPUTS_H
#define TOOLHOST_SCAN_INPUTS_H

#include "toolhost/host.h"

TOOLHOST_EXTERN_C_BEGIN

#define TOOLHOST_EXT_SCAN_INPUTS_V1 "toolhost.scan_inputs/1"

/* The most inputs one library may name; beyond it the host does not cache the library at all. */
#define TOOLHOST_SCAN_INPUTS_MAX 4096

typedef struct toolhost_scan_inputs {
    uint32_t struct_size;
    void *host_data;

    /* What tool_count() and tool_descriptor() return depends on the file or folder `path` (an
     * absolute path, UTF-8; one that does not exist is an input too: its appearing is a change).
     * The host records its identity now (device, inode, size, mtime, ctime, symbolic links
     * followed), so call it before reading the file. A folder's identity changes when an entry
     * is added, removed or renamed in it, not when a file in it is written: name those files too.
     * The host copies the path.
     * Rationale: identities, not contents, as for the library file itself: checking them costs a
     * stat() per input on every scan, and no plugin code runs in the host to compute anything.
     * [lifecycle: only during init()] */
    void(TOOLHOST_ABI *depends_on_path)(const struct toolhost_scan_inputs *inputs, toolhost_str_t path);

    /* ... depends on the environment variable `name`: its value, or that it is not set. The
     * host copies the name. [lifecycle: only during init()] */
    void(TOOLHOST_ABI *depends_on_env)(const struct toolhost_scan_inputs *inputs, toolhost_str_t name);
} toolhost_scan_inputs_t;

TOOLHOST_EXTERN_C_END

#endif /* TOOLHOST_SCAN_INPUTS_H */
