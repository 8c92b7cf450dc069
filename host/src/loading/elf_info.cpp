// The file is read into memory whole (it is at most elf_max_file_size bytes), so every later
// read is a bounds-checked look at one buffer and nothing can fault. Offsets and sizes come from
// the file and may be anything: a range is checked by comparing its offset with the size first
// and its length with what is left after it, so no sum can overflow; products use
// __builtin_mul_overflow.
#include "loading/elf_info.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>

namespace toolhost::detail {

namespace {

// Internal results carry elf_error, not a bare std::string: result<std::string_view, std::string>
// could not tell a message from a value.
struct elf_error {
    std::string message;
};
template <class T>
using checked = boost::system::result<T, elf_error>;

// File offsets and sizes are 64-bit; a std::size_t must hold any of them once checked.
static_assert(sizeof(std::size_t) >= sizeof(std::uint64_t));

#if defined(__x86_64__)
constexpr unsigned native_machine = EM_X86_64;
#elif defined(__aarch64__)
constexpr unsigned native_machine = EM_AARCH64;
#elif defined(__riscv)
constexpr unsigned native_machine = EM_RISCV;
#elif defined(__powerpc64__)
constexpr unsigned native_machine = EM_PPC64;
#else
constexpr unsigned native_machine = EM_NONE;  // not known here: the machine is not checked
#endif

std::string hex(std::uint64_t v) {
    char buffer[2 + 16] = {'0', 'x'};
    auto end = std::to_chars(buffer + 2, buffer + sizeof buffer, v, 16).ptr;
    return std::string(buffer, end);
}

// Fixed-size records in the file, copied out with memcpy: the file promises no alignment.
template <class T>
class records {
public:
    records() = default;
    explicit records(std::string_view bytes) noexcept : bytes_(bytes) {}
    std::size_t size() const noexcept { return bytes_.size() / sizeof(T); }
    /// Precondition: i < size().
    T operator[](std::size_t i) const noexcept {
        T t;
        std::memcpy(&t, bytes_.data() + i * sizeof(T), sizeof(T));
        return t;
    }

private:
    std::string_view bytes_;
};

// bytes[offset, offset + size). The two messages tell a wild offset from a cut-off end.
checked<std::string_view> slice(std::string_view bytes, std::uint64_t offset, std::uint64_t size,
                                std::string_view what) {
    if (offset > bytes.size())
        return elf_error{std::string(what) + " offset out of range (" + hex(offset) + ", beyond the " +
                         std::to_string(bytes.size()) + " bytes available)"};
    if (size > bytes.size() - offset)
        return elf_error{"truncated " + std::string(what) + " (" + std::to_string(size) + " bytes at " + hex(offset) +
                         ", only " + std::to_string(bytes.size() - offset) + " left)"};
    return bytes.substr(offset, size);
}

checked<std::string_view> slice_array(std::string_view bytes, std::uint64_t offset, std::uint64_t count,
                                      std::uint64_t entry_size, std::string_view what) {
    std::uint64_t size = 0;
    if (__builtin_mul_overflow(count, entry_size, &size))
        return elf_error{std::string(what) + " too large (" + std::to_string(count) + " entries)"};
    return slice(bytes, offset, size, what);
}

// The NUL-terminated string at `offset` of a string table.
checked<std::string_view> read_name(std::string_view strings, std::uint64_t offset, std::string_view what) {
    if (offset >= strings.size())
        return elf_error{std::string(what) + ": string table offset out of range (" + hex(offset) + ", table has " +
                         std::to_string(strings.size()) + " bytes)"};
    auto rest = strings.substr(offset, elf_max_name + 1);
    auto end = rest.find('\0');
    if (end != std::string_view::npos) return rest.substr(0, end);
    if (rest.size() > elf_max_name)
        return elf_error{std::string(what) + ": name longer than " + std::to_string(elf_max_name) + " bytes"};
    return elf_error{std::string(what) + ": unterminated string at the end of the string table"};
}

checked<std::uint64_t> symbol_count(std::uint64_t count) {
    if (count > elf_max_symbols)
        return elf_error{"too many dynamic symbols (" + std::to_string(count) + ", at most " +
                         std::to_string(elf_max_symbols) + ")"};
    return count;
}

checked<Elf64_Ehdr> read_header(std::string_view file) {
    if (file.empty()) return elf_error{"empty file"};
    if (file.size() < SELFMAG || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0)
        return elf_error{"not an ELF file (no ELF magic number)"};
    if (file.size() < sizeof(Elf64_Ehdr)) return elf_error{"truncated ELF header"};
    auto h = records<Elf64_Ehdr>(file)[0];
    if (h.e_ident[EI_CLASS] != ELFCLASS64) return elf_error{"not a 64-bit ELF file"};
    if (h.e_ident[EI_DATA] != ELFDATA2LSB) return elf_error{"not a little-endian ELF file"};
    if (h.e_type != ET_DYN) return elf_error{"not a shared object (ELF type " + std::to_string(h.e_type) + ")"};
    if (native_machine != EM_NONE && h.e_machine != native_machine)
        return elf_error{"built for another machine (ELF machine " + std::to_string(h.e_machine) + ")"};
    return h;
}

checked<records<Elf64_Phdr>> read_program_headers(std::string_view file, const Elf64_Ehdr& h) {
    if (h.e_phnum == 0) return elf_error{"no program headers"};
    // PN_XNUM moves the real count into section 0; no shared object has that many segments.
    if (h.e_phnum == PN_XNUM) return elf_error{"too many program headers"};
    if (h.e_phentsize != sizeof(Elf64_Phdr))
        return elf_error{"unexpected program header size " + std::to_string(h.e_phentsize)};
    auto table = slice_array(file, h.e_phoff, h.e_phnum, sizeof(Elf64_Phdr), "program header table");
    if (!table) return table.error();
    return records<Elf64_Phdr>(*table);
}

// The dynamic section gives virtual addresses; the PT_LOAD segments say which file bytes are
// mapped where (a segment's memory past p_filesz, such as .bss, has no bytes in the file).
class address_map {
public:
    // Every segment's file bytes must lie in the file: a truncated file shows here first.
    static checked<address_map> make(std::string_view file, records<Elf64_Phdr> phdrs) {
        for (std::size_t i = 0; i < phdrs.size(); ++i) {
            auto p = phdrs[i];
            if (p.p_type != PT_LOAD) continue;
            auto bytes = slice(file, p.p_offset, p.p_filesz, "loadable segment " + std::to_string(i));
            if (!bytes) return bytes.error();
        }
        return address_map(file, phdrs);
    }

    // The file bytes from `address` to the end of its segment's file bytes.
    checked<std::string_view> from(std::uint64_t address, std::string_view what) const {
        for (std::size_t i = 0; i < phdrs_.size(); ++i) {
            auto p = phdrs_[i];
            if (p.p_type != PT_LOAD || address < p.p_vaddr || address - p.p_vaddr >= p.p_filesz) continue;
            auto skip = address - p.p_vaddr;  // both below: checked in make()
            return file_.substr(p.p_offset + skip, p.p_filesz - skip);
        }
        return elf_error{std::string(what) + " address " + hex(address) + " is not in any loadable segment"};
    }

    checked<std::string_view> range(std::uint64_t address, std::uint64_t size, std::string_view what) const {
        auto tail = from(address, what);
        if (!tail) return tail;
        if (size > tail->size())
            return elf_error{"truncated " + std::string(what) + " (" + std::to_string(size) + " bytes at " +
                             hex(address) + " run past its segment)"};
        return tail->substr(0, size);
    }

private:
    address_map(std::string_view file, records<Elf64_Phdr> phdrs) : file_(file), phdrs_(phdrs) {}
    std::string_view file_;
    records<Elf64_Phdr> phdrs_;
};

struct dynamic_tags {
    std::vector<std::uint64_t> needed;  // string table offsets
    std::optional<std::uint64_t> soname, strtab, strsz, symtab, syment, hash, gnu_hash;
};

checked<dynamic_tags> read_dynamic(std::string_view file, records<Elf64_Phdr> phdrs) {
    std::optional<Elf64_Phdr> dynamic;
    for (std::size_t i = 0; i < phdrs.size(); ++i) {
        if (phdrs[i].p_type != PT_DYNAMIC) continue;
        if (dynamic) return elf_error{"more than one dynamic section (PT_DYNAMIC)"};
        dynamic = phdrs[i];
    }
    if (!dynamic) return elf_error{"no dynamic section (PT_DYNAMIC): not a dynamically linked library"};
    auto bytes = slice(file, dynamic->p_offset, dynamic->p_filesz, "dynamic section");
    if (!bytes) return bytes.error();
    records<Elf64_Dyn> entries(*bytes);
    dynamic_tags tags;
    // A later entry of the same tag wins, as in the dynamic loader.
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto e = entries[i];
        const std::uint64_t v = e.d_un.d_val;
        switch (e.d_tag) {
        case DT_NULL: return tags;
        case DT_NEEDED:
            if (tags.needed.size() == elf_max_needed)
                return elf_error{"too many DT_NEEDED entries (more than " + std::to_string(elf_max_needed) + ")"};
            tags.needed.push_back(v);
            break;
        case DT_SONAME: tags.soname = v; break;
        case DT_STRTAB: tags.strtab = v; break;
        case DT_STRSZ: tags.strsz = v; break;
        case DT_SYMTAB: tags.symtab = v; break;
        case DT_SYMENT: tags.syment = v; break;
        case DT_HASH: tags.hash = v; break;
        case DT_GNU_HASH: tags.gnu_hash = v; break;
        default: break;
        }
    }
    return elf_error{"truncated dynamic section (no DT_NULL entry)"};
}

checked<std::string_view> dynamic_strings(const address_map& map, const dynamic_tags& tags) {
    if (!tags.strtab) {
        if (tags.needed.empty() && !tags.soname && !tags.symtab) return std::string_view();
        return elf_error{"no string table (DT_STRTAB) in the dynamic section"};
    }
    if (!tags.strsz) return elf_error{"string table without its size (DT_STRSZ)"};
    return map.range(*tags.strtab, *tags.strsz, "string table");
}

struct symbol_table {
    records<Elf64_Sym> symbols;
    std::string_view names;
};

// The SHT_DYNSYM section with the string table its sh_link names; nullopt when there is none
// (section headers are optional, and sstrip-style tools remove them).
checked<std::optional<symbol_table>> symbols_from_sections(std::string_view file, const Elf64_Ehdr& h) {
    if (h.e_shoff == 0) return std::optional<symbol_table>();
    // The section headers come last in a linked file: past its end, the file was cut short.
    if (h.e_shoff >= file.size())
        return elf_error{"truncated ELF file: its section header table starts at " + hex(h.e_shoff) + ", past its " +
                         std::to_string(file.size()) + " bytes"};
    if (h.e_shentsize != sizeof(Elf64_Shdr))
        return elf_error{"unexpected section header size " + std::to_string(h.e_shentsize)};
    std::uint64_t count = h.e_shnum;
    if (count == 0) {  // SHN_LORESERVE or more sections: the count is section 0's sh_size
        auto first = slice(file, h.e_shoff, sizeof(Elf64_Shdr), "section header table");
        if (!first) return first.error();
        count = records<Elf64_Shdr>(*first)[0].sh_size;
    }
    auto table = slice_array(file, h.e_shoff, count, sizeof(Elf64_Shdr), "section header table");
    if (!table) return table.error();
    records<Elf64_Shdr> sections(*table);
    for (std::size_t i = 0; i < sections.size(); ++i) {
        const auto dynsym = sections[i];
        if (dynsym.sh_type != SHT_DYNSYM) continue;
        if (dynsym.sh_entsize != sizeof(Elf64_Sym))
            return elf_error{"unexpected dynamic symbol size " + std::to_string(dynsym.sh_entsize)};
        if (dynsym.sh_link >= sections.size() || sections[dynsym.sh_link].sh_type != SHT_STRTAB)
            return elf_error{"dynamic symbol table does not link to a string table"};
        const auto strings = sections[dynsym.sh_link];
        auto symbols = slice(file, dynsym.sh_offset, dynsym.sh_size, "dynamic symbol table");
        if (!symbols) return symbols.error();
        auto names = slice(file, strings.sh_offset, strings.sh_size, "string table");
        if (!names) return names.error();
        return symbol_table{records<Elf64_Sym>(*symbols), *names};
    }
    return std::optional<symbol_table>();
}

// DT_HASH's nchain: its chain array has one entry per symbol.
checked<std::uint64_t> count_from_hash(const address_map& map, std::uint64_t address) {
    auto header = map.range(address, 2 * sizeof(std::uint32_t), "hash table (DT_HASH)");
    if (!header) return header.error();
    return symbol_count(records<std::uint32_t>(*header)[1]);
}

// DT_GNU_HASH keeps no count. Symbols from `symoffset` on are hashed, each bucket holds the
// first index of its chain, and a chain ends at an entry with the low bit set: the last chain
// of the highest bucket ends at the last symbol.
checked<std::uint64_t> count_from_gnu_hash(const address_map& map, std::uint64_t address) {
    constexpr std::string_view what = "GNU hash table (DT_GNU_HASH)";
    auto table = map.range(address, 4 * sizeof(std::uint32_t), what);
    if (!table) return table.error();
    records<std::uint32_t> header(*table);
    const std::uint32_t nbuckets = header[0], symoffset = header[1], bloom_words = header[2];
    table = map.from(address, what);
    if (!table) return table.error();
    const std::uint64_t buckets_at = 16 + std::uint64_t{bloom_words} * sizeof(Elf64_Addr);  // 32-bit count
    auto bucket_bytes = slice_array(*table, buckets_at, nbuckets, sizeof(std::uint32_t), what);
    if (!bucket_bytes) return bucket_bytes.error();
    records<std::uint32_t> buckets(*bucket_bytes);
    std::uint32_t last = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) last = std::max(last, buckets[i]);
    if (last == 0) return symbol_count(symoffset);  // nothing hashed
    if (last < symoffset) return elf_error{std::string(what) + ": bucket points below the first hashed symbol"};
    records<std::uint32_t> chains(table->substr(buckets_at + bucket_bytes->size()));
    for (std::uint64_t index = last;; ++index) {
        if (index >= elf_max_symbols) return symbol_count(index + 1);
        if (index - symoffset >= chains.size()) return elf_error{"truncated " + std::string(what) + " chain"};
        if (chains[index - symoffset] & 1) return index + 1;
    }
}

// Without section headers, DT_SYMTAB says where the symbols start and a hash table how many.
checked<symbol_table> symbols_from_dynamic(const address_map& map, const dynamic_tags& tags, std::string_view names) {
    if (!tags.symtab) return elf_error{"no dynamic symbol table (DT_SYMTAB)"};
    if (tags.syment && *tags.syment != sizeof(Elf64_Sym))
        return elf_error{"unexpected dynamic symbol size " + std::to_string(*tags.syment)};
    checked<std::uint64_t> count =
        elf_error{"cannot count the dynamic symbols: no section headers, DT_HASH or DT_GNU_HASH"};
    if (tags.hash)
        count = count_from_hash(map, *tags.hash);
    else if (tags.gnu_hash)
        count = count_from_gnu_hash(map, *tags.gnu_hash);
    if (!count) return count.error();
    // *count <= elf_max_symbols, so the product cannot overflow.
    auto symbols = map.range(*tags.symtab, *count * sizeof(Elf64_Sym), "dynamic symbol table");
    if (!symbols) return symbols.error();
    return symbol_table{records<Elf64_Sym>(*symbols), names};
}

bool is_exported(const Elf64_Sym& s) {
    if (s.st_shndx == SHN_UNDEF) return false;
    // The names of symbol versions (GLIBC_2.2.5, ...) are absolute objects of value and size 0:
    // they name no code or data.
    if (s.st_shndx == SHN_ABS && s.st_value == 0 && s.st_size == 0) return false;
    const auto binding = ELF64_ST_BIND(s.st_info);
    const auto type = ELF64_ST_TYPE(s.st_info);
    const auto visibility = ELF64_ST_VISIBILITY(s.st_other);
    return (binding == STB_GLOBAL || binding == STB_WEAK) &&
           (visibility == STV_DEFAULT || visibility == STV_PROTECTED) &&
           (type == STT_FUNC || type == STT_OBJECT || type == STT_TLS || type == STT_GNU_IFUNC || type == STT_NOTYPE);
}

checked<std::vector<std::string>> exported_names(const symbol_table& table) {
    auto count = symbol_count(table.symbols.size());
    if (!count) return count.error();
    std::vector<std::string> names;
    for (std::size_t i = 1; i < table.symbols.size(); ++i) {  // symbol 0 is the reserved null symbol
        const auto s = table.symbols[i];
        if (!is_exported(s)) continue;
        auto name = read_name(table.names, s.st_name, "name");
        if (!name) return elf_error{"dynamic symbol " + std::to_string(i) + " " + name.error().message};
        // Versions live in .gnu.version; a name spelt "name@version" is still asked for as "name".
        const auto plain = name->substr(0, name->find('@'));
        if (!plain.empty()) names.emplace_back(plain);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

checked<elf_info> parse(std::string_view file) {
    auto header = read_header(file);
    if (!header) return header.error();
    auto phdrs = read_program_headers(file, *header);
    if (!phdrs) return phdrs.error();
    auto map = address_map::make(file, *phdrs);
    if (!map) return map.error();
    auto tags = read_dynamic(file, *phdrs);
    if (!tags) return tags.error();
    auto strings = dynamic_strings(*map, *tags);
    if (!strings) return strings.error();

    elf_info info;
    for (std::size_t i = 0; i < tags->needed.size(); ++i) {
        auto name = read_name(*strings, tags->needed[i], "DT_NEEDED entry " + std::to_string(i));
        if (!name) return name.error();
        info.needed.emplace_back(*name);
    }
    if (tags->soname) {
        auto name = read_name(*strings, *tags->soname, "DT_SONAME");
        if (!name) return name.error();
        info.soname = *name;
    }

    auto from_sections = symbols_from_sections(file, *header);
    if (!from_sections) return from_sections.error();
    auto table = *from_sections ? checked<symbol_table>(**from_sections) : symbols_from_dynamic(*map, *tags, *strings);
    if (!table) return table.error();
    auto exported = exported_names(*table);
    if (!exported) return exported.error();
    info.exported = std::move(*exported);
    return info;
}

// Closes the file however the reading ends (allocating the buffer may throw).
struct fd_closer {
    int fd;
    ~fd_closer() { ::close(fd); }
};

elf_error os_error(std::string_view doing, int error) {
    return elf_error{std::string(doing) + ": " + std::strerror(error)};
}

checked<std::string> read_whole_file(const std::filesystem::path& file) {
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer; a regular file ignores it.
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return os_error("cannot open file", errno);
    const fd_closer closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return os_error("cannot read file", errno);
    if (!S_ISREG(st.st_mode)) return elf_error{"not a regular file"};
    if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > elf_max_file_size)
        return elf_error{"file larger than " + std::to_string(elf_max_file_size >> 20) + " MiB"};
    std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t done = 0;
    while (done < bytes.size()) {
        auto n = ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return os_error("cannot read file", errno);
        if (n == 0) break;  // the file shrank since fstat(): parse what there is
        done += static_cast<std::size_t>(n);
    }
    bytes.resize(done);
    // Spelt out: elf_error can be made from a std::string too, so result would not choose.
    return checked<std::string>(boost::system::in_place_value, std::move(bytes));
}

}  // namespace

boost::system::result<elf_info, std::string> read_elf_info(const std::filesystem::path& file) {
    auto bytes = read_whole_file(file);
    if (!bytes) return bytes.error().message;
    auto info = parse(*bytes);
    if (!info) return info.error().message;
    return std::move(*info);
}

}  // namespace toolhost::detail
