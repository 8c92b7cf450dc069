#include "commands.hpp"

#include <toolhost/tool_descriptor.hpp>

#include <toolhost/json_text.hpp>
#include <toolhost/serve/status_json.hpp>

// list, info, status, validate: what the plugins provide and what state the tools are in.
namespace toolhost::cli {

namespace json = boost::json;

int cmd_list(command_context& c) {
    if (int rc = c.check_args(0, 0, "'list' takes no arguments"); rc != exit_code::ok) return rc;
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    const auto names = c.host().list();
    if (c.opts().json) {
        json::array tools;
        for (const auto& n : names) tools.push_back(to_json(c.host().find(n)->descriptor()));
        c.out() << toolhost::json_text(json::object{{"tools", std::move(tools)}, {"rejected", c.rejected_json()}})
                << '\n';
        return exit_code::ok;
    }
    for (const auto& n : names) {
        const auto& d = c.host().find(n)->descriptor();
        c.out() << d.name << ' ' << d.version << "  " << d.description << '\n';
        for (const auto& op : d.operations) c.out() << "  " << op.name << "  " << op.description << '\n';
    }
    if (names.empty()) c.out() << "no tools found\n";
    for (const auto& r : c.host().last_load().rejected) c.err() << "rejected: " << r.path << ": " << r.reason << '\n';
    return exit_code::ok;
}

int cmd_info(command_context& c) {
    if (int rc = c.check_args(1, 1, "'info' needs exactly one TOOL"); rc != exit_code::ok) return rc;
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    const std::string& name = c.opts().positional[0];
    auto f = c.host().find(name);
    if (!f) return c.tool_missing(name);
    const auto& d = f->descriptor();
    auto it = c.host().config().tools.find(name);
    json::object configured = it != c.host().config().tools.end() ? it->second.config : json::object{};
    if (c.opts().json) {
        auto o = to_json(d);
        o["enabled"] = c.host().config().tool_enabled(name);
        o["config"] = std::move(configured);
        c.out() << toolhost::json_text(o) << '\n';
        return exit_code::ok;
    }
    c.out() << "name:        " << d.name << "\nversion:     " << d.version << "\ndescription: " << d.description
            << "\nplugin:      " << d.plugin << "\nthread-safe: " << (d.thread_safe ? "yes" : "no")
            << "\nenabled:     " << (c.host().config().tool_enabled(name) ? "yes" : "no")
            << "\nconfig:      " << toolhost::json_text(configured) << '\n';
    if (d.config_schema) c.out() << "config schema: " << toolhost::json_text(d.config_schema->source()) << '\n';
    c.out() << "operations:\n";
    for (const auto& op : d.operations) {
        c.out() << "  " << op.name << "  " << op.description << '\n';
        std::string flags;
        if (op.idempotent()) flags += " idempotent";
        if (op.read_only()) flags += " read-only";
        if (op.destructive()) flags += " destructive";
        if (op.cancellable()) flags += " cancellable";
        if (!flags.empty()) c.out() << "    flags:" << flags << '\n';
        c.out() << "    input:  " << toolhost::json_text(op.input_schema.source()) << '\n';
        if (op.output_schema) c.out() << "    output: " << toolhost::json_text(op.output_schema->source()) << '\n';
    }
    return exit_code::ok;
}

int cmd_status(command_context& c) {
    if (int rc = c.check_args(0, 0, "'status' takes no arguments"); rc != exit_code::ok) return rc;
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    c.protect_stdout();  // the tools start in this process
    start_options so;
    so.concurrent = c.host().config().concurrent_init;
    so.fail_on_error = false;
    auto report = c.host().start(so);
    auto statuses = c.host().status();
    c.host().shutdown();
    if (c.opts().json) {
        json::array a;
        for (const auto& s : statuses) {
            json::object o{{"name", s.name}, {"version", s.version}, {"plugin", s.plugin}};
            toolhost::serve::add_status_json(o, s);
            a.push_back(std::move(o));
        }
        json::array failed;
        for (const auto& [n, e] : report.failed)
            failed.push_back(json::object{{"tool", n}, {"code", status_name(e.code)}, {"message", e.message}});
        c.out() << toolhost::json_text(json::object{{"ok", report.ok()},
                                                    {"tools", std::move(a)},
                                                    {"failed", std::move(failed)},
                                                    {"rejected", c.rejected_json()}})
                << '\n';
    } else {
        for (const auto& s : statuses) {
            c.out() << s.name << ' ' << (s.enabled ? tool_state_name(s.state) : std::string_view("disabled"));
            if (s.worker)
                c.out() << "  worker pid " << s.worker->pid << ", " << s.worker->state << ", " << s.worker->restarts
                        << " restarts";
            c.out() << (s.error.empty() ? "" : "  " + s.error) << '\n';
        }
        for (const auto& [n, e] : report.failed)
            if (!c.host().status(n)) c.err() << "failed: " << n << ": " << e.message << '\n';
    }
    return report.ok() ? exit_code::ok : exit_code::unavailable;
}

int cmd_validate(command_context& c) {
    if (int rc = c.check_args(0, 0, "'validate' takes no arguments"); rc != exit_code::ok) return rc;
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    auto problems = c.host().validate();
    if (c.opts().json) {
        json::array a;
        for (const auto& p : problems) a.push_back(json::value(p));
        c.out() << toolhost::json_text(json::object{
                       {"ok", problems.empty()}, {"tools", c.host().list().size()}, {"problems", std::move(a)}})
                << '\n';
    } else {
        for (const auto& p : problems) c.err() << p << '\n';
        if (problems.empty())
            c.out() << "configuration ok: " << c.host().list().size() << " tools"
                    << (c.host().config().file.empty() ? std::string() : " (" + c.host().config().file.string() + ")")
                    << '\n';
        else
            c.err() << problems.size() << (problems.size() == 1 ? " problem" : " problems") << " found\n";
    }
    return problems.empty() ? exit_code::ok : exit_code::config;
}

}  // namespace toolhost::cli
