#include "config.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/paths.hpp>
#include <toolhost_plugins/sample.hpp>

namespace toolhost::plugins::memory {

namespace fs = std::filesystem;

fs::path default_sample_file() { return paths::next_to_plugin("memory/sample/demo.json"); }

memory_config read_config(std::string_view config_json, const fs::path& data_dir,
                          const std::optional<std::string>& database_url) {
    const args config(config_json, "config");
    memory_config s;
    // The SQLite keys make no sense next to a "storage" URL in the same object.
    s.storage =
        storage::read(config, database_url, {"database", "synchronous", "busy_timeout_ms"}, "memory", "config/");

    const fs::path database = config.string_or("database", "memory.db");
    s.database = database.is_absolute() ? database : data_dir / database;

    const std::string sync = config.string_or("synchronous", "full");
    if (sync == "full") {
        s.sync = sqlite::synchronous::full;
    } else if (sync == "normal") {
        s.sync = sqlite::synchronous::normal;
    } else {
        invalid_argument("synchronous", "must be \"normal\" or \"full\"");
    }

    s.busy_timeout_ms = sqlite::busy_timeout_ms(config);

    const double half_life_s = config.number_or("recency_half_life_seconds", s.half_life_ms / 1000);
    if (!(half_life_s > 0)) invalid_argument("recency_half_life_seconds", "must be greater than 0");
    s.half_life_ms = half_life_s * 1000;

    const args w(config.optional_object("weights").value_or(boost::json::object{}));
    const weights defaults;
    s.blend =
        weights::normalized(w.number_or("relevance", defaults.relevance), w.number_or("recency", defaults.recency),
                            w.number_or("importance", defaults.importance));

    s.max_per_session = config.int_or("max_memories_per_session", s.max_per_session, 0);
    s.max_content_bytes =
        static_cast<size_t>(config.int_or("max_content_bytes", static_cast<int64_t>(s.max_content_bytes), 1, 1048576));
    s.recall_candidates =
        static_cast<size_t>(config.int_or("recall_candidates", static_cast<int64_t>(s.recall_candidates), 1, 100000));

    s.sample_data = sqlite::sample_data_wanted(config);
    if (auto file = config.optional_string("sample_file")) {
        s.sample_file = *file;
        s.sample_file_configured = true;
    } else {
        s.sample_file = default_sample_file();
    }
    return s;
}

}  // namespace toolhost::plugins::memory
