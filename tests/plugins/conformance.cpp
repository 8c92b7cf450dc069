// fixture_conformance: the fixture tools of the official MCP conformance suite
// (@modelcontextprotocol/conformance, run by tests/mcp/run_conformance.sh), written with
// toolhost/plugin.hpp.
//
// One thread-safe tool, "conformance", whose operations are named exactly as the suite's
// scenarios call their tools (test_simple_text, test_sampling, json_schema_2020_12_tool, ...).
// The test serves it with the MCP tool-name template "{operation}", so the MCP tool names are the
// operation names. What each operation must do is written in the scenario descriptions
// (`conformance list --server`, and the suite's dist/index.js); tests/plugins/README.md lists
// them.
//
// Boost.JSON is compiled into this library header-only (this is the one source file of the
// library, and it includes boost/json/src.hpp) and hidden by the version script, so the plugin
// depends on no Boost library of the host's.
#include <boost/json/src.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include <toolhost/plugin.hpp>

namespace {

namespace json = boost::json;
namespace sdk = toolhost::sdk;
using namespace std::chrono_literals;

// ============================================================================== media samples

// A 1x1 PNG, 8-bit RGB, one red pixel (IHDR, one zlib-compressed IDAT scanline, IEND).
constexpr std::string_view red_pixel_png =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC";

// A RIFF/WAVE file: PCM, mono, 8000 Hz, 16 bit, 8 samples of silence (1 ms).
constexpr std::string_view silence_wav =
    "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA";

// ================================================================================== schemas

constexpr const char* no_arguments = R"({"type":"object","additionalProperties":false})";

constexpr const char* sampling_arguments =
    R"({"type":"object","properties":{"prompt":{"type":"string","description":"The prompt to send to the LLM"}},)"
    R"("required":["prompt"],"additionalProperties":false})";

constexpr const char* elicitation_arguments =
    R"({"type":"object","properties":{"message":{"type":"string","description":"The message to show the user"}},)"
    R"("required":["message"],"additionalProperties":false})";

// SEP-1613: a JSON Schema 2020-12 input schema that MCP servers must list unchanged ($schema,
// $defs, $ref and additionalProperties kept).
constexpr const char* schema_2020_12 =
    R"({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",)"
    R"("$defs":{"address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}}}},)"
    R"("properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"}},)"
    R"("additionalProperties":false})";

// The requestedSchema of each elicitation ("elicitation/create" params).
constexpr const char* user_info_schema =
    R"({"type":"object","properties":{)"
    R"("username":{"type":"string","description":"User's response"},)"
    R"("email":{"type":"string","description":"User's email address"}},)"
    R"("required":["username","email"]})";

// SEP-1034: a default for every primitive type.
constexpr const char* defaults_schema =
    R"({"type":"object","properties":{)"
    R"("name":{"type":"string","description":"User name","default":"John Doe"},)"
    R"("age":{"type":"integer","description":"User age","default":30},)"
    R"("score":{"type":"number","description":"User score","default":95.5},)"
    R"("status":{"type":"string","description":"User status","enum":["active","inactive","pending"],)"
    R"("default":"active"},)"
    R"("verified":{"type":"boolean","description":"Whether the user is verified","default":true}}})";

// SEP-1330: the five enum forms.
constexpr const char* enums_schema =
    R"({"type":"object","properties":{)"
    R"("untitledSingle":{"type":"string","description":"Untitled single-select",)"
    R"("enum":["option1","option2","option3"]},)"
    R"("titledSingle":{"type":"string","description":"Titled single-select","oneOf":[)"
    R"({"const":"value1","title":"First Option"},{"const":"value2","title":"Second Option"},)"
    R"({"const":"value3","title":"Third Option"}]},)"
    R"("legacyEnum":{"type":"string","description":"Legacy titled enum with enumNames, deprecated",)"
    R"("enum":["opt1","opt2","opt3"],"enumNames":["Option One","Option Two","Option Three"]},)"
    R"("untitledMulti":{"type":"array","description":"Untitled multi-select",)"
    R"("items":{"type":"string","enum":["option1","option2","option3"]}},)"
    R"("titledMulti":{"type":"array","description":"Titled multi-select","items":{"anyOf":[)"
    R"({"const":"value1","title":"First Choice"},{"const":"value2","title":"Second Choice"},)"
    R"({"const":"value3","title":"Third Choice"}]}}}})";

// ================================================================================== helpers

json::object parse_object(std::string_view text, std::string_view what) {
    json::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) throw sdk::error(sdk::status::internal, std::string(what) + " is not valid JSON: " + ec.message());
    if (!v.is_object()) throw sdk::error(sdk::status::internal, std::string(what) + " is not a JSON object");
    return std::move(v.as_object());
}

std::string_view required_string(const json::object& args, std::string_view field) {
    const json::value* v = args.if_contains(field);
    if (v == nullptr || !v->is_string())
        throw sdk::error(sdk::status::invalid_argument, std::string(field) + ": required string is missing");
    return v->get_string();
}

json::object text_block(std::string_view text) { return {{"type", "text"}, {"text", text}}; }

json::object image_block() { return {{"type", "image"}, {"data", red_pixel_png}, {"mimeType", "image/png"}}; }

json::object resource_block(std::string_view uri, std::string_view mime_type, std::string_view text) {
    return {{"type", "resource"}, {"resource", {{"uri", uri}, {"mimeType", mime_type}, {"text", text}}}};
}

// A content result ({"content": [...]}) of the given blocks.
sdk::result content(json::array blocks) {
    return sdk::result::ok(json::serialize(json::object{{"content", std::move(blocks)}}));
}

sdk::result text_result(std::string_view text) { return content({text_block(text)}); }

// The text of a sampling answer (CreateMessageResult): its content is one block, or an array of
// blocks since 2025-11-25; the first text block counts.
std::string sampled_text(const json::object& answer) {
    const json::value* c = answer.if_contains("content");
    if (c == nullptr) return {};
    auto text_of = [](const json::value& block) -> std::string {
        if (!block.is_object()) return {};
        const json::object& b = block.get_object();
        const json::value* type = b.if_contains("type");
        const json::value* text = b.if_contains("text");
        if (type && *type == "text" && text && text->is_string()) return std::string(text->get_string());
        return {};
    };
    if (c->is_array()) {
        for (const json::value& block : c->get_array())
            if (auto t = text_of(block); !t.empty()) return t;
        return {};
    }
    return text_of(*c);
}

// "action=accept, content={...}" of an ElicitResult.
std::string elicit_summary(const json::object& answer) {
    const json::value* action = answer.if_contains("action");
    const json::value* fields = answer.if_contains("content");
    std::string s = "action=";
    s += action && action->is_string() ? std::string(action->get_string()) : std::string("?");
    s += ", content=";
    s += fields ? json::serialize(*fields) : std::string("{}");
    return s;
}

// ==================================================================================== the tool

class conformance_tool {
public:
    static sdk::tool_info describe() {
        constexpr uint64_t pure = TOOLHOST_OPERATION_READ_ONLY | TOOLHOST_OPERATION_IDEMPOTENT;
        constexpr uint64_t content_result = TOOLHOST_OPERATION_CONTENT_RESULT;
        constexpr uint64_t asks_client = TOOLHOST_OPERATION_OPEN_WORLD | TOOLHOST_OPERATION_CONTENT_RESULT;
        auto op = [](const char* name, const char* description, const char* schema, uint64_t flags) {
            return sdk::operation_info{.name = name,
                                       .description = description,
                                       .input_schema = schema,
                                       .output_schema = {},
                                       .flags = flags};
        };
        return {
            .name = "conformance",
            .version = "1.0.0",
            .description = "Test fixture: the tools the MCP conformance suite calls (serve it with the MCP "
                           "tool-name template \"{operation}\").",
            .config_schema = {},
            .thread_safe = true,
            .operations = {
                op("test_simple_text", "Returns one text block.", no_arguments, pure | content_result),
                op("test_image_content", "Returns one image block: a 1x1 red PNG.", no_arguments,
                   pure | content_result),
                op("test_audio_content", "Returns one audio block: a 1 ms silent WAV.", no_arguments,
                   pure | content_result),
                op("test_embedded_resource", "Returns one embedded text resource.", no_arguments,
                   pure | content_result),
                op("test_multiple_content_types", "Returns a text, an image and an embedded resource block.",
                   no_arguments, pure | content_result),
                op("test_tool_with_logging",
                   "Logs three messages at info level 50 ms apart while it runs, then returns a text block.",
                   no_arguments, pure | content_result),
                op("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100, 50 ms apart.", no_arguments,
                   pure | content_result),
                op("test_error_handling", "Always fails: \"This tool intentionally returns an error for testing\".",
                   no_arguments, pure),
                op("test_sampling",
                   "Asks the client's language model (sampling/createMessage) with the prompt and returns "
                   "\"LLM response: <its answer>\".",
                   sampling_arguments, asks_client),
                op("test_elicitation",
                   "Asks the user (elicitation/create) for a username and an email and returns "
                   "\"User response: action=..., content=...\".",
                   elicitation_arguments, asks_client),
                op("test_elicitation_sep1034_defaults",
                   "Asks the user (elicitation/create) with a form whose fields of every primitive type have "
                   "defaults (SEP-1034).",
                   no_arguments, asks_client),
                op("test_elicitation_sep1330_enums",
                   "Asks the user (elicitation/create) with a form of the five enum forms (SEP-1330).",
                   no_arguments, asks_client),
                op("json_schema_2020_12_tool",
                   "Tool with JSON Schema 2020-12 features ($schema, $defs, $ref); returns its arguments as text.",
                   schema_2020_12, pure | content_result),
            },
        };
    }

    explicit conformance_tool(sdk::host host) : host_(host) {}

    sdk::result invoke(sdk::call_context& call) const {
        const std::string_view op = call.operation();
        if (op == "test_simple_text") return text_result("This is a simple text response for testing.");
        if (op == "test_image_content") return content({image_block()});
        if (op == "test_audio_content")
            return content({json::object{{"type", "audio"}, {"data", silence_wav}, {"mimeType", "audio/wav"}}});
        if (op == "test_embedded_resource")
            return content({resource_block("test://embedded-resource", "text/plain",
                                           "This is an embedded resource content.")});
        if (op == "test_multiple_content_types")
            return content({text_block("Multiple content types test:"), image_block(),
                            resource_block("test://mixed-content-resource", "application/json",
                                           R"({"test":"data","value":123})")});
        if (op == "test_tool_with_logging") return with_logging(call);
        if (op == "test_tool_with_progress") return with_progress(call);
        if (op == "test_error_handling")
            return sdk::result::fail(sdk::status::failed_precondition,
                                     "This tool intentionally returns an error for testing");
        if (op == "test_sampling") return sampling(call);
        if (op == "test_elicitation") {
            const json::object args = parse_object(call.arguments(), "arguments");
            return elicit(call, required_string(args, "message"), user_info_schema, "User response: ");
        }
        if (op == "test_elicitation_sep1034_defaults")
            return elicit(call, "Please review and update the form fields with defaults", defaults_schema,
                          "Elicitation completed: ");
        if (op == "test_elicitation_sep1330_enums")
            return elicit(call, "Please choose from the enum fields", enums_schema, "Elicitation completed: ");
        if (op == "json_schema_2020_12_tool") return text_result(call.arguments());
        return sdk::result::fail(sdk::status::unimplemented,
                                 "conformance has no operation \"" + std::string(op) + "\"");
    }

private:
    static sdk::result with_logging(sdk::call_context& call) {
        call.log(sdk::log_level::info, "Tool execution started");
        std::this_thread::sleep_for(50ms);
        call.log(sdk::log_level::info, "Tool processing data");
        std::this_thread::sleep_for(50ms);
        call.log(sdk::log_level::info, "Tool execution completed");
        return text_result("Tool with logging executed successfully");
    }

    static sdk::result with_progress(sdk::call_context& call) {
        call.progress(0, 100, "Completed step 0 of 100");
        std::this_thread::sleep_for(50ms);
        call.progress(50, 100, "Completed step 50 of 100");
        std::this_thread::sleep_for(50ms);
        call.progress(100, 100, "Completed step 100 of 100");
        return text_result("Tool with progress executed successfully");
    }

    sdk::result sampling(sdk::call_context& call) const {
        const json::object args = parse_object(call.arguments(), "arguments");
        const json::object params{
            {"messages",
             json::array{json::object{{"role", "user"}, {"content", text_block(required_string(args, "prompt"))}}}},
            {"maxTokens", 100}};
        sdk::result answer = host_.ask_client(call, "sampling/createMessage", json::serialize(params));
        if (answer.code() != sdk::status::ok) return answer;
        return text_result("LLM response: " + sampled_text(parse_object(answer.text(), "the sampling result")));
    }

    sdk::result elicit(sdk::call_context& call, std::string_view message, const char* requested_schema,
                       std::string_view prefix) const {
        const json::object params{{"message", message}, {"requestedSchema", json::parse(requested_schema)}};
        sdk::result answer = host_.ask_client(call, "elicitation/create", json::serialize(params));
        if (answer.code() != sdk::status::ok) return answer;
        return text_result(std::string(prefix) + elicit_summary(parse_object(answer.text(), "the elicitation result")));
    }

    sdk::host host_;
};

}  // namespace

TOOLHOST_PLUGIN("conformance", "1.0.0", conformance_tool)
