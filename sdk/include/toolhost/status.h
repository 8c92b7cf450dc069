/* toolhost plugin ABI — status codes.
 *
 * Every fallible ABI function returns one of these codes (as int32_t, so the width never depends
 * on the compiler's enum size). The values and meanings are those of gRPC's canonical codes, so
 * that whether a failure is worth retrying follows from the code:
 *
 *   retryable by the host (for idempotent operations): UNAVAILABLE, DEADLINE_EXCEEDED (per
 *   attempt), RESOURCE_EXHAUSTED, ABORTED
 *   never retried: everything else, and CANCELLED above all.
 *
 * A plugin that returns a value outside 0..16 is treated as TOOLHOST_STATUS_UNKNOWN.
 */
#ifndef TOOLHOST_STATUS_H
#define TOOLHOST_STATUS_H

#include <stdint.h>

typedef int32_t toolhost_status_t;

enum toolhost_status_code {
    TOOLHOST_STATUS_OK = 0,
    /* The call was cancelled, typically by the caller or because its deadline passed. */
    TOOLHOST_STATUS_CANCELLED = 1,
    /* An error with no better code; avoid. */
    TOOLHOST_STATUS_UNKNOWN = 2,
    /* The arguments are wrong whatever the state of the system; name the field in the message. */
    TOOLHOST_STATUS_INVALID_ARGUMENT = 3,
    /* The deadline expired before the operation could complete. */
    TOOLHOST_STATUS_DEADLINE_EXCEEDED = 4,
    /* A requested record or entity does not exist. */
    TOOLHOST_STATUS_NOT_FOUND = 5,
    /* The entity a caller tried to create already exists. */
    TOOLHOST_STATUS_ALREADY_EXISTS = 6,
    /* The caller may not do this. */
    TOOLHOST_STATUS_PERMISSION_DENIED = 7,
    /* A quota or a resource ran out (memory, disk, rate limit); retry later. */
    TOOLHOST_STATUS_RESOURCE_EXHAUSTED = 8,
    /* The system is not in a state this operation requires (e.g. not initialized). */
    TOOLHOST_STATUS_FAILED_PRECONDITION = 9,
    /* A concurrency conflict (e.g. a transaction aborted); retry at a higher level. */
    TOOLHOST_STATUS_ABORTED = 10,
    /* An argument is outside the valid range. */
    TOOLHOST_STATUS_OUT_OF_RANGE = 11,
    /* The operation is not implemented or not supported. */
    TOOLHOST_STATUS_UNIMPLEMENTED = 12,
    /* A bug: an invariant broke. Not retried. */
    TOOLHOST_STATUS_INTERNAL = 13,
    /* A transient failure (a backend or the network is down); safe to retry if idempotent. */
    TOOLHOST_STATUS_UNAVAILABLE = 14,
    /* Unrecoverable data loss or corruption. */
    TOOLHOST_STATUS_DATA_LOSS = 15,
    /* The caller has no valid credentials. */
    TOOLHOST_STATUS_UNAUTHENTICATED = 16
};

#endif /* TOOLHOST_STATUS_H */
