/* The "clock" plugin: current time and a cancellable sleep, written in plain C11.
 *
 * It exists to prove that the toolhost ABI needs no C++: everything here is the C structs of
 * toolhost/toolhost.h, a hand-written scan of the (already validated) arguments, and results
 * that contain only numbers and fixed-format timestamps.
 *
 * Operations:
 *   now   {"timezone": "utc"|"local"}  -> {"unix_ms": 1795613729123, "iso8601": "2026-11-25T13:35:29.123Z"}
 *         (local time carries its offset instead of "Z", e.g. "2026-11-25T14:35:29.123+01:00")
 *   sleep {"ms": 0..60000}             -> {"slept_ms": 250}
 *         polls cancellation and the deadline every few milliseconds; fails with CANCELLED or
 *         DEADLINE_EXCEEDED when either cuts it short.
 *
 * The tool is thread-safe: an instance holds nothing but its host pointer.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <toolhost/toolhost.h>

/* ============================================================================== descriptors */

static const toolhost_operation_descriptor_t clock_now_operation = {
    sizeof(toolhost_operation_descriptor_t),
    "now",
    "Returns the current time as Unix milliseconds and as an ISO 8601 timestamp, in UTC "
    "(default) or in the host's local time zone with its UTC offset.",
    "{\"type\":\"object\","
    "\"properties\":{\"timezone\":{\"type\":\"string\",\"enum\":[\"utc\",\"local\"],"
    "\"description\":\"utc (default) or local: the time zone of iso8601\"}},"
    "\"additionalProperties\":false}",
    "{\"type\":\"object\","
    "\"properties\":{\"unix_ms\":{\"type\":\"integer\"},\"iso8601\":{\"type\":\"string\"}},"
    "\"required\":[\"unix_ms\",\"iso8601\"],\"additionalProperties\":false}",
    TOOLHOST_OPERATION_READ_ONLY | TOOLHOST_OPERATION_NONBLOCKING,
    NULL};

static const toolhost_operation_descriptor_t clock_sleep_operation = {
    sizeof(toolhost_operation_descriptor_t),
    "sleep",
    "Waits the given number of milliseconds (at most 60000) and returns how long it slept. "
    "Stops early with CANCELLED or DEADLINE_EXCEEDED when the call is cancelled or times out.",
    "{\"type\":\"object\","
    "\"properties\":{\"ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":60000,"
    "\"description\":\"how long to sleep, in milliseconds\"}},"
    "\"required\":[\"ms\"],\"additionalProperties\":false}",
    "{\"type\":\"object\","
    "\"properties\":{\"slept_ms\":{\"type\":\"integer\"}},"
    "\"required\":[\"slept_ms\"],\"additionalProperties\":false}",
    TOOLHOST_OPERATION_CANCELLABLE,
    NULL};

static const toolhost_operation_descriptor_t *const clock_operations[] = {
    &clock_now_operation,
    &clock_sleep_operation,
};

static const toolhost_tool_descriptor_t clock_descriptor = {
    sizeof(toolhost_tool_descriptor_t),
    "clock",
    "1.0.0",
    "Tells the current time and sleeps on request (a cancellable, deadline-aware wait).",
    NULL, /* no configuration */
    TOOLHOST_TOOL_THREAD_SAFE,
    (uint32_t)(sizeof clock_operations / sizeof clock_operations[0]),
    clock_operations};

/* ================================================================================ utilities */

/* Compares a (pointer, length) string with a NUL-terminated one. */
static int str_equals(toolhost_str_t s, const char *literal) {
    size_t n = strlen(literal);
    return s.size == n && (n == 0 || memcmp(s.data, literal, n) == 0);
}

static void fail(const toolhost_call_t *call, const char *message) {
    toolhost_str_t m = {message, strlen(message)};
    call->set_error(call, m);
}

static void succeed(const toolhost_call_t *call, const char *json) {
    toolhost_str_t r = {json, strlen(json)};
    call->set_result(call, r);
}

/* ======================================================================= argument scanning */

/* A minimal scanner over the arguments object. The host has validated the arguments against the
 * input schema already; this only has to be correct for valid input and refuse (never crash on)
 * anything else. It understands exactly what the two schemas allow: flat objects whose values
 * are strings without escapes or plain integers. */
typedef struct scanner {
    const char *p;
    const char *end;
} scanner_t;

static void skip_ws(scanner_t *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) ++s->p;
}

static int consume(scanner_t *s, char c) {
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        ++s->p;
        return 1;
    }
    return 0;
}

/* Reads a string without escape sequences into *out (borrowing the input bytes). Returns 0 when
 * the next token is not such a string. */
static int scan_plain_string(scanner_t *s, toolhost_str_t *out) {
    if (!consume(s, '"')) return 0;
    const char *begin = s->p;
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\' || (unsigned char)*s->p < 0x20) return 0;
        ++s->p;
    }
    if (s->p >= s->end) return 0;
    out->data = begin;
    out->size = (size_t)(s->p - begin);
    ++s->p; /* closing quote */
    return 1;
}

/* Reads a plain JSON integer (no fraction or exponent) in [min, max]. Returns 0 otherwise. */
static int scan_integer(scanner_t *s, long long min, long long max, long long *out) {
    skip_ws(s);
    int negative = 0;
    if (s->p < s->end && *s->p == '-') {
        negative = 1;
        ++s->p;
    }
    if (s->p >= s->end || *s->p < '0' || *s->p > '9') return 0;
    long long value = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        if (value > 1000000000000LL) return 0; /* far outside any range we accept */
        value = value * 10 + (*s->p - '0');
        ++s->p;
    }
    if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E')) return 0;
    if (negative) value = -value;
    if (value < min || value > max) return 0;
    *out = value;
    return 1;
}

/* Field handler: reads the value of field `key`; on failure writes a message naming the field
 * into `error` and returns 0. */
typedef int (*field_fn)(scanner_t *s, toolhost_str_t key, void *out, char *error, size_t error_size);

/* Walks a flat JSON object, handing each member to `on_field`. */
static int scan_object(toolhost_str_t json, field_fn on_field, void *out, char *error, size_t error_size) {
    scanner_t s = {json.data, json.data + json.size};
    if (json.size == 0 || !consume(&s, '{')) {
        snprintf(error, error_size, "arguments: expected a JSON object");
        return 0;
    }
    if (!consume(&s, '}')) {
        for (;;) {
            toolhost_str_t key;
            if (!scan_plain_string(&s, &key) || !consume(&s, ':')) {
                snprintf(error, error_size, "arguments: malformed object member");
                return 0;
            }
            if (!on_field(&s, key, out, error, error_size)) return 0;
            if (consume(&s, ',')) continue;
            if (consume(&s, '}')) break;
            snprintf(error, error_size, "arguments: expected ',' or '}' after field \"%.*s\"",
                     (int)(key.size > 64 ? 64 : key.size), key.data);
            return 0;
        }
    }
    skip_ws(&s);
    if (s.p != s.end) {
        snprintf(error, error_size, "arguments: unexpected text after the object");
        return 0;
    }
    return 1;
}

static int unknown_field(toolhost_str_t key, char *error, size_t error_size) {
    snprintf(error, error_size, "arguments: unknown field \"%.*s\"", (int)(key.size > 64 ? 64 : key.size), key.data);
    return 0;
}

/* ====================================================================================== now */

typedef struct now_args {
    int local; /* 0: UTC, 1: local time */
} now_args_t;

static int now_field(scanner_t *s, toolhost_str_t key, void *out, char *error, size_t error_size) {
    now_args_t *args = (now_args_t *)out;
    if (!str_equals(key, "timezone")) return unknown_field(key, error, error_size);
    toolhost_str_t value;
    if (!scan_plain_string(s, &value) || !(str_equals(value, "utc") || str_equals(value, "local"))) {
        snprintf(error, error_size, "timezone: must be \"utc\" or \"local\"");
        return 0;
    }
    args->local = str_equals(value, "local");
    return 1;
}

static toolhost_status_t clock_now(const toolhost_call_t *call) {
    char error[160];
    now_args_t args = {0};
    if (!scan_object(call->arguments, now_field, &args, error, sizeof error)) {
        fail(call, error);
        return TOOLHOST_STATUS_INVALID_ARGUMENT;
    }

    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        fail(call, "clock_gettime(CLOCK_REALTIME) failed");
        return TOOLHOST_STATUS_INTERNAL;
    }
    const long long unix_ms = (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
    const int millis = (int)(ts.tv_nsec / 1000000L);

    struct tm tm;
    const time_t seconds = ts.tv_sec;
    if ((args.local ? localtime_r(&seconds, &tm) : gmtime_r(&seconds, &tm)) == NULL) {
        fail(call, "cannot convert the current time to a calendar date");
        return TOOLHOST_STATUS_INTERNAL;
    }

    char date[32]; /* "2026-11-25T13:35:29" */
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        fail(call, "cannot format the current time");
        return TOOLHOST_STATUS_INTERNAL;
    }

    char zone[8] = "Z";
    if (args.local) {
        char offset[16]; /* "+0100": ISO 8601 extended format wants "+01:00" */
        if (strftime(offset, sizeof offset, "%z", &tm) != 5) {
            fail(call, "cannot determine the local UTC offset");
            return TOOLHOST_STATUS_INTERNAL;
        }
        snprintf(zone, sizeof zone, "%.3s:%.2s", offset, offset + 3);
    }

    /* Only digits and the fixed characters above go into the text, so it is valid JSON. */
    char result[128];
    snprintf(result, sizeof result, "{\"unix_ms\":%lld,\"iso8601\":\"%s.%03d%s\"}", unix_ms, date, millis, zone);
    succeed(call, result);
    return TOOLHOST_STATUS_OK;
}

/* ==================================================================================== sleep */

enum { SLEEP_MAX_MS = 60000, SLEEP_STEP_NS = 5 * 1000 * 1000 };

typedef struct sleep_args {
    long long ms; /* -1 until seen */
} sleep_args_t;

static int sleep_field(scanner_t *s, toolhost_str_t key, void *out, char *error, size_t error_size) {
    sleep_args_t *args = (sleep_args_t *)out;
    if (!str_equals(key, "ms")) return unknown_field(key, error, error_size);
    if (!scan_integer(s, 0, SLEEP_MAX_MS, &args->ms)) {
        snprintf(error, error_size, "ms: must be an integer from 0 to %d", SLEEP_MAX_MS);
        return 0;
    }
    return 1;
}

static long long monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(long long ns) {
    struct timespec req = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    struct timespec rem;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR) req = rem;
}

static toolhost_status_t clock_sleep(const toolhost_call_t *call) {
    char error[160];
    sleep_args_t args = {-1};
    if (!scan_object(call->arguments, sleep_field, &args, error, sizeof error)) {
        fail(call, error);
        return TOOLHOST_STATUS_INVALID_ARGUMENT;
    }
    if (args.ms < 0) {
        fail(call, "ms: required field is missing");
        return TOOLHOST_STATUS_INVALID_ARGUMENT;
    }

    const long long start = monotonic_ns();
    const long long target = start + args.ms * 1000000LL;
    char message[160];
    for (;;) {
        /* The deadline first: once it passed the host also reports the call as cancelled, and
         * DEADLINE_EXCEEDED says more than CANCELLED. */
        const int64_t remaining = call->remaining_ns(call);
        const long long slept_ms = (monotonic_ns() - start) / 1000000LL;
        if (remaining <= 0) {
            snprintf(message, sizeof message, "sleep: the call's deadline passed after %lld of %lld ms", slept_ms,
                     args.ms);
            fail(call, message);
            return TOOLHOST_STATUS_DEADLINE_EXCEEDED;
        }
        if (call->is_cancelled(call)) {
            snprintf(message, sizeof message, "sleep: cancelled after %lld of %lld ms", slept_ms, args.ms);
            fail(call, message);
            return TOOLHOST_STATUS_CANCELLED;
        }
        const long long left = target - monotonic_ns();
        if (left <= 0) break;
        long long step = left < SLEEP_STEP_NS ? left : SLEEP_STEP_NS;
        if (remaining < step) step = remaining; /* wake up right at the deadline */
        sleep_ns(step);
    }

    char result[64];
    snprintf(result, sizeof result, "{\"slept_ms\":%lld}", args.ms);
    succeed(call, result);
    return TOOLHOST_STATUS_OK;
}

/* ================================================================================= instance */

/* The ABI struct comes first so that the pointer the host holds is the allocation itself. */
typedef struct clock_instance {
    toolhost_tool_t abi;
    const toolhost_host_t *host; /* lives until destroy() returns */
} clock_instance_t;

static toolhost_status_t TOOLHOST_ABI clock_initialize(toolhost_tool_t *tool, const toolhost_init_context_t *init) {
    (void)tool;
    (void)init; /* no configuration: the host only accepts "{}" */
    return TOOLHOST_STATUS_OK;
}

static toolhost_status_t TOOLHOST_ABI clock_invoke(toolhost_tool_t *tool, const toolhost_call_t *call) {
    (void)tool;
    if (str_equals(call->operation, "now")) return clock_now(call);
    if (str_equals(call->operation, "sleep")) return clock_sleep(call);
    char message[128];
    snprintf(message, sizeof message, "clock has no operation \"%.*s\"",
             (int)(call->operation.size > 64 ? 64 : call->operation.size),
             call->operation.size ? call->operation.data : "");
    fail(call, message);
    return TOOLHOST_STATUS_UNIMPLEMENTED;
}

static void TOOLHOST_ABI clock_cleanup(toolhost_tool_t *tool) { (void)tool; }

static void TOOLHOST_ABI clock_destroy(toolhost_tool_t *tool) { free(tool->tool_data); }

/* ==================================================================================== entry */

static uint32_t TOOLHOST_ABI clock_tool_count(void) { return 1; }

static const toolhost_tool_descriptor_t *TOOLHOST_ABI clock_tool_descriptor(uint32_t index) {
    return index == 0 ? &clock_descriptor : NULL;
}

static toolhost_status_t TOOLHOST_ABI clock_create_tool(uint32_t index, const toolhost_host_t *host,
                                                        toolhost_tool_t **out_tool) {
    if (index != 0) return TOOLHOST_STATUS_NOT_FOUND;
    clock_instance_t *instance = (clock_instance_t *)calloc(1, sizeof *instance);
    if (instance == NULL) {
        static const char message[] = "clock: out of memory creating an instance";
        toolhost_str_t m = {message, sizeof message - 1};
        host->log(host, TOOLHOST_LOG_ERROR, m);
        return TOOLHOST_STATUS_RESOURCE_EXHAUSTED;
    }
    instance->abi.struct_size = sizeof(toolhost_tool_t);
    instance->abi.tool_data = instance;
    instance->abi.initialize = clock_initialize;
    instance->abi.invoke = clock_invoke;
    instance->abi.cleanup = clock_cleanup;
    instance->abi.destroy = clock_destroy;
    instance->host = host;
    *out_tool = &instance->abi;
    return TOOLHOST_STATUS_OK;
}

TOOLHOST_EXPORT const toolhost_plugin_entry_t toolhost_plugin_entry_v1 = {
    sizeof(toolhost_plugin_entry_t),
    {TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR},
    "clock",
    "1.0.0",
    NULL, /* init */
    NULL, /* deinit */
    clock_tool_count,
    clock_tool_descriptor,
    clock_create_tool};
