#pragma once
// The project templates of `toolhost new`, embedded in the executable at build time from
// host/app/templates (embed_templates.cmake).

#include <span>
#include <string_view>

namespace toolhost::cli {

/// One file of a template folder, its placeholders (@NAME@, @TOOLHOST@, ...) not yet replaced.
struct template_file {
    std::string_view folder;  ///< "c", "cpp", "rust", "python" or "cmake_project" (shared by c and cpp)
    std::string_view path;    ///< where it goes in the new project; may contain @NAME@
    std::string_view text;
};

/// Every file of every template folder, sorted by folder and path.
std::span<const template_file> template_files();

}  // namespace toolhost::cli
