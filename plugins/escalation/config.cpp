#include "config.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/paths.hpp>
#include <toolhost_plugins/sample.hpp>

namespace toolhost::plugins::escalation {

escalation_config read_config(std::string_view json, const std::optional<std::string>& database_url) {
    const args cfg(json, "config");
    escalation_config c;
    c.rules = rule_config::from_config(cfg.object());
    c.storage = storage::read(cfg, database_url, {"busy_timeout_ms"}, "escalation", "config/");
    c.store = sqlite::store_options_of(cfg, paths::next_to_plugin("escalation/sample/tickets.json"));
    c.webhook = webhook_settings::from_config(cfg.object());
    return c;
}

}  // namespace toolhost::plugins::escalation
