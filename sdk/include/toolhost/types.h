/* toolhost plugin ABI — basic types shared by every other header.
 *
 * Strings: descriptor strings (names, descriptions, schemas) are NUL-terminated UTF-8 that live
 * as long as the library is loaded. Everything that crosses at call time (arguments, results,
 * messages, ids) is a toolhost_str_t: a pointer and a length in bytes, UTF-8, not necessarily
 * NUL-terminated. A toolhost_str_t with size 0 may have data == NULL.
 */
#ifndef TOOLHOST_TYPES_H
#define TOOLHOST_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "toolhost/status.h"
#include "toolhost/version.h"

/* A borrowed UTF-8 byte range. Never owns its bytes; the contract of the function that hands it
 * out says how long they stay valid. */
typedef struct toolhost_str {
    const char *data;
    size_t size;
} toolhost_str_t;

/* A semantic version of the ABI (not of a plugin). */
typedef struct toolhost_abi_version {
    uint32_t major;
    uint32_t minor;
} toolhost_abi_version_t;

/* Log levels for the host's logging service. */
enum toolhost_log_level {
    TOOLHOST_LOG_TRACE = 0,
    TOOLHOST_LOG_DEBUG = 1,
    TOOLHOST_LOG_INFO = 2,
    TOOLHOST_LOG_WARNING = 3,
    TOOLHOST_LOG_ERROR = 4
};

/* Builds a toolhost_str_t from a NUL-terminated string literal. */
#define TOOLHOST_STR_LITERAL(s) \
    { (s), sizeof(s) - 1 }

#endif /* TOOLHOST_TYPES_H */
