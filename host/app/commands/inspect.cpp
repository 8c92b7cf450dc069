#include "commands.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost/plugin_loader.hpp>

// inspect: one plugin file, looked at without running its code in this process.
namespace toolhost::cli {

namespace json = boost::json;

namespace {

json::array strings(const std::vector<std::string>& v) { return json::array(v.begin(), v.end()); }

std::string abi_text(toolhost_abi_version_t abi) { return std::to_string(abi.major) + "." + std::to_string(abi.minor); }

json::object inspection_json(const plugin_inspection& p) {
    json::object o{{"path", p.path}, {"sha256", p.sha256}, {"loads", p.refused.empty()}};
    if (p.trusted) o["trusted"] = *p.trusted;
    if (!p.refused.empty()) o["refused"] = p.refused;
    if (p.refused.empty())
        o["plugin"] = json::object{{"name", p.plugin_name}, {"version", p.plugin_version}, {"abi", abi_text(p.abi)}};
    json::array tools;
    for (const auto& d : p.tools) tools.push_back(to_json(d));
    o["tools"] = std::move(tools);
    json::array problems;
    for (const auto& r : p.problems) problems.push_back(json::value(r.reason));
    o["problems"] = std::move(problems);
    json::object elf{{"soname", p.soname}, {"needed", strings(p.needed)}, {"exported", strings(p.exported)}};
    if (!p.elf_error.empty()) elf["error"] = p.elf_error;
    o["elf"] = std::move(elf);
    return o;
}

void print_inspection(std::ostream& out, const plugin_inspection& p) {
    auto joined = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
        return s.empty() ? std::string("-") : s;
    };
    out << "path:     " << p.path << "\nsha256:   " << (p.sha256.empty() ? "-" : p.sha256) << '\n';
    if (p.trusted) out << "trusted:  " << (*p.trusted ? "yes (listed in trust.sha256)" : "no") << '\n';
    if (p.refused.empty())
        out << "verdict:  loads\nplugin:   " << p.plugin_name << ' ' << p.plugin_version << " (ABI " << abi_text(p.abi)
            << ")\n";
    else
        out << "verdict:  refused: " << p.refused << '\n';
    if (!p.elf_error.empty()) out << "elf:      " << p.elf_error << '\n';
    if (!p.soname.empty()) out << "soname:   " << p.soname << '\n';
    out << "links:    " << joined(p.needed) << "\nexports:  " << joined(p.exported) << '\n';
    if (!p.tools.empty()) out << "tools:\n";
    for (const auto& d : p.tools) {
        out << "  " << d.name << ' ' << d.version << "  " << d.description << '\n';
        for (const auto& op : d.operations) out << "    " << op.name << "  " << op.description << '\n';
    }
    for (const auto& r : p.problems) out << "refused tool: " << r.reason << '\n';
}

}  // namespace

int cmd_inspect(command_context& c) {
    if (int rc = c.check_args(1, 1, "'inspect' needs exactly one plugin FILE"); rc != exit_code::ok) return rc;
    // The configuration's trust list, when it has one, is part of the verdict.
    if (int rc = c.load_config(); rc != exit_code::ok) return rc;
    plugin_loader::options o;
    if (const auto& trusted = c.config().trust_sha256) o.trusted_sha256.emplace(trusted->begin(), trusted->end());
    const auto inspection = plugin_loader(o).inspect(c.opts().positional[0]);
    if (c.opts().json)
        c.out() << toolhost::json_text(inspection_json(inspection)) << '\n';
    else
        print_inspection(c.out(), inspection);
    return inspection.refused.empty() ? exit_code::ok : exit_code::data;
}

}  // namespace toolhost::cli
