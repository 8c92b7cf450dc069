// JSON Schemas (draft-07) of the crm tool: its configuration, and each operation's input and
// output. The host validates configuration and arguments against them before the tool runs.
#pragma once

#include <string>

namespace toolhost::plugins::crm::schemas {

inline constexpr const char* config = R"json({
  "type": "object",
  "additionalProperties": false,
  "if": {"required": ["backend"], "properties": {"backend": {"const": "rest"}}},
  "then": {"required": ["rest"]},
  "properties": {
    "backend": {"enum": ["database", "sqlite", "rest"], "description": "Where customers live: database (the default) is the tool's own database, an SQLite file unless storage or TOOLHOST_DATABASE_URL name a PostgreSQL one (sqlite: its older name, the same); rest is a CRM service."},
    "storage": {"type": "string", "anyOf": [{"const": "sqlite"}, {"pattern": "^postgres(ql)?://"}],
                "description": "The tool's own database: \"sqlite\" (crm.db in the tool's data folder, the default) or a postgresql:// URL (a database several hosts share). Default: TOOLHOST_DATABASE_URL when it is set, else sqlite. Not with backend rest."},
    "storage_connections": {"type": "integer", "minimum": 1, "maximum": 1000,
      "description": "PostgreSQL only: the most connections the tool keeps to its database on this host (default 8). Every host of a fleet opens as many: their sum must stay under the server's max_connections."},
    "sample_data": {"type": "boolean", "description": "Own database: load the bundled sample customers into a new database (default true)."},
    "busy_timeout_ms": {"type": "integer", "minimum": 0, "maximum": 600000,
                        "description": "SQLite only: how long to wait for another process's write lock before UNAVAILABLE (default 5000)."},
    "default_country_code": {"type": "string", "pattern": "^[1-9][0-9]{0,2}$",
                             "description": "Country calling code for phone numbers given without one, e.g. \"1\" or \"44\"."},
    "rest": {
      "type": "object",
      "additionalProperties": false,
      "required": ["base_url"],
      "properties": {
        "base_url": {"type": "string", "minLength": 1, "description": "e.g. https://crm.example.com/api/v1"},
        "bearer_token": {"type": "string"},
        "bearer_token_env": {"type": "string", "minLength": 1, "description": "Environment variable holding the token."},
        "connect_timeout_ms": {"type": "integer", "minimum": 1, "maximum": 600000},
        "request_timeout_ms": {"type": "integer", "minimum": 1, "maximum": 600000},
        "ca_file": {"type": "string", "minLength": 1, "description": "Extra trusted CA certificates (PEM)."}
      }
    }
  }
})json";

inline constexpr const char* customer = R"json({
  "type": "object",
  "required": ["id", "name", "email", "phone", "company", "tier", "notes", "created_at", "updated_at"],
  "properties": {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "email": {"type": ["string", "null"]},
    "phone": {"type": ["string", "null"]},
    "company": {"type": ["string", "null"]},
    "tier": {"type": ["string", "null"]},
    "notes": {"type": ["string", "null"]},
    "created_at": {"type": ["string", "null"]},
    "updated_at": {"type": ["string", "null"]}
  }
})json";

inline constexpr const char* interaction = R"json({
  "type": "object",
  "required": ["id", "customer_id", "channel", "summary", "outcome", "occurred_at", "idempotency_key", "created_at"],
  "properties": {
    "id": {"type": "string"},
    "customer_id": {"type": "string"},
    "channel": {"type": "string"},
    "summary": {"type": "string"},
    "outcome": {"type": "string"},
    "occurred_at": {"type": "string"},
    "idempotency_key": {"type": ["string", "null"]},
    "created_at": {"type": ["string", "null"]}
  }
})json";

inline constexpr const char* get_customer_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "description": "Exactly one of id, email, phone.",
  "properties": {
    "id": {"type": "string", "minLength": 1, "maxLength": 64},
    "email": {"type": "string", "minLength": 1, "maxLength": 254},
    "phone": {"type": "string", "minLength": 1, "maxLength": 40}
  }
})json";

inline std::string get_customer_output() {
    return std::string(R"json({"type": "object", "required": ["customer"], "properties": {"customer": )json") +
           customer + "}}";
}

inline constexpr const char* search_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "query": {"type": "string", "maxLength": 200,
              "description": "Words that must all appear in the name, e-mail address or company (case-insensitive); empty lists everyone."},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Default 20."},
    "offset": {"type": "integer", "minimum": 0, "description": "Default 0."}
  }
})json";

inline std::string search_output() {
    return std::string(R"json({"type": "object", "required": ["customers", "total", "next_offset"],
                               "properties": {"total": {"type": "integer"}, "next_offset": {"type": ["integer", "null"]},
                                              "customers": {"type": "array", "items": )json") +
           customer + "}}}";
}

inline constexpr const char* upsert_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "description": "Creates or updates a customer, found by id, or by email when there is no id. Absent fields are left as they are; null clears email, phone, company or notes.",
  "properties": {
    "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"},
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "email": {"type": ["string", "null"], "maxLength": 254},
    "phone": {"type": ["string", "null"], "maxLength": 40},
    "company": {"type": ["string", "null"], "maxLength": 200},
    "tier": {"type": "string", "minLength": 1, "maxLength": 50, "description": "Default standard."},
    "notes": {"type": ["string", "null"], "maxLength": 5000}
  }
})json";

inline std::string upsert_output() {
    return std::string(R"json({"type": "object", "required": ["customer", "created"],
                               "properties": {"created": {"type": "boolean"}, "customer": )json") +
           customer + "}}";
}

inline constexpr const char* log_interaction_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["customer_id", "channel", "summary", "outcome"],
  "properties": {
    "customer_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "channel": {"enum": ["email", "phone", "chat", "web", "social", "in_person", "other"]},
    "summary": {"type": "string", "minLength": 1, "maxLength": 5000},
    "outcome": {"enum": ["resolved", "unresolved", "escalated", "follow_up", "informational"]},
    "occurred_at": {"type": "string", "description": "RFC 3339 date-time, e.g. 2025-03-01T10:00:00Z. Default: now."},
    "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 200,
                        "description": "Repeating a call with the same key returns the same interaction. Default: the call's request id."}
  }
})json";

inline std::string log_interaction_output() {
    return std::string(R"json({"type": "object", "required": ["interaction", "created"],
                               "properties": {"created": {"type": "boolean"}, "interaction": )json") +
           interaction + "}}";
}

inline constexpr const char* recent_interactions_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["customer_id"],
  "properties": {
    "customer_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Default 10."}
  }
})json";

inline constexpr const char* read_customer_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["uri"],
  "properties": {"uri": {"type": "string", "maxLength": 2048, "description": "crm://customers/<id>"}}
})json";

inline std::string recent_interactions_output() {
    return std::string(R"json({"type": "object", "required": ["customer_id", "interactions"],
                               "properties": {"customer_id": {"type": "string"},
                                              "interactions": {"type": "array", "items": )json") +
           interaction + "}}}";
}

}  // namespace toolhost::plugins::crm::schemas
