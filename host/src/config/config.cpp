#include <toolhost/call_policy.hpp>
#include <toolhost/config.hpp>
#include <toolhost/config_reader.hpp>

#include <toolhost/json_text.hpp>
#include <toolhost/plugin_loader.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <array>
#include <thread>
#include <tuple>

namespace toolhost {
namespace {

namespace fs = std::filesystem;
using boost::json::value;

constexpr unsigned max_threads = 1024;
constexpr std::string_view threads_expected = "expected an integer from 0 to 1024";
constexpr std::array<std::string_view, 6> log_levels = {"trace", "debug", "info", "warning", "error", "off"};
constexpr std::array<std::string_view, 2> log_formats = {"text", "json"};

constexpr auto join = &config_reader::join;
constexpr auto one_of = &config_reader::one_of;

// The longest tracing flush interval or request timeout: an hour.
constexpr std::uint64_t max_tracing_interval_ms = 3'600'000;

std::string json_quoted(std::string_view s) { return toolhost::json_text(value(s)); }

// A SHA-256 digest in lower case, or null when `s` is not 64 hex digits.
std::optional<std::string> normalized_sha256(std::string_view s) {
    if (s.size() != 64) return std::nullopt;
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    }
    return out;
}

json_diagnostic env_error(std::string_view variable, std::string message) {
    return json_diagnostic{"environment", 1, 1, std::string(variable), std::move(message)};
}

// Checks the parsed file section by section and copies what is valid into the config. Every
// problem is recorded and checking goes on, so one run shows the user everything to fix.
class file_reader : config_reader {
public:
    file_reader(const json_document& doc, host_config& config, std::vector<json_diagnostic>& errors)
        : config_reader(&doc, errors), doc_(doc), config_(config) {}

    void read() {
        const value& root = doc_.value();
        if (!root.is_object()) {
            error("", "expected an object, got " + describe_json(root));
            return;
        }
        check_keys("", root.get_object(),
                   {"plugin_dirs", "threads", "log_level", "log_format", "lifecycle", "tools_enabled_by_default",
                    "data_dir", "tools", "resilience", "tracing", "serve", "isolation", "trust"});
        const auto& obj = root.get_object();
        if (const auto* v = obj.if_contains("plugin_dirs")) read_plugin_dirs(*v);
        if (const auto* v = obj.if_contains("threads")) read_threads(*v);
        if (const auto* v = obj.if_contains("log_level")) read_word("/log_level", *v, log_levels, config_.log_level);
        if (const auto* v = obj.if_contains("log_format"))
            read_word("/log_format", *v, log_formats, config_.log_format);
        if (const auto* v = obj.if_contains("lifecycle")) read_lifecycle(*v);
        if (const auto* v = obj.if_contains("tools_enabled_by_default"))
            read_bool("/tools_enabled_by_default", *v, config_.tools_enabled_by_default);
        if (const auto* v = obj.if_contains("data_dir")) {
            if (auto path = read_path("/data_dir", *v)) config_.data_dir = *path;
        }
        if (const auto* v = obj.if_contains("resilience")) config_.resilience = read_resilience("/resilience", *v);
        if (const auto* v = obj.if_contains("isolation")) read_isolation("/isolation", *v, config_.isolation);
        if (const auto* v = obj.if_contains("trust")) read_trust(*v);
        if (const auto* v = obj.if_contains("tools")) read_tools(*v);
        if (const auto* v = obj.if_contains("tracing")) read_tracing(*v);
        if (const auto* v = obj.if_contains("serve")) {
            if (const auto* o = object("/serve", *v)) config_.serve = *o;  // parsed by serving
        }
        check_policies();
    }

private:
    void read_threads(const value& v) {
        if (v.is_int64() && v.get_int64() >= 0 && v.get_int64() <= max_threads) {
            config_.threads = static_cast<unsigned>(v.get_int64());
        } else if (v.is_uint64() && v.get_uint64() <= max_threads) {
            config_.threads = static_cast<unsigned>(v.get_uint64());
        } else {
            error("/threads", std::string(threads_expected) + ", got " + describe_json(v));
        }
    }

    void read_plugin_dirs(const value& v) {
        if (!v.is_array()) {
            error("/plugin_dirs", "expected an array of directory paths, got " + describe_json(v));
            return;
        }
        // Relative entries are relative to the file that names them, not to wherever the
        // host happens to be started.
        fs::path base = fs::absolute(config_.file).parent_path();
        const auto& dirs = v.get_array();
        for (std::size_t i = 0; i < dirs.size(); ++i) {
            if (auto path = read_path("/plugin_dirs/" + std::to_string(i), dirs[i])) {
                config_.plugin_dirs.push_back((base / *path).lexically_normal());
            }
        }
    }

    void read_lifecycle(const value& v) {
        if (!v.is_object()) {
            error("/lifecycle", "expected an object, got " + describe_json(v));
            return;
        }
        const auto& obj = v.get_object();
        check_keys("/lifecycle", obj, {"concurrent_init", "fail_on_error"});
        if (const auto* b = obj.if_contains("concurrent_init"))
            read_bool("/lifecycle/concurrent_init", *b, config_.concurrent_init);
        if (const auto* b = obj.if_contains("fail_on_error"))
            read_bool("/lifecycle/fail_on_error", *b, config_.fail_on_error);
    }

    // "trust": {"sha256": ["<64 hex digits>", ...]}
    void read_trust(const value& v) {
        const auto* obj = object("/trust", v);
        if (obj == nullptr) return;
        check_keys("/trust", *obj, {"sha256"});
        const auto* list = obj->if_contains("sha256");
        if (list == nullptr) return;
        if (!list->is_array()) {
            error("/trust/sha256", "expected an array of SHA-256 digests (64 hex digits), got " + describe_json(*list));
            return;
        }
        std::vector<std::string> digests;
        for (std::size_t i = 0; i < list->get_array().size(); ++i) {
            const auto& d = list->get_array()[i];
            auto digest = d.is_string() ? normalized_sha256(d.get_string()) : std::nullopt;
            if (!digest)
                error("/trust/sha256/" + std::to_string(i),
                      "expected a SHA-256 digest (64 hex digits), got " + describe_json(d));
            else
                digests.push_back(std::move(*digest));
        }
        config_.trust_sha256 = std::move(digests);
    }

    // "isolation": "process" | "in_process", or an object with "mode" and the worker's limits.
    void read_isolation(const std::string& pointer, const value& v, isolation_settings& out) {
        static constexpr std::array<std::string_view, 2> modes = {"in_process", "process"};
        auto read_mode = [&](const std::string& where, const value& m) {
            std::string word;
            read_word(where, m, modes, word);
            if (!word.empty()) out.mode = word == "process" ? isolation_mode::process : isolation_mode::in_process;
        };
        if (v.is_string()) {
            read_mode(pointer, v);
            return;
        }
        if (!v.is_object()) {
            error(pointer, "expected \"process\", \"in_process\" or an object with \"mode\", got " + describe_json(v));
            return;
        }
        const auto& obj = v.get_object();
        check_keys(pointer, obj, {"mode", "cancel_grace_ms", "start_timeout_ms", "max_memory_mb", "max_cpu_seconds"});
        if (const auto* m = obj.if_contains("mode")) read_mode(pointer + "/mode", *m);
        if (const auto* x = obj.if_contains("cancel_grace_ms"))
            if (auto n = read_integer(pointer + "/cancel_grace_ms", *x, 0, 600'000))
                out.cancel_grace = std::chrono::milliseconds(*n);
        if (const auto* x = obj.if_contains("start_timeout_ms"))
            if (auto n = read_integer(pointer + "/start_timeout_ms", *x, 1, 3'600'000))
                out.start_timeout = std::chrono::milliseconds(*n);
        // 16 MiB at least: below that not even the worker program itself loads.
        if (const auto* x = obj.if_contains("max_memory_mb")) {
            if (auto n = read_integer(pointer + "/max_memory_mb", *x, 0, 1u << 30)) {
                if (*n != 0 && *n < 16)
                    error(pointer + "/max_memory_mb",
                          "expected 0 (no limit) or at least 16, got " + std::to_string(*n));
                else
                    out.max_memory_mb = *n;
            }
        }
        if (const auto* x = obj.if_contains("max_cpu_seconds"))
            if (auto n = read_integer(pointer + "/max_cpu_seconds", *x, 0, 1u << 30)) out.max_cpu_seconds = *n;
    }

    // "tracing": the OTLP exporter. Kept even without an endpoint, so that TOOLHOST_OTLP_ENDPOINT
    // alone turns tracing on with the file's other settings; finish() drops it if none is set.
    void read_tracing(const value& v) {
        if (!v.is_object()) {
            error("/tracing", "expected an object, got " + describe_json(v));
            return;
        }
        const auto& obj = v.get_object();
        check_keys("/tracing", obj,
                   {"otlp_endpoint", "service_name", "sample_ratio", "headers", "max_queue", "max_batch",
                    "flush_interval_ms", "request_timeout_ms"});
        tracing_settings t;
        otlp_options& e = t.exporter;
        if (const auto* x = obj.if_contains("otlp_endpoint")) {
            if (!x->is_string()) {
                error("/tracing/otlp_endpoint", "expected an http:// URL string, got " + describe_json(*x));
            } else if (x->get_string().empty()) {
                // "" leaves tracing off
            } else if (auto problem = check_otlp_endpoint(x->get_string()); !problem.empty()) {
                error("/tracing/otlp_endpoint", problem + ", got " + describe_json(*x));
            } else {
                e.endpoint = x->get_string();
            }
        }
        if (const auto* x = obj.if_contains("service_name")) {
            if (x->is_string() && !x->get_string().empty()) {
                e.service_name = x->get_string();
            } else {
                error("/tracing/service_name", "expected a non-empty string, got " + describe_json(*x));
            }
        }
        if (const auto* x = obj.if_contains("sample_ratio")) {
            const double r = x->is_number() ? x->to_number<double>() : -1.0;
            if (x->is_number() && r >= 0.0 && r <= 1.0) {
                t.sample_ratio = r;
            } else {
                error("/tracing/sample_ratio", "expected a number from 0 to 1, got " + describe_json(*x));
            }
        }
        if (const auto* x = obj.if_contains("headers")) {
            if (!x->is_object()) {
                error("/tracing/headers",
                      "expected an object mapping header names to values, got " + describe_json(*x));
            } else {
                for (const auto& h : x->get_object()) {
                    const std::string pointer = "/tracing/headers/" + json_pointer_escape(h.key());
                    if (!h.value().is_string()) {
                        error(pointer, "expected a string, got " + describe_json(h.value()));
                        continue;
                    }
                    // A bad name is reported at the key, a bad value at the value.
                    if (auto problem = check_http_header(h.key(), ""); !problem.empty()) {
                        key_error(pointer, std::move(problem));
                    } else if (auto bad_value = check_http_header(h.key(), h.value().get_string());
                               !bad_value.empty()) {
                        error(pointer, std::move(bad_value));
                    } else {
                        e.headers.insert_or_assign(std::string(h.key()), std::string(h.value().get_string()));
                    }
                }
            }
        }
        if (const auto* x = obj.if_contains("max_queue"))
            if (auto n = read_integer("/tracing/max_queue", *x, 1, otlp_options::queue_limit)) e.max_queue = *n;
        if (const auto* x = obj.if_contains("max_batch"))
            if (auto n = read_integer("/tracing/max_batch", *x, 1, otlp_options::queue_limit)) e.max_batch = *n;
        if (const auto* x = obj.if_contains("flush_interval_ms"))
            if (auto n = read_integer("/tracing/flush_interval_ms", *x, 1, max_tracing_interval_ms))
                e.flush_interval = std::chrono::milliseconds(*n);
        if (const auto* x = obj.if_contains("request_timeout_ms"))
            if (auto n = read_integer("/tracing/request_timeout_ms", *x, 1, max_tracing_interval_ms))
                e.request_timeout = std::chrono::milliseconds(*n);
        config_.tracing = std::move(t);
    }

    void read_tools(const value& v) {
        if (!v.is_object()) {
            error("/tools", "expected an object mapping tool names to settings, got " + describe_json(v));
            return;
        }
        for (const auto& member : v.get_object()) {
            std::string pointer = "/tools/" + json_pointer_escape(member.key());
            if (member.key().empty()) {
                error(pointer, "tool names must not be empty");
                continue;
            }
            if (!member.value().is_object()) {
                error(pointer,
                      "expected an object with \"enabled\" and \"config\", got " + describe_json(member.value()));
                continue;
            }
            const auto& obj = member.value().get_object();
            tool_settings settings;
            settings.pointer = pointer;
            check_keys(pointer, obj, {"enabled", "config", "resilience", "operations", "isolation"});
            if (const auto* i = obj.if_contains("isolation"))
                read_isolation(pointer + "/isolation", *i, settings.isolation);
            if (const auto* r = obj.if_contains("resilience"))
                settings.resilience = read_resilience(pointer + "/resilience", *r);
            if (const auto* ops = obj.if_contains("operations")) {
                if (!ops->is_object()) {
                    error(pointer + "/operations",
                          "expected an object mapping operation names to settings, got " + describe_json(*ops));
                } else {
                    for (const auto& op : ops->get_object()) {
                        std::string op_pointer = pointer + "/operations/" + json_pointer_escape(op.key());
                        if (!op.value().is_object()) {
                            error(op_pointer,
                                  "expected an object with \"resilience\", got " + describe_json(op.value()));
                            continue;
                        }
                        check_keys(op_pointer, op.value().get_object(), {"resilience"});
                        if (const auto* r = op.value().get_object().if_contains("resilience"))
                            if (auto rs = read_resilience(op_pointer + "/resilience", *r))
                                settings.operation_resilience.emplace(std::string(op.key()), std::move(*rs));
                    }
                }
            }
            if (const auto* b = obj.if_contains("enabled")) read_bool(pointer + "/enabled", *b, settings.enabled);
            if (const auto* c = obj.if_contains("config")) {
                if (c->is_object()) {
                    settings.config = c->get_object();
                } else {
                    error(pointer + "/config", "expected an object, got " + describe_json(*c));
                }
            }
            config_.tools.insert_or_assign(std::string(member.key()), std::move(settings));
        }
    }

    // A "resilience" object: checked by applying it to a default policy (the host applies it
    // again, over the outer levels, when the tool registers).
    std::optional<resilience_settings> read_resilience(const std::string& pointer, const value& v) {
        if (!v.is_object()) {
            error(pointer, "expected an object, got " + describe_json(v));
            return std::nullopt;
        }
        call_policy scratch;
        auto problems = apply_resilience(scratch, v.get_object());
        for (auto& [where, message] : problems) {
            if (message.starts_with("unknown key"))
                key_error(pointer + where, std::move(message));
            else
                error(pointer + where, std::move(message));
        }
        if (!problems.empty()) return std::nullopt;
        return resilience_settings{v.get_object(), pointer};
    }

    // Each level's combined policy must be able to work (validate(call_policy)), reported at the
    // most specific "resilience" object.
    void check_policies() {
        call_policy global;
        if (config_.resilience) apply_resilience(global, config_.resilience->settings);
        auto check = [&](const call_policy& p, const std::string& pointer) {
            if (auto problems = validate(p); !problems.empty()) error(pointer, problems);
        };
        check(global, config_.resilience ? config_.resilience->pointer : "");
        for (const auto& [name, t] : config_.tools) {
            call_policy tool = global;
            if (t.resilience) {
                apply_resilience(tool, t.resilience->settings);
                check(tool, t.resilience->pointer);
            }
            for (const auto& [op, r] : t.operation_resilience) {
                call_policy per_op = tool;
                apply_resilience(per_op, r.settings);
                check(per_op, r.pointer);
            }
        }
    }

    const json_document& doc_;
    host_config& config_;
};

// An empty variable counts as unset, as with most Unix tools: `TOOLHOST_THREADS= toolhost` runs
// with the file's value.
std::optional<std::string> lookup(const getenv_function& getenv, std::string_view name) {
    auto v = getenv(name);
    if (v && v->empty()) return std::nullopt;
    return v;
}

void apply_environment(host_config& config, const getenv_function& getenv, std::vector<json_diagnostic>& errors) {
    if (auto v = lookup(getenv, "TOOLHOST_PLUGIN_PATH")) {
        std::string_view rest = *v;
        while (!rest.empty()) {
            auto colon = rest.find(':');
            std::string_view entry = rest.substr(0, colon);
            rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
            if (!entry.empty()) config.plugin_dirs.push_back(fs::absolute(fs::path(entry)).lexically_normal());
        }
    }
    if (auto v = lookup(getenv, "TOOLHOST_TRUST_SHA256")) {
        // Digests separated by commas, colons or white space, added to trust.sha256.
        if (!config.trust_sha256) config.trust_sha256.emplace();
        std::string_view rest = *v;
        while (!rest.empty()) {
            const auto end = rest.find_first_of(",: \t\n");
            const std::string_view entry = rest.substr(0, end);
            rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
            if (entry.empty()) continue;
            if (auto digest = normalized_sha256(entry))
                config.trust_sha256->push_back(std::move(*digest));
            else
                errors.push_back(env_error("TOOLHOST_TRUST_SHA256",
                                           "expected SHA-256 digests (64 hex digits), got " + json_quoted(entry)));
        }
    }
    if (auto v = lookup(getenv, "TOOLHOST_THREADS")) {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec == std::errc{} && end == v->data() + v->size() && n <= max_threads) {
            config.threads = n;
        } else {
            errors.push_back(env_error("TOOLHOST_THREADS", std::string(threads_expected) + ", got " + json_quoted(*v)));
        }
    }
    if (auto v = lookup(getenv, "TOOLHOST_LOG_LEVEL")) {
        if (one_of(*v, log_levels)) {
            config.log_level = *v;
        } else {
            errors.push_back(
                env_error("TOOLHOST_LOG_LEVEL", "expected one of " + join(log_levels) + ", got " + json_quoted(*v)));
        }
    }
    if (auto v = lookup(getenv, "TOOLHOST_LOG_FORMAT")) {
        if (one_of(*v, log_formats)) {
            config.log_format = *v;
        } else {
            errors.push_back(
                env_error("TOOLHOST_LOG_FORMAT", "expected one of " + join(log_formats) + ", got " + json_quoted(*v)));
        }
    }
    if (auto v = lookup(getenv, "TOOLHOST_DATA_DIR")) config.data_dir = *v;
    if (auto v = lookup(getenv, "TOOLHOST_OTLP_ENDPOINT")) {
        if (auto problem = check_otlp_endpoint(*v); problem.empty()) {
            if (!config.tracing) config.tracing.emplace();
            config.tracing->exporter.endpoint = *v;
        } else {
            errors.push_back(env_error("TOOLHOST_OTLP_ENDPOINT", problem + ", got " + json_quoted(*v)));
        }
    }
}

// Turns "0 = automatic" and relative paths into the values the host will actually use.
void finish(host_config& config) {
    if (config.threads == 0) config.threads = std::clamp(std::thread::hardware_concurrency(), 1u, max_threads);
    config.data_dir = fs::absolute(config.data_dir).lexically_normal();
    if (config.tracing && config.tracing->exporter.endpoint.empty()) config.tracing.reset();  // no endpoint: off
}

}  // namespace

json_diagnostic host_config::error_at(std::string_view pointer, std::string message) const {
    if (document) return document->error_at(pointer, std::move(message));
    return json_diagnostic{"<defaults>", 1, 1, std::string(pointer), std::move(message)};
}

bool host_config::tool_enabled(std::string_view name) const {
    auto it = tools.find(name);
    return it != tools.end() ? it->second.enabled : tools_enabled_by_default;
}

effective_isolation host_config::isolation_for(std::string_view name) const {
    effective_isolation e;
    auto apply = [&e](const isolation_settings& s) {
        if (s.mode) e.mode = *s.mode;
        if (s.cancel_grace) e.cancel_grace = *s.cancel_grace;
        if (s.start_timeout) e.start_timeout = *s.start_timeout;
        if (s.max_memory_mb) e.max_memory_mb = *s.max_memory_mb;
        if (s.max_cpu_seconds) e.max_cpu_seconds = *s.max_cpu_seconds;
    };
    apply(isolation);
    if (auto it = tools.find(name); it != tools.end()) {
        apply(it->second.isolation);
        e.mode_set_for_tool = it->second.isolation.mode.has_value();
    }
    return e;
}

namespace {
// A file that says which builds may run must be as hard to change as the builds themselves: the
// checks plugin files get (owner root or this user, not writable by group or others, in a folder
// others cannot write).
void check_trust_list_file(const host_config& config, std::vector<json_diagnostic>& errors) {
    struct stat st {};
    std::string problem;
    if (::stat(config.file.c_str(), &st) != 0)
        problem = std::string("cannot check the file's permissions: ") + std::strerror(errno);
    else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        problem =
            "the file is writable by its group or by others, so anyone could add a build to the list; "
            "chmod go-w " +
            config.file.string();
    else if (st.st_uid != 0 && st.st_uid != ::geteuid())
        problem = "the file is owned by another user (uid " + std::to_string(st.st_uid) +
                  "), who could add a build to the list";
    else if (auto dir = plugin_loader::check_directory(config.file.parent_path()); !dir)
        problem = "its folder: " + dir.error();
    if (!problem.empty())
        errors.push_back(config.error_at("/trust", "a trust list is only trusted in a protected file: " + problem));
}
}  // namespace

boost::system::result<host_config, std::vector<json_diagnostic>> load_config(const fs::path& file,
                                                                             const getenv_function& getenv) {
    std::vector<json_diagnostic> errors;
    host_config config;
    config.file = file;
    if (auto doc = json_document::load(file)) {
        config.document = std::make_shared<const json_document>(std::move(*doc));
        file_reader(*config.document, config, errors).read();
        if (config.trust_sha256) check_trust_list_file(config, errors);
        // Checking goes section by section; people fix files top to bottom.
        config_reader::sort(errors);
    } else {
        errors.push_back(doc.error());
    }
    apply_environment(config, getenv, errors);
    if (!errors.empty()) return errors;
    finish(config);
    return config;
}

boost::system::result<host_config, std::vector<json_diagnostic>> default_config(const getenv_function& getenv) {
    std::vector<json_diagnostic> errors;
    host_config config;
    apply_environment(config, getenv, errors);
    if (!errors.empty()) return errors;
    finish(config);
    return config;
}

std::optional<std::string> process_env(std::string_view name) {
    // getenv() needs a terminated string; names are short, so the copy is cheap.
    if (const char* v = std::getenv(std::string(name).c_str())) return std::string(v);
    return std::nullopt;
}

}  // namespace toolhost
