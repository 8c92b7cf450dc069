//! The JSON Schemas (draft-07) of the text tool's operations.

pub const STATS_INPUT: &str = r#"{"type":"object","properties":{
  "text":{"type":"string","description":"The text to measure."},
  "top":{"type":"integer","minimum":0,"maximum":100,"description":"How many of the most frequent words to list (default 0)."}},
 "required":["text"],"additionalProperties":false}"#;

pub const STATS_OUTPUT: &str = r#"{"type":"object","properties":{
  "bytes":{"type":"integer"},"characters":{"type":"integer"},"words":{"type":"integer"},
  "lines":{"type":"integer"},"blank_lines":{"type":"integer"},"longest_line":{"type":"integer"},
  "top_words":{"type":"array","items":{"type":"object","properties":{
    "word":{"type":"string"},"count":{"type":"integer"}},"required":["word","count"]}}},
 "required":["bytes","characters","words","lines","blank_lines","longest_line"]}"#;

pub const SLUGIFY_INPUT: &str = r#"{"type":"object","properties":{
  "text":{"type":"string","description":"The text to make a slug of, e.g. a title."},
  "separator":{"type":"string","enum":["-","_","."],"description":"Between words (default \"-\")."},
  "max_length":{"type":"integer","minimum":1,"maximum":1024,"description":"The longest slug, in characters (default 80)."},
  "ascii":{"type":"boolean","description":"Fold accented Latin letters to ASCII and drop other non-ASCII letters (default true)."}},
 "required":["text"],"additionalProperties":false}"#;

pub const SLUGIFY_OUTPUT: &str = r#"{"type":"object","properties":{"slug":{"type":"string"}},"required":["slug"]}"#;

pub const JSON_POINTER_INPUT: &str = r#"{"type":"object","properties":{
  "document":{"type":"string","description":"A JSON document, as text."},
  "pointer":{"type":"string","description":"An RFC 6901 JSON Pointer, e.g. \"/items/0/name\"; \"\" is the whole document."}},
 "required":["document","pointer"],"additionalProperties":false}"#;

pub const JSON_POINTER_OUTPUT: &str = r#"{"type":"object","properties":{
  "type":{"type":"string","enum":["null","boolean","number","string","array","object"]},
  "value":{}},"required":["type","value"]}"#;
