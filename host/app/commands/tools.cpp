#include "commands.hpp"

#if TOOLHOST_CLI_POSTGRESQL
#include "cluster/postgres_cluster.hpp"
#endif

#include <toolhost/tool_descriptor.hpp>

#include <toolhost/json_text.hpp>
#include <toolhost/serve/status_json.hpp>

#include <boost/json/parse.hpp>

#include <optional>
#include <utility>

// list, info, status, validate: what the plugins provide and what state the tools are in.
namespace toolhost::cli {

namespace json = boost::json;

namespace {

// The text forms are printed from the JSON forms, so that a local command and its --server
// twin (the REST API's /v1/tools, which is built from the same to_json() and status JSON) print
// the same.

std::string_view text_of(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

bool flag_of(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_bool() && v->get_bool();
}

void print_tool_list(std::ostream& out, const json::array& tools) {
    for (const auto& t : tools) {
        const auto& o = t.as_object();
        out << text_of(o, "name") << ' ' << text_of(o, "version") << "  " << text_of(o, "description") << '\n';
        if (const auto* ops = o.if_contains("operations"); ops && ops->is_array())
            for (const auto& op : ops->get_array())
                out << "  " << text_of(op.as_object(), "name") << "  " << text_of(op.as_object(), "description")
                    << '\n';
    }
    if (tools.empty()) out << "no tools found\n";
}

void print_tool_info(std::ostream& out, const json::object& o) {
    out << "name:        " << text_of(o, "name") << "\nversion:     " << text_of(o, "version")
        << "\ndescription: " << text_of(o, "description") << "\nplugin:      " << text_of(o, "plugin")
        << "\nthread-safe: " << (flag_of(o, "thread_safe") ? "yes" : "no")
        << "\nenabled:     " << (flag_of(o, "enabled") ? "yes" : "no") << '\n';
    if (o.contains("state")) out << "state:       " << text_of(o, "state") << '\n';
    if (o.contains("error")) out << "error:       " << text_of(o, "error") << '\n';
    if (const auto* config = o.if_contains("config")) out << "config:      " << toolhost::json_text(*config) << '\n';
    if (const auto* schema = o.if_contains("config_schema"))
        out << "config schema: " << toolhost::json_text(*schema) << '\n';
    out << "operations:\n";
    const auto* ops = o.if_contains("operations");
    if (ops == nullptr || !ops->is_array()) return;
    for (const auto& v : ops->get_array()) {
        const auto& op = v.as_object();
        out << "  " << text_of(op, "name") << "  " << text_of(op, "description") << '\n';
        std::string flags;
        for (const auto& [key, shown] :
             {std::pair{"idempotent", " idempotent"}, std::pair{"read_only", " read-only"},
              std::pair{"destructive", " destructive"}, std::pair{"cancellable", " cancellable"}})
            if (flag_of(op, key)) flags += shown;
        if (!flags.empty()) out << "    flags:" << flags << '\n';
        if (const auto* in = op.if_contains("input_schema")) out << "    input:  " << toolhost::json_text(*in) << '\n';
        if (const auto* output = op.if_contains("output_schema"))
            out << "    output: " << toolhost::json_text(*output) << '\n';
    }
}

// One line per tool: name and state (or disabled), its worker, its error.
void print_status(std::ostream& out, const json::array& tools) {
    for (const auto& t : tools) {
        const auto& o = t.as_object();
        out << text_of(o, "name") << ' ' << (flag_of(o, "enabled") ? text_of(o, "state") : "disabled");
        if (const auto* w = o.if_contains("worker"); w && w->is_object()) {
            const auto& worker = w->get_object();
            out << "  worker pid " << toolhost::json_text(worker.at("pid")) << ", " << text_of(worker, "state") << ", "
                << toolhost::json_text(worker.at("restarts")) << " restarts";
        }
        if (o.contains("error")) out << "  " << text_of(o, "error");
        out << '\n';
    }
}

// What an operator compares across hosts: "node", "plugin_set", "database" (null: this host alone).
void print_identity(std::ostream& out, const json::object& o) {
    const auto* db = o.if_contains("database");
    out << "node " << text_of(o, "node") << "  plugin set " << text_of(o, "plugin_set") << "  database "
        << (db != nullptr && db->is_string() ? std::string(db->get_string()) : std::string("none (this host alone)"))
        << '\n';
}

// The database of serve.database (TOOLHOST_DATABASE_URL) as `toolhost status` names it: never
// with its password.
json::value database_of(const serve_settings& s) {
    if (s.database.empty()) return nullptr;
#if TOOLHOST_CLI_POSTGRESQL
    try {
        return json::value(describe_database(s.database));
    } catch (const std::exception& e) {
        return json::value(std::string("unreadable: ") + e.what());
    }
#else
    return json::value("configured, but this toolhost has no PostgreSQL support");
#endif
}

// GET `path` of the running server; the body as a JSON object, or nullopt after reporting why.
std::optional<json::object> remote_json(command_context& c, const std::string& path) {
    auto r = c.remote("GET", path);
    if (!r) return std::nullopt;
    if (r->status != 200) {
        c.remote_failure(*r);
        return std::nullopt;
    }
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec || !v.is_object()) {
        c.fail(status_code::internal, "GET " + path + " answered something that is not a JSON object: " + r->body,
               exit_code::internal);
        return std::nullopt;
    }
    return std::move(v.get_object());
}

const json::array& tools_of(const json::object& o) {
    static const json::array none;
    const auto* t = o.if_contains("tools");
    return t != nullptr && t->is_array() ? t->get_array() : none;
}

int remote_list(command_context& c) {
    auto body = remote_json(c, "/v1/tools");
    if (!body) return c.last_failure();
    if (c.opts().json)
        c.out() << toolhost::json_text(*body) << '\n';
    else
        print_tool_list(c.out(), tools_of(*body));
    return exit_code::ok;
}

int remote_info(command_context& c, const std::string& name) {
    auto body = remote_json(c, "/v1/tools/" + path_segment(name));
    if (!body) return c.last_failure();
    if (c.opts().json)
        c.out() << toolhost::json_text(*body) << '\n';
    else
        print_tool_info(c.out(), *body);
    return exit_code::ok;
}

// Exit 0 when every enabled tool of the server is ready, else 69, as `status` without --server.
int remote_status(command_context& c) {
    auto body = remote_json(c, "/v1/tools");
    if (!body) return c.last_failure();
    bool all_ready = true;
    for (const auto& t : tools_of(*body))
        if (flag_of(t.as_object(), "enabled") && text_of(t.as_object(), "state") != "ready") all_ready = false;
    // The node, its plugin set and its database, from /readyz (which answers 503 while draining).
    json::object identity;
    if (auto r = c.remote("GET", "/readyz"); r && (r->status == 200 || r->status == 503)) {
        boost::system::error_code ec;
        json::value v = json::parse(r->body, ec);
        if (!ec && v.is_object())
            for (const char* key : {"node", "plugin_set", "database"})
                if (const auto* x = v.get_object().if_contains(key)) identity[key] = *x;
    }
    if (c.opts().json) {
        json::object out{{"ok", all_ready}};
        for (auto& [k, v] : identity) out[k] = v;
        out["tools"] = tools_of(*body);
        c.out() << toolhost::json_text(out) << '\n';
    } else {
        if (!identity.empty()) print_identity(c.out(), identity);
        print_status(c.out(), tools_of(*body));
    }
    return all_ready ? exit_code::ok : exit_code::unavailable;
}

}  // namespace

int cmd_list(command_context& c) {
    if (int rc = c.check_args(0, 0, "'list' takes no arguments"); rc != exit_code::ok) return rc;
    if (c.opts().server) return remote_list(c);
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    json::array tools;
    for (const auto& n : c.host().list()) tools.push_back(to_json(c.host().find(n)->descriptor()));
    if (c.opts().json) {
        c.out() << toolhost::json_text(json::object{{"tools", std::move(tools)}, {"rejected", c.rejected_json()}})
                << '\n';
        return exit_code::ok;
    }
    print_tool_list(c.out(), tools);
    for (const auto& r : c.host().last_load().rejected) c.err() << "rejected: " << r.path << ": " << r.reason << '\n';
    return exit_code::ok;
}

int cmd_info(command_context& c) {
    if (int rc = c.check_args(1, 1, "'info' needs exactly one TOOL"); rc != exit_code::ok) return rc;
    const std::string& name = c.opts().positional[0];
    if (c.opts().server) return remote_info(c, name);
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    auto f = c.host().find(name);
    if (!f) return c.tool_missing(name);
    auto it = c.host().config().tools.find(name);
    auto o = to_json(f->descriptor());
    o["enabled"] = c.host().config().tool_enabled(name);
    o["config"] = it != c.host().config().tools.end() ? it->second.config : json::object{};
    if (c.opts().json)
        c.out() << toolhost::json_text(o) << '\n';
    else
        print_tool_info(c.out(), o);
    return exit_code::ok;
}

int cmd_status(command_context& c) {
    if (int rc = c.check_args(0, 0, "'status' takes no arguments"); rc != exit_code::ok) return rc;
    if (c.opts().server) return remote_status(c);
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    c.protect_stdout();  // the tools start in this process
    start_options so;
    so.concurrent = c.host().config().concurrent_init;
    so.fail_on_error = false;
    auto report = c.host().start(so);
    json::array tools;
    for (const auto& s : c.host().status()) {
        json::object o{{"name", s.name}, {"version", s.version}, {"plugin", s.plugin}};
        toolhost::serve::add_status_json(o, s);
        tools.push_back(std::move(o));
    }
    json::object identity{{"node", c.serving().node_id},
                          {"plugin_set", toolhost::serve::plugin_set_digest(c.host())},
                          {"database", database_of(c.serving())}};
    c.host().shutdown();
    if (c.opts().json) {
        json::array failed;
        for (const auto& [n, e] : report.failed)
            failed.push_back(json::object{{"tool", n}, {"code", status_name(e.code)}, {"message", e.message}});
        c.out() << toolhost::json_text(json::object{{"ok", report.ok()},
                                                    {"node", identity["node"]},
                                                    {"plugin_set", identity["plugin_set"]},
                                                    {"database", identity["database"]},
                                                    {"tools", std::move(tools)},
                                                    {"failed", std::move(failed)},
                                                    {"rejected", c.rejected_json()}})
                << '\n';
    } else {
        print_identity(c.out(), identity);
        print_status(c.out(), tools);
        for (const auto& [n, e] : report.failed)
            if (!c.host().status(n)) c.err() << "failed: " << n << ": " << e.message << '\n';
    }
    return report.ok() ? exit_code::ok : exit_code::unavailable;
}

int cmd_validate(command_context& c) {
    if (int rc = c.check_args(0, 0, "'validate' takes no arguments"); rc != exit_code::ok) return rc;
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    auto problems = c.host().validate();
    const auto where = c.config_origin();
    if (c.opts().json) {
        json::array a;
        for (const auto& p : problems) a.push_back(json::value(p));
        json::value file = where.file.empty() ? json::value(nullptr) : json::value(where.file.string());
        c.out() << toolhost::json_text(
                       json::object{{"ok", problems.empty()},
                                    {"tools", c.host().list().size()},
                                    {"config", json::object{{"file", std::move(file)}, {"from", where.source}}},
                                    {"problems", std::move(a)}})
                << '\n';
    } else {
        for (const auto& p : problems) c.err() << p << '\n';
        if (problems.empty())
            c.out() << "configuration ok: " << c.host().list().size() << " tools ("
                    << (where.file.empty() ? std::string("no file") : where.file.string()) << ", from " << where.source
                    << ")\n";
        else
            c.err() << problems.size() << (problems.size() == 1 ? " problem" : " problems") << " found\n";
    }
    return problems.empty() ? exit_code::ok : exit_code::config;
}

}  // namespace toolhost::cli
