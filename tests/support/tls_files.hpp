#pragma once
// A test certificate authority and server certificates, made with the openssl command (the one
// from Debian's openssl package) in a folder of the test's.
//
//     auto ca = toolhost::test::test_ca(dir);
//     auto cert = ca.issue("server", 1);   // CN=localhost, SAN localhost and 127.0.0.1, serial 1
//     // cert.certificate, cert.private_key, ca.certificate: PEM files

#include <filesystem>
#include <string>

namespace toolhost::test {

struct issued_certificate {
    std::filesystem::path certificate;  ///< PEM
    std::filesystem::path private_key;  ///< PEM, unencrypted
};

class test_ca {
public:
    /// A new CA (EC P-256) in `dir`; throws when openssl fails.
    explicit test_ca(const std::filesystem::path& dir);
    /// A server certificate for localhost and 127.0.0.1 with `serial`, as <name>.pem/<name>.key.
    issued_certificate issue(const std::string& name, int serial) const;
    const std::filesystem::path& certificate() const noexcept { return cert_; }

private:
    std::filesystem::path dir_, cert_, key_;
};

}  // namespace toolhost::test
