#include "config.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/paths.hpp>
#include <toolhost_plugins/sample.hpp>

namespace toolhost::plugins::memory {

namespace fs = std::filesystem;

std::string_view config_schema() {
    return R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "database": {"type": "string", "minLength": 1, "default": "memory.db",
      "description": "SQLite file. A relative path is inside the tool's data folder (<data_dir>/memory)."},
    "synchronous": {"enum": ["normal", "full"], "default": "full",
      "description": "full: a stored memory survives a power cut (one fsync per store). normal: it survives a killed process, and a power cut may lose the last stores."},
    "busy_timeout_ms": {"type": "integer", "minimum": 0, "maximum": 600000, "default": 5000,
      "description": "How long a write waits for another writer (thread or process) before failing with UNAVAILABLE. Never longer than the call's deadline."},
    "recency_half_life_seconds": {"type": "number", "exclusiveMinimum": 0, "default": 604800,
      "description": "Age at which the recency component of a recall score falls to 0.5."},
    "weights": {"type": "object", "additionalProperties": false,
      "description": "Weights of the recall score's components; scaled to sum to 1.",
      "properties": {
        "relevance": {"type": "number", "minimum": 0, "default": 0.6},
        "recency": {"type": "number", "minimum": 0, "default": 0.25},
        "importance": {"type": "number", "minimum": 0, "default": 0.15}}},
    "max_memories_per_session": {"type": "integer", "minimum": 0, "default": 10000,
      "description": "prune keeps at most this many memories per session, dropping the least important and oldest first. 0: no cap."},
    "max_content_bytes": {"type": "integer", "minimum": 1, "maximum": 1048576, "default": 32768},
    "recall_candidates": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000,
      "description": "A recall with a query re-ranks this many of the best full-text matches."},
    "sample_data": {"type": "boolean", "default": true,
      "description": "On first start, store the sample memories (session 'demo')."},
    "seed_sample": {"type": "boolean",
      "description": "Deprecated: the earlier name of sample_data, still read; give one of them."},
    "sample_file": {"type": "string", "minLength": 1,
      "description": "The sample to seed from (relative to the current directory). Default: memory/sample/demo.json next to memory.so."}
  }
})";
}

fs::path default_sample_file() { return paths::next_to_plugin("memory/sample/demo.json"); }

memory_config read_config(std::string_view config_json, const fs::path& data_dir) {
    const args config(config_json, "config");
    memory_config s;

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

    s.busy_timeout_ms = static_cast<int>(config.int_or("busy_timeout_ms", s.busy_timeout_ms, 0, 600000));

    const double half_life_s = config.number_or("recency_half_life_seconds", s.half_life_ms / 1000);
    if (!(half_life_s > 0)) invalid_argument("recency_half_life_seconds", "must be greater than 0");
    s.half_life_ms = half_life_s * 1000;

    const args w(config.optional_object("weights").value_or(boost::json::object{}));
    const weights defaults;
    s.blend = weights::normalized(w.number_or("relevance", defaults.relevance),
                                  w.number_or("recency", defaults.recency),
                                  w.number_or("importance", defaults.importance));

    s.max_per_session = config.int_or("max_memories_per_session", s.max_per_session, 0);
    s.max_content_bytes = static_cast<size_t>(
        config.int_or("max_content_bytes", static_cast<int64_t>(s.max_content_bytes), 1, 1048576));
    s.recall_candidates = static_cast<size_t>(
        config.int_or("recall_candidates", static_cast<int64_t>(s.recall_candidates), 1, 100000));

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
