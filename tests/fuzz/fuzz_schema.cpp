// JSON Schema compilation and validation (json_schema): a plugin's descriptor carries schema
// text the host compiles, and every call's arguments are validated against it. The input is
// schema text, then optionally a NUL byte and an instance to validate.
#include <toolhost/json_schema.hpp>

#include <boost/json/parse.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nul = input.find('\0');
    auto schema = toolhost::json_schema::compile_text(input.substr(0, nul));
    if (!schema || nul == std::string_view::npos) return 0;
    boost::system::error_code ec;
    boost::json::parse_options opts;
    opts.max_depth = 64;
    const auto instance = boost::json::parse(input.substr(nul + 1), ec, {}, opts);
    if (!ec) (void)schema->validate(instance);
    return 0;
}
