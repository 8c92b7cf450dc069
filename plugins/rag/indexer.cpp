#include "indexer.hpp"

#include "extract.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/sha256.hpp>

#include <algorithm>
#include <set>
#include <system_error>

namespace toolhost::plugins::rag {

namespace fs = std::filesystem;

namespace {

bool is_hidden(const fs::path& p) {
    const std::string name = p.filename().string();
    return !name.empty() && name.front() == '.';
}

// The supported files below `folder`, sorted so that runs (and their progress) are repeatable.
std::vector<fs::path> collect_files(const fs::path& folder) {
    std::vector<fs::path> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
    if (ec)
        throw sdk::error(sdk::status::unavailable, "path: cannot read folder " + folder.string() + ": " + ec.message());
    for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
        if (ec)
            throw sdk::error(sdk::status::unavailable, "path: cannot walk " + folder.string() + ": " + ec.message());
        if (is_hidden(it->path())) {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        // is_regular_file() follows a symlink; read_file() then checks where it really leads.
        if (it->is_regular_file(ec) && format_of(it->path())) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

index_report indexer::index_path(std::string_view field, std::string_view path,
                                 const std::optional<std::vector<std::string>>& tags, bool force,
                                 const run_hooks& hooks) {
    const fs::path target = allowed_.resolve_allowed(field, path);
    index_report report;
    report.path = target.string();
    std::error_code ec;
    if (fs::is_directory(target, ec)) {
        index_folder(target, tags, force, hooks, report);
    } else if (fs::is_regular_file(target, ec)) {
        // Name the document by the path as given, with its folders resolved but not a final
        // symlink: the same name a run over its folder gives it.
        const fs::path given(path);
        const fs::path source =
            plugins::paths::resolve(given.parent_path().empty() ? fs::path(".") : given.parent_path()) /
            given.filename();
        report.path = source.string();
        index_file(field, source, tags, force, hooks, report);
    } else {
        plugins::invalid_argument(field, std::string(path) + " is neither a regular file nor a folder");
    }
    return report;
}

void indexer::index_file(std::string_view field, const fs::path& file,
                         const std::optional<std::vector<std::string>>& tags, bool force, const run_hooks& hooks,
                         index_report& report) {
    const auto format = format_of(file);
    if (!format)
        plugins::invalid_argument(field, file.string() + " has an unsupported file type (supported: " +
                                             std::string(supported_extensions()) + ")");
    const std::string content = allowed_.read_file(field, file, max_file_bytes_);
    document_input doc;
    doc.source = file.string();
    doc.kind = document_kind::file;
    doc.content_hash = plugins::sha256::of(content);
    doc.bytes = static_cast<int64_t>(content.size());
    doc.text = extract_text(content, *format, field);
    doc.tags = tags;
    ++report.files;
    const upsert_result r = store_.upsert(doc, force, hooks.until());
    switch (r.what) {
    case change::added: ++report.added; break;
    case change::updated: ++report.updated; break;
    case change::unchanged: ++report.unchanged; break;
    }
    if (r.what != change::unchanged) {
        report.chunks += r.chunks;
        hooks.changed(doc.source);
    }
}

void indexer::index_folder(const fs::path& folder, const std::optional<std::vector<std::string>>& tags, bool force,
                           const run_hooks& hooks, index_report& report) {
    const std::vector<fs::path> files = collect_files(folder);
    const auto total = static_cast<double>(files.size());
    std::set<std::string> seen;
    for (size_t i = 0; i < files.size(); ++i) {
        if (hooks.cancelled())
            throw sdk::error(sdk::status::cancelled, "indexing " + folder.string() + " was cancelled after " +
                                                         std::to_string(i) + " of " + std::to_string(files.size()) +
                                                         " files; those stay indexed");
        const fs::path& file = files[i];
        seen.insert(file.string());
        try {
            index_file("path", file, tags, force, hooks, report);
        } catch (const sdk::error& e) {
            // The storage is in trouble: stop, and let the call report it (UNAVAILABLE etc.).
            if (store_.is_storage_error(e)) throw;
            report.errors.push_back({file.string(), e.code(), e.what()});
        }
        hooks.progress(static_cast<double>(i + 1), total, file.filename().string());
    }
    std::vector<std::string> gone;
    for (auto& source : store_.file_sources_under(folder.string(), hooks.until()))
        if (!seen.contains(source)) gone.push_back(std::move(source));
    if (gone.empty()) return;
    const removal r = store_.remove(gone, {}, hooks.until());
    report.removed = r.documents;
    for (const auto& source : r.sources) hooks.changed(source);
}

}  // namespace toolhost::plugins::rag
