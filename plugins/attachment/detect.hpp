// What an uploaded file is, from its bytes (libmagic), and whether attachment will touch it.
// The file name is never consulted: a name is a claim made by whoever uploaded the file.
#pragma once

#include <magic.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace toolhost::plugins::attachment {

struct mime_info {
    std::string type;     ///< e.g. "application/pdf"
    std::string charset;  ///< e.g. "utf-8", "iso-8859-1", "binary"
};

/// A libmagic cookie with the default database loaded once, for MIME type and encoding.
///
/// Threading: libmagic cookies are not thread-safe, so detect() serializes on a mutex. A lookup
/// takes microseconds to a millisecond, much less than the rest of processing a file, so one
/// shared cookie costs less than loading the database (several MB) per thread.
class mime_detector {
public:
    /// Throws toolhost::sdk::error(UNAVAILABLE) when the magic database cannot be loaded.
    mime_detector();

    mime_info detect(std::string_view data);

private:
    struct close_cookie {
        void operator()(magic_t cookie) const noexcept { magic_close(cookie); }
    };
    std::mutex mutex_;  // neither copied nor moved: the cookie stays with its lock
    std::unique_ptr<std::remove_pointer_t<magic_t>, close_cookie> cookie_;
};

/// How attachment turns a type into text.
enum class text_kind { plain, csv, json, html, pdf };
std::string_view kind_name(text_kind k) noexcept;

/// The verdict on a file: refused (with a reason a person understands), or processed, with a
/// text extractor when there is one for its type (none: hash and type only, e.g. an image).
struct verdict {
    std::optional<std::string> refused;
    std::optional<text_kind> kind;
};

/// Refuses executables (ELF, PE, Mach-O, Java classes and archives, WebAssembly, ...), scripts
/// that start with "#!" (they run when made executable, whatever their name), and archives and
/// compressed files (zip, tar, gzip, bzip2, xz, zstd, 7z, rar, cab, ...: their contents are not
/// inspected, so they could hide anything). Every other text/* type is plain text.
verdict classify(const mime_info& mime, std::string_view data);

}  // namespace toolhost::plugins::attachment
