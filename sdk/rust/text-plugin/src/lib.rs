//! `text`: an example toolhost plugin written in Rust with the toolhost-sdk crate.
//!
//! Operations:
//! - `stats`: bytes, characters, words, lines, blank lines, the longest line and, on request,
//!   the most frequent words of a text. Cancellable: it checks every 64 Ki characters.
//! - `slugify`: a URL- and file-name-friendly slug of a title.
//! - `json_pointer`: the value an RFC 6901 JSON Pointer names in a JSON document.

mod pointer;
mod schemas;
mod slug;
mod stats;

use toolhost_sdk::json::{self, Value};
use toolhost_sdk::{flags, CallContext, CallResult, Error, Host, Operation, Tool, ToolTable};

/// The text tool. It keeps no state, so it is thread-safe.
pub struct Text;

impl Text {
    fn stats(&self, call: &CallContext) -> CallResult {
        let args = call.args()?;
        let text = args.str("text")?;
        let top = args.opt_u64("top")?.unwrap_or(0);
        if top > 100 {
            return Err(Error::invalid_argument(format!("top: at most 100, got {}", top)));
        }
        let s = stats::measure(text, top as usize, &mut || call.check_cancelled())?;
        let mut members = vec![
            ("bytes", Value::from(s.bytes)),
            ("characters", Value::from(s.characters)),
            ("words", Value::from(s.words)),
            ("lines", Value::from(s.lines)),
            ("blank_lines", Value::from(s.blank_lines)),
            ("longest_line", Value::from(s.longest_line)),
        ];
        if top > 0 {
            let words = s
                .top_words
                .into_iter()
                .map(|(word, count)| Value::object([("word", Value::from(word)), ("count", Value::from(count))]))
                .collect::<Vec<_>>();
            members.push(("top_words", Value::from(words)));
        }
        Ok(Value::object(members))
    }

    fn slugify(&self, call: &CallContext) -> CallResult {
        let args = call.args()?;
        let text = args.str("text")?;
        let separator = match args.opt_str("separator")?.unwrap_or("-") {
            "-" => '-',
            "_" => '_',
            "." => '.',
            other => {
                return Err(Error::invalid_argument(format!(
                    "separator: must be \"-\", \"_\" or \".\", got {}",
                    json::quote(other)
                )))
            }
        };
        let max_length = args.opt_u64("max_length")?.unwrap_or(80);
        if !(1..=1024).contains(&max_length) {
            return Err(Error::invalid_argument(format!(
                "max_length: must be 1 to 1024, got {}",
                max_length
            )));
        }
        let ascii = args.opt_bool("ascii")?.unwrap_or(true);
        let options = slug::SlugOptions {
            separator,
            max_length: max_length as usize,
            ascii,
        };
        let slug = slug::slugify(text, &options);
        if slug.is_empty() {
            return Err(Error::invalid_argument(
                "text: has no letters or digits to make a slug of",
            ));
        }
        Ok(Value::object([("slug", Value::from(slug))]))
    }

    fn json_pointer(&self, call: &CallContext) -> CallResult {
        let args = call.args()?;
        let document = json::parse(args.str("document")?)
            .map_err(|e| Error::invalid_argument(format!("document: not valid JSON: {}", e)))?;
        let value = pointer::resolve(&document, args.str("pointer")?)?;
        Ok(Value::object([
            ("type", Value::from(value.type_name())),
            ("value", value.clone()),
        ]))
    }
}

impl Tool for Text {
    fn table() -> ToolTable<Self> {
        let pure = flags::IDEMPOTENT | flags::READ_ONLY;
        ToolTable::new("text", env!("CARGO_PKG_VERSION"))
            .description("Text utilities: statistics, slugs, JSON pointers. Written in Rust.")
            .thread_safe(true)
            .operation(
                Operation::new("stats", Text::stats)
                    .description(
                        "Counts the bytes, characters, words (runs between whitespace), lines and blank lines \
                         of `text`, measures its longest line, and lists its `top` most frequent words.",
                    )
                    .input_schema(schemas::STATS_INPUT)
                    .output_schema(schemas::STATS_OUTPUT)
                    .flags(pure | flags::CANCELLABLE),
            )
            .operation(
                Operation::new("slugify", Text::slugify)
                    .description(
                        "Makes a URL- and file-name-friendly slug of `text`: lowercase letters and digits, \
                         words joined by `separator`, accents folded to ASCII.",
                    )
                    .input_schema(schemas::SLUGIFY_INPUT)
                    .output_schema(schemas::SLUGIFY_OUTPUT)
                    .flags(pure | flags::NONBLOCKING),
            )
            .operation(
                Operation::new("json_pointer", Text::json_pointer)
                    .description(
                        "Returns the value and JSON type that the RFC 6901 JSON Pointer `pointer` names in \
                         the JSON text `document`; NOT_FOUND when it names nothing.",
                    )
                    .input_schema(schemas::JSON_POINTER_INPUT)
                    .output_schema(schemas::JSON_POINTER_OUTPUT)
                    .flags(pure),
            )
    }

    fn create(_host: Host) -> Result<Self, Error> {
        Ok(Text)
    }
}

toolhost_sdk::export_plugin!("text", env!("CARGO_PKG_VERSION"), [Text]);
