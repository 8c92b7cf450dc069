// The bundled tools' argument reader (toolhost::plugins::args): every accessor on whatever the
// input's JSON holds. Anything but toolhost::sdk::error (INVALID_ARGUMENT) escaping is a bug.
#include <toolhost_plugins/args.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using toolhost::plugins::args;
    try {
        const args a(std::string_view(reinterpret_cast<const char*>(data), size));
        for (const auto& [key, value] : a.object()) {
            const std::string_view k = key;
            const auto attempt = [](auto&& f) {
                try {
                    f();
                } catch (const toolhost::sdk::error&) {
                }
            };
            attempt([&] { (void)a.required_string(k); });
            attempt([&] { (void)a.optional_string(k); });
            attempt([&] { (void)a.required_int(k); });
            attempt([&] { (void)a.int_or(k, 0, -100, 100); });
            attempt([&] { (void)a.optional_number(k); });
            attempt([&] { (void)a.optional_bool(k); });
            attempt([&] { (void)a.string_list(k); });
            attempt([&] { (void)a.path_list(k, {}); });
            attempt([&] { (void)a.optional_object(k); });
        }
    } catch (const toolhost::sdk::error&) {
    }
    return 0;
}
