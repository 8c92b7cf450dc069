/* A toolhost plugin in C: one tool, "greeter", with one operation, "greet", that reads its
 * arguments and writes its result with jansson. The C example of docs/writing-a-plugin.md,
 * built by the package test in a C-only project. */
#include <jansson.h>
#include <toolhost/toolhost.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const toolhost_operation_descriptor_t greet_op = {
    sizeof(toolhost_operation_descriptor_t), "greet",
    "Returns a greeting for `name`, in `language` (en or fr, default en).",
    /* input schema: the host refuses other arguments before greet runs */
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1},"
    "\"language\":{\"enum\":[\"en\",\"fr\"]}},\"required\":[\"name\"],\"additionalProperties\":false}",
    /* output schema: the host refuses a result that does not match it */
    "{\"type\":\"object\",\"properties\":{\"greeting\":{\"type\":\"string\"}},\"required\":[\"greeting\"]}",
    TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY, NULL};
static const toolhost_operation_descriptor_t *const greeter_ops[] = {&greet_op};
static const toolhost_tool_descriptor_t greeter_desc = {
    sizeof(toolhost_tool_descriptor_t), "greeter", "1.0.0",    "Greets people, in C.", NULL,
    TOOLHOST_TOOL_THREAD_SAFE,          1,         greeter_ops};

static toolhost_status_t fail(const toolhost_call_t *call, toolhost_status_t status, const char *message) {
    toolhost_str_t m = {message, strlen(message)};
    call->set_error(call, m); /* every status but OK carries a message */
    return status;
}

static toolhost_status_t greet(const toolhost_call_t *call) {
    /* The arguments are validated already; parse them and read the fields in one call.
     * JSON_STRICT refuses keys the format does not name, like the schema does. */
    json_error_t error;
    json_t *args = json_loadb(call->arguments.data, call->arguments.size, 0, &error);
    const char *name = NULL;
    const char *language = "en";
    if (args == NULL ||
        json_unpack_ex(args, &error, JSON_STRICT, "{s:s, s?s}", "name", &name, "language", &language) != 0) {
        char message[256];
        snprintf(message, sizeof message, "greet: bad arguments: %s", error.text);
        json_decref(args);
        return fail(call, TOOLHOST_STATUS_INVALID_ARGUMENT, message);
    }
    /* json_pack copies the strings; json_dumps escapes them as JSON needs. */
    json_t *result = json_pack("{s:s++}", "greeting", strcmp(language, "fr") == 0 ? "Bonjour, " : "Hello, ", name, "!");
    json_decref(args); /* name and language point into args */
    char *text = result != NULL ? json_dumps(result, JSON_COMPACT) : NULL;
    json_decref(result);
    if (text == NULL) return fail(call, TOOLHOST_STATUS_RESOURCE_EXHAUSTED, "greet: out of memory");
    toolhost_str_t r = {text, strlen(text)};
    call->set_result(call, r); /* the host copies it */
    free(text);
    return TOOLHOST_STATUS_OK;
}

static toolhost_status_t TOOLHOST_ABI greeter_invoke(toolhost_tool_t *tool, const toolhost_call_t *call) {
    (void)tool;
    if (call->operation.size == 5 && memcmp(call->operation.data, "greet", 5) == 0) return greet(call);
    return fail(call, TOOLHOST_STATUS_UNIMPLEMENTED, "greeter has no such operation");
}

static void TOOLHOST_ABI greeter_destroy(toolhost_tool_t *tool) { free(tool); }

static uint32_t TOOLHOST_ABI greeter_count(void) { return 1; }

static const toolhost_tool_descriptor_t *TOOLHOST_ABI greeter_describe(uint32_t i) {
    return i == 0 ? &greeter_desc : NULL;
}

static toolhost_status_t TOOLHOST_ABI greeter_create(uint32_t i, const toolhost_host_t *host, toolhost_tool_t **out) {
    (void)host;
    if (i != 0) return TOOLHOST_STATUS_NOT_FOUND;
    toolhost_tool_t *t = calloc(1, sizeof *t);
    if (t == NULL) return TOOLHOST_STATUS_RESOURCE_EXHAUSTED;
    t->struct_size = sizeof *t;
    t->invoke = greeter_invoke; /* initialize and cleanup may stay NULL */
    t->destroy = greeter_destroy;
    *out = t;
    return TOOLHOST_STATUS_OK;
}

TOOLHOST_EXTERN_C TOOLHOST_EXPORT const toolhost_plugin_entry_t toolhost_plugin_entry_v1 = {
    sizeof(toolhost_plugin_entry_t),
    {TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR},
    "greeter",
    "1.0.0",
    NULL,
    NULL,
    greeter_count,
    greeter_describe,
    greeter_create};
