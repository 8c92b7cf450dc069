#include "loading/plugin_scanner.hpp"

#include "isolation/channel.hpp"
#include "isolation/child_process.hpp"
#include "loading/scan_cache.hpp"
#include "loading/sha256.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/scan_inputs.h>

#include <boost/json/parse.hpp>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace toolhost::detail {

namespace json = boost::json;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

// ----------------------------------------------------------------------------- file identity

namespace {
file_identity identity_of(const struct stat& st) {
    auto ns = [](const timespec& t) { return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec; };
    return file_identity{st.st_dev, st.st_ino, st.st_size, ns(st.st_mtim), ns(st.st_ctim)};
}
}  // namespace

std::optional<file_identity> file_identity::of(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return identity_of(st);
}

std::optional<file_identity> file_identity::of_fd(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::nullopt;
    return identity_of(st);
}

json::object file_identity::to_json() const {
    return {{"device", device}, {"inode", inode}, {"size", size}, {"mtime_ns", mtime_ns}, {"ctime_ns", ctime_ns}};
}

std::optional<file_identity> file_identity::from_json(const json::value& v) {
    if (!v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    file_identity id;
    boost::system::error_code ec;
    auto get = [&](std::string_view key, auto& out) {
        const auto* m = o.if_contains(key);
        if (m == nullptr || !m->is_number()) return false;
        out = m->to_number<std::remove_reference_t<decltype(out)>>(ec);
        return !ec;
    };
    if (!get("device", id.device) || !get("inode", id.inode) || !get("size", id.size) ||
        !get("mtime_ns", id.mtime_ns) || !get("ctime_ns", id.ctime_ns))
        return std::nullopt;
    return id;
}

std::string descriptor_input_state(std::string_view kind, const std::string& name) {
    if (kind == "env") {
        const char* v = name.find('\0') == std::string::npos ? std::getenv(name.c_str()) : nullptr;
        // A digest, not the value: the cache file in the data directory need not hold secrets.
        return v == nullptr ? std::string("unset") : "set:" + sha256::of(v);
    }
    if (name.find('\0') != std::string::npos) return "missing";
    const auto id = file_identity::of(name);
    if (!id) return "missing";
    return std::to_string(id->device) + ":" + std::to_string(id->inode) + ":" + std::to_string(id->size) + ":" +
           std::to_string(id->mtime_ns) + ":" + std::to_string(id->ctime_ns);
}

// ------------------------------------------------------------------------------- scan result

scan_result scan_result::refused(std::string why, bool cacheable) {
    scan_result r;
    r.reason = std::move(why);
    r.cacheable = cacheable;
    return r;
}

json::object scan_result::to_json() const {
    if (!loaded) return {{"loaded", false}, {"reason", reason}};
    json::array ts;
    for (const auto& t : tools) {
        json::object o{{"index", t.index}, {"name", t.name}};
        if (t.raw)
            o["descriptor"] = to_wire(*t.raw);
        else
            o["error"] = t.error;
        ts.push_back(std::move(o));
    }
    json::object out{{"loaded", true},
                     {"plugin_name", plugin_name},
                     {"plugin_version", plugin_version},
                     {"abi", json::array{abi.major, abi.minor}},
                     {"tools", std::move(ts)}};
    if (!inputs.empty()) {
        json::array in;
        for (const auto& i : inputs) in.push_back(json::object{{"kind", i.kind}, {"name", i.name}, {"state", i.state}});
        out["inputs"] = std::move(in);
    }
    if (!cacheable) out["cacheable"] = false;
    return out;
}

namespace {

boost::system::result<scanned_tool, std::string> scanned_tool_from_json(const json::value& v) {
    if (!v.is_object()) return std::string("a tool entry is not an object");
    const auto& o = v.get_object();
    scanned_tool t;
    boost::system::error_code ec;
    const auto* index = o.if_contains("index");
    if (index == nullptr || !index->is_number()) return std::string("a tool entry has no \"index\"");
    t.index = index->to_number<std::uint32_t>(ec);
    if (ec) return std::string("a tool entry's \"index\" is not a 32-bit unsigned integer");
    if (const auto* name = o.if_contains("name"); name != nullptr && name->is_string()) t.name = name->get_string();
    if (const auto* d = o.if_contains("descriptor")) {
        auto raw = raw_from_wire(*d);
        if (!raw) return raw.error();
        t.raw = std::move(*raw);
    } else if (const auto* e = o.if_contains("error"); e != nullptr && e->is_string()) {
        t.error = e->get_string();
    } else {
        return std::string("a tool entry has neither \"descriptor\" nor \"error\"");
    }
    return t;
}

}  // namespace

boost::system::result<scan_result, std::string> scan_result::from_json(const json::value& v) {
    if (!v.is_object()) return std::string("the answer is not an object");
    const auto& o = v.get_object();
    const auto* loaded = o.if_contains("loaded");
    if (loaded == nullptr || !loaded->is_bool()) return std::string("\"loaded\" is missing or not a boolean");
    if (!loaded->get_bool()) {
        const auto* reason = o.if_contains("reason");
        if (reason == nullptr || !reason->is_string() || reason->get_string().empty())
            return std::string("a refusal without a \"reason\"");
        return refused(std::string(reason->get_string()));
    }
    scan_result r;
    r.loaded = true;
    for (auto [key, out] : {std::pair<std::string_view, std::string*>{"plugin_name", &r.plugin_name},
                            {"plugin_version", &r.plugin_version}}) {
        const auto* m = o.if_contains(key);
        if (m == nullptr || !m->is_string())
            return std::string(1, '"').append(key).append("\" is missing or not a string");
        *out = m->get_string();
    }
    const auto* abi = o.if_contains("abi");
    boost::system::error_code ec;
    if (abi == nullptr || !abi->is_array() || abi->get_array().size() != 2)
        return std::string("\"abi\" is not [major, minor]");
    r.abi.major = abi->get_array()[0].to_number<std::uint16_t>(ec);
    if (!ec) r.abi.minor = abi->get_array()[1].to_number<std::uint16_t>(ec);
    if (ec) return std::string("\"abi\" is not [major, minor]");
    const auto* tools = o.if_contains("tools");
    if (tools == nullptr || !tools->is_array()) return std::string("\"tools\" is missing or not an array");
    for (const auto& t : tools->get_array()) {
        auto st = scanned_tool_from_json(t);
        if (!st) return st.error();
        r.tools.push_back(std::move(*st));
    }
    if (const auto* c = o.if_contains("cacheable"); c != nullptr && c->is_bool()) r.cacheable = c->get_bool();
    if (const auto* in = o.if_contains("inputs")) {
        if (!in->is_array() || in->get_array().size() > TOOLHOST_SCAN_INPUTS_MAX)
            return std::string("\"inputs\" is not an array of at most ") + std::to_string(TOOLHOST_SCAN_INPUTS_MAX) +
                   " inputs";
        for (const auto& v : in->get_array()) {
            const auto* i = v.if_object();
            descriptor_input d;
            for (auto [key, out] :
                 {std::pair<std::string_view, std::string*>{"kind", &d.kind}, {"name", &d.name}, {"state", &d.state}}) {
                const auto* m = i ? i->if_contains(key) : nullptr;
                if (m == nullptr || !m->is_string())
                    return std::string("an input's \"").append(key).append("\" is missing or not a string");
                *out = m->get_string();
            }
            if (d.kind != "path" && d.kind != "env") return "an input of unknown kind \"" + d.kind + "\"";
            r.inputs.push_back(std::move(d));
        }
    }
    return r;
}

// ------------------------------------------------------------------------------ the worker

boost::system::result<fs::path, std::string> find_worker(const fs::path& configured) {
    using path_result = boost::system::result<fs::path, std::string>;
    auto found = [](fs::path p) { return path_result(boost::system::in_place_value, std::move(p)); };
    auto missing = [](std::string why) { return path_result(boost::system::in_place_error, std::move(why)); };
    auto runnable = [](const fs::path& p) { return ::access(p.c_str(), X_OK) == 0; };
    if (!configured.empty()) {
        if (runnable(configured)) return found(configured);
        return missing("the configured toolhost-worker '" + configured.string() + "' is not an executable file");
    }
    if (const char* env = std::getenv("TOOLHOST_WORKER"); env != nullptr && *env != '\0') {
        if (runnable(env)) return found(env);
        return missing("TOOLHOST_WORKER='" + std::string(env) + "' is not an executable file");
    }
    std::vector<fs::path> tried;
    // A shared libtoolhost finds the worker of its own installation, wherever it was moved.
    if (Dl_info info{}; ::dladdr(reinterpret_cast<const void*>(&find_worker), &info) != 0 && info.dli_fname) {
        const fs::path lib = info.dli_fname;
        if (lib.filename().string().starts_with("libtoolhost"))
            tried.push_back(lib.parent_path() / ".." / "libexec" / "toolhost" / "toolhost-worker");
    }
    std::error_code ec;
    const auto self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        tried.push_back(self.parent_path() / "toolhost-worker");
        tried.push_back(self.parent_path() / ".." / "libexec" / "toolhost" / "toolhost-worker");
    }
#ifdef TOOLHOST_WORKER_INSTALL_PATH
    tried.push_back(TOOLHOST_WORKER_INSTALL_PATH);
#endif
    std::string looked;
    for (const auto& p : tried) {
        if (runnable(p)) return found(p.lexically_normal());
        looked += (looked.empty() ? "" : ", ") + p.lexically_normal().string();
    }
    return missing("toolhost-worker, the program that opens plugin files for the host, was not found (looked in: " +
                   looked + "); set TOOLHOST_WORKER to its path");
}

// ----------------------------------------------------------------------------- the scanner

plugin_scanner::plugin_scanner(scanner_options options) : options_(std::move(options)) {}

std::vector<scan_result> plugin_scanner::scan(const std::vector<fs::path>& files) {
    std::vector<scan_result> results(files.size());
    std::optional<scan_cache> cache;
    if (!options_.cache_file.empty()) cache.emplace(options_.cache_file, options_.abi);
    std::vector<std::optional<file_identity>> ids(files.size());
    std::vector<fs::path> canonical(files.size());
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < files.size(); ++i) {
        std::error_code ec;
        canonical[i] = fs::canonical(files[i], ec);
        if (ec) canonical[i] = files[i];
        ids[i] = file_identity::of(files[i]);
        if (cache && ids[i]) {
            if (auto hit = cache->find(canonical[i], *ids[i])) {
                results[i] = std::move(*hit);
                continue;
            }
        }
        todo.push_back(i);
    }
    if (!todo.empty()) {
        auto worker = find_worker(options_.worker);
        if (!worker) {
            for (auto i : todo) results[i] = scan_result::refused("cannot scan: " + worker.error(), false);
        } else {
            scan_in_children(*worker, files, todo, results);
        }
    }
    if (cache) {
        for (auto i : todo) {
            // Only when the file is still the one that was scanned (it may have been replaced meanwhile).
            if (ids[i] && file_identity::of(files[i]) == ids[i]) cache->put(canonical[i], *ids[i], results[i]);
        }
        cache->save();
    }
    for (std::size_t i = 0; i < files.size(); ++i) results[i].identity = ids[i];
    return results;
}

namespace {

constexpr std::size_t pipeline_depth = 8;
constexpr std::size_t max_answer_bytes = 16u << 20;

// The reason for the file the child was loading when it died: how it died and its last words.
std::string death_reason(const child_exit& e, std::string stderr_tail) {
    std::string why = e.signaled ? "loading it crashed the scanner process: it " + e.describe() +
                                       " in the library's constructors or init()"
                                 : "loading it ended the scanner process: it " + e.describe() +
                                       " (the library's constructors or init() called exit?)";
    while (!stderr_tail.empty() && (stderr_tail.back() == '\n' || stderr_tail.back() == '\r')) stderr_tail.pop_back();
    if (!stderr_tail.empty()) {
        if (stderr_tail.size() > 400) stderr_tail.replace(0, stderr_tail.size() - 400, "...");
        why += "; its stderr ended with: " + stderr_tail;
    }
    return why;
}

// How long a scanner process may take to start (exec, dynamic linking) before its first file.
constexpr std::chrono::seconds startup_timeout{30};

std::string abi_arg(toolhost_abi_version_t abi) { return std::to_string(abi.major) + "." + std::to_string(abi.minor); }

}  // namespace

void plugin_scanner::scan_in_children(const fs::path& worker, const std::vector<fs::path>& files,
                                      const std::vector<std::size_t>& todo, std::vector<scan_result>& results) {
    std::size_t next = 0;  // the first file in `todo` without an answer
    while (next < todo.size()) {
        int fd = -1;
        auto child = child_process::spawn(
            worker, {"scan", "--abi", abi_arg(options_.abi), "--parent", std::to_string(::getpid())}, fd);
        if (!child) {
            for (; next < todo.size(); ++next) results[todo[next]] = scan_result::refused(child.error(), false);
            return;
        }
        channel ch(fd);
        // The child says it is up before any file's time starts.
        if (auto up = ch.receive(steady::now() + startup_timeout, 64);
            up.state != channel::status::ok || up.msg.kind != scan_ready) {
            const auto e = child->kill_and_wait();
            const std::string why =
                up.state == channel::status::timeout
                    ? "the scanner process did not start within " + std::to_string(startup_timeout.count()) + " s"
                    : "the scanner process failed to start: it " + e.describe();
            for (; next < todo.size(); ++next) results[todo[next]] = scan_result::refused(why, false);
            return;
        }
        std::size_t sent = next;
        auto deadline = steady::now() + options_.per_file_timeout;
        bool replace_child = false;
        while (next < todo.size() && !replace_child) {
            for (; sent < todo.size() && sent - next < pipeline_depth; ++sent) {
                if (ch.send(scan_request, todo[sent], files[todo[sent]].string(), deadline) != channel::status::ok)
                    break;  // the child is gone or stuck: receive() below tells which
            }
            auto r = ch.receive(deadline, max_answer_bytes);
            scan_result& out = results[todo[next]];
            if (r.state == channel::status::ok && r.msg.kind == scan_answer && r.msg.id == todo[next]) {
                boost::system::error_code ec;
                auto parsed = scan_result::from_json(json::parse(r.msg.payload, ec));
                if (!ec && parsed) {
                    out = std::move(*parsed);
                    if (auto said = child->drain_stderr(); !said.empty())
                        logging::write(out.loaded ? logging::level::debug : logging::level::info, "loader",
                                       "plugin scanner stderr", {{"path", files[todo[next]].string()}, {"text", said}});
                    ++next;
                    deadline = steady::now() + options_.per_file_timeout;
                    continue;
                }
                out = scan_result::refused(
                    "the scanner sent a malformed answer: " + (ec ? ec.message() : parsed.error()), false);
            } else if (r.state == channel::status::timeout) {
                out = scan_result::refused("loading it did not finish within " +
                                               std::to_string(options_.per_file_timeout.count()) +
                                               " ms: the library's constructors or init() hang (or the machine is "
                                               "overloaded; it is tried again at the next scan)",
                                           false);
            } else if (r.state == channel::status::ok) {
                out = scan_result::refused("the scanner answered out of order", false);
            } else {
                const auto e = child->kill_and_wait();
                out = scan_result::refused(death_reason(e, child->drain_stderr()));
            }
            ++next;
            replace_child = true;
        }
        ch.close();  // the child exits when it sees the channel closed
        if (!child->wait_for(std::chrono::milliseconds(replace_child ? 0 : 2000))) child->kill_and_wait();
        if (auto tail = child->drain_stderr(); !tail.empty())
            logging::write(logging::level::debug, "loader", "plugin scanner stderr", {{"text", tail}});
    }
}

}  // namespace toolhost::detail
