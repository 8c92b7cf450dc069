/* The "clock" plugin: current time and a cancellable sleep, written in plain C11.
 *
 * It exists to prove that the toolhost ABI needs no C++, and to show how a C plugin reads its
 * arguments and writes its results: with jansson (Debian: libjansson-dev), a JSON library in C
 * kept since 2009. Why jansson rather than cJSON: its parser is strict RFC 8259 (it validates
 * UTF-8, can refuse duplicate keys, and says where the text went wrong), integers are exact 64-bit
 * values (cJSON keeps every number as a double), and json_unpack() reads and type-checks all the
 * arguments in one call, refusing unknown keys with JSON_STRICT, the way the input schema does.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
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

/* Reads the arguments of `call` with the json_unpack_ex() `format` and the pointers after it, and
 * returns the parsed object (the caller json_decref()s it; strings unpacked from it live as long
 * as it does). On failure it fails the call with a message that names the operation and what is
 * wrong, and returns NULL. The host validated the arguments against the input schema already,
 * so this fails only when the schema and the code disagree, which is worth a clear message. */
static json_t *unpack_arguments(const toolhost_call_t *call, const char *format, ...) {
    json_error_t error;
    json_t *args = json_loadb(call->arguments.data, call->arguments.size, JSON_REJECT_DUPLICATES, &error);
    char message[256];
    if (args == NULL) {
        snprintf(message, sizeof message, "arguments are not JSON: %s (at byte %d)", error.text, error.position);
        fail(call, message);
        return NULL;
    }
    va_list ap;
    va_start(ap, format);
    /* JSON_STRICT: a key the format does not name is an error, as additionalProperties:false */
    const int unpacked = json_vunpack_ex(args, &error, JSON_STRICT, format, ap);
    va_end(ap);
    if (unpacked != 0) {
        snprintf(message, sizeof message, "arguments: %s", error.text);
        fail(call, message);
        json_decref(args);
        return NULL;
    }
    return args;
}

/* Sets the result of `call` to `result` as compact JSON and releases `result` (NULL: out of
 * memory). Returns the call's status. */
static toolhost_status_t succeed(const toolhost_call_t *call, json_t *result) {
    char *text = result != NULL ? json_dumps(result, JSON_COMPACT) : NULL;
    json_decref(result);
    if (text == NULL) {
        fail(call, "out of memory writing the result");
        return TOOLHOST_STATUS_RESOURCE_EXHAUSTED;
    }
    toolhost_str_t r = {text, strlen(text)};
    call->set_result(call, r); /* the host copies it */
    free(text);
    return TOOLHOST_STATUS_OK;
}

/* ====================================================================================== now */

static toolhost_status_t clock_now(const toolhost_call_t *call) {
    const char *zone_name = "utc";
    json_t *args = unpack_arguments(call, "{s?s}", "timezone", &zone_name);
    if (args == NULL) return TOOLHOST_STATUS_INVALID_ARGUMENT;
    const int local = strcmp(zone_name, "local") == 0;
    if (!local && strcmp(zone_name, "utc") != 0) {
        fail(call, "arguments: timezone must be \"utc\" or \"local\"");
        json_decref(args);
        return TOOLHOST_STATUS_INVALID_ARGUMENT;
    }
    json_decref(args); /* zone_name points into args: not used after this */

    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        fail(call, "clock_gettime(CLOCK_REALTIME) failed");
        return TOOLHOST_STATUS_INTERNAL;
    }
    const long long unix_ms = (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
    const int millis = (int)(ts.tv_nsec / 1000000L);

    struct tm tm;
    const time_t seconds = ts.tv_sec;
    if ((local ? localtime_r(&seconds, &tm) : gmtime_r(&seconds, &tm)) == NULL) {
        fail(call, "cannot convert the current time to a calendar date");
        return TOOLHOST_STATUS_INTERNAL;
    }

    char date[32]; /* "2026-11-25T13:35:29" */
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        fail(call, "cannot format the current time");
        return TOOLHOST_STATUS_INTERNAL;
    }

    char zone[8] = "Z";
    if (local) {
        char offset[16]; /* "+0100": ISO 8601 extended format wants "+01:00" */
        if (strftime(offset, sizeof offset, "%z", &tm) != 5) {
            fail(call, "cannot determine the local UTC offset");
            return TOOLHOST_STATUS_INTERNAL;
        }
        snprintf(zone, sizeof zone, "%.3s:%.2s", offset, offset + 3);
    }

    char iso8601[48];
    snprintf(iso8601, sizeof iso8601, "%s.%03d%s", date, millis, zone);
    return succeed(call, json_pack("{s:I, s:s}", "unix_ms", (json_int_t)unix_ms, "iso8601", iso8601));
}

/* ==================================================================================== sleep */

enum { SLEEP_MAX_MS = 60000, SLEEP_STEP_NS = 5 * 1000 * 1000 };

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
    json_int_t ms = -1;
    json_t *args = unpack_arguments(call, "{s:I}", "ms", &ms);
    if (args == NULL) return TOOLHOST_STATUS_INVALID_ARGUMENT;
    json_decref(args);
    if (ms < 0 || ms > SLEEP_MAX_MS) {
        char message[96];
        snprintf(message, sizeof message, "arguments: ms must be from 0 to %d, got %lld", SLEEP_MAX_MS, (long long)ms);
        fail(call, message);
        return TOOLHOST_STATUS_INVALID_ARGUMENT;
    }

    const long long start = monotonic_ns();
    const long long target = start + (long long)ms * 1000000LL;
    char message[160];
    for (;;) {
        /* The deadline first: once it passed the host also reports the call as cancelled, and
         * DEADLINE_EXCEEDED says more than CANCELLED. */
        const int64_t remaining = call->remaining_ns(call);
        const long long slept_ms = (monotonic_ns() - start) / 1000000LL;
        if (remaining <= 0) {
            snprintf(message, sizeof message, "sleep: the call's deadline passed after %lld of %lld ms", slept_ms,
                     (long long)ms);
            fail(call, message);
            return TOOLHOST_STATUS_DEADLINE_EXCEEDED;
        }
        if (call->is_cancelled(call)) {
            snprintf(message, sizeof message, "sleep: cancelled after %lld of %lld ms", slept_ms, (long long)ms);
            fail(call, message);
            return TOOLHOST_STATUS_CANCELLED;
        }
        const long long left = target - monotonic_ns();
        if (left <= 0) break;
        long long step = left < SLEEP_STEP_NS ? left : SLEEP_STEP_NS;
        if (remaining < step) step = remaining; /* wake up right at the deadline */
        sleep_ns(step);
    }
    return succeed(call, json_pack("{s:I}", "slept_ms", ms));
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
