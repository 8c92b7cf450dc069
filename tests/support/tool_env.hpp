#pragma once
// A host with one bundled tool plugin, in a temporary folder: the plugin copied into its own
// plugin folder, a data folder, and a configuration file written for each start, so a test can
// start the tool with the configuration (and resilience settings) it needs.
//
//     toolhost::test::tool_env env("crm", TOOLHOST_CRM_PLUGIN);
//     auto h = env.start({{"backend", "sqlite"}});
//     auto r = h->call("crm", "get_customer", {{"id", "C-1001"}});

#include <toolhost/host.hpp>

#include "test_support.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace toolhost::test {

class tool_env {
public:
    tool_env(std::string tool, const std::filesystem::path& plugin_file) : tool_(std::move(tool)) {
        std::filesystem::create_directory(plugins_);
        copy_into(plugin_file, plugins_, tool_ + ".so");
        // The sample data ships next to the plugin (<plugin folder>/<tool>/sample): bring it along.
        const auto sample = plugin_file.parent_path() / tool_ / "sample";
        if (std::filesystem::is_directory(sample)) {
            std::filesystem::create_directories(plugins_ / tool_ / "sample");
            std::filesystem::copy(sample, plugins_ / tool_ / "sample", std::filesystem::copy_options::recursive);
        }
    }

    /// The host's data folder (the tool keeps its files in var() / tool).
    std::filesystem::path var() const { return dir_ / "var"; }

    /// Starts a host with this tool configuration (and tool-level resilience settings); the
    /// start must succeed.
    std::unique_ptr<host> start(boost::json::object config = {}, boost::json::object resilience = {}) {
        auto h = make(std::move(config), std::move(resilience));
        auto report = h->start({});
        BOOST_TEST_REQUIRE(report.ok(), (report.failed.empty() ? "" : report.failed[0].second.to_string()));
        return h;
    }

    /// Starts a host and returns the tool's start-up error (the start must fail).
    tool_error start_failure(boost::json::object config) {
        auto h = make(std::move(config), {});
        auto report = h->start({});
        BOOST_TEST_REQUIRE(report.failed.size() == 1u);
        return report.failed[0].second;
    }

private:
    std::unique_ptr<host> make(boost::json::object config, boost::json::object resilience) {
        boost::json::object tool{{"config", std::move(config)}};
        if (!resilience.empty()) tool["resilience"] = std::move(resilience);
        const auto file = dir_ / "toolhost.json";
        write_file(file, boost::json::serialize(boost::json::object{{"tools", boost::json::object{{tool_, tool}}}}));
        auto c = load_config(file, [](std::string_view) { return std::optional<std::string>(); });
        BOOST_TEST_REQUIRE(c.has_value());
        c->plugin_dirs = {plugins_};
        c->data_dir = var();
        c->threads = 4;
        auto h = std::make_unique<host>(std::move(*c));
        h->load_plugins();
        BOOST_TEST_REQUIRE(h->last_load().rejected.empty());
        return h;
    }

    std::string tool_;
    temp_dir dir_;
    std::filesystem::path plugins_ = dir_ / "plugins";
};

/// Call options with this request id (the key of an idempotent operation's retries).
inline call_options with_request_id(std::string id) {
    call_options o;
    o.request_id = std::move(id);
    return o;
}

/// The result object of a call that must succeed.
inline boost::json::object ok(const call_result& r) {
    BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
    return boost::json::parse(*r).as_object();
}

/// The error of a call that must fail.
inline tool_error failed(const call_result& r) {
    BOOST_TEST_REQUIRE(!r.has_value(), (r ? *r : std::string()));
    return r.error();
}

/// A TCP port on loopback that refuses connections for as long as this object lives (bound,
/// never listening): an unreachable backend.
class refused_port {
public:
    refused_port() : socket_(io_) {
        socket_.open(boost::asio::ip::tcp::v4());
        socket_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    }
    /// "http://127.0.0.1:<port>"
    std::string url() const { return "http://127.0.0.1:" + std::to_string(socket_.local_endpoint().port()); }

private:
    boost::asio::io_context io_;
    boost::asio::ip::tcp::socket socket_;
};

}  // namespace toolhost::test
