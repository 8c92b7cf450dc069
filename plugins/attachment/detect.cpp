#include "detect.hpp"

#include <toolhost/plugin.hpp>

#include <algorithm>
#include <array>

namespace toolhost::plugins::attachment {

mime_detector::mime_detector() : cookie_(magic_open(MAGIC_MIME_TYPE | MAGIC_MIME_ENCODING)) {
    if (!cookie_) throw sdk::error(sdk::status::unavailable, "libmagic: magic_open failed");
    if (magic_load(cookie_.get(), nullptr) != 0) {
        const char* why = magic_error(cookie_.get());
        throw sdk::error(sdk::status::unavailable,
                         std::string("libmagic cannot load its default database: ") + (why ? why : "unknown error"));
    }
}

mime_info mime_detector::detect(std::string_view data) {
    std::string answer;
    {
        std::lock_guard lock(mutex_);
        const char* r = magic_buffer(cookie_.get(), data.data(), data.size());
        if (r == nullptr) {
            const char* why = magic_error(cookie_.get());
            throw sdk::error(sdk::status::internal, std::string("libmagic failed: ") + (why ? why : "unknown error"));
        }
        answer = r;  // copied under the lock: the cookie owns the buffer until its next call
    }
    // "text/plain; charset=utf-8"
    mime_info info;
    const size_t semi = answer.find(';');
    info.type = answer.substr(0, semi);
    if (semi != std::string::npos) {
        const size_t eq = answer.find("charset=", semi);
        if (eq != std::string::npos) info.charset = answer.substr(eq + 8);
    }
    return info;
}

std::string_view kind_name(text_kind k) noexcept {
    switch (k) {
    case text_kind::plain: return "text";
    case text_kind::csv: return "csv";
    case text_kind::json: return "json";
    case text_kind::html: return "html";
    case text_kind::pdf: return "pdf";
    }
    return "text";
}

namespace {

bool one_of(std::string_view type, std::initializer_list<std::string_view> list) {
    return std::find(list.begin(), list.end(), type) != list.end();
}

bool is_executable(std::string_view type) {
    return one_of(
        type,
        {"application/x-executable", "application/x-pie-executable", "application/x-sharedlib", "application/x-object",
         "application/x-coredump", "application/x-elf", "application/x-mach-binary", "application/x-dosexec",
         "application/vnd.microsoft.portable-executable", "application/x-msdownload", "application/x-ms-installer",
         "application/x-msi", "application/x-java-applet", "application/java-archive", "application/x-java-archive",
         "application/wasm", "application/x-bytecode.python", "application/x-android-dex",
         "application/vnd.android.package-archive"});
}

bool is_archive(std::string_view type) {
    return one_of(type, {"application/zip",
                         "application/x-zip-compressed",
                         "application/x-tar",
                         "application/gzip",
                         "application/x-gzip",
                         "application/x-bzip2",
                         "application/x-bzip",
                         "application/x-xz",
                         "application/zstd",
                         "application/x-zstd",
                         "application/x-lzma",
                         "application/x-lzip",
                         "application/x-lz4",
                         "application/x-lzop",
                         "application/x-compress",
                         "application/x-7z-compressed",
                         "application/x-rar",
                         "application/vnd.rar",
                         "application/x-rar-compressed",
                         "application/vnd.ms-cab-compressed",
                         "application/x-archive",
                         "application/x-cpio",
                         "application/x-arj",
                         "application/x-lzh-compressed",
                         "application/x-lha",
                         "application/x-iso9660-image",
                         "application/x-apple-diskimage",
                         "application/x-debian-package",
                         "application/vnd.debian.binary-package",
                         "application/x-rpm",
                         "application/x-xar",
                         "application/x-stuffit",
                         "application/x-ace-compressed"});
}

}  // namespace

verdict classify(const mime_info& mime, std::string_view data) {
    const std::string_view type = mime.type;
    if (is_executable(type)) return {"executable file (" + mime.type + ")", std::nullopt};
    // Checked on the bytes, not on libmagic's guess: any file that starts with "#!" runs its
    // interpreter when it is made executable, whatever libmagic calls it.
    if (data.substr(0, 2) == "#!") return {"script with a #! interpreter line (" + mime.type + ")", std::nullopt};
    if (is_archive(type)) return {"archive or compressed file (" + mime.type + ")", std::nullopt};
    if (type == "application/pdf") return {std::nullopt, text_kind::pdf};
    if (type == "text/html" || type == "application/xhtml+xml") return {std::nullopt, text_kind::html};
    if (type == "text/csv") return {std::nullopt, text_kind::csv};
    if (type == "application/json") return {std::nullopt, text_kind::json};
    if (type.substr(0, 5) == "text/") return {std::nullopt, text_kind::plain};
    return {std::nullopt, std::nullopt};
}

}  // namespace toolhost::plugins::attachment
