#include <toolhost/json_text.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/plugin_loader.hpp>

#include "loading/deferred_library.hpp"
#include "loading/elf_info.hpp"
#include "loading/sha256.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace toolhost {
namespace {

namespace fs = std::filesystem;

std::string mode_string(mode_t m) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

// ssh-style ownership rule: refuse what another user could have replaced.
boost::system::result<void, std::string> check_owner_and_mode(const struct stat& st, std::string_view what,
                                                              const std::string& path) {
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
        return "refused: the " + std::string(what) + " is owned by uid " + std::to_string(st.st_uid) +
               ", neither root nor the user running toolhost (uid " + std::to_string(::geteuid()) + ")";
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return "refused: the " + std::string(what) + " is writable by " +
               ((st.st_mode & S_IWOTH) ? "others" : "its group") + " (mode " + mode_string(st.st_mode) +
               "), so another user could replace the code; fix with: chmod go-w '" + path + "'";
    return {};
}

#if defined(__x86_64__)
constexpr uint16_t host_machine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t host_machine = EM_AARCH64;
#else
constexpr uint16_t host_machine = EM_NONE;
#endif

}  // namespace

boost::system::result<void, std::string> plugin_loader::check_directory(const fs::path& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return "cannot access directory: " + std::string(std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return std::string("not a directory");
    return check_owner_and_mode(st, "directory", dir.string());
}

namespace {
boost::system::result<void, std::string> check_elf(int fd, const std::array<unsigned char, sizeof(Elf64_Ehdr)>& hdr,
                                                   ssize_t n, off_t file_size);
}

boost::system::result<void, std::string> plugin_loader::check_file(const fs::path& file) {
    struct stat lst {};
    if (::lstat(file.c_str(), &lst) != 0) return "cannot access: " + std::string(std::strerror(errno));
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        int err = errno;
        if (S_ISLNK(lst.st_mode)) {
            if (err == ELOOP) return std::string("symbolic link loop (the link resolves to itself)");
            std::error_code ec;
            auto target = fs::read_symlink(file, ec);
            return "broken symbolic link to '" + (ec ? std::string("?") : target.string()) + "' (" +
                   std::strerror(err) + ")";
        }
        return "cannot access: " + std::string(std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) return std::string("is a directory, not a plugin file");
    if (!S_ISREG(st.st_mode)) return std::string("not a regular file");
    if (auto ok = check_owner_and_mode(st, "file", file.string()); !ok) return ok;

    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot read: " + std::string(std::strerror(errno));
    std::array<unsigned char, sizeof(Elf64_Ehdr)> hdr{};
    ssize_t n = ::pread(fd, hdr.data(), hdr.size(), 0);
    if (n < 0) {
        int err = errno;
        ::close(fd);
        return "cannot read: " + std::string(std::strerror(err));
    }
    auto result = check_elf(fd, hdr, n, st.st_size);
    ::close(fd);
    return result;
}

namespace {
// Checks the ELF header and that every loadable segment lies inside the file. dlopen() maps
// segments without checking the file's length, so a truncated library would "load" and then
// crash with SIGBUS on first use; catching it here turns that into a message.
boost::system::result<void, std::string> check_elf(int fd, const std::array<unsigned char, sizeof(Elf64_Ehdr)>& hdr,
                                                   ssize_t n, off_t file_size) {
    if (n == 0) return std::string("empty file (0 bytes), not a shared library");
    if (n < 4 || std::memcmp(hdr.data(), ELFMAG, SELFMAG) != 0)
        return std::string("not a shared library (no ELF header)");
    if (static_cast<std::size_t>(n) < sizeof(Elf64_Ehdr)) return "truncated ELF file (" + std::to_string(n) + " bytes)";
    if (hdr[EI_CLASS] != ELFCLASS64) return std::string("not a 64-bit ELF file; this host is 64-bit");
    Elf64_Ehdr eh;
    std::memcpy(&eh, hdr.data(), sizeof eh);
    if (eh.e_type != ET_DYN)
        return std::string("an ELF file but not a shared library (build it as a MODULE/SHARED library)");
    if (host_machine != EM_NONE && eh.e_machine != host_machine)
        return "built for another processor (ELF machine " + std::to_string(eh.e_machine) + ")";
    const auto size = static_cast<uint64_t>(file_size);
    auto truncated = [&](uint64_t needed) {
        return "truncated ELF file: it has " + std::to_string(size) + " bytes but its headers need " +
               std::to_string(needed) + " (an interrupted copy or download?)";
    };
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
        return std::string("an ELF file without program headers, not a shared library");
    const uint64_t ph_end = eh.e_phoff + uint64_t(eh.e_phnum) * sizeof(Elf64_Phdr);
    if (ph_end > size) return truncated(ph_end);
    const uint64_t sh_end = eh.e_shoff + uint64_t(eh.e_shnum) * eh.e_shentsize;
    if (sh_end > size) return truncated(sh_end);
    std::vector<Elf64_Phdr> ph(eh.e_phnum);
    const auto ph_bytes = static_cast<ssize_t>(ph.size() * sizeof(Elf64_Phdr));
    if (::pread(fd, ph.data(), static_cast<std::size_t>(ph_bytes), static_cast<off_t>(eh.e_phoff)) != ph_bytes)
        return "cannot read the program headers: " + std::string(std::strerror(errno));
    for (const auto& p : ph) {
        if (p.p_type == PT_LOAD && p.p_offset + p.p_filesz > size) return truncated(p.p_offset + p.p_filesz);
    }
    return {};
}
}  // namespace

boost::system::result<std::shared_ptr<plugin_library>, std::string> plugin_loader::load(const fs::path& file) const {
    if (auto ok = check_file(file); !ok) return ok.error();
    return plugin_library::open(file, options_.abi);
}

load_report plugin_loader::scan(const std::vector<fs::path>& dirs, bool missing_ok,
                                const std::function<bool(const fs::path&)>& skip) const {
    load_report report;
    std::vector<fs::path> files;
    std::vector<std::string> hashed;  // with trust: each file's identity when it was hashed
    std::set<fs::path> seen_dirs;
    std::set<fs::path> seen_files;
    for (const auto& dir : dirs) {
        std::error_code ec;
        auto canon_dir = fs::weakly_canonical(dir, ec);
        if (ec) canon_dir = dir;
        if (!seen_dirs.insert(canon_dir).second) continue;
        if (!fs::exists(dir, ec)) {
            if (!missing_ok) report.rejected.push_back({dir.string(), "plugin directory does not exist"});
            continue;
        }
        if (auto ok = check_directory(dir); !ok) {
            report.rejected.push_back({dir.string(), ok.error()});
            continue;
        }
        std::vector<fs::path> candidates;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            const auto name = it->path().filename().string();
            if (name.empty() || name.front() == '.') continue;
            if (name.size() < 4 || name.compare(name.size() - 3, 3, ".so") != 0) continue;
            candidates.push_back(it->path());
        }
        if (ec) {
            report.rejected.push_back({dir.string(), "cannot list directory: " + ec.message()});
            continue;
        }
        std::sort(candidates.begin(), candidates.end());
        for (const auto& file : candidates) {
            std::error_code cec;
            auto canon = fs::canonical(file, cec);
            if (!cec && !seen_files.insert(canon).second) continue;
            if (skip && skip(cec ? file : canon)) continue;
            if (auto ok = check_file(file); !ok) {
                reject(report, file, ok.error());
                continue;
            }
            std::string identity;
            if (auto ok = check_trust(file, identity); !ok) {
                reject(report, file, ok.error());
                continue;
            }
            files.push_back(file);
            hashed.push_back(std::move(identity));
        }
    }
    add_scanned(report, files, hashed);
    return report;
}

namespace {
std::string untrusted(const std::string& digest) {
    return "its sha256 " + digest +
           " is not in trust.sha256 (only the listed builds are opened; add it there, or to TOOLHOST_TRUST_SHA256, "
           "to load this file)";
}
}  // namespace

boost::system::result<void, std::string> plugin_loader::check_trust(const fs::path& file, std::string& identity) const {
    if (!options_.trusted_sha256) return {};
    const auto before = detail::file_identity::of(file);
    if (!before) return std::string("cannot read the file to compute its sha256");
    identity = toolhost::json_text(before->to_json());
    // A file whose identity (device, inode, size, mtime, ctime: the last one no user can set) has
    // not changed keeps its digest: a rescan hashes only what changed.
    static std::mutex memo_mutex;
    static std::map<std::string, std::string> memo;  // identity -> digest
    std::string digest;
    {
        std::lock_guard lock(memo_mutex);
        if (auto it = memo.find(identity); it != memo.end()) digest = it->second;
    }
    if (digest.empty()) {
        auto computed = detail::sha256::of_file(file);
        if (!computed) return computed.error();
        // Hashed, then scanned, then opened: each step checks the file is still the same one
        // (the scan compares the identity recorded here, the tool's start the scan's).
        if (detail::file_identity::of(file) != before)
            return std::string("the file changed while its sha256 was computed; it is checked again at the next scan");
        digest = std::move(*computed);
        std::lock_guard lock(memo_mutex);
        if (memo.size() > 4096) memo.clear();
        memo.emplace(identity, digest);
    }
    if (!options_.trusted_sha256->contains(digest)) return untrusted(digest);
    return {};
}

void plugin_loader::reject(load_report& report, const fs::path& file, std::string reason) const {
    logging::write(logging::level::warning, "loader", "plugin rejected", {{"path", file.string()}, {"error", reason}});
    report.rejected.push_back({file.string(), std::move(reason)});
}

void plugin_loader::add_scanned(load_report& report, const std::vector<fs::path>& files,
                                const std::vector<std::string>& hashed) const {
    detail::plugin_scanner scanner({options_.worker, options_.scan_timeout, options_.abi, options_.scan_cache});
    auto results = scanner.scan(files);
    for (std::size_t i = 0; i < files.size(); ++i) {
        auto& r = results[i];
        if (!r.loaded || !r.identity) {
            reject(report, files[i], r.loaded ? "the file disappeared while it was scanned" : std::move(r.reason));
            continue;
        }
        if (i < hashed.size() && !hashed[i].empty() && toolhost::json_text(r.identity->to_json()) != hashed[i]) {
            reject(report, files[i], "the file changed between the check of its sha256 and its scan");
            continue;
        }
        logging::write(logging::level::debug, "loader", "plugin scanned",
                       {{"path", files[i].string()}, {"plugin", r.plugin_name}, {"cached", r.from_cache}});
        report.plugins.push_back({files[i].string(), r.plugin_name, r.plugin_version, r.abi, r.from_cache});
        for (auto& t : detail::deferred_library::tools(files[i], *r.identity, options_.abi, r)) {
            if (t.factory)
                report.tools.push_back(std::move(t));
            else
                reject(report, files[i], std::move(t.error));
        }
    }
}

plugin_inspection plugin_loader::inspect(const fs::path& file) const {
    plugin_inspection out;
    out.path = file.string();
    if (auto digest = detail::sha256::of_file(file)) out.sha256 = std::move(*digest);
    if (auto elf = detail::read_elf_info(file)) {
        out.soname = std::move(elf->soname);
        out.needed = std::move(elf->needed);
        out.exported = std::move(elf->exported);
    } else {
        out.elf_error = elf.error();
    }
    if (auto ok = check_file(file); !ok) {
        out.refused = ok.error();
        return out;
    }
    if (options_.trusted_sha256) {
        out.trusted = !out.sha256.empty() && options_.trusted_sha256->contains(out.sha256);
        if (!*out.trusted) {
            out.refused = untrusted(out.sha256);
            return out;
        }
    }
    auto o = options_;
    o.scan_cache.clear();
    detail::plugin_scanner scanner({o.worker, o.scan_timeout, o.abi, {}});
    auto r = std::move(scanner.scan({file}).front());
    if (!r.loaded) {
        out.refused = std::move(r.reason);
        return out;
    }
    out.plugin_name = std::move(r.plugin_name);
    out.plugin_version = std::move(r.plugin_version);
    out.abi = r.abi;
    for (const auto& t : r.tools) {
        auto d = t.raw ? detail::descriptor_from_raw(*t.raw, file.string())
                       : boost::system::result<tool_descriptor, std::string>(boost::system::in_place_error, t.error);
        if (d)
            out.tools.push_back(std::move(*d));
        else
            out.problems.push_back(
                {file.string(), t.raw ? "tool #" + std::to_string(t.index) + ": " + d.error() : t.error});
    }
    return out;
}

}  // namespace toolhost
