#include "lifecycle/tool_lifecycle.hpp"

#include "isolation/worker_tool.hpp"
#include "lifecycle/resource_notices.hpp"
#include "loading/plugin_scanner.hpp"
#include "loading/plugin_source.hpp"
#include "pipeline/call_pipeline.hpp"
#include "telemetry/call_telemetry.hpp"
#include "telemetry/event_bus.hpp"

#include <toolhost/logging.hpp>

#include <toolhost/json_text.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <cerrno>
#include <sys/stat.h>

namespace toolhost::detail {

namespace {

// Creates `dir` and the parents it lacks for this user only (0700, less the umask): tools keep
// what they are told there (customer records, memories, documents), which other local users must
// not read. Folders that exist keep their mode: that is the operator's choice.
void create_private_directories(const std::filesystem::path& dir, std::error_code& ec) {
    if (std::filesystem::is_directory(dir, ec)) return;
    ec.clear();
    if (const auto parent = dir.parent_path(); !parent.empty() && parent != dir) {
        create_private_directories(parent, ec);
        if (ec) return;
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) ec = std::error_code(errno, std::generic_category());
}

}  // namespace

namespace json = boost::json;

namespace {
// The host keeps its scan cache in the data directory unless the embedder chose a file, and
// trusts the configuration's digests unless the embedder gave its own.
plugin_loader with_cache(plugin_loader::options o, const host_config& config) {
    if (o.scan_cache.empty() && !config.data_dir.empty()) o.scan_cache = config.data_dir / "plugin-scan-cache.json";
    if (!o.trusted_sha256 && config.trust_sha256)
        o.trusted_sha256.emplace(config.trust_sha256->begin(), config.trust_sha256->end());
    return plugin_loader(std::move(o));
}
}  // namespace

tool_lifecycle::tool_lifecycle(host_config& config, plugin_loader::options loader, tool_registry& registry,
                               call_pipeline& pipeline, const event_bus& events, call_telemetry& telemetry)
    : config_(config), loader_(with_cache(loader, config)), registry_(registry), pipeline_(pipeline), events_(events),
      telemetry_(telemetry) {}

// ------------------------------------------------------------------------------ loading

namespace fs = std::filesystem;

namespace {
// A path as the sync keys it: canonical while it exists, else made absolute and normal.
fs::path file_key(const fs::path& p) {
    std::error_code ec;
    auto canon = fs::canonical(p, ec);
    if (!ec) return canon;
    canon = fs::weakly_canonical(p, ec);
    return ec ? p.lexically_normal() : canon;
}
}  // namespace

tool_lifecycle::~tool_lifecycle() {
    {
        std::lock_guard lock(retire_mutex_);
        retirer_stop_ = true;
    }
    retire_cv_.notify_all();
    if (retirer_.joinable()) retirer_.join();
}

const load_report& tool_lifecycle::load_plugins() {
    std::lock_guard sync(sync_mutex_);
    load_report report = loader_.scan(config_.plugin_dirs, false, [this](const fs::path& p) {
        files_[p].identity = file_identity::of(p);
        return false;
    });
    std::vector<library_tool> kept;
    for (auto& t : report.tools) {
        const std::string path = t.factory->descriptor().plugin;
        const std::string name = t.factory->descriptor().name;
        if (auto ok = register_factory(t.factory); !ok) {
            report.rejected.push_back({path, ok.error()});
            logging::write(logging::level::warning, "loader", "tool rejected", {{"path", path}, {"error", ok.error()}});
            continue;
        }
        const auto key = file_key(path);
        files_[key].tools.push_back(name);
        tool_files_[name] = key;
        kept.push_back(std::move(t));
    }
    report.tools = std::move(kept);
    std::lock_guard published(report_mutex_);
    load_report_ = std::move(report);
    return load_report_;
}

std::vector<rejected_plugin> tool_lifecycle::rejected() const {
    std::lock_guard published(report_mutex_);
    return load_report_.rejected;
}

plugin_sync_report tool_lifecycle::sync_plugins() {
    std::lock_guard sync(sync_mutex_);
    plugin_sync_report out;
    if (registry_.closed()) return out;
    // The scan looks only at files that are new or whose identity changed.
    std::set<fs::path> present;
    std::map<fs::path, std::optional<file_identity>> changed;
    auto report = loader_.scan(config_.plugin_dirs, true, [&](const fs::path& p) {
        present.insert(p);
        auto id = file_identity::of(p);
        if (auto it = files_.find(p); it != files_.end() && id && it->second.identity == id) return true;
        changed[p] = id;
        return false;
    });
    std::map<fs::path, std::vector<library_tool>> scanned;  // changed file -> its valid tools
    for (auto& t : report.tools) scanned[file_key(t.factory->descriptor().plugin)].push_back(std::move(t));
    std::map<fs::path, std::vector<std::string>> refusals;  // changed file -> why (the file, or some tools)
    for (auto& r : report.rejected) {
        refusals[file_key(r.path)].push_back(r.reason);
        out.failed.push_back(std::move(r));
    }
    std::vector<fs::path> gone;
    for (const auto& [path, known] : files_)
        if (!present.contains(path)) gone.push_back(path);

    std::lock_guard life(mutex_);
    if (registry_.closed()) return out;
    auto fail = [&](const std::string& path, std::string reason) {
        logging::write(logging::level::error, "loader", "plugin change refused; what served before serves on",
                       {{"path", path}, {"error", reason}});
        out.failed.push_back({path, std::move(reason)});
    };
    // The file a tool comes from now: none for the program's own tools.
    auto file_of = [&](std::string_view tool) -> const fs::path* {
        auto it = tool_files_.find(tool);
        return it == tool_files_.end() ? nullptr : &it->second;
    };
    // Changed files first, so that a tool that moved to another file is replaced, never removed.
    for (auto& [path, identity] : changed) {
        auto& known = files_[path];
        auto tools = std::move(scanned[path]);
        const bool file_refused = tools.empty() && refusals.contains(path);
        known.identity = identity;
        if (file_refused) {
            if (!known.tools.empty())
                logging::write(logging::level::error, "loader",
                               "a new build of a plugin file was refused; its tools keep serving as they were",
                               {{"path", path.string()}, {"error", refusals[path].front()}});
            continue;
        }
        std::vector<std::string> now;
        for (auto& t : tools) {
            const std::string name = t.factory->descriptor().name;
            const std::string plugin = t.factory->descriptor().plugin;
            auto current = registry_.find(name);
            if (!current) {
                if (auto ok = add(t.factory); !ok) {
                    fail(plugin, ok.error());
                    continue;
                }
                out.added.push_back(name);
            } else if (const fs::path* from = file_of(name); from && (*from == path || !present.contains(*from))) {
                if (auto ok = replace(current, t.factory); !ok) {
                    fail(plugin, ok.error());
                    if (*from == path) now.push_back(name);  // the old generation serves on
                    continue;
                }
                if (*from != path) std::erase(files_[*from].tools, name);
                out.replaced.push_back(name);
            } else {
                fail(plugin, "duplicate tool name '" + name + "': already provided by " + current->descriptor().plugin +
                                 "; this one was not registered");
                continue;
            }
            tool_files_[name] = path;
            now.push_back(name);
            load_report_.tools.push_back(std::move(t));
        }
        // The tools the new build no longer has.
        for (const auto& name : known.tools) {
            if (std::find(now.begin(), now.end(), name) != now.end()) continue;
            if (const fs::path* from = file_of(name); from && *from == path) remove(name, out);
        }
        known.tools = std::move(now);
    }
    // Files that went away take their tools with them.
    for (const auto& path : gone) {
        for (const auto& name : files_[path].tools) {
            if (const fs::path* from = file_of(name); from && *from == path) remove(name, out);
        }
        files_.erase(path);
    }
    // The report of the last load follows: what is refused now, and no file that is gone.
    std::lock_guard published(report_mutex_);
    std::erase_if(load_report_.rejected, [&](const rejected_plugin& r) {
        const auto key = file_key(r.path);
        return changed.contains(key) || !present.contains(key);
    });
    for (auto& r : out.failed) load_report_.rejected.push_back(r);
    for (auto& p : report.plugins) load_report_.plugins.push_back(std::move(p));
    for (const auto& name : out.added) logging::write(logging::level::info, "loader", "tool added", {{"tool", name}});
    for (const auto& name : out.removed)
        logging::write(logging::level::info, "loader",
                       "tool removed: it takes no new calls, and those in flight finish", {{"tool", name}});
    return out;
}

void tool_lifecycle::remove(const std::string& name, plugin_sync_report& out) {
    tool_files_.erase(name);
    auto slot = registry_.retire(name);
    if (!slot) return;
    out.removed.push_back(name);
    // Said now, not once drained: clients stop offering the tool at once.
    events_.emit_tool_state(name, slot->state.load(), "removed");
    retire_later(std::move(slot), true);
}

boost::system::result<void, std::string> tool_lifecycle::add(std::shared_ptr<tool_factory> factory) {
    auto made = registry_.make_slot(std::move(factory));
    if (!made) return made.error();
    auto slot = std::move(*made);
    slot->enabled = config_.tool_enabled(slot->name);
    // Initialized before it is registered: callers find it ready, or not at all. One that fails
    // is registered all the same, so that its status says why.
    if (started_ && slot->enabled) initialize_slot(*slot);
    if (auto ok = registry_.insert(slot); !ok) {
        if (slot->instance) {
            slot->instance->cleanup();
            slot->instance.reset();
        }
        return ok.error();
    }
    events_.emit_tool_state(slot->name, slot->state.load(), "registered");
    return {};
}

boost::system::result<void, std::string> tool_lifecycle::replace(const tool_registry::slot_ptr& current,
                                                                 std::shared_ptr<tool_factory> factory,
                                                                 bool carry_state) {
    auto made = next_generation(current, std::move(factory));
    if (!made) return made.error();
    auto next = std::move(*made);
    if (carry_state) registry_.carry_state(*next, *current);
    next->enabled = config_.tool_enabled(next->name);
    if (started_ && next->enabled) {
        // Started next to the old generation, which serves until this one is ready.
        initialize_slot(*next);
        if (next->state.load() != tool_state::ready && current->state.load() == tool_state::ready)
            return "its new generation " + std::to_string(next->generation) + " did not start (generation " +
                   std::to_string(current->generation) + " serves on): " + next->error_text();
    }
    if (!take_over(current, next, "tool replaced by a new generation"))
        return "tool '" + next->name + "' was removed meanwhile";
    return {};
}

boost::system::result<tool_registry::slot_ptr, std::string> tool_lifecycle::next_generation(
    const tool_registry::slot_ptr& current, std::shared_ptr<tool_factory> factory) {
    auto made = registry_.make_slot(std::move(factory));
    if (made) (*made)->generation = current->generation + 1;
    return made;
}

bool tool_lifecycle::take_over(const tool_registry::slot_ptr& current, const tool_registry::slot_ptr& next,
                               std::string_view what) {
    if (!registry_.replace(current, next)) return false;
    logging::write(logging::level::info, "lifecycle", what,
                   {{"tool", next->name},
                    {"generation", next->generation},
                    {"version", next->descriptor().version},
                    {"plugin", next->descriptor().plugin}});
    events_.emit_tool_state(next->name, next->state.load(), "replaced");
    retire_later(current, false);
    return true;
}

// ------------------------------------------------------------------------------ reloading

namespace {
// Everything of the configuration that makes a tool's policy, as written.
json::object resilience_of(const host_config& c, std::string_view tool) {
    json::object o;
    if (c.resilience) o["global"] = c.resilience->settings;
    if (auto it = c.tools.find(tool); it != c.tools.end()) {
        if (it->second.resilience) o["tool"] = it->second.resilience->settings;
        json::object ops;
        for (const auto& [op, r] : it->second.operation_resilience) ops[op] = r.settings;
        o["operations"] = std::move(ops);
    }
    return o;
}

json::object tool_config_of(const host_config& c, std::string_view tool) {
    auto it = c.tools.find(tool);
    return it == c.tools.end() ? json::object{} : it->second.config;
}

std::optional<std::set<std::string, std::less<>>> trusted_of(const host_config& c) {
    if (!c.trust_sha256) return std::nullopt;
    return std::set<std::string, std::less<>>(c.trust_sha256->begin(), c.trust_sha256->end());
}
}  // namespace

std::vector<std::string> tool_lifecycle::validate() {
    std::lock_guard life(mutex_);
    return registry_.validate(config_, load_report_);
}

boost::system::result<reload_report, std::vector<std::string>> tool_lifecycle::reload(host_config next) {
    std::lock_guard sync(sync_mutex_);  // the trust list is the scans' too
    std::lock_guard life(mutex_);
    using refused = boost::system::result<reload_report, std::vector<std::string>>;
    if (registry_.closed())
        return refused(boost::system::in_place_error, std::vector<std::string>{"the host is shut down"});
    // Checked as `toolhost validate` checks a file: nothing changes unless all of it can apply.
    if (auto problems = registry_.validate(next, {}); !problems.empty())
        return refused(boost::system::in_place_error, std::move(problems));

    reload_report report;
    // What only a restart applies stays as it is.
    auto keep = [&](bool same, const char* what) {
        if (!same) report.needs_restart.emplace_back(what);
    };
    keep(next.threads == config_.threads, "threads");
    keep(next.data_dir == config_.data_dir, "data_dir");
    keep(next.plugin_dirs == config_.plugin_dirs, "plugin_dirs");
    keep(next.tracing.has_value() == config_.tracing.has_value() &&
             (!next.tracing || (next.tracing->exporter.endpoint == config_.tracing->exporter.endpoint &&
                                next.tracing->sample_ratio == config_.tracing->sample_ratio)),
         "tracing");
    keep(next.serve == config_.serve, "serve");
    next.threads = config_.threads;
    next.data_dir = config_.data_dir;
    next.plugin_dirs = config_.plugin_dirs;
    next.tracing = config_.tracing;
    next.serve = config_.serve;
    const host_config old = std::exchange(config_, std::move(next));

    if (old.log_level != config_.log_level || old.log_format != config_.log_format) {
        logging::init(logging::parse_level(config_.log_level).value_or(logging::level::info),
                      logging::parse_format(config_.log_format).value_or(logging::format::text));
        report.log_changed = true;
    }
    if (old.trust_sha256 != config_.trust_sha256) loader_.set_trusted_sha256(trusted_of(config_));

    for (const auto& slot : registry_.slots()) {
        const std::string& name = slot->name;
        const bool was = slot->enabled.load();
        const bool now = config_.tool_enabled(name);
        const bool running = slot->state.load() == tool_state::ready;
        if (!now) {
            slot->enabled = false;
            if (was) {
                stop_slot(*slot);  // its calls finish first
                report.disabled.push_back(name);
            }
            continue;
        }
        if (!was) {
            slot->enabled = true;
            if (started_) initialize_slot(*slot);
            report.enabled.push_back(name);
            continue;
        }
        const bool settings_changed = tool_config_of(old, name) != tool_config_of(config_, name) ||
                                      !(old.isolation_for(name) == config_.isolation_for(name));
        const bool policy_changed = resilience_of(old, name) != resilience_of(config_, name);
        if (!settings_changed && !policy_changed) continue;
        if (settings_changed && running) {
            if (auto ok = replace(slot, slot->factory, true); !ok)
                report.failed.emplace_back(name, ok.error());
            else
                report.restarted.push_back(name);
        } else if (running) {
            replace_policy(slot);
            report.policies.push_back(name);
        } else {
            // Not running: the next start takes the new settings; the policy goes in now.
            if (auto ok = replace(slot, slot->factory, true); ok) report.policies.push_back(name);
        }
    }
    logging::write(logging::level::info, "lifecycle", "configuration reloaded",
                   {{"enabled", report.enabled.size()},
                    {"disabled", report.disabled.size()},
                    {"restarted", report.restarted.size()},
                    {"policies", report.policies.size()},
                    {"failed", report.failed.size()},
                    {"needs_restart", report.needs_restart.size()}});
    return report;
}

void tool_lifecycle::replace_policy(const tool_registry::slot_ptr& current) {
    auto made = next_generation(current, current->factory);
    if (!made) return;  // the factory was valid when registered, and still is
    auto next = std::move(*made);
    next->enabled = true;
    // The same instance, strand and worker: nothing is initialized again.
    next->instance = current->instance;
    next->strand = current->strand;
    next->worker = current->worker;
    registry_.carry_state(*next, *current);
    next->state.store(tool_state::ready);
    take_over(current, next, "tool's policy replaced (the same instance serves on)");
}

// ------------------------------------------------------------------------------ retiring

void tool_lifecycle::retire_later(tool_registry::slot_ptr slot, bool removed) {
    std::lock_guard lock(retire_mutex_);
    retiring_.push_back({std::move(slot), removed});
    if (!retirer_.joinable()) retirer_ = std::thread([this] { run_retirer(); });
    retire_cv_.notify_all();
}

std::vector<tool_registry::slot_ptr> tool_lifecycle::retiring_sharing(const tool_slot& slot) {
    std::vector<tool_registry::slot_ptr> out;
    if (!slot.instance || slot.instance.use_count() == 1) return out;
    std::lock_guard lock(retire_mutex_);
    for (const auto& r : retiring_)
        if (r.slot->instance == slot.instance) out.push_back(r.slot);
    return out;
}

void tool_lifecycle::run_retirer() {
    std::unique_lock lock(retire_mutex_);
    for (;;) {
        retire_cv_.wait(lock, [&] { return retirer_stop_ || !retiring_.empty(); });
        if (retirer_stop_) return;
        auto next = retiring_.front();
        lock.unlock();
        // Calls have deadlines, so this ends; a shutdown takes over what is still draining.
        bool drained = false;
        while (!(drained = registry_.wait_drained(*next.slot,
                                                  std::chrono::steady_clock::now() + std::chrono::milliseconds(50)))) {
            std::lock_guard check(retire_mutex_);
            if (retirer_stop_) break;
        }
        if (drained) {
            std::lock_guard life(mutex_);
            std::unique_lock again(retire_mutex_);
            // shutdown() may have taken it over while this thread waited for the lifecycle mutex.
            auto it = std::find_if(retiring_.begin(), retiring_.end(),
                                   [&](const retiring& r) { return r.slot == next.slot; });
            if (it != retiring_.end()) {
                retiring_.erase(it);
                again.unlock();
                finish_retired(*next.slot, next.removed);
            }
        }
        lock.lock();
    }
}

void tool_lifecycle::finish_retired(tool_slot& slot, bool removed) {
    // An instance the next generation serves on (a policy change) is that generation's to clean up.
    if (slot.instance && slot.instance.use_count() == 1) slot.instance->cleanup();
    slot.instance.reset();  // an in-process plugin's library is unloaded with its last instance
    if (removed) registry_.forget(slot);
    slot.state.store(tool_state::stopped);
    logging::write(
        logging::level::info, "lifecycle",
        removed ? "removed tool cleaned up: its calls finished" : "old generation cleaned up: its calls finished",
        {{"tool", slot.name}, {"generation", slot.generation}});
    if (removed) events_.emit_tool_state(slot.name, tool_state::stopped, "unregistered");
}

// ------------------------------------------------------------------------------ registering

boost::system::result<void, std::string> tool_lifecycle::register_factory(std::shared_ptr<tool_factory> factory) {
    const std::string name = factory ? factory->descriptor().name : std::string();
    {
        std::lock_guard life(mutex_);  // a reload may be replacing the configuration the slot is made from
        if (auto ok = registry_.add(std::move(factory)); !ok) return ok.error();
    }
    logging::write(logging::level::debug, "registry", "tool registered", {{"tool", name}});
    events_.emit_tool_state(name, tool_state::registered, "registered");
    return {};
}

boost::system::result<void, std::string> tool_lifecycle::register_entry(const toolhost_plugin_entry_t* entry,
                                                                        std::string name) {
    auto lib = plugin_library::from_entry(entry, std::move(name), loader_.abi());
    if (!lib) return lib.error();
    std::string errors;
    for (auto& t : (*lib)->tools()) {
        auto ok = t.factory ? register_factory(t.factory) : boost::system::result<void, std::string>(t.error);
        if (!ok) errors += (errors.empty() ? "" : "; ") + ok.error();
    }
    if (!errors.empty()) return errors;
    return {};
}

bool tool_lifecycle::unregister(std::string_view name) {
    std::lock_guard life(mutex_);
    auto slot = registry_.remove(name);
    if (!slot) return false;
    // No new call can find the slot now; stop_slot waits for those that already did.
    stop_slot(*slot);
    registry_.forget(*slot);
    registry_.wait_drained(*slot);
    logging::write(logging::level::info, "registry", "tool unregistered", {{"tool", std::string(name)}});
    events_.emit_tool_state(name, tool_state::stopped, "unregistered");
    return true;
}

boost::system::result<void, std::string> tool_lifecycle::set_policy(std::string_view tool, call_policy policy) {
    std::lock_guard life(mutex_);
    return registry_.set_policy(tool, std::move(policy));
}

boost::system::result<void, std::string> tool_lifecycle::set_operation_policy(std::string_view tool,
                                                                              std::string_view operation,
                                                                              call_policy policy) {
    std::lock_guard life(mutex_);
    return registry_.set_operation_policy(tool, operation, std::move(policy));
}

// ------------------------------------------------------------------------------ starting

void tool_lifecycle::initialize_slot(tool_slot& slot) {
    const auto& d = slot.descriptor();
    auto fail = [&](const tool_error& e) {
        slot.set_error(e);
        slot.state.store(tool_state::failed);
        logging::write(logging::level::error, "lifecycle", "tool failed to start",
                       {{"tool", slot.name}, {"status", status_name(e.code)}, {"error", e.message}});
        events_.emit_tool_state(slot.name, tool_state::failed);
    };
    if (auto err = check_tool_config(config_, d)) {
        fail(make_tool_error(status_code::invalid_argument, *err));
        return;
    }
    auto created = create_instance(slot);
    if (!created) {
        fail(created.error());
        return;
    }
    slot.instance = std::move(*created);
    slot.state.store(tool_state::initializing);

    std::error_code ec;
    auto dir = config_.data_dir / d.name;
    create_private_directories(dir, ec);
    if (ec) {
        slot.instance.reset();
        fail(make_tool_error(status_code::unavailable,
                             "cannot create data directory '" + dir.string() + "': " + ec.message()));
        return;
    }
    auto it = config_.tools.find(d.name);
    const std::string conf = it != config_.tools.end() ? toolhost::json_text(it->second.config) : "{}";
    auto started = std::chrono::steady_clock::now();
    auto ok = slot.instance->initialize(conf, dir);
    if (!ok) {
        slot.instance.reset();  // destroy() even when initialize() failed; no cleanup()
        fail(ok.error());
        return;
    }
    slot.set_error(std::nullopt);
    slot.state.store(tool_state::ready);
    logging::write(logging::level::info, "lifecycle", "tool ready",
                   {{"tool", slot.name},
                    {"duration_ms",
                     std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count()}});
    events_.emit_tool_state(slot.name, tool_state::ready);
}

boost::system::result<std::unique_ptr<tool_instance>, tool_error> tool_lifecycle::create_instance(tool_slot& slot) {
    const auto isolation = config_.isolation_for(slot.name);
    instance_context context;
    context.events = std::make_shared<resource_notices>(events_, slot.factory->descriptor());
    if (isolation.mode != isolation_mode::process) return slot.factory->create(context);
    const auto* from_file = dynamic_cast<const plugin_file_factory*>(slot.factory.get());
    const auto source = from_file ? from_file->source() : std::nullopt;
    if (!source) {
        // A tool of the program's own code has no file a worker could load.
        if (!isolation.mode_set_for_tool) return slot.factory->create(context);
        return make_tool_error(status_code::failed_precondition,
                               "tool '" + slot.name +
                                   "' is built into this program, not loaded from a plugin file, so it cannot run in "
                                   "a worker process; set tools." +
                                   slot.name + ".isolation to \"in_process\"");
    }
    auto worker = find_worker(loader_.worker());
    if (!worker)
        return make_tool_error(status_code::failed_precondition,
                               "tool '" + slot.name + "' is to run in a worker process, but " + worker.error());
    worker_settings ws;
    ws.executable = std::move(*worker);
    ws.plugin = source->file;
    ws.identity = source->identity;
    ws.index = source->index;
    ws.tool = slot.name;
    ws.abi = loader_.abi();
    ws.cancel_grace = isolation.cancel_grace;
    ws.start_timeout = isolation.start_timeout;
    ws.limits.max_memory_bytes = isolation.max_memory_mb << 20;
    ws.limits.max_cpu_seconds = isolation.max_cpu_seconds;
    ws.events = std::move(context.events);
    telemetry_.install_worker(slot);
    // By name and monitor, not by slot: the instance (and its monitor) may serve a later
    // generation of the tool (a reload that changed only its policy).
    slot.worker->set_listener([this, name = slot.name](host_event_kind kind, std::int64_t pid, std::string_view how) {
        if (kind == host_event_kind::worker_started)
            logging::write(logging::level::info, "isolation", "worker process ready", {{"tool", name}, {"pid", pid}});
        events_.emit_worker(name, kind, pid, how);
    });
    std::weak_ptr<worker_monitor> monitor = slot.worker;
    return std::unique_ptr<tool_instance>(
        new worker_tool(std::move(ws), slot.worker, [this, name = slot.name, monitor](const tool_error& e) {
            auto current = registry_.find(name);
            if (current && current->worker == monitor.lock()) worker_gave_up(*current, e);
        }));
}

bool tool_lifecycle::kill_worker(tool_slot& slot) {
    auto* worker = dynamic_cast<worker_tool*>(slot.instance.get());
    if (worker == nullptr) return false;
    // A worker process can be stopped: kill it, and its calls end with UNAVAILABLE at once.
    const auto running = slot.in_flight.total();
    worker->abandon("its calls were still running when the shutdown grace ran out");
    if (!registry_.wait_drained(slot, std::chrono::steady_clock::now() + std::chrono::seconds(5))) return false;
    logging::write(logging::level::warning, "lifecycle",
                   "tool stopped by killing its worker: its calls did not return in time",
                   {{"tool", slot.name}, {"calls", running}});
    return true;
}

void tool_lifecycle::worker_gave_up(tool_slot& slot, const tool_error& error) {
    slot.set_error(error);
    slot.state.store(tool_state::failed);
    logging::write(logging::level::error, "lifecycle", "tool failed", {{"tool", slot.name}, {"error", error.message}});
    events_.emit_tool_state(slot.name, tool_state::failed, "worker_failed");
}

boost::system::result<void, tool_error> tool_lifecycle::restart(std::string_view name,
                                                                std::chrono::steady_clock::time_point until) {
    std::lock_guard life(mutex_);
    if (registry_.closed()) return make_tool_error(status_code::unavailable, "the host is shut down");
    auto slot = registry_.find(name);
    if (!slot) return make_tool_error(status_code::not_found, "no tool named '" + std::string(name) + "'");
    if (!config_.tool_enabled(slot->name))
        return make_tool_error(status_code::failed_precondition,
                               "tool '" + slot->name + "' is disabled in the configuration");
    if (slot->state.load() == tool_state::ready) {
        if (!stop_slot(*slot, until))
            return make_tool_error(status_code::unavailable,
                                   "tool '" + slot->name + "' still has calls running; it was not restarted");
    } else if (slot->instance) {
        // Failed while it ran (its worker crashed too often): its calls end at once.
        if (!registry_.wait_drained(*slot, until))
            return make_tool_error(status_code::unavailable,
                                   "tool '" + slot->name + "' still has calls running; it was not restarted");
        slot->instance->cleanup();
        slot->instance.reset();
    }
    slot->enabled = true;
    initialize_slot(*slot);
    if (slot->state.load() != tool_state::ready)
        return slot->get_error().value_or(make_tool_error(status_code::unknown, "failed to start"));
    return {};
}

std::vector<tool_registry::slot_ptr> tool_lifecycle::slots_to_start(const start_options& options,
                                                                    start_report& report) const {
    std::vector<tool_registry::slot_ptr> to_start;
    auto wanted = [&](const std::string& n) {
        return !options.only || std::find(options.only->begin(), options.only->end(), n) != options.only->end();
    };
    for (const auto& s : registry_.slots()) {
        s->enabled = config_.tool_enabled(s->name);
        if (!s->enabled || !wanted(s->name) || s->state.load() == tool_state::ready) continue;
        to_start.push_back(s);
    }
    // A tool asked for by name or configured as enabled that no plugin provides is a failure.
    if (options.only) {
        for (const auto& n : *options.only) {
            if (!registry_.contains(n))
                report.failed.emplace_back(n, make_tool_error(status_code::not_found, "no tool named '" + n + "'"));
            else if (!config_.tool_enabled(n))
                report.failed.emplace_back(n, make_tool_error(status_code::failed_precondition,
                                                              "tool '" + n + "' is disabled in the configuration"));
        }
    } else {
        for (const auto& [n, settings] : config_.tools)
            if (settings.enabled && !registry_.contains(n))
                report.failed.emplace_back(
                    n,
                    make_tool_error(
                        status_code::not_found,
                        config_.error_at(settings.pointer, "no plugin provides a tool named '" + n + "'").to_string()));
    }
    return to_start;
}

start_report tool_lifecycle::start(const start_options& options) {
    std::lock_guard life(mutex_);
    start_report report;
    if (registry_.closed()) {
        report.failed.emplace_back("*", make_tool_error(status_code::unavailable, "the host is shut down"));
        return report;
    }
    started_ = true;
    auto to_start = slots_to_start(options, report);
    logging::write(logging::level::info, "lifecycle", "starting tools",
                   {{"count", to_start.size()}, {"concurrent", options.concurrent}});

    if (options.concurrent && to_start.size() > 1) {
        // One thread per tool: initialize() may block on I/O, and the pool's threads belong to
        // calls. Start-up is rare enough that a thread each costs nothing that matters.
        std::vector<std::jthread> threads;
        threads.reserve(to_start.size());
        for (auto& s : to_start) threads.emplace_back([this, s] { initialize_slot(*s); });
    } else {
        for (auto& s : to_start) initialize_slot(*s);
    }

    for (auto& s : to_start) {
        if (s->state.load() == tool_state::ready)
            report.ready.push_back(s->name);
        else
            report.failed.emplace_back(
                s->name, s->get_error().value_or(make_tool_error(status_code::unknown, "failed to start")));
    }
    if (options.fail_on_error && !report.failed.empty()) {
        // Clean up the ones that did start, newest first, so nothing is left half-running.
        for (auto it = to_start.rbegin(); it != to_start.rend(); ++it)
            if ((*it)->state.load() == tool_state::ready) stop_slot(**it);
        report.ready.clear();
    }
    return report;
}

void tool_lifecycle::start_on_demand(tool_slot& slot) {
    // try_lock: a shutdown holding the lifecycle lock waits for this very call to drain, so
    // waiting for the lock here could deadlock. Losing the race only means the nested call
    // finds the tool not ready and says so.
    std::unique_lock life(mutex_, std::try_to_lock);
    if (!life.owns_lock() || registry_.closed() || slot.state.load() != tool_state::registered) return;
    slot.enabled = true;
    initialize_slot(slot);  // a failure shows in the nested call's answer (state failed)
}

// ------------------------------------------------------------------------------ stopping

bool tool_lifecycle::stop_slot(tool_slot& slot, std::optional<std::chrono::steady_clock::time_point> until) {
    if (slot.state.load() != tool_state::ready) return true;
    slot.state.store(tool_state::stopping);
    // Calls waiting for a retry would otherwise hold the drain for their whole backoff.
    pipeline_.end_waiting_retries(slot);
    if (!until) {
        registry_.wait_drained(slot);
    } else if (!registry_.wait_drained(slot, *until) && !kill_worker(slot)) {
        // In-process plugin code cannot be stopped: the instance stays as it is, cleanup() is not
        // called under a running call, and only the end of the process ends the call.
        const auto running = slot.in_flight.total();
        logging::write(logging::level::error, "lifecycle", "tool left running: its calls did not return in time",
                       {{"tool", slot.name}, {"calls", running}});
        return false;
    }
    // Older generations still draining on the same instance (a policy change) finish first.
    for (auto& older : retiring_sharing(slot)) {
        if (!(until ? registry_.wait_drained(*older, *until) : (registry_.wait_drained(*older), true))) {
            logging::write(logging::level::error, "lifecycle", "tool left running: its calls did not return in time",
                           {{"tool", slot.name}, {"generation", older->generation}});
            return false;
        }
        older->instance.reset();
    }
    slot.instance->cleanup();
    slot.instance.reset();
    slot.state.store(tool_state::stopped);
    logging::write(logging::level::info, "lifecycle", "tool stopped", {{"tool", slot.name}});
    events_.emit_tool_state(slot.name, tool_state::stopped);
    return true;
}

std::optional<std::vector<std::string>> tool_lifecycle::shutdown(
    std::optional<std::chrono::steady_clock::time_point> until) {
    std::lock_guard life(mutex_);
    if (!registry_.close()) return std::nullopt;
    std::vector<std::string> left_running;
    auto slots = registry_.slots();
    for (auto it = slots.rbegin(); it != slots.rend(); ++it) {
        if (!stop_slot(**it, until)) left_running.push_back((*it)->name);
    }
    // Old generations and removed tools still finishing their calls: the shutdown's grace is theirs too.
    std::vector<retiring> draining;
    {
        std::lock_guard lock(retire_mutex_);
        retirer_stop_ = true;
        draining = std::move(retiring_);
        retiring_.clear();
    }
    retire_cv_.notify_all();
    for (auto& r : draining) {
        const bool drained = until ? registry_.wait_drained(*r.slot, *until) : (registry_.wait_drained(*r.slot), true);
        if (!drained && !kill_worker(*r.slot)) {
            left_running.push_back(r.slot->name + " (generation " + std::to_string(r.slot->generation) + ")");
            continue;
        }
        finish_retired(*r.slot, r.removed);
    }
    return left_running;
}

}  // namespace toolhost::detail
