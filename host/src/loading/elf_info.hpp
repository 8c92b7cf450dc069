#pragma once
// What a plugin library links and exports, read from its ELF file without loading it: dlopen()
// would run the library's constructors, and `toolhost inspect` must be safe on a file nobody
// trusts yet. Internal to the host library.
//
// The file is untrusted input: every count, offset and address in it is checked against the
// file before use, and a malformed file gives a message saying what is wrong, never a crash or
// a read outside the file.

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace toolhost::detail {

struct elf_info {
    std::vector<std::string> needed;    ///< DT_NEEDED entries, in file order (e.g. "libc.so.6")
    std::string soname;                 ///< DT_SONAME, empty if none
    std::vector<std::string> exported;  ///< defined GLOBAL or WEAK dynamic symbols of DEFAULT or PROTECTED
                                        ///< visibility and type FUNC, OBJECT, TLS, GNU_IFUNC or NOTYPE;
                                        ///< sorted, unique, without any @version suffix
};

/// The most of a file that is read; a plugin library is far smaller.
inline constexpr std::uint64_t elf_max_file_size = 512u << 20;
/// The most dynamic symbols and DT_NEEDED entries accepted, and the longest name.
inline constexpr std::size_t elf_max_symbols = 100000;
inline constexpr std::size_t elf_max_needed = 10000;
inline constexpr std::size_t elf_max_name = 4096;

/// Reads `file`, an ELF64 little-endian shared object for this machine. On malformed input,
/// returns a message saying what is wrong ("truncated dynamic section", "string table offset out
/// of range", ...); more than elf_max_symbols symbols, elf_max_needed DT_NEEDED entries or a name
/// longer than elf_max_name bytes is an error too.
boost::system::result<elf_info, std::string> read_elf_info(const std::filesystem::path& file);

}  // namespace toolhost::detail
