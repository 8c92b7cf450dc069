#pragma once
// The server's TLS context (serve.http.tls): TLS 1.2 or 1.3 at least, the ECDHE AEAD suites of
// Mozilla's "intermediate" profile for 1.2, ALPN http/1.1. Loaded at start; reload() reads the
// files again (SIGHUP) and swaps the context only when the new pair loads, so a bad file never
// takes the server off the air. Connections keep the context they started with.

#include <toolhost/serve/settings.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/result.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace toolhost::serve::detail {

using toolhost::tls_settings;

class tls_contexts {
public:
    /// Reads the certificate and key; what is wrong names the file.
    static boost::system::result<std::unique_ptr<tls_contexts>, std::string> open(const tls_settings& settings);

    std::shared_ptr<boost::asio::ssl::context> current() const;
    /// Reads the files again; empty when the new pair is in use, else why the old one stays.
    std::string reload();

private:
    explicit tls_contexts(tls_settings settings) : settings_(std::move(settings)) {}
    static boost::system::result<std::shared_ptr<boost::asio::ssl::context>, std::string> load(const tls_settings& s);

    const tls_settings settings_;
    mutable std::mutex mutex_;
    std::shared_ptr<boost::asio::ssl::context> current_;
};

}  // namespace toolhost::serve::detail
