// JSON Schemas (draft-07) of the memory tool: its configuration and its operations. The host
// validates the configuration and the arguments against them before the tool sees them; the
// output schemas document the results. Built once, by table().
#pragma once

#include <string>

namespace toolhost::plugins::memory::schemas {

inline constexpr const char* config = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "storage": {"type": "string", "anyOf": [{"const": "sqlite"}, {"pattern": "^postgres(ql)?://"}],
      "description": "Where the memories live: \"sqlite\" (the embedded file, the default) or a postgresql:// URL (a database several hosts share). Default: TOOLHOST_DATABASE_URL when it is set, else sqlite."},
    "storage_connections": {"type": "integer", "minimum": 1, "maximum": 1000,
      "description": "PostgreSQL only: the most connections the tool keeps to its database on this host (default 8). Every host of a fleet opens as many: their sum must stay under the server's max_connections."},
    "database": {"type": "string", "minLength": 1, "default": "memory.db",
      "description": "SQLite only: the file. A relative path is inside the tool's data folder (<data_dir>/memory)."},
    "synchronous": {"enum": ["normal", "full"], "default": "full",
      "description": "SQLite only. full: a stored memory survives a power cut (one fsync per store). normal: it survives a killed process, and a power cut may lose the last stores."},
    "busy_timeout_ms": {"type": "integer", "minimum": 0, "maximum": 600000, "default": 5000,
      "description": "SQLite only: how long a write waits for another writer (thread or process) before failing with UNAVAILABLE. Never longer than the call's deadline."},
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

// ------------------------------------------------------------------------------- building blocks

inline std::string session_id(const std::string& description = "The conversation the memory belongs to.") {
    return R"({"type":"string","minLength":1,"maxLength":256,"description":")" + description + R"("})";
}
inline std::string kind(const std::string& extra = "") {
    return R"({"type":"string","pattern":"^[A-Za-z][A-Za-z0-9_.-]{0,63}$",)" + extra +
           R"("description":"What sort of memory: fact, preference, summary, message, or a name of your own."})";
}
inline std::string timestamp(const std::string& description = "RFC 3339") {
    return R"({"type":"string","format":"date-time","description":")" + description + R"("})";
}
inline std::string now() {
    return timestamp("RFC 3339; the time to evaluate expiry and recency at (default: the real clock).");
}
inline std::string kinds() {
    return R"({"type":"array","items":)" + kind() +
           R"(,"maxItems":32,"description":"Only these kinds (default: all)."})";
}

inline std::string memory_properties() {
    return R"("id":{"type":"integer"},"session_id":{"type":"string"},"kind":{"type":"string"},)"
           R"("content":{"type":"string"},"importance":{"type":"number","minimum":0,"maximum":1},)"
           R"("created_at":)" +
           timestamp() + R"(,"expires_at":)" + timestamp() +
           R"(,"metadata":{"type":"object"},"idempotency_key":{"type":"string"})";
}
inline std::string memory_required() {
    return R"("required":["id","session_id","kind","content","importance","created_at","metadata"])";
}
/// A memory as every operation returns it, plus `extra_properties` (",\"name\":{...}").
inline std::string memory(const std::string& extra_properties = "") {
    return R"({"type":"object",)" + memory_required() + R"(,"properties":{)" + memory_properties() + extra_properties +
           "}}";
}

// ------------------------------------------------------------------------------------ operations

inline std::string store_input() {
    return R"({"type":"object","additionalProperties":false,"required":["session_id","content"],"properties":{)"
           R"("session_id":)" +
           session_id() +
           R"(,"content":{"type":"string","minLength":1,"description":"The text to remember; recall searches it."})"
           R"(,"kind":)" +
           kind(R"("default":"fact",)") +
           R"(,"importance":{"type":"number","minimum":0,"maximum":1,"default":0.5})"
           R"(,"ttl_seconds":{"type":"integer","minimum":1,"maximum":3155760000,)"
           R"("description":"Forget it this long after created_at (default: keep until forgotten or pruned)."})"
           R"(,"metadata":{"type":"object","description":"Any JSON object, returned as stored."})"
           R"(,"idempotency_key":{"type":"string","minLength":1,"maxLength":256,)"
           R"("description":"Makes the store safe to retry: the same key in the same session stores once."})"
           R"(,"created_at":)" +
           timestamp("RFC 3339, for imports (default: now).") + "}}";
}
inline std::string store_output() {
    return memory(
        R"(,"replayed":{"type":"boolean","description":"true: returned by an earlier store with this idempotency_key"})");
}

inline std::string recall_input() {
    return R"({"type":"object","additionalProperties":false,"required":["session_id"],"properties":{)"
           R"("session_id":)" +
           session_id() +
           R"(,"query":{"type":"string","maxLength":4096,"description":"Words to search for; empty: recall by recency and importance."})"
           R"(,"limit":{"type":"integer","minimum":1,"maximum":100,"default":10})"
           R"(,"kinds":)" +
           kinds() + R"(,"now":)" + now() + "}}";
}
inline std::string recall_output() {
    const std::string components =
        R"({"type":"object","required":["relevance","recency","importance"],"properties":{)"
        R"("relevance":{"type":"number"},"recency":{"type":"number"},"importance":{"type":"number"}}})";
    return R"({"type":"object","required":["session_id","query","now","weights","memories"],"properties":{)"
           R"("session_id":{"type":"string"},"query":{"type":"string"},"now":)" +
           timestamp() + R"(,"weights":)" + components + R"(,"memories":{"type":"array","items":)" +
           memory(R"(,"score":{"type":"number","minimum":0,"maximum":1},"components":)" + components) + "}}}";
}

inline std::string list_input() {
    return R"({"type":"object","additionalProperties":false,"required":["session_id"],"properties":{)"
           R"("session_id":)" +
           session_id() +
           R"(,"limit":{"type":"integer","minimum":1,"maximum":200,"default":20})"
           R"(,"cursor":{"type":"string","minLength":1,"description":"next_cursor of the previous page."})"
           R"(,"kinds":)" +
           kinds() + R"(,"now":)" + now() + "}}";
}
inline std::string list_output() {
    return R"({"type":"object","required":["session_id","memories","next_cursor"],"properties":{)"
           R"("session_id":{"type":"string"},"memories":{"type":"array","items":)" +
           memory() + R"(},"next_cursor":{"type":["string","null"],"description":"null on the last page"}}})";
}

inline std::string get_input() {
    return R"({"type":"object","additionalProperties":false,"required":["id"],"properties":{)"
           R"("id":{"type":"integer","minimum":1},"now":)" +
           now() + "}}";
}

inline std::string forget_input() {
    return R"({"type":"object","additionalProperties":false,)"
           R"("anyOf":[{"required":["id"]},{"required":["session_id"]}],"properties":{)"
           R"("id":{"type":"integer","minimum":1,"description":"The memory to forget (with session_id: only if it is in that session)."})"
           R"(,"session_id":)" +
           session_id("Without id: forget the whole session.") + "}}";
}
inline std::string forget_output() {
    return R"({"type":"object","required":["forgotten"],"properties":{"forgotten":{"type":"integer","minimum":0}}})";
}

inline std::string prune_input() {
    return R"({"type":"object","additionalProperties":false,"properties":{)"
           R"("session_id":)" +
           session_id("Only this session (default: every session).") + R"(,"now":)" + now() + "}}";
}
inline std::string prune_output() {
    return R"({"type":"object","required":["expired","over_cap","now"],"properties":{)"
           R"("expired":{"type":"integer","minimum":0},"over_cap":{"type":"integer","minimum":0},"now":)" +
           timestamp() + "}}";
}

}  // namespace toolhost::plugins::memory::schemas
