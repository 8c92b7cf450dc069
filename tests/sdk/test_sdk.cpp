// The SDK: C and C++ see the same ABI layout, and the C++ helper turns every exception into a
// status at the boundary. (That each header compiles alone as C11 and as C++20 with -Werror is
// proven by this executable's object libraries, sdk_c11 and sdk_cxx20, linking at all.)
#define BOOST_TEST_MODULE sdk
#include <boost/test/unit_test.hpp>

#include <toolhost/plugin.hpp>

#include <cstddef>
#include <map>
#include <string>

extern "C" {
struct toolhost_layout_item {
    const char* name;
    size_t value;
};
size_t toolhost_c_layout(const toolhost_layout_item** out);
}

#define CXX_ENTRY(type, field) \
    { #type "." #field, offsetof(type, field) }

BOOST_AUTO_TEST_CASE(c_and_cxx_agree_on_layout) {
    const std::map<std::string, size_t> cxx = {
        {"sizeof toolhost_str_t", sizeof(toolhost_str_t)},
        {"sizeof toolhost_host_t", sizeof(toolhost_host_t)},
        {"sizeof toolhost_init_context_t", sizeof(toolhost_init_context_t)},
        {"sizeof toolhost_call_t", sizeof(toolhost_call_t)},
        {"sizeof toolhost_operation_descriptor_t", sizeof(toolhost_operation_descriptor_t)},
        {"sizeof toolhost_tool_descriptor_t", sizeof(toolhost_tool_descriptor_t)},
        {"sizeof toolhost_tool_t", sizeof(toolhost_tool_t)},
        {"sizeof toolhost_plugin_entry_t", sizeof(toolhost_plugin_entry_t)},
        CXX_ENTRY(toolhost_host_t, get_extension),
        CXX_ENTRY(toolhost_init_context_t, set_error),
        CXX_ENTRY(toolhost_call_t, attempt),
        CXX_ENTRY(toolhost_call_t, set_retry_after_ms),
        CXX_ENTRY(toolhost_operation_descriptor_t, flags),
        CXX_ENTRY(toolhost_tool_descriptor_t, operations),
        CXX_ENTRY(toolhost_tool_t, destroy),
        CXX_ENTRY(toolhost_plugin_entry_t, abi_version),
        CXX_ENTRY(toolhost_plugin_entry_t, create_tool),
    };
    const toolhost_layout_item* items = nullptr;
    const size_t n = toolhost_c_layout(&items);
    BOOST_TEST(n == cxx.size());
    for (size_t i = 0; i < n; ++i) {
        auto it = cxx.find(items[i].name);
        BOOST_TEST_REQUIRE((it != cxx.end()), "C++ side lacks " << items[i].name);
        BOOST_TEST(it->second == items[i].value,
                   items[i].name << ": C says " << items[i].value << ", C++ says " << it->second);
    }
}

BOOST_AUTO_TEST_CASE(every_struct_starts_with_struct_size) {
    BOOST_TEST(offsetof(toolhost_host_t, struct_size) == 0u);
    BOOST_TEST(offsetof(toolhost_init_context_t, struct_size) == 0u);
    BOOST_TEST(offsetof(toolhost_call_t, struct_size) == 0u);
    BOOST_TEST(offsetof(toolhost_operation_descriptor_t, struct_size) == 0u);
    BOOST_TEST(offsetof(toolhost_tool_descriptor_t, struct_size) == 0u);
    BOOST_TEST(offsetof(toolhost_tool_t, struct_size) == 0u);
    BOOST_TEST(offsetof(toolhost_plugin_entry_t, struct_size) == 0u);
}

// ---------------------------------------------------------------- the C++ helper at the boundary

namespace {

namespace sdk = toolhost::sdk;

sdk::operation_info op(std::string name, uint64_t flags = 0) {
    sdk::operation_info o;
    o.name = std::move(name);
    o.description = "d";
    o.flags = flags;
    return o;
}

class sample_tool {
public:
    static sdk::tool_info describe() {
        return {.name = "sample",
                .version = "2.1.0",
                .description = "test",
                .config_schema = R"({"type":"object"})",
                .thread_safe = true,
                .operations = {op("ok", TOOLHOST_OPERATION_IDEMPOTENT), op("std_throw"), op("sdk_throw"),
                               op("int_throw"), op("fail")}};
    }
    void initialize(sdk::init_context& init) {
        if (init.config() == R"({"bad":true})") throw std::runtime_error("bad config");
        config_ = init.config();
    }
    sdk::result invoke(sdk::call_context& call) {
        auto op = call.operation();
        if (op == "ok") return sdk::result::ok(R"({"config":)" + config_ + "}");
        if (op == "std_throw") throw std::runtime_error("kaboom");
        if (op == "sdk_throw") throw sdk::error(sdk::status::not_found, "customer 7 not found");
        if (op == "int_throw") throw 42;
        call.retry_after(std::chrono::milliseconds(1500));
        return sdk::result::fail(sdk::status::unavailable, "backend down");
    }

private:
    std::string config_;
};

struct recorder {
    std::string result, error, init_error;
    uint64_t retry_after = 0;
};
recorder rec;

std::string_view sv(toolhost_str_t s) { return {s.data, s.size}; }

toolhost_call_t make_call(const char* op) {
    toolhost_call_t c{};
    c.struct_size = sizeof c;
    c.operation = {op, std::char_traits<char>::length(op)};
    c.arguments = TOOLHOST_STR_LITERAL("{}");
    c.is_cancelled = [](const toolhost_call_t*) { return false; };
    c.remaining_ns = [](const toolhost_call_t*) -> int64_t { return INT64_MAX; };
    c.log = [](const toolhost_call_t*, int32_t, toolhost_str_t) {};
    c.report_progress = [](const toolhost_call_t*, double, double, toolhost_str_t) {};
    c.set_result = [](const toolhost_call_t*, toolhost_str_t s) { rec.result = sv(s); };
    c.set_error = [](const toolhost_call_t*, toolhost_str_t s) { rec.error = sv(s); };
    c.set_retry_after_ms = [](const toolhost_call_t*, uint64_t ms) { rec.retry_after = ms; };
    return c;
}

toolhost_host_t make_host() {
    toolhost_host_t h{};
    h.struct_size = sizeof h;
    h.abi_version = {TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR};
    h.host_version = "test";
    h.log = [](const toolhost_host_t*, int32_t, toolhost_str_t) {};
    h.log_enabled = [](const toolhost_host_t*, int32_t) { return true; };
    h.get_extension = [](const toolhost_host_t*, const char*) -> const void* { return nullptr; };
    return h;
}

constexpr toolhost_plugin_entry_t entry = sdk::detail::plugin<sample_tool>::entry("sample-plugin", "9.9.9");

}  // namespace

BOOST_AUTO_TEST_CASE(helper_builds_entry_and_descriptor) {
    BOOST_TEST(entry.struct_size == sizeof(toolhost_plugin_entry_t));
    BOOST_TEST(entry.abi_version.major == TOOLHOST_ABI_VERSION_MAJOR);
    BOOST_TEST(entry.tool_count() == 1u);
    BOOST_TEST(entry.tool_descriptor(1) == nullptr);
    const auto* d = entry.tool_descriptor(0);
    BOOST_TEST_REQUIRE(d != nullptr);
    BOOST_TEST(std::string(d->name) == "sample");
    BOOST_TEST(std::string(d->version) == "2.1.0");
    BOOST_TEST((d->flags & TOOLHOST_TOOL_THREAD_SAFE) != 0u);
    BOOST_TEST(d->operation_count == 5u);
    BOOST_TEST(std::string(d->operations[0]->name) == "ok");
    BOOST_TEST((d->operations[0]->flags & TOOLHOST_OPERATION_IDEMPOTENT) != 0u);
    BOOST_TEST(d->operations[0]->output_schema == nullptr);
    BOOST_TEST(std::string(d->operations[1]->input_schema) == R"({"type":"object"})");
}

BOOST_AUTO_TEST_CASE(helper_turns_exceptions_into_statuses) {
    auto host = make_host();
    toolhost_tool_t* tool = nullptr;
    BOOST_TEST_REQUIRE(entry.create_tool(0, &host, &tool) == TOOLHOST_STATUS_OK);
    BOOST_TEST(entry.create_tool(1, &host, &tool) == TOOLHOST_STATUS_NOT_FOUND);

    toolhost_init_context_t init{};
    init.struct_size = sizeof init;
    init.config = TOOLHOST_STR_LITERAL(R"({"bad":true})");
    init.set_error = [](const toolhost_init_context_t*, toolhost_str_t s) { rec.init_error = sv(s); };
    BOOST_TEST(tool->initialize(tool, &init) == TOOLHOST_STATUS_INTERNAL);
    BOOST_TEST(rec.init_error.find("bad config") != std::string::npos);
    init.config = TOOLHOST_STR_LITERAL(R"({"x":1})");
    BOOST_TEST(tool->initialize(tool, &init) == TOOLHOST_STATUS_OK);

    auto c = make_call("ok");
    BOOST_TEST(tool->invoke(tool, &c) == TOOLHOST_STATUS_OK);
    BOOST_TEST(rec.result == R"({"config":{"x":1}})");

    c = make_call("std_throw");
    BOOST_TEST(tool->invoke(tool, &c) == TOOLHOST_STATUS_INTERNAL);
    BOOST_TEST(rec.error.find("kaboom") != std::string::npos);

    c = make_call("sdk_throw");
    BOOST_TEST(tool->invoke(tool, &c) == TOOLHOST_STATUS_NOT_FOUND);
    BOOST_TEST(rec.error == "customer 7 not found");

    c = make_call("int_throw");
    BOOST_TEST(tool->invoke(tool, &c) == TOOLHOST_STATUS_INTERNAL);
    BOOST_TEST(rec.error.find("not a std::exception") != std::string::npos);

    c = make_call("fail");
    BOOST_TEST(tool->invoke(tool, &c) == TOOLHOST_STATUS_UNAVAILABLE);
    BOOST_TEST(rec.error == "backend down");
    BOOST_TEST(rec.retry_after == 1500u);

    tool->cleanup(tool);
    tool->destroy(tool);
}
