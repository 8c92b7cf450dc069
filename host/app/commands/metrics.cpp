#include "commands.hpp"

#include <toolhost/json_text.hpp>

#include <sstream>

namespace toolhost::cli {

namespace json = boost::json;

namespace {

// Keeps the samples whose labels include tool="<tool>", with their families' HELP and TYPE.
std::string prometheus_for_tool(const std::string& text, const std::string& tool) {
    const std::string label = "tool=\"" + tool + "\"";
    std::string out, header;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# HELP ", 0) == 0)
            header = line + '\n';
        else if (line.rfind("# TYPE ", 0) == 0)
            header += line + '\n';
        else if (line.find(label) != std::string::npos &&
                 (line.find("{" + label) != std::string::npos || line.find("," + label) != std::string::npos)) {
            out += header;
            header.clear();
            out += line + '\n';
        }
    }
    return out;
}

// The seed's get_tool_metrics(tool): only the series labelled with that tool.
int local_metrics(command_context& c) {
    if (int rc = c.check_args(0, 1, "'metrics' takes at most one TOOL"); rc != exit_code::ok) return rc;
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    const std::optional<std::string> tool =
        c.opts().positional.empty() ? std::nullopt : std::optional<std::string>(c.opts().positional[0]);
    if (tool && !c.host().find(*tool)) return c.tool_missing(*tool);
    c.protect_stdout();  // the tools start in this process
    start_options so;
    so.concurrent = c.host().config().concurrent_init;
    c.host().start(so);
    if (c.opts().json) {
        json::value all = c.host().metrics().to_json();
        if (tool) {
            json::object kept;
            for (auto& [name, family] : all.as_object()) {
                json::array samples;
                for (auto& sample : family.at("samples").as_array())
                    if (const auto* t = sample.at("labels").as_object().if_contains("tool");
                        t && t->is_string() && t->get_string() == *tool)
                        samples.push_back(sample);
                if (samples.empty()) continue;
                family.as_object()["samples"] = std::move(samples);
                kept[name] = std::move(family);
            }
            all = std::move(kept);
        }
        c.out() << toolhost::json_text(all) << '\n';
    } else {
        const std::string text = c.host().metrics().render_prometheus();
        c.out() << (tool ? prometheus_for_tool(text, *tool) : text);
    }
    c.host().shutdown();
    return exit_code::ok;
}

int remote_metrics(command_context& c) {
    if (c.opts().json)
        return c.fail(status_code::invalid_argument, "metrics --server prints the Prometheus text only; drop --json",
                      exit_code::usage);
    auto r = c.remote("GET", "/metrics");
    if (!r) return c.last_failure();
    if (r->status != 200) return c.remote_failure(*r);
    c.out() << (c.opts().positional.empty() ? r->body : prometheus_for_tool(r->body, c.opts().positional[0]));
    return exit_code::ok;
}

}  // namespace

int cmd_metrics(command_context& c) { return c.opts().server ? remote_metrics(c) : local_metrics(c); }

}  // namespace toolhost::cli
