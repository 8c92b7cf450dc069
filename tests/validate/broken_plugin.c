/* The fixtures of `toolhost validate-plugin` (tests/validate/test_validate_plugin.cpp): plugins
 * that break one rule of the contract each.
 *
 * One source, compiled once per fixture with at most one BREAK_<RULE> macro (CMakeLists.txt).
 * Without a switch it is a plugin that passes every check: one thread-safe tool "vfix" with one
 * operation "measure" ({"text": string of at most 2000 characters, "count"?: 0..10}) that answers
 * {"length": <bytes of the arguments>}. Each switch breaks exactly one thing, mostly only for the
 * long arguments the validator makes from the schema (more than 1500 bytes), so that the rest of
 * the contract still holds and a test can tell that only the check about that rule fails.
 */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <toolhost/toolhost.h>

#define ABI_MAJOR TOOLHOST_ABI_VERSION_MAJOR
#define OPERATION_FLAGS (TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY)
#define INPUT_PROPERTIES                                 \
    "\"text\":{\"type\":\"string\",\"maxLength\":2000}," \
    "\"count\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10}"
#define INPUT_SCHEMA                                         \
    "{\"type\":\"object\",\"properties\":{" INPUT_PROPERTIES \
    "},\"required\":[\"text\"],\"additionalProperties\":"    \
    "false}"
#define LONG_ARGUMENTS 1500 /* bytes: only the 'long strings' and 'highest values' cases have more */

#if defined(BREAK_LOADS)
/* Says ABI 2.0 under the v1 symbol: the host refuses to load it. */
#undef ABI_MAJOR
#define ABI_MAJOR 2
#elif defined(BREAK_DESCRIPTORS)
/* A valid JSON Schema that no object matches: no call can ever pass the host's validation. */
#undef INPUT_SCHEMA
#define INPUT_SCHEMA "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"
#elif defined(BREAK_INVALID_ARGUMENTS)
/* dependentRequired is not draft-07: the host ignores it, and "count" without "unit" reaches the
 * plugin although the schema says otherwise. */
#undef INPUT_SCHEMA
#define INPUT_SCHEMA                                         \
    "{\"type\":\"object\",\"properties\":{" INPUT_PROPERTIES \
    ",\"unit\":{\"type\":\"string\"}},"                      \
    "\"required\":[\"text\"],\"dependentRequired\":{\"count\":[\"unit\"]},\"additionalProperties\":false}"
#elif defined(BREAK_CANCELLATION)
/* Flagged cancellable, but never looks at is_cancelled (it sleeps 800 ms per call). */
#undef OPERATION_FLAGS
#define OPERATION_FLAGS (TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY | TOOLHOST_OPERATION_CANCELLABLE)
#endif

#if defined(BREAK_HANG) || defined(BREAK_THREAD_SAFETY) || defined(BREAK_CANCELLATION)
static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}
#endif

static void answer(const toolhost_call_t* call, const char* text) {
    toolhost_str_t s = {text, strlen(text)};
    call->set_result(call, s);
}

static toolhost_status_t TOOLHOST_ABI measure(toolhost_tool_t* tool, const toolhost_call_t* call) {
    (void)tool;
    const size_t n = call->arguments.size;
#if defined(BREAK_CALLS)
    /* Crashes on arguments its schema allows: a write to the unmapped first page (a real fault; a
     * store through NULL the compiler may drop as undefined). */
    if (n > LONG_ARGUMENTS) {
        volatile uintptr_t where = 16;
        *(volatile int*)where = 1;
    }
#elif defined(BREAK_HANG)
    /* Never returns on long arguments, and never looks at the deadline. */
    if (n > LONG_ARGUMENTS)
        for (;;) sleep_ms(10);
#elif defined(BREAK_THREAD_SAFETY)
    /* Flagged thread-safe, but two calls at once corrupt its state (here: it notices, and aborts). */
    static atomic_int inside;
    if (atomic_fetch_add(&inside, 1) > 0) abort();
    sleep_ms(5);
    atomic_fetch_sub(&inside, 1);
#elif defined(BREAK_CANCELLATION)
    sleep_ms(800);
#elif defined(BREAK_NO_STDOUT)
    fputs("debug: measure was called\n", stdout);
    fflush(stdout);
#elif defined(BREAK_ERRORS)
    /* A failure without a message. */
    if (n > LONG_ARGUMENTS) return TOOLHOST_STATUS_INTERNAL;
#elif defined(BREAK_INVALID_ARGUMENTS)
    const char* args = call->arguments.data;
    if (memmem(args, n, "\"count\"", 7) != NULL && memmem(args, n, "\"unit\"", 6) == NULL) {
        static const char message[] = "unit: required when count is given";
        toolhost_str_t m = {message, sizeof message - 1};
        call->set_error(call, m);
        return TOOLHOST_STATUS_INVALID_ARGUMENT;
    }
#endif
    char result[64];
#if defined(BREAK_RESULTS)
    /* Not JSON: a missing closing brace, for long arguments. */
    snprintf(result, sizeof result, n > LONG_ARGUMENTS ? "{\"length\":%zu" : "{\"length\":%zu}", n);
#elif defined(BREAK_OUTPUT_SCHEMA)
    /* The output schema requires "length". */
    snprintf(result, sizeof result, "{\"size\":%zu}", n);
#else
    snprintf(result, sizeof result, "{\"length\":%zu}", n);
#endif
    answer(call, result);
    return TOOLHOST_STATUS_OK;
}

#if defined(BREAK_LEAK_THREAD)
static void* idle_forever(void* arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}
#endif

static toolhost_status_t TOOLHOST_ABI initialize(toolhost_tool_t* tool, const toolhost_init_context_t* init) {
    (void)tool;
    (void)init;
#if defined(BREAK_LIFECYCLE)
    /* Cannot start with its default configuration. */
    static const char message[] = "cannot reach the backend at 127.0.0.1:1 (configure backend_url)";
    toolhost_str_t m = {message, sizeof message - 1};
    init->set_error(init, m);
    return TOOLHOST_STATUS_UNAVAILABLE;
#elif defined(BREAK_LEAK_FD)
    /* Opened in initialize(), never closed. */
    if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0) return TOOLHOST_STATUS_INTERNAL;
#elif defined(BREAK_LEAK_THREAD)
    /* Started in initialize(), never stopped or joined. */
    pthread_t t;
    if (pthread_create(&t, NULL, idle_forever, NULL) != 0) return TOOLHOST_STATUS_INTERNAL;
    pthread_detach(t);
#endif
    return TOOLHOST_STATUS_OK;
}

static void TOOLHOST_ABI destroy(toolhost_tool_t* tool) { free(tool); }

static const toolhost_operation_descriptor_t measure_op = {
    sizeof(toolhost_operation_descriptor_t),
    "measure",
    "The length of the arguments.",
    INPUT_SCHEMA,
    "{\"type\":\"object\",\"properties\":{\"length\":{\"type\":\"integer\"}},\"required\":[\"length\"]}",
    OPERATION_FLAGS,
    NULL};
static const toolhost_operation_descriptor_t* const operations[] = {&measure_op};
static const toolhost_tool_descriptor_t descriptor = {
    sizeof(toolhost_tool_descriptor_t), "vfix", "1.0.0",   "A fixture of toolhost validate-plugin.", NULL,
    TOOLHOST_TOOL_THREAD_SAFE,          1,      operations};

static uint32_t TOOLHOST_ABI tool_count(void) { return 1; }
static const toolhost_tool_descriptor_t* TOOLHOST_ABI tool_descriptor(uint32_t i) {
    return i == 0 ? &descriptor : NULL;
}
static toolhost_status_t TOOLHOST_ABI create_tool(uint32_t i, const toolhost_host_t* host, toolhost_tool_t** out) {
    (void)host;
    if (i != 0) return TOOLHOST_STATUS_NOT_FOUND;
    toolhost_tool_t* t = calloc(1, sizeof *t);
    if (t == NULL) return TOOLHOST_STATUS_RESOURCE_EXHAUSTED;
    t->struct_size = sizeof *t;
    t->initialize = initialize;
    t->invoke = measure;
    t->destroy = destroy;
    *out = t;
    return TOOLHOST_STATUS_OK;
}

#if defined(BREAK_EXPORTS)
/* A helper left visible: built without the plugin helper's version script (CMakeLists.txt). */
TOOLHOST_EXPORT int vfix_extra_symbol(void) { return 1; }
#endif

TOOLHOST_EXTERN_C TOOLHOST_EXPORT const toolhost_plugin_entry_t toolhost_plugin_entry_v1 = {
    sizeof(toolhost_plugin_entry_t),
    {ABI_MAJOR, TOOLHOST_ABI_VERSION_MINOR},
    "vfix",
    "1.0.0",
    NULL,
    NULL,
    tool_count,
    tool_descriptor,
    create_tool};
