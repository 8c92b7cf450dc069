// The JSON Schemas (draft-07) of the attachment tool: its configuration and the process
// operation's input and output. docs/tools/attachment.md describes the same fields for people.
#pragma once

namespace toolhost::plugins::attachment::schemas {

inline constexpr const char* config = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "allowed_dirs": {"type": "array", "items": {"type": "string", "minLength": 1},
                     "description": "Folders `path` may point into (symlinks resolved first). Default: the bundled sample folder and the tool's data folder."},
    "max_bytes": {"type": "integer", "minimum": 1, "maximum": 1073741824,
                  "description": "Largest file accepted, checked before it is read. Default 20 MiB."},
    "max_text_chars": {"type": "integer", "minimum": 1, "maximum": 100000000,
                       "description": "Longest text returned (and indexed); longer text is cut and marked truncated. Default 200000."},
    "index_by_default": {"type": "boolean", "description": "Index extracted text when a call does not say. Default false."},
    "index_tool": {"type": "string", "minLength": 1, "description": "The tool whose index_text receives the text. Default rag."}
  }
})";

inline constexpr const char* process_input = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "path": {"type": "string", "minLength": 1, "description": "A file under allowed_dirs."},
    "content": {"type": "string", "description": "The file's bytes in base64 (instead of path)."},
    "filename": {"type": "string", "minLength": 1, "maxLength": 255, "description": "The file's name, for display and the index only; required with content. Never used to decide the type."},
    "max_text_chars": {"type": "integer", "minimum": 1, "description": "Return at most this many characters (at most the configured max_text_chars)."},
    "return_text": {"type": "boolean", "description": "Include the text in the result. Default true."},
    "index": {"type": "boolean", "description": "Hand the text to the index tool (rag index_text). Default: index_by_default."},
    "source": {"type": "string", "minLength": 1, "maxLength": 1024, "description": "The document name in the index. Default attachment/<sha256 prefix>/<filename>."},
    "tags": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100}, "maxItems": 31}
  },
  "oneOf": [{"required": ["path"]}, {"required": ["content", "filename"]}]
})";

inline constexpr const char* process_output = R"({
  "type": "object",
  "required": ["filename", "bytes", "sha256", "mime_type", "charset", "format", "text_chars", "truncated"],
  "properties": {
    "filename": {"type": "string"},
    "path": {"type": "string"},
    "bytes": {"type": "integer"},
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "mime_type": {"type": "string"},
    "charset": {"type": "string"},
    "format": {"enum": ["text", "csv", "json", "html", "pdf", null]},
    "text": {"type": ["string", "null"]},
    "text_chars": {"type": "integer"},
    "truncated": {"type": "boolean"},
    "pages": {"type": "integer"},
    "rows": {"type": "integer"},
    "index": {"type": "object", "required": ["indexed"],
              "properties": {"indexed": {"type": "boolean"}, "tool": {"type": "string"}, "source": {"type": "string"},
                             "status": {"type": "string"}, "chunks": {"type": "integer"}, "reason": {"type": "string"}}}
  }
})";

}  // namespace toolhost::plugins::attachment::schemas
