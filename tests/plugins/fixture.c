/* The small C test fixtures: valid and deliberately broken plugin libraries for the loader tests.
 *
 * One source, compiled once per fixture with exactly one FIXTURE_<NAME> macro defined (see
 * CMakeLists.txt). Without any switch it is a minimal valid plugin: one tool with one operation,
 * "ping", that returns {"pong":true}. Each switch changes the one thing that fixture is about.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <toolhost/toolhost.h>

/* ============================================================================= the switches */

/* FIXTURE_LIBRARY is the target name (e.g. fixture_dup_a), given by CMake; it becomes the
 * plugin_name, so the host's messages say which fixture they are about. */
#ifndef FIXTURE_LIBRARY
#define FIXTURE_LIBRARY fixture
#endif
#define FIXTURE_STRINGIFY_(x) #x
#define FIXTURE_STRINGIFY(x) FIXTURE_STRINGIFY_(x)

#define ENTRY_NAME toolhost_plugin_entry_v1
#define ENTRY_SIZE sizeof(toolhost_plugin_entry_t)
#define ABI_MAJOR TOOLHOST_ABI_VERSION_MAJOR
#define ABI_MINOR TOOLHOST_ABI_VERSION_MINOR
#define TOOL_DESCRIPTION "A test fixture."
#define INPUT_SCHEMA "{\"type\":\"object\",\"additionalProperties\":false}"
#define OPERATION_COUNT 1
#define INIT_FUNCTION NULL

#if defined(FIXTURE_ABI_MAJOR2)
/* Exports the v1 symbol but claims ABI 2.0: refused for the major. */
#define TOOL_NAME "abi_major2_tool"
#undef ABI_MAJOR
#define ABI_MAJOR 2
#undef ABI_MINOR
#define ABI_MINOR 0

#elif defined(FIXTURE_ENTRY_V2_ONLY)
/* Built as if for ABI 2: only toolhost_plugin_entry_v2 is exported, so there is no v1 entry. */
#define TOOL_NAME "entry_v2_tool"
#undef ENTRY_NAME
#define ENTRY_NAME toolhost_plugin_entry_v2
#undef ABI_MAJOR
#define ABI_MAJOR 2
#undef ABI_MINOR
#define ABI_MINOR 0

#elif defined(FIXTURE_NEWER_MINOR)
/* A minor the host does not know yet: refused. */
#define TOOL_NAME "newer_minor_tool"
#undef ABI_MINOR
#define ABI_MINOR (TOOLHOST_ABI_VERSION_MINOR + 1)

#elif defined(FIXTURE_OLDER_MINOR)
/* Valid and explicitly 1.0, so that a host of 1.N (N >= 1) must accept it. */
#define TOOL_NAME "older_minor_tool"
#undef ABI_MINOR
#define ABI_MINOR 0

#elif defined(FIXTURE_SMALL_ENTRY)
/* struct_size stops before tool_count: too small to be a v1.0 entry. */
#define TOOL_NAME "small_entry_tool"
#undef ENTRY_SIZE
#define ENTRY_SIZE offsetof(toolhost_plugin_entry_t, tool_count)

#elif defined(FIXTURE_UNRESOLVED)
/* init() calls a function nothing defines, so dlopen(RTLD_NOW) fails with "undefined symbol". */
#define TOOL_NAME "unresolved_tool"
#undef INIT_FUNCTION
#define INIT_FUNCTION fixture_init
void toolhost_fixture_missing_function(void);

#elif defined(FIXTURE_BAD_SCHEMA)
#define TOOL_NAME "bad_schema"
#undef INPUT_SCHEMA
#define INPUT_SCHEMA "{not json"

#elif defined(FIXTURE_BAD_NAME)
#define TOOL_NAME "bad name!"

#elif defined(FIXTURE_NO_OPS)
#define TOOL_NAME "no_ops_tool"
#undef OPERATION_COUNT
#define OPERATION_COUNT 0

#elif defined(FIXTURE_DUP_A)
#define TOOL_NAME "dupe"
#undef TOOL_DESCRIPTION
#define TOOL_DESCRIPTION "from a"

#elif defined(FIXTURE_DUP_B)
#define TOOL_NAME "dupe"
#undef TOOL_DESCRIPTION
#define TOOL_DESCRIPTION "from b"

#elif defined(FIXTURE_INIT_FAILS)
/* init() logs why through the library-level host and refuses to load. */
#define TOOL_NAME "init_fails_tool"
#undef INIT_FUNCTION
#define INIT_FUNCTION fixture_init

#elif defined(FIXTURE_MULTI)
/* Two valid tools in one library. */
#define TOOL_NAME "multi_one"
#define SECOND_TOOL_NAME "multi_two"

#else
#error "define one FIXTURE_<NAME> switch"
#endif

/* ======================================================================== the one operation */

static const toolhost_operation_descriptor_t ping_operation = {
    sizeof(toolhost_operation_descriptor_t),
    "ping",
    "Returns {\"pong\":true}.",
    INPUT_SCHEMA,
    "{\"type\":\"object\",\"properties\":{\"pong\":{\"type\":\"boolean\"}},"
    "\"required\":[\"pong\"]}",
    TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY};

static const toolhost_operation_descriptor_t *const operations[] = {&ping_operation};

/* ============================================================================== descriptors */

static const toolhost_tool_descriptor_t tool_descriptors[] = {
    {sizeof(toolhost_tool_descriptor_t), TOOL_NAME, "1.0.0", TOOL_DESCRIPTION, NULL,
     TOOLHOST_TOOL_THREAD_SAFE, OPERATION_COUNT, OPERATION_COUNT ? operations : NULL},
#ifdef SECOND_TOOL_NAME
    {sizeof(toolhost_tool_descriptor_t), SECOND_TOOL_NAME, "1.0.0", TOOL_DESCRIPTION, NULL,
     TOOLHOST_TOOL_THREAD_SAFE, OPERATION_COUNT, operations},
#endif
};

#define TOOL_COUNT ((uint32_t)(sizeof tool_descriptors / sizeof tool_descriptors[0]))

/* ================================================================================= instance */

static toolhost_status_t TOOLHOST_ABI fixture_initialize(toolhost_tool_t *tool,
                                                         const toolhost_init_context_t *init) {
    (void)tool;
    (void)init;
    return TOOLHOST_STATUS_OK;
}

static toolhost_status_t TOOLHOST_ABI fixture_invoke(toolhost_tool_t *tool,
                                                     const toolhost_call_t *call) {
    (void)tool;
    static const char ping[] = "ping";
    if (call->operation.size == sizeof ping - 1 &&
        memcmp(call->operation.data, ping, sizeof ping - 1) == 0) {
        toolhost_str_t result = TOOLHOST_STR_LITERAL("{\"pong\":true}");
        call->set_result(call, result);
        return TOOLHOST_STATUS_OK;
    }
    toolhost_str_t message = TOOLHOST_STR_LITERAL("unknown operation");
    call->set_error(call, message);
    return TOOLHOST_STATUS_UNIMPLEMENTED;
}

static void TOOLHOST_ABI fixture_cleanup(toolhost_tool_t *tool) { (void)tool; }

static void TOOLHOST_ABI fixture_destroy(toolhost_tool_t *tool) { free(tool); }

/* ==================================================================================== entry */

#if defined(FIXTURE_UNRESOLVED)
static toolhost_status_t TOOLHOST_ABI fixture_init(const toolhost_host_t *host) {
    (void)host;
    toolhost_fixture_missing_function();
    return TOOLHOST_STATUS_OK;
}
#elif defined(FIXTURE_INIT_FAILS)
static toolhost_status_t TOOLHOST_ABI fixture_init(const toolhost_host_t *host) {
    toolhost_str_t message =
        TOOLHOST_STR_LITERAL("fixture_init_fails: the backend this plugin needs is unreachable");
    host->log(host, TOOLHOST_LOG_ERROR, message);
    return TOOLHOST_STATUS_UNAVAILABLE;
}
#endif

static uint32_t TOOLHOST_ABI fixture_tool_count(void) { return TOOL_COUNT; }

static const toolhost_tool_descriptor_t *TOOLHOST_ABI fixture_tool_descriptor(uint32_t index) {
    return index < TOOL_COUNT ? &tool_descriptors[index] : NULL;
}

static toolhost_status_t TOOLHOST_ABI fixture_create_tool(uint32_t index, const toolhost_host_t *host,
                                                          toolhost_tool_t **out_tool) {
    (void)host;
    if (index >= TOOL_COUNT) return TOOLHOST_STATUS_NOT_FOUND;
    toolhost_tool_t *tool = (toolhost_tool_t *)calloc(1, sizeof *tool);
    if (tool == NULL) return TOOLHOST_STATUS_RESOURCE_EXHAUSTED;
    tool->struct_size = sizeof *tool;
    tool->tool_data = NULL;
    tool->initialize = fixture_initialize;
    tool->invoke = fixture_invoke;
    tool->cleanup = fixture_cleanup;
    tool->destroy = fixture_destroy;
    *out_tool = tool;
    return TOOLHOST_STATUS_OK;
}

TOOLHOST_EXPORT const toolhost_plugin_entry_t ENTRY_NAME = {
    (uint32_t)ENTRY_SIZE,
    {ABI_MAJOR, ABI_MINOR},
    FIXTURE_STRINGIFY(FIXTURE_LIBRARY),
    "1.0.0",
    INIT_FUNCTION,
    NULL,
    fixture_tool_count,
    fixture_tool_descriptor,
    fixture_create_tool};
