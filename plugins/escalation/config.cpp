#include "config.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/paths.hpp>
#include <toolhost_plugins/sample.hpp>

namespace toolhost::plugins::escalation {

escalation_config read_config(std::string_view json) {
    const args cfg(json, "config");
    escalation_config c;
    c.rules = rule_config::from_config(cfg.object());
    c.store.busy_timeout_ms = static_cast<int>(cfg.int_or("busy_timeout_ms", 5000, 0, 600000));
    c.store.seed_sample = sqlite::sample_data_wanted(cfg);
    if (c.store.seed_sample)
        c.store.sample_json =
            paths::read_small_file(paths::next_to_plugin("escalation/sample/tickets.json"), "config/sample_data");
    c.webhook = webhook_settings::from_config(cfg.object());
    return c;
}

}  // namespace toolhost::plugins::escalation
