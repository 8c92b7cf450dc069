// JSON Schemas (draft-07) of the escalation tool: its configuration, and each operation's input
// and output. The host validates configuration and arguments against them before the tool runs.
#pragma once

#include <string>

namespace toolhost::plugins::escalation::schemas {

inline constexpr const char* config = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "threshold": {"type": "number", "minimum": 0, "description": "Score at or above which a conversation is escalated (default 0.6)."},
    "tier_thresholds": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0},
                        "description": "Threshold per customer tier, replacing the defaults {\"enterprise\": 0.4, \"premium\": 0.5}."},
    "low_confidence_below": {"type": "number", "minimum": 0, "maximum": 1,
                             "description": "Retrieval confidence below this earns weights.low_confidence (default 0.4)."},
    "weights": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "explicit_request": {"type": "number", "minimum": 0},
        "keyword": {"type": "number", "minimum": 0},
        "keyword_max": {"type": "number", "minimum": 0},
        "negative_sentiment": {"type": "number", "minimum": 0},
        "negative_sentiment_max": {"type": "number", "minimum": 0},
        "failed_attempt": {"type": "number", "minimum": 0},
        "failed_attempts_max": {"type": "number", "minimum": 0},
        "low_confidence": {"type": "number", "minimum": 0}
      }
    },
    "explicit_request_phrases": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "keywords": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "negative_terms": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "storage": {"type": "string", "anyOf": [{"const": "sqlite"}, {"pattern": "^postgres(ql)?://"}],
                "description": "Where the tickets live: \"sqlite\" (tickets.db in the tool's data folder, the default) or a postgresql:// URL (a database several hosts share). Default: TOOLHOST_DATABASE_URL when it is set, else sqlite."},
    "storage_connections": {"type": "integer", "minimum": 1, "maximum": 1000,
      "description": "PostgreSQL only: the most connections the tool keeps to its database on this host (default 8). Every host of a fleet opens as many: their sum must stay under the server's max_connections."},
    "sample_data": {"type": "boolean", "description": "Load the bundled sample tickets into a new database (default true)."},
    "busy_timeout_ms": {"type": "integer", "minimum": 0, "maximum": 600000,
                        "description": "SQLite only: how long to wait for another process's write lock before UNAVAILABLE (default 5000)."},
    "webhook": {
      "type": "object",
      "additionalProperties": false,
      "required": ["url"],
      "properties": {
        "url": {"type": "string", "minLength": 1},
        "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 600000},
        "connect_timeout_ms": {"type": "integer", "minimum": 1, "maximum": 600000},
        "bearer_token": {"type": "string"},
        "bearer_token_env": {"type": "string", "minLength": 1}
      }
    }
  }
})json";

inline constexpr const char* evaluate_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["message"],
  "properties": {
    "message": {"type": "string", "maxLength": 100000, "description": "The customer's latest message."},
    "context": {
      "type": "object",
      "properties": {
        "failed_attempts": {"type": "integer", "minimum": 0, "description": "Answers so far that did not help."},
        "customer_tier": {"type": "string", "maxLength": 100, "description": "e.g. free, standard, premium, enterprise."},
        "retrieval_confidence": {"type": "number", "minimum": 0, "maximum": 1,
                                 "description": "Confidence of the knowledge search behind the last answer."}
      }
    }
  }
})json";

inline constexpr const char* evaluate_output = R"json({
  "type": "object",
  "required": ["should_escalate", "score", "threshold", "priority", "reasons"],
  "properties": {
    "should_escalate": {"type": "boolean"},
    "score": {"type": "number"},
    "threshold": {"type": "number"},
    "priority": {"enum": ["low", "normal", "high"]},
    "reasons": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["rule", "weight", "detail"],
        "properties": {
          "rule": {"enum": ["explicit_request", "keywords", "negative_sentiment", "failed_attempts",
                            "low_retrieval_confidence", "customer_tier"]},
          "weight": {"type": "number"},
          "detail": {"type": "string"},
          "matched": {"type": "array", "items": {"type": "string"}}
        }
      }
    }
  }
})json";

inline constexpr const char* ticket = R"json({
  "type": "object",
  "required": ["id", "customer", "subject", "description", "priority", "status", "reasons", "session_id",
               "idempotency_key", "created_at", "updated_at", "notification"],
  "properties": {
    "id": {"type": "integer"},
    "customer": {"type": "string"},
    "subject": {"type": "string"},
    "description": {"type": "string"},
    "priority": {"enum": ["low", "normal", "high", "urgent"]},
    "status": {"enum": ["open", "in_progress", "resolved", "closed"]},
    "reasons": {"type": "array"},
    "session_id": {"type": ["string", "null"]},
    "idempotency_key": {"type": ["string", "null"]},
    "created_at": {"type": "string"},
    "updated_at": {"type": "string"},
    "notification": {
      "type": "object",
      "required": ["state", "attempts", "last_error", "delivered_at"],
      "properties": {
        "state": {"enum": ["none", "pending", "delivered"]},
        "attempts": {"type": "integer"},
        "last_error": {"type": ["string", "null"]},
        "delivered_at": {"type": ["string", "null"]}
      }
    },
    "history": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["from", "to", "note", "at"],
        "properties": {"from": {"type": ["string", "null"]}, "to": {"type": "string"},
                       "note": {"type": ["string", "null"]}, "at": {"type": "string"}}
      }
    }
  }
})json";

inline constexpr const char* create_ticket_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["customer", "subject"],
  "properties": {
    "customer": {"type": "string", "minLength": 1, "maxLength": 200, "description": "Customer id or name."},
    "subject": {"type": "string", "minLength": 1, "maxLength": 300},
    "description": {"type": "string", "maxLength": 20000},
    "priority": {"enum": ["low", "normal", "high", "urgent"], "description": "Default normal."},
    "reasons": {"type": "array", "maxItems": 50, "items": {"type": ["string", "object"]},
                "description": "Why it was escalated, e.g. the reasons from evaluate."},
    "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 200,
                        "description": "Repeating a call with the same key returns the same ticket. Default: the call's request id."}
  }
})json";

inline std::string create_ticket_output() {
    return std::string(R"json({"type": "object", "required": ["ticket", "created"],
                               "properties": {"created": {"type": "boolean"}, "ticket": )json") +
           ticket + "}}";
}

inline constexpr const char* read_ticket_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["uri"],
  "properties": {"uri": {"type": "string", "maxLength": 2048, "description": "escalation://tickets/<id>"}}
})json";

inline constexpr const char* get_ticket_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["id"],
  "properties": {"id": {"type": "integer", "minimum": 1}}
})json";

inline std::string get_ticket_output() {
    return std::string(R"json({"type": "object", "required": ["ticket"], "properties": {"ticket": )json") + ticket +
           "}}";
}

inline constexpr const char* list_tickets_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "status": {"enum": ["open", "in_progress", "resolved", "closed"]},
    "customer": {"type": "string", "minLength": 1, "maxLength": 200},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Default 20."},
    "offset": {"type": "integer", "minimum": 0, "description": "Default 0."}
  }
})json";

inline std::string list_tickets_output() {
    return std::string(R"json({"type": "object", "required": ["tickets", "total", "next_offset"],
                               "properties": {"total": {"type": "integer"}, "next_offset": {"type": ["integer", "null"]},
                                              "tickets": {"type": "array", "items": )json") +
           ticket + "}}}";
}

inline constexpr const char* update_status_input = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["id", "status"],
  "properties": {
    "id": {"type": "integer", "minimum": 1},
    "status": {"enum": ["open", "in_progress", "resolved", "closed"]},
    "note": {"type": "string", "maxLength": 2000}
  }
})json";

inline std::string update_status_output() {
    return std::string(R"json({"type": "object", "required": ["ticket", "changed", "previous_status"],
                               "properties": {"changed": {"type": "boolean"}, "previous_status": {"type": "string"},
                                              "ticket": )json") +
           ticket + "}}";
}

}  // namespace toolhost::plugins::escalation::schemas
