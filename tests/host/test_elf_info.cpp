// Reading what a plugin library links and exports from its ELF file, without loading it
// (host/src/loading/elf_info.hpp): the fixtures as built, the same file with its section headers
// removed (the dynamic section's hash table then counts the symbols), and broken copies, each
// reported with what is wrong.
#define BOOST_TEST_MODULE elf_info
#include <boost/test/unit_test.hpp>

#include "loading/elf_info.hpp"

#include "test_support.hpp"

#include <elf.h>
#include <dlfcn.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace fs = std::filesystem;
using toolhost::detail::elf_info;
using toolhost::detail::read_elf_info;
using toolhost::test::contains;
using toolhost::test::read_file;
using toolhost::test::temp_dir;
using toolhost::test::write_file;

namespace {

bool has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

elf_info info_of(const fs::path& file) {
    auto r = read_elf_info(file);
    if (r.has_error()) BOOST_FAIL(file.string() + ": " + r.error());
    return *r;
}

// The error for `content` written to a file, or "" if it was read without one.
std::string error_for(const std::string& content) {
    temp_dir d;
    write_file(d / "lib.so", content);
    auto r = read_elf_info(d / "lib.so");
    return r.has_error() ? r.error() : std::string();
}

template <class T>
T get(const std::string& image, std::size_t offset) {
    if (offset > image.size() || sizeof(T) > image.size() - offset) throw std::out_of_range("get");
    T t;
    std::memcpy(&t, image.data() + offset, sizeof t);
    return t;
}

template <class T>
void put(std::string& image, std::size_t offset, const T& t) {
    if (offset > image.size() || sizeof(T) > image.size() - offset) throw std::out_of_range("put");
    std::memcpy(image.data() + offset, &t, sizeof t);
}

// Where the program header of type `type` is in a well-formed image.
std::size_t program_header(const std::string& image, std::uint32_t type) {
    const auto h = get<Elf64_Ehdr>(image, 0);
    for (std::size_t i = 0; i < h.e_phnum; ++i) {
        const auto at = h.e_phoff + i * sizeof(Elf64_Phdr);
        if (get<Elf64_Phdr>(image, at).p_type == type) return at;
    }
    throw std::runtime_error("no program header of type " + std::to_string(type));
}

// Where the first dynamic entry with `tag` is in a well-formed image.
std::size_t dynamic_entry(const std::string& image, std::int64_t tag) {
    const auto dynamic = get<Elf64_Phdr>(image, program_header(image, PT_DYNAMIC));
    for (std::size_t at = dynamic.p_offset; at < dynamic.p_offset + dynamic.p_filesz; at += sizeof(Elf64_Dyn))
        if (get<Elf64_Dyn>(image, at).d_tag == tag) return at;
    throw std::runtime_error("no dynamic entry with tag " + std::to_string(tag));
}

bool has_dynamic_entry(const std::string& image, std::int64_t tag) {
    try {
        dynamic_entry(image, tag);
        return true;
    } catch (const std::runtime_error&) {
        return false;
    }
}

// A copy of `file` without section headers reads the same as `file`.
void same_without_section_headers(const fs::path& file) {
    auto image = read_file(file);
    auto h = get<Elf64_Ehdr>(image, 0);
    BOOST_TEST_REQUIRE(h.e_shoff != 0u);
    h.e_shoff = 0;
    h.e_shnum = 0;
    h.e_shstrndx = SHN_UNDEF;
    put(image, 0, h);
    temp_dir d;
    write_file(d / "stripped.so", image);
    const auto stripped = info_of(d / "stripped.so");
    const auto original = info_of(file);
    BOOST_TEST(!original.exported.empty());
    BOOST_TEST(stripped.exported == original.exported);
    BOOST_TEST(stripped.needed == original.needed);
    BOOST_TEST(stripped.soname == original.soname);
}

const std::string& testkit() {
    static const std::string image = read_file(TOOLHOST_FIXTURE_TESTKIT);
    return image;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testkit_exports_its_entry_and_needs_libc) {
    const auto info = info_of(TOOLHOST_FIXTURE_TESTKIT);
    BOOST_TEST(has(info.exported, "toolhost_plugin_entry_v1"));
    BOOST_TEST(std::any_of(info.needed.begin(), info.needed.end(),
                           [](const std::string& n) { return n.rfind("libc.so", 0) == 0; }));
    BOOST_TEST(std::is_sorted(info.exported.begin(), info.exported.end()));
    BOOST_TEST((std::adjacent_find(info.exported.begin(), info.exported.end()) == info.exported.end()));
    // The version script hides everything else, and a plugin never exports an undefined symbol.
    BOOST_TEST(!has(info.exported, "malloc"));
}

BOOST_AUTO_TEST_CASE(no_entry_fixture_exports_no_entry) {
    const auto info = info_of(TOOLHOST_FIXTURE_NO_ENTRY);
    BOOST_TEST(!has(info.exported, "toolhost_plugin_entry_v1"));
    BOOST_TEST(has(info.exported, "toolhost_fixture_not_a_plugin"));
}

BOOST_AUTO_TEST_CASE(without_section_headers_the_gnu_hash_table_counts_the_symbols) {
    // testkit has DT_GNU_HASH only, which keeps no count: the reader walks its chains.
    BOOST_TEST_REQUIRE(has_dynamic_entry(testkit(), DT_GNU_HASH));
    BOOST_TEST_REQUIRE(!has_dynamic_entry(testkit(), DT_HASH));
    same_without_section_headers(TOOLHOST_FIXTURE_TESTKIT);
}

#ifdef __GLIBC__
// A large real library: the C library this test runs with (found through a symbol that the
// sanitizers do not intercept, so that dladdr names libc itself).
namespace {
fs::path c_library() {
    Dl_info where{};
    if (::dladdr(reinterpret_cast<void*>(&::gnu_get_libc_version), &where) == 0 || where.dli_fname == nullptr)
        throw std::runtime_error("dladdr found no C library");
    return where.dli_fname;
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_c_library_has_its_soname_and_exports) {
    const auto info = info_of(c_library());
    BOOST_TEST(info.soname.rfind("libc.so", 0) == 0, info.soname);
    BOOST_TEST(has(info.exported, "gnu_get_libc_version"));
    BOOST_TEST(has(info.exported, "malloc"));
    BOOST_TEST(!has(info.exported, "_dl_argv"));  // libc takes it from ld.so: an undefined symbol
    // The names of its symbol versions are no exports.
    BOOST_TEST(std::none_of(info.exported.begin(), info.exported.end(),
                            [](const std::string& s) { return s.rfind("GLIBC_", 0) == 0; }));
}

BOOST_AUTO_TEST_CASE(without_section_headers_the_sysv_hash_table_counts_the_symbols) {
    if (!has_dynamic_entry(read_file(c_library()), DT_HASH)) {
        BOOST_TEST_MESSAGE("skipped: this C library has no DT_HASH");
        return;
    }
    same_without_section_headers(c_library());
}
#endif

BOOST_AUTO_TEST_CASE(truncated_file_is_reported) {
    const auto why = error_for(testkit().substr(0, testkit().size() / 3));
    BOOST_TEST(contains(why, "truncated"), why);
}

BOOST_AUTO_TEST_CASE(empty_file_is_reported) {
    const auto why = error_for("");
    BOOST_TEST(contains(why, "empty file"), why);
}

BOOST_AUTO_TEST_CASE(text_file_is_not_elf) {
    const auto why = error_for("#!/bin/sh\necho this is not a library\n");
    BOOST_TEST(contains(why, "not an ELF file"), why);
}

BOOST_AUTO_TEST_CASE(program_header_offset_past_the_end_is_reported) {
    auto image = testkit();
    auto h = get<Elf64_Ehdr>(image, 0);
    h.e_phoff = image.size() + 64;
    put(image, 0, h);
    auto why = error_for(image);
    BOOST_TEST(contains(why, "program header table offset out of range"), why);

    // An offset just short of 2^64: the end of the table must not wrap around.
    h.e_phoff = std::numeric_limits<std::uint64_t>::max() - 8;
    put(image, 0, h);
    why = error_for(image);
    BOOST_TEST(contains(why, "program header table offset out of range"), why);
}

BOOST_AUTO_TEST_CASE(dynamic_section_offset_out_of_range_is_reported) {
    auto image = testkit();
    const auto at = program_header(image, PT_DYNAMIC);
    auto dynamic = get<Elf64_Phdr>(image, at);
    for (std::uint64_t offset : {std::uint64_t{image.size()} + 1, std::numeric_limits<std::uint64_t>::max() - 8}) {
        dynamic.p_offset = offset;
        put(image, at, dynamic);
        const auto why = error_for(image);
        BOOST_TEST(contains(why, "dynamic section offset out of range"), why);
    }
    // In range, but running past the end.
    dynamic.p_offset = image.size() - 8;
    put(image, at, dynamic);
    const auto why = error_for(image);
    BOOST_TEST(contains(why, "truncated dynamic section"), why);
}

BOOST_AUTO_TEST_CASE(needed_name_offset_out_of_range_is_reported) {
    auto image = testkit();
    const auto at = dynamic_entry(image, DT_NEEDED);
    auto needed = get<Elf64_Dyn>(image, at);
    needed.d_un.d_val = 0xffff'ffff'0000;
    put(image, at, needed);
    const auto why = error_for(image);
    BOOST_TEST(contains(why, "DT_NEEDED"), why);
    BOOST_TEST(contains(why, "string table offset out of range"), why);
}

BOOST_AUTO_TEST_CASE(missing_file_is_reported) {
    temp_dir d;
    auto r = read_elf_info(d / "absent.so");
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(contains(r.error(), "cannot open file"), r.error());
}
