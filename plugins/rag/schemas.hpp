// The JSON Schemas (draft-07) of the rag tool: its configuration and each operation's input and
// output. docs/tools/rag.md describes the same fields for people.
#pragma once

#include <string>

namespace toolhost::plugins::rag::schemas {

inline constexpr const char* config = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "storage": {"type": "string", "anyOf": [{"const": "sqlite"}, {"pattern": "^postgres(ql)?://"}],
      "description": "Where the documents live: \"sqlite\" (the embedded file <data_dir>/rag/rag.db, the default) or a postgresql:// URL (a database several hosts share). Default: TOOLHOST_DATABASE_URL when it is set, else sqlite."},
    "storage_connections": {"type": "integer", "minimum": 1, "maximum": 1000,
      "description": "PostgreSQL only: the most connections the tool keeps to its database on this host (default 8). Every host of a fleet opens as many: their sum must stay under the server's max_connections."},
    "sample_data": {"type": "boolean",
      "description": "Whether the defaults of allowed_dirs and index_on_start include the bundled sample folder (default true); false in production."},
    "allowed_dirs": {"type": "array", "items": {"type": "string", "minLength": 1},
                     "description": "Folders index may read (symlinks resolved first). Default: the bundled sample folder and the tool's data folder."},
    "index_on_start": {"type": "array", "items": {"type": "string", "minLength": 1},
                       "description": "Files or folders indexed (incrementally) when the tool starts. Default: the bundled sample folder. [] turns it off."},
    "chunk_size": {"type": "integer", "minimum": 100, "maximum": 20000,
                   "description": "Target chunk length in characters. Default 1000."},
    "chunk_overlap": {"type": "integer", "minimum": 0, "maximum": 10000,
                      "description": "Characters a chunk repeats from the previous one, at most chunk_size/2. Default 150."},
    "max_file_bytes": {"type": "integer", "minimum": 1, "maximum": 1073741824,
                       "description": "Larger files are not indexed (and index_text refuses longer text). Default 16 MiB."},
    "busy_timeout_ms": {"type": "integer", "minimum": 0, "maximum": 600000,
                        "description": "SQLite only: how long a write waits for another writer before UNAVAILABLE. Default 5000."}
  }
})";

inline constexpr const char* tags_schema =
    R"({"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100}, "maxItems": 32})";

inline std::string with_tags(std::string schema) {
    const std::string marker = "\"$TAGS\"";
    schema.replace(schema.find(marker), marker.size(), tags_schema);
    return schema;
}

inline const std::string index_input = with_tags(R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["path"],
  "properties": {
    "path": {"type": "string", "minLength": 1, "description": "A file or folder under allowed_dirs."},
    "tags": "$TAGS",
    "force": {"type": "boolean", "description": "Re-chunk files even when their content did not change."}
  }
})");

inline constexpr const char* index_output = R"({
  "type": "object",
  "required": ["path", "files", "added", "updated", "unchanged", "removed", "chunks", "errors"],
  "properties": {
    "path": {"type": "string"},
    "files": {"type": "integer"}, "added": {"type": "integer"}, "updated": {"type": "integer"},
    "unchanged": {"type": "integer"}, "removed": {"type": "integer"}, "chunks": {"type": "integer"},
    "errors": {"type": "array", "items": {"type": "object", "required": ["path", "code", "message"],
               "properties": {"path": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}
  }
})";

inline const std::string index_text_input = with_tags(R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["source", "text"],
  "properties": {
    "source": {"type": "string", "minLength": 1, "maxLength": 1024, "description": "The document's name; indexing the same name again replaces it."},
    "text": {"type": "string", "minLength": 1},
    "format": {"enum": ["text", "markdown", "html", "json"], "description": "Default text."},
    "tags": "$TAGS"
  }
})");

inline constexpr const char* index_text_output = R"({
  "type": "object",
  "required": ["source", "status", "chunks", "chars"],
  "properties": {
    "source": {"type": "string"}, "status": {"enum": ["added", "updated", "unchanged"]},
    "chunks": {"type": "integer"}, "chars": {"type": "integer"}
  }
})";

inline const std::string search_input = with_tags(R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["query"],
  "properties": {
    "query": {"type": "string", "minLength": 1, "maxLength": 2000, "description": "Words to look for; punctuation and FTS syntax are searched as text."},
    "top_k": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Default 5."},
    "source": {"type": "string", "minLength": 1, "description": "Only this document."},
    "folder": {"type": "string", "minLength": 1, "description": "Only documents whose source lies below this folder (or name prefix up to a '/')."},
    "tags": "$TAGS"
  }
})");

inline constexpr const char* search_output = R"({
  "type": "object",
  "required": ["query", "results"],
  "properties": {
    "query": {"type": "string"},
    "results": {"type": "array", "items": {
      "type": "object",
      "required": ["source", "position", "score", "snippet", "text", "tags"],
      "properties": {
        "source": {"type": "string"},
        "position": {"type": "object", "required": ["chunk", "start", "end"],
                     "properties": {"chunk": {"type": "integer"}, "start": {"type": "integer"}, "end": {"type": "integer"}}},
        "score": {"type": "number"}, "snippet": {"type": "string"}, "text": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}}
      }}}
  }
})";

inline constexpr const char* stats_input = R"({"type": "object", "additionalProperties": false})";

inline constexpr const char* stats_output = R"({
  "type": "object",
  "required": ["documents", "chunks", "bytes", "last_indexed"],
  "properties": {
    "documents": {"type": "integer"}, "chunks": {"type": "integer"}, "bytes": {"type": "integer"},
    "last_indexed": {"type": ["string", "null"]}
  }
})";

// What MCP clients get besides tools (operation roles).
inline constexpr const char* documents_input =
    R"({"type": "object", "additionalProperties": false, "properties": {"cursor": {"type": "string"}}})";
inline constexpr const char* read_document_input = R"({"type": "object", "additionalProperties": false,
  "required": ["uri"], "properties": {"uri": {"type": "string", "maxLength": 4096}}})";
inline constexpr const char* support_reply_input = R"({"type": "object", "additionalProperties": false,
  "required": ["question"], "properties": {
    "question": {"type": "string", "minLength": 1, "maxLength": 4096, "description": "The customer's question"},
    "session_id": {"type": "string", "minLength": 1, "maxLength": 256,
                   "description": "The conversation whose memories (memory tool) to include"}}})";

inline constexpr const char* delete_input = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "source": {"type": "string", "minLength": 1, "description": "Delete this document."},
    "folder": {"type": "string", "minLength": 1, "description": "Delete every document below this folder."}
  },
  "oneOf": [{"required": ["source"]}, {"required": ["folder"]}]
})";

inline constexpr const char* delete_output = R"({
  "type": "object",
  "required": ["documents", "chunks"],
  "properties": {"documents": {"type": "integer"}, "chunks": {"type": "integer"}}
})";

}  // namespace toolhost::plugins::rag::schemas
