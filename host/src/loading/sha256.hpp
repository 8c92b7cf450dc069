#pragma once
// SHA-256 (FIPS 180-4) of a plugin file's bytes: what `toolhost inspect` shows and what an
// operator pins a build by. Written here rather than linking a crypto library into every program
// that embeds the host: hashing a file is all the host needs.

#include <boost/system/result.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace toolhost::detail {

class sha256 {
public:
    sha256() noexcept;
    void update(std::string_view data) noexcept;
    /// The digest as 64 lower-case hex digits; the object is spent afterwards.
    std::string hex_digest() noexcept;

    static std::string of(std::string_view data);
    /// The digest of a file's contents, read in pieces; the error names the file and the reason.
    static boost::system::result<std::string, std::string> of_file(const std::filesystem::path& file);

private:
    void block(const unsigned char* p) noexcept;

    std::array<std::uint32_t, 8> h_;
    std::array<unsigned char, 64> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t length_ = 0;  // bytes so far
};

}  // namespace toolhost::detail
