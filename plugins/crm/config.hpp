// The crm tool's configuration ("tools": {"crm": {"config": {...}}}), read once in initialize().
#pragma once

#include "rest_backend.hpp"
#include "sqlite_backend.hpp"

#include <string>
#include <string_view>

namespace toolhost::plugins::crm {

struct crm_config {
    std::string country_code;  ///< default_country_code: "" or 1 to 3 digits
    bool rest = false;         ///< backend "rest"; otherwise "sqlite"
    rest_backend::options rest_options;
    sqlite_backend::options sqlite_options;  ///< with the sample's text when sample_data is on
};

/// Reads the configuration (already validated against schemas::config by the host); throws
/// INVALID_ARGUMENT naming the key (config/...) for what a schema cannot express.
crm_config read_config(std::string_view json);

}  // namespace toolhost::plugins::crm
