#include "commands.hpp"

#include "../templates.hpp"

#include <toolhost/json_text.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <system_error>

// new: a plugin project from the templates embedded in the executable (host/app/templates).
namespace toolhost::cli {

namespace fs = std::filesystem;
namespace json = boost::json;

#ifndef TOOLHOST_SOURCE_DIR
#define TOOLHOST_SOURCE_DIR ""
#endif
#ifndef TOOLHOST_BIN_TO_DATADIR
#define TOOLHOST_BIN_TO_DATADIR "../share/toolhost"
#endif

namespace {

struct language {
    std::string_view name;
    std::string_view summary;
    std::array<std::string_view, 2> folders;  // template folders, in order; a later file wins
    std::string_view next_steps;              // what to run in the new folder
};

constexpr language languages[] = {
    {"c",
     "C11; reads arguments and writes results with jansson (libjansson-dev); CMake, ctest",
     {"cmake_project", "c"},
     "cmake -S . -B build @CMAKE_HINT@ && cmake --build build && ctest --test-dir build"},
    {"cpp",
     "C++20 with the toolhost/plugin.hpp helper and Boost.JSON; CMake, ctest",
     {"cmake_project", "cpp"},
     "cmake -S . -B build @CMAKE_HINT@ && cmake --build build && ctest --test-dir build"},
    {"rust",
     "Rust with the toolhost-sdk crate (standard library only, Debian's cargo offline); cargo test",
     {"rust", {}},
     "RUSTC=/usr/bin/rustc /usr/bin/cargo test --offline"},
    {"python",
     "Python tool classes in tools/, served by the python plugin (CPython embedded); unittest",
     {"python", {}},
     "python3 -m unittest"},
};

// A name every language can use as it is: a file name, a CMake target, a C++ class prefix, a
// Rust crate, a Python module, and a tool name.
bool is_project_name(std::string_view n) {
    if (n.empty() || n.size() > 64 || n.front() < 'a' || n.front() > 'z') return false;
    return std::all_of(n.begin(), n.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::string replace_all(std::string_view text, std::span<const std::pair<std::string_view, std::string>> values) {
    std::string out(text);
    for (const auto& [key, value] : values)
        for (auto at = out.find(key); at != std::string::npos; at = out.find(key, at + value.size()))
            out.replace(at, key.size(), value);
    return out;
}

int list_languages(command_context& c) {
    if (c.opts().json) {
        json::array a;
        for (const auto& l : languages) a.push_back(json::object{{"lang", l.name}, {"summary", l.summary}});
        c.out() << toolhost::json_text(json::object{{"languages", std::move(a)}}) << '\n';
        return exit_code::ok;
    }
    c.out() << "toolhost new NAME --lang LANG [--dir DIR] makes a plugin project in DIR (default ./NAME):\n";
    for (const auto& l : languages)
        c.out() << "  " << l.name << std::string(8 - l.name.size(), ' ') << l.summary << '\n';
    return exit_code::ok;
}

// Where the toolhost-sdk crate is: the source tree's for a toolhost that runs from its build
// tree, else the installation's <prefix>/share/toolhost/rust/toolhost-sdk.
fs::path rust_sdk(const fs::path& exe) {
    if (build_tree_of(exe)) return fs::path(TOOLHOST_SOURCE_DIR) / "sdk" / "rust" / "toolhost-sdk";
    return (exe.parent_path() / TOOLHOST_BIN_TO_DATADIR / "rust" / "toolhost-sdk").lexically_normal();
}

// The folder of this toolhost's python plugin (python.so): lib/toolhost/python next to bin/, in
// the build tree as in an installation.
fs::path python_plugin_dir(const fs::path& exe) {
    return (exe.parent_path() / ".." / "lib" / "toolhost" / "python").lexically_normal();
}

// How a CMake project finds this toolhost's package: its build tree, or its installation prefix.
std::string cmake_hint(const fs::path& exe) {
    if (auto build = build_tree_of(exe)) return "-DToolhost_DIR=" + build->string();
    return "-DCMAKE_PREFIX_PATH=" + exe.parent_path().parent_path().lexically_normal().string();
}

}  // namespace

int cmd_new(command_context& c) {
    const auto& p = c.opts().positional;
    if (p.empty() && !c.opts().lang && !c.opts().dir) return list_languages(c);
    if (int rc = c.check_args(1, 1, "'new' needs one NAME (and --lang)"); rc != exit_code::ok) return rc;
    const std::string& name = p[0];
    if (!is_project_name(name))
        return c.usage("'" + name +
                       "' cannot name a plugin project: use 1 to 64 lower-case letters, digits and '_', starting "
                       "with a letter (it becomes the tool's name, the library's and the source file's)");
    const auto* lang = std::find_if(std::begin(languages), std::end(languages),
                                    [&](const language& l) { return c.opts().lang && l.name == *c.opts().lang; });
    if (lang == std::end(languages)) {
        std::string known;
        for (const auto& l : languages) known += (known.empty() ? "" : ", ") + std::string(l.name);
        return c.usage(c.opts().lang ? "unknown --lang '" + *c.opts().lang + "' (known: " + known + ")"
                                     : "'new' needs --lang (" + known + ")");
    }
    const fs::path dir = c.opts().dir.value_or(fs::path(name));

    std::error_code ec;
    if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec)))
        return c.fail(status_code::already_exists,
                      dir.string() + " already exists and is not an empty folder: give another --dir",
                      exit_code::cant_create);

    const fs::path exe = fs::absolute(c.exe());
    const fs::path sdk = rust_sdk(exe);
    if (lang->name == "rust" && !fs::is_regular_file(sdk / "Cargo.toml", ec))
        return c.fail(status_code::not_found,
                      "the Rust SDK crate is not at " + sdk.string() +
                          " (it is installed with toolhost into <prefix>/share/toolhost/rust/toolhost-sdk)",
                      exit_code::unavailable);
    const fs::path python = python_plugin_dir(exe);
    if (lang->name == "python" && !fs::is_regular_file(python / "python.so", ec))
        return c.fail(status_code::not_found,
                      "this toolhost has no python plugin at " + (python / "python.so").string() +
                          " (it is built when python3-dev is installed)",
                      exit_code::unavailable);
    const std::pair<std::string_view, std::string> values[] = {
        {"@NAME@", name},
        {"@TOOLHOST@", exe.string()},
        {"@SDK_RUST@", sdk.string()},
        {"@CMAKE_HINT@", cmake_hint(exe)},
        {"@PYTHON_PLUGIN_DIR@", python.string()},
    };

    // The files of the language's folders; a later folder's file replaces an earlier one's.
    std::vector<std::pair<fs::path, std::string>> files;
    for (const auto folder : lang->folders) {
        if (folder.empty()) continue;
        for (const auto& f : template_files()) {
            if (f.folder != folder) continue;
            fs::path path = replace_all(f.path, values);
            auto same = std::find_if(files.begin(), files.end(), [&](const auto& e) { return e.first == path; });
            if (same != files.end()) files.erase(same);
            files.emplace_back(std::move(path), replace_all(f.text, values));
        }
    }
    for (const auto& [path, text] : files) {
        const fs::path target = dir / path;
        fs::create_directories(target.parent_path(), ec);
        std::ofstream out(target, std::ios::binary | std::ios::trunc);
        out << text;
        out.close();
        if (ec || !out)
            return c.fail(status_code::internal,
                          "cannot write " + target.string() + (ec ? ": " + ec.message() : std::string()),
                          exit_code::cant_create);
    }

    if (c.opts().json) {
        json::array written;
        for (const auto& f : files) written.push_back(json::value((dir / f.first).string()));
        c.out() << toolhost::json_text(json::object{{"dir", dir.string()},
                                                    {"lang", lang->name},
                                                    {"files", std::move(written)},
                                                    {"next", replace_all(lang->next_steps, values)}})
                << '\n';
        return exit_code::ok;
    }
    c.out() << "made " << name << " (" << lang->name << ") in " << dir.string() << ":\n";
    for (const auto& f : files) c.out() << "  " << f.first.string() << '\n';
    c.out() << "next:\n  cd " << dir.string() << " && " << replace_all(lang->next_steps, values) << '\n';
    return exit_code::ok;
}

}  // namespace toolhost::cli
