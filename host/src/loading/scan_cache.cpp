#include "loading/scan_cache.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/version.hpp>

#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

namespace toolhost::detail {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {
constexpr std::uintmax_t max_cache_bytes = 64u << 20;
constexpr std::size_t max_entries = 10000;
}  // namespace

scan_cache::scan_cache(fs::path file, toolhost_abi_version_t abi) : file_(std::move(file)), abi_(abi) { load(); }

// What every entry was made under: a different ABI or toolhost version discards the cache.
std::string scan_cache::key() const {
    return std::string(TOOLHOST_VERSION_STRING) + "/abi-" + std::to_string(abi_.major) + "." +
           std::to_string(abi_.minor);
}

void scan_cache::load() {
    std::error_code ec;
    const auto size = fs::file_size(file_, ec);
    if (ec) return;  // no cache yet
    auto ignore = [&](const std::string& why) {
        logging::write(logging::level::warning, "loader", "plugin scan cache ignored",
                       {{"path", file_.string()}, {"error", why}});
        entries_.clear();
        changed_ = true;
    };
    if (size > max_cache_bytes) return ignore("larger than " + std::to_string(max_cache_bytes) + " bytes");
    std::ifstream in(file_, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code jec;
    const auto doc = json::parse(text.str(), jec);
    if (jec || !doc.is_object()) return ignore("not a JSON object");
    const auto& o = doc.get_object();
    const auto* made_by = o.if_contains("made_by");
    if (made_by == nullptr || !made_by->is_string() || made_by->get_string() != key()) {
        changed_ = true;  // another toolhost version's cache: start over, silently
        return;
    }
    const auto* files = o.if_contains("files");
    if (files == nullptr || !files->is_object()) return ignore("no \"files\" object");
    for (const auto& [path, v] : files->get_object()) {
        if (entries_.size() >= max_entries || !v.is_object()) continue;
        const auto* identity = v.get_object().if_contains("identity");
        const auto* r = v.get_object().if_contains("result");
        auto id = identity ? file_identity::from_json(*identity) : std::nullopt;
        auto result = r ? scan_result::from_json(*r)
                        : boost::system::result<scan_result, std::string>(boost::system::in_place_error, "no result");
        if (!id || !result) {
            changed_ = true;
            continue;
        }
        result->from_cache = true;
        entries_.insert_or_assign(std::string(path), entry{*id, std::move(*result)});
    }
}

std::optional<scan_result> scan_cache::find(const fs::path& canonical, const file_identity& id) const {
    auto it = entries_.find(canonical.string());
    if (it == entries_.end() || !(it->second.id == id)) return std::nullopt;
    // The file is the same; so must be everything else its tool list was read from (the python
    // plugin's folder of .py files, the variable naming it): toolhost/scan_inputs.h.
    for (const auto& input : it->second.result.inputs)
        if (descriptor_input_state(input.kind, input.name) != input.state) return std::nullopt;
    return it->second.result;
}

void scan_cache::put(const fs::path& canonical, const file_identity& id, const scan_result& result) {
    if (!result.cacheable || entries_.size() >= max_entries) return;
    auto& e = entries_[canonical.string()];
    e.id = id;
    e.result = result;
    e.result.from_cache = true;
    changed_ = true;
}

void scan_cache::save() {
    if (!changed_ || file_.empty()) return;
    json::object files;
    for (const auto& [path, e] : entries_) {
        std::error_code ec;
        if (!fs::exists(path, ec)) continue;
        files[path] = json::object{{"identity", e.id.to_json()}, {"result", e.result.to_json()}};
    }
    const std::string text = toolhost::json_text(json::object{{"made_by", key()}, {"files", std::move(files)}});
    std::error_code ec;
    fs::create_directories(file_.parent_path(), ec);
    // A name of its own per writer (process and call), so that concurrent writers never share one.
    static std::atomic<unsigned> writes{0};
    const fs::path tmp = file_.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++writes);
    bool ok = false;
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        ok = static_cast<bool>(out);
    }
    if (ok) fs::rename(tmp, file_, ec);
    if (!ok || ec) {
        fs::remove(tmp, ec);
        logging::write(logging::level::debug, "loader", "plugin scan cache not written", {{"path", file_.string()}});
        return;
    }
    changed_ = false;
}

}  // namespace toolhost::detail
