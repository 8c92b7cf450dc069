// The escalation tool's configuration ("tools": {"escalation": {"config": {...}}}), read once in
// initialize().
#pragma once

#include "notifier.hpp"
#include "rules.hpp"
#include "ticket_store.hpp"

#include <optional>
#include <string_view>

namespace toolhost::plugins::escalation {

struct escalation_config {
    rule_config rules;
    ticket_store::options store;  ///< with the sample's text when sample_data is on
    std::optional<webhook_settings> webhook;
};

/// Reads the configuration (already validated against schemas::config by the host); throws
/// INVALID_ARGUMENT naming the key (config/...) for what a schema cannot express.
escalation_config read_config(std::string_view json);

}  // namespace toolhost::plugins::escalation
