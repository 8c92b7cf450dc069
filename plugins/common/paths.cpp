#include "toolhost_plugins/paths.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include <toolhost/plugin.hpp>

namespace toolhost::plugins::paths {

namespace fs = std::filesystem;
using sdk::status;

namespace {

[[noreturn]] void fail(status code, std::string_view field, const std::string& message) {
    std::string msg(field);
    msg += ": ";
    msg += message;
    throw sdk::error(code, msg);
}

// "/a/b/" and "/a/b" name the same folder; path iteration would see an extra empty element.
fs::path without_trailing_separator(fs::path p) {
    while (p.has_relative_path() && !p.has_filename()) p = p.parent_path();
    return p;
}

// Closes a file descriptor on every path out of read_file().
class fd_guard {
public:
    explicit fd_guard(int fd) noexcept : fd_(fd) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

// The status an errno from open()/read() deserves: a missing file is the caller's NOT_FOUND,
// permissions are PERMISSION_DENIED, resource shortages and I/O trouble may pass (UNAVAILABLE).
status status_of_errno(int e) noexcept {
    switch (e) {
    case ENOENT:
    case ENOTDIR: return status::not_found;
    case EACCES:
    case EPERM: return status::permission_denied;
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
    case ENXIO: return status::invalid_argument;
    default: return status::unavailable;  // EIO, EMFILE, ENFILE, ENOMEM, EINTR storms, ...
    }
}

// Where an open descriptor really points, from /proc; empty when /proc is not mounted.
fs::path real_path_of(int fd) {
    std::error_code ec;
    fs::path p = fs::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
    return ec ? fs::path() : p;
}

}  // namespace

std::string read_small_file(const fs::path& file, std::string_view field) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) fail(status::invalid_argument, field, "cannot read " + file.string());
    return text.str();
}

fs::path next_to_plugin(const fs::path& relative) {
    // The host says where the plugin file is: it may run a private copy of it, which dladdr()
    // would name instead (toolhost/plugin_file.h).
    std::string file = toolhost::sdk::plugin_file();
    if (file.empty()) {
        Dl_info info{};
        // Any function of this library will do: dladdr() names the object that contains it, which
        // is the plugin this static support library is linked into.
        if (dladdr(reinterpret_cast<const void*>(&next_to_plugin), &info) == 0 || info.dli_fname == nullptr) return {};
        file = info.dli_fname;
    }
    std::error_code ec;
    fs::path lib = fs::canonical(file, ec);
    if (ec) return {};
    return lib.parent_path() / relative;
}

fs::path resolve(const fs::path& p) {
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec);
    if (ec) throw sdk::error(status::unavailable, "cannot make " + p.string() + " absolute: " + ec.message());
    fs::path out = fs::weakly_canonical(abs, ec);
    if (ec) {
        // weakly_canonical fails on a permission error part-way; the lexical form is then the
        // best we can do, and the later open() reports the real problem.
        out = abs.lexically_normal();
    }
    return without_trailing_separator(out);
}

allowed_dirs::allowed_dirs(const std::vector<fs::path>& dirs) {
    for (const auto& d : dirs) {
        if (d.empty()) continue;
        fs::path r = resolve(d);
        if (std::find(dirs_.begin(), dirs_.end(), r) == dirs_.end()) dirs_.push_back(std::move(r));
    }
}

bool allowed_dirs::contains(const fs::path& resolved) const noexcept {
    return std::any_of(dirs_.begin(), dirs_.end(), [&](const fs::path& dir) {
        return std::mismatch(dir.begin(), dir.end(), resolved.begin(), resolved.end()).first == dir.end();
    });
}

std::string allowed_dirs::describe() const {
    if (dirs_.empty()) return "none are configured";
    std::string out;
    for (const auto& d : dirs_) {
        if (!out.empty()) out += ", ";
        out += d.string();
    }
    return out;
}

fs::path allowed_dirs::resolve_allowed(std::string_view field, std::string_view path) const {
    if (path.empty()) fail(status::invalid_argument, field, "must not be empty");
    if (path.find('\0') != std::string_view::npos) fail(status::invalid_argument, field, "must not contain NUL");
    const fs::path resolved = resolve(fs::path(path));
    if (!contains(resolved))
        fail(status::permission_denied, field,
             std::string(path) + " is outside the allowed folders (" + describe() + ")");
    std::error_code ec;
    if (!fs::exists(resolved, ec)) fail(status::not_found, field, std::string(path) + " does not exist");
    return resolved;
}

std::string allowed_dirs::read_file(std::string_view field, const fs::path& path, uint64_t max_bytes) const {
    // O_NONBLOCK: opening a FIFO someone put in an allowed folder must not hang the call; it is
    // refused below as not a regular file.
    fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) {
        const int e = errno;
        fail(status_of_errno(e), field, "cannot open " + path.string() + ": " + std::strerror(e));
    }
    if (fs::path real = real_path_of(fd.get()); !real.empty() && !contains(real))
        fail(status::permission_denied, field,
             path.string() + " resolves to " + real.string() + ", outside the allowed folders (" + describe() + ")");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        const int e = errno;
        fail(status_of_errno(e), field, "cannot stat " + path.string() + ": " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) fail(status::invalid_argument, field, path.string() + " is not a regular file");
    auto too_big = [&](uint64_t size) {
        fail(status::invalid_argument, field,
             path.string() + " is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(max_bytes) +
                 " bytes");
    };
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size > max_bytes) too_big(size);

    std::string data;
    data.reserve(static_cast<size_t>(size));
    std::array<char, 64 * 1024> buf{};
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            fail(status_of_errno(e), field, "cannot read " + path.string() + ": " + std::strerror(e));
        }
        data.append(buf.data(), static_cast<size_t>(n));
        if (data.size() > max_bytes) too_big(data.size());  // it grew after fstat
    }
    return data;
}

}  // namespace toolhost::plugins::paths
