#include "tls_files.hpp"

#include "test_support.hpp"

#include <stdexcept>

namespace toolhost::test {
namespace {

void openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_process(argv);
    if (r.exit_code != 0) throw std::runtime_error("openssl " + args.at(0) + " failed: " + r.err);
}

}  // namespace

test_ca::test_ca(const std::filesystem::path& dir) : dir_(dir), cert_(dir / "ca.pem"), key_(dir / "ca.key") {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key_.string(),
             "-out", cert_.string(), "-days", "2", "-subj", "/CN=toolhost test CA", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"});
}

issued_certificate test_ca::issue(const std::string& name, int serial) const {
    issued_certificate out{dir_ / (name + ".pem"), dir_ / (name + ".key")};
    const auto csr = dir_ / (name + ".csr");
    const auto ext = dir_ / (name + ".ext");
    write_file(ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             out.private_key.string(), "-out", csr.string(), "-subj", "/CN=localhost"});
    openssl({"x509", "-req", "-in", csr.string(), "-CA", cert_.string(), "-CAkey", key_.string(), "-set_serial",
             std::to_string(serial), "-days", "2", "-out", out.certificate.string(), "-extfile", ext.string()});
    return out;
}

}  // namespace toolhost::test
